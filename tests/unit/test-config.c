/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /etc/profd/profd.conf: defaults, every key, sizes, comments, and errors that point at the line. */
#include <check.h>
#include <stdio.h>
#include <sys/mman.h>

#include "conf.h"
#include "macro.h"

/* Sends stderr to a memfd until capture_end(), which returns what was logged meanwhile. */
typedef struct Capture {
        int saved, mfd;
} Capture;

static Capture capture_begin(void) {
        Capture c;

        fflush(stderr);
        c.saved = dup(STDERR_FILENO);
        c.mfd = memfd_create("stderr", MFD_CLOEXEC);
        ck_assert_int_ge(c.saved, 0);
        ck_assert_int_ge(c.mfd, 0);
        ck_assert_int_ge(dup2(c.mfd, STDERR_FILENO), 0);
        return c;
}

static void capture_end(Capture c, char *log, size_t size) {
        ssize_t n;

        fflush(stderr);
        ck_assert_int_ge(dup2(c.saved, STDERR_FILENO), 0);
        n = pread(c.mfd, log, size - 1, 0);
        ck_assert_int_ge(n, 0);
        log[n] = '\0';
        close(c.saved);
        close(c.mfd);
}

static int parse_logged(Config *c, const char *text, char *log, size_t size) {
        Capture cap = capture_begin();
        int r;

        r = config_parse_string(c, text, "profd.conf");
        capture_end(cap, log, size);
        return r;
}

/* The text must be refused with a message naming the line and containing `needle`, and leave the
 * settings as they were. */
static void assert_refused(const char *text, unsigned line, const char *needle) {
        Config c, before;
        char log[1024], where[32];

        config_init(&c);
        c.sessions_per_user = 7; /* not a default, to see that it survives */
        before = c;
        ck_assert_int_eq(parse_logged(&c, text, log, sizeof(log)), -EINVAL);
        snprintf(where, sizeof(where), "profd.conf:%u: ", line);
        ck_assert_msg(strstr(log, where), "<%s>: no '%s' in <%s>", text, where, log);
        ck_assert_msg(strstr(log, needle), "<%s>: no '%s' in <%s>", text, needle, log);
        ck_assert_msg(memcmp(&c, &before, sizeof(c)) == 0, "<%s>: settings changed on failure", text);
}

START_TEST(test_defaults) {
        Config c;

        config_init(&c);
        ck_assert_uint_eq(c.sessions_per_user, 64);
        ck_assert_uint_eq(c.processes_per_session, 65);
        ck_assert_uint_eq(c.argument_bytes, 1024 * 1024);
        ck_assert_uint_eq(c.environment_bytes, 1024 * 1024);
        ck_assert_uint_eq(c.spec_bytes, 4 * 1024 * 1024);
        ck_assert_uint_eq(c.keep_finished, 60 * USEC_PER_SEC);

        /* Nothing but comments and blank lines changes nothing. */
        ck_assert_int_eq(config_parse_string(&c, "# all defaults\n\n; really\n   \n[Limits]\n", "x"), 0);
        ck_assert_uint_eq(c.sessions_per_user, 64);
        ck_assert_int_eq(config_parse_string(&c, "", "x"), 0);
        ck_assert_uint_eq(c.spec_bytes, 4 * 1024 * 1024);
}
END_TEST

START_TEST(test_every_key) {
        Config c;

        config_init(&c);
        ck_assert_int_eq(config_parse_string(&c,
                                             "# profd.conf\n"
                                             "[Limits]\n"
                                             "SessionsPerUser=3\n"
                                             "  ProcessesPerSession =  5  \n"
                                             "ArgumentBytes= 512K\n"
                                             "; a comment\n"
                                             "EnvironmentBytes=1000\n"
                                             "SpecBytes=64M\r\n"
                                             "\n"
                                             "[Sessions]\n"
                                             "KeepFinishedSec=5min\n",
                                             "x"), 0);
        ck_assert_uint_eq(c.sessions_per_user, 3);
        ck_assert_uint_eq(c.processes_per_session, 5);
        ck_assert_uint_eq(c.argument_bytes, 512 * 1024);
        ck_assert_uint_eq(c.environment_bytes, 1000);
        ck_assert_uint_eq(c.spec_bytes, 64 * 1024 * 1024);
        ck_assert_uint_eq(c.keep_finished, 300 * USEC_PER_SEC);

        /* A bare number is seconds; 0 drops finished sessions at once; sections may come back;
         * the last assignment wins; an empty value is the default again. */
        ck_assert_int_eq(config_parse_string(&c,
                                             "[Sessions]\nKeepFinishedSec=0\n"
                                             "[Limits]\nSessionsPerUser=9\nSessionsPerUser=10\nSpecBytes=\n"
                                             "[Sessions]\nKeepFinishedSec=90\n",
                                             "x"), 0);
        ck_assert_uint_eq(c.keep_finished, 90 * USEC_PER_SEC);
        ck_assert_uint_eq(c.sessions_per_user, 10);
        ck_assert_uint_eq(c.spec_bytes, 4 * 1024 * 1024);
        ck_assert_uint_eq(c.processes_per_session, 5); /* untouched by a later parse */
}
END_TEST

START_TEST(test_sizes) {
        Config c;

        config_init(&c);
        ck_assert_int_eq(config_parse_string(&c, "[Limits]\nSpecBytes=128M\nArgumentBytes=1K\n", "x"), 0);
        ck_assert_uint_eq(c.spec_bytes, 128 * 1024 * 1024);
        ck_assert_uint_eq(c.argument_bytes, 1024);
        ck_assert_int_eq(config_parse_string(&c, "[Limits]\nEnvironmentBytes=1M\n", "x"), 0);
        ck_assert_uint_eq(c.environment_bytes, 1024 * 1024);

        /* G is understood, and 1G is more than D-Bus carries. */
        assert_refused("[Limits]\nSpecBytes=1G\n", 2, "must be between 1 and 134217728");
        assert_refused("[Limits]\nArgumentBytes=2M\n", 2, "ArgumentBytes=");
        assert_refused("[Limits]\nSpecBytes=1k\n", 2, "expected a size");
        assert_refused("[Limits]\nSpecBytes=1KB\n", 2, "expected a size");
        assert_refused("[Limits]\nSpecBytes=1 K\n", 2, "expected a size");
        assert_refused("[Limits]\nSpecBytes=99999999999999999999\n", 2, "SpecBytes=");
        assert_refused("[Limits]\nSpecBytes=17179869184G\n", 2, "SpecBytes="); /* 2^64 */
}
END_TEST

START_TEST(test_errors) {
        assert_refused("[Limits]\nSessionsPerUser=0\n", 2, "SessionsPerUser=");
        assert_refused("[Limits]\nSessionsPerUser=0\n", 2, "must be between 1 and");
        assert_refused("[Limits]\n\n# x\nSessionsPerUser=many\n", 4, "SessionsPerUser=");
        assert_refused("[Limits]\nSessionsPerUser=-1\n", 2, "expected a number");
        assert_refused("[Limits]\nSessionsPerUser=1.5\n", 2, "expected a number");
        assert_refused("[Limits]\nSessionsPerUser=0x10\n", 2, "expected a number");
        assert_refused("[Limits]\nSessionsPerUser=4294967296\n", 2, "SessionsPerUser=");
        assert_refused("[Limits]\nProcessesPerSession=66\n", 2, "between 1 and 65");
        assert_refused("[Limits]\nFrobnicate=1\n", 2, "Unknown key Frobnicate=");
        assert_refused("[Limits]\nKeepFinishedSec=1\n", 2, "Unknown key KeepFinishedSec= in section [Limits]");
        assert_refused("[Limits]\n[Frob]\nSessionsPerUser=1\n", 2, "Unknown section [Frob]");
        assert_refused("[Limits\n", 1, "Invalid section header");
        assert_refused("SessionsPerUser=1\n", 1, "SessionsPerUser= outside of any section");
        assert_refused("[Limits]\nSessionsPerUser 1\n", 2, "Expected KEY=VALUE");
        assert_refused("[Sessions]\nKeepFinishedSec=soon\n", 2, "KeepFinishedSec=");
}
END_TEST

START_TEST(test_load) {
        char path[64], log[1024];
        Capture cap;
        Config c;
        int mfd;

        config_init(&c);
        ck_assert_int_eq(config_load(&c, "/nonexistent/profd/profd.conf"), 0);
        ck_assert_uint_eq(c.sessions_per_user, 64);

        mfd = memfd_create("profd.conf", MFD_CLOEXEC);
        ck_assert_int_ge(mfd, 0);
        ck_assert_int_eq(dprintf(mfd, "[Limits]\nSessionsPerUser=2\n[Sessions]\nKeepFinishedSec=1s"), 56);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
        ck_assert_int_eq(config_load(&c, path), 0);
        ck_assert_uint_eq(c.sessions_per_user, 2);
        ck_assert_uint_eq(c.keep_finished, USEC_PER_SEC);

        /* The same messages from a file, named by its path. */
        ck_assert_int_eq(dprintf(mfd, "\nSpecBytes=1\n"), 13);
        cap = capture_begin();
        ck_assert_int_eq(config_load(&c, path), -EINVAL);
        capture_end(cap, log, sizeof(log));
        ck_assert_ptr_nonnull(strstr(log, ":5: Unknown key SpecBytes= in section [Sessions]"));
        ck_assert_ptr_nonnull(strstr(log, path));
        ck_assert_uint_eq(c.sessions_per_user, 2);
        close(mfd);
}
END_TEST

static Suite *config_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("parse");

        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_every_key);
        tcase_add_test(tc, test_sizes);
        tcase_add_test(tc, test_errors);
        tcase_add_test(tc, test_load);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(config_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
