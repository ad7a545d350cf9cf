/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What profctl prints: sizes, CPU times, ages, signal names, session ids and their order, where a
 * queued session stands, the default description, and tables cut to the terminal. */
#include <check.h>
#include <signal.h>
#include <stdio.h>

#include "format.h"

START_TEST(test_bytes) {
        char buf[FORMAT_SIZE_MAX];

        ck_assert_str_eq(format_bytes(buf, sizeof(buf), 0), "0B");
        ck_assert_str_eq(format_bytes(buf, sizeof(buf), 1023), "1023B");
        ck_assert_str_eq(format_bytes(buf, sizeof(buf), 1024), "1.0K");
        ck_assert_str_eq(format_bytes(buf, sizeof(buf), 12 * 1024 * 1024 + 512 * 1024), "12.5M");
        ck_assert_str_eq(format_bytes(buf, sizeof(buf), 3ULL << 30), "3.0G");
        ck_assert_str_eq(format_bytes(buf, sizeof(buf), UINT64_MAX), "-");
}
END_TEST

START_TEST(test_cpu_and_age) {
        char buf[FORMAT_SIZE_MAX];

        ck_assert_str_eq(format_cpu(buf, sizeof(buf), 1234567), "1.235s");
        ck_assert_str_eq(format_cpu(buf, sizeof(buf), 12000), "0.012s");
        ck_assert_str_eq(format_cpu(buf, sizeof(buf), 123 * USEC_PER_SEC + 456000), "2min 3.456s");
        ck_assert_str_eq(format_cpu(buf, sizeof(buf), UINT64_MAX), "-");

        ck_assert_str_eq(format_age(buf, sizeof(buf), 850 * USEC_PER_MSEC), "850ms");
        ck_assert_str_eq(format_age(buf, sizeof(buf), 42 * USEC_PER_SEC + 900000), "42s");
        ck_assert_str_eq(format_age(buf, sizeof(buf), 182 * USEC_PER_SEC), "3min 2s");
        ck_assert_str_eq(format_age(buf, sizeof(buf), (2 * 3600 + 5 * 60) * USEC_PER_SEC), "2h 5min");
        ck_assert_str_eq(format_age(buf, sizeof(buf), (3 * 86400 + 4 * 3600) * USEC_PER_SEC), "3d 4h");
}
END_TEST

START_TEST(test_signals) {
        ck_assert_int_eq(signal_from_string("TERM"), SIGTERM);
        ck_assert_int_eq(signal_from_string("SIGTERM"), SIGTERM);
        ck_assert_int_eq(signal_from_string("usr1"), SIGUSR1);
        ck_assert_int_eq(signal_from_string("sigKill"), SIGKILL);
        ck_assert_int_eq(signal_from_string("9"), SIGKILL);
        ck_assert_int_eq(signal_from_string("RTMIN"), SIGRTMIN);
        ck_assert_int_eq(signal_from_string("SIGRTMIN+2"), SIGRTMIN + 2);
        ck_assert_int_eq(signal_from_string("RTMAX-1"), SIGRTMAX - 1);
        ck_assert_int_eq(signal_from_string("RTMIN-1"), -EINVAL);
        ck_assert_int_eq(signal_from_string("RTMIN+99"), -EINVAL);
        ck_assert_int_eq(signal_from_string("0"), -EINVAL);
        ck_assert_int_eq(signal_from_string("99"), -EINVAL);
        ck_assert_int_eq(signal_from_string("BOGUS"), -EINVAL);
        ck_assert_int_eq(signal_from_string("-9"), -EINVAL);
        ck_assert_int_eq(signal_from_string(""), -EINVAL);
}
END_TEST

START_TEST(test_session_ids) {
        uint64_t n;

        ck_assert_str_eq(session_ref_to_id("%3"), "3");
        ck_assert_str_eq(session_ref_to_id("3"), "3");
        ck_assert_str_eq(session_ref_to_id("%"), "%");
        ck_assert(session_id_is_numeric("42", &n));
        ck_assert_uint_eq(n, 42);
        ck_assert(!session_id_is_numeric("4x", NULL));
        ck_assert(!session_id_is_numeric("", NULL));
        /* 9 before 10, as people count; names after numbers. */
        ck_assert_int_lt(session_id_compare("9", "10"), 0);
        ck_assert_int_gt(session_id_compare("10", "9"), 0);
        ck_assert_int_eq(session_id_compare("7", "7"), 0);
        ck_assert_int_lt(session_id_compare("100", "abc"), 0);
        ck_assert_int_lt(session_id_compare("abc", "abd"), 0);
        ck_assert_uint_eq(session_id_distance("7", 9), 2);
        ck_assert_uint_eq(session_id_distance("12", 9), 3);
        ck_assert_uint_eq(session_id_distance("x", 9), UINT64_MAX);

        /* What --after takes: one id as the daemon makes them. */
        ck_assert(session_id_is_valid("3"));
        ck_assert(session_id_is_valid("build_7"));
        ck_assert(!session_id_is_valid(""));
        ck_assert(!session_id_is_valid(NULL));
        ck_assert(!session_id_is_valid("%3"));
        ck_assert(!session_id_is_valid("3,4"));
        ck_assert(!session_id_is_valid(" 3"));
        ck_assert(!session_id_is_valid("3 "));
        ck_assert(!session_id_is_valid("../3"));
        ck_assert(session_id_is_valid("1234567890123456789012345678901234567890123456789012345678901234"));
        ck_assert(!session_id_is_valid("12345678901234567890123456789012345678901234567890123456789012345"));
}
END_TEST

START_TEST(test_queued) {
        char buf[FORMAT_QUEUED_MAX];
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        ck_assert_str_eq(format_queued(buf, sizeof(buf), 3, "claim 'pmu' held by session 9"),
                         "queued (position 3): claim 'pmu' held by session 9");
        ck_assert_str_eq(format_queued(buf, sizeof(buf), 1, ""), "queued (position 1)");
        ck_assert_str_eq(format_queued(buf, sizeof(buf), 1, NULL), "queued (position 1)");
        ck_assert_str_eq(format_queued(buf, sizeof(buf), 0, "after session 4"), "queued: after session 4");
        ck_assert_str_eq(format_queued(buf, sizeof(buf), 0, NULL), "queued");
        /* Cut, never overrun. */
        ck_assert_str_eq(format_queued(buf, 10, 12, "x"), "queued (p");

        a = strv_join((char *[]) { (char *) "3", (char *) "4", (char *) "10", NULL }, ", ");
        ck_assert_str_eq(a, "3, 4, 10");
        b = strv_join((char *[]) { (char *) "pmu", NULL }, ", ");
        ck_assert_str_eq(b, "pmu");
        c = strv_join(NULL, ", ");
        ck_assert_str_eq(c, "");
}
END_TEST

START_TEST(test_ellipsize) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;

        a = ellipsize("short", 10, true);
        ck_assert_str_eq(a, "short");
        b = ellipsize("a rather long text", 8, true);
        ck_assert_str_eq(b, "a rathe…");
        ck_assert_uint_eq(utf8_width(b), 8);
        c = ellipsize("a rather long text", 8, false);
        ck_assert_str_eq(c, "a rat...");
        /* Whole characters only. */
        d = ellipsize("äöüäöüäöü", 4, true);
        ck_assert_str_eq(d, "äöü…");
        e = ellipsize("abc", 0, true);
        ck_assert_str_eq(e, "");
}
END_TEST

START_TEST(test_description) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        a = command_line_description((char *[]) { (char *) "sh", (char *) "-c", (char *) "echo hi; exit 3", NULL },
                                     80, true);
        ck_assert_str_eq(a, "sh -c 'echo hi; exit 3'");
        /* The daemon refuses control characters in a description. */
        b = command_line_description((char *[]) { (char *) "printf", (char *) "a\nb\t", NULL }, 80, true);
        ck_assert_str_eq(b, "printf 'a?b?'");
        c = command_line_description((char *[]) { (char *) "sleep", (char *) "100000000000", NULL }, 10, false);
        ck_assert_str_eq(c, "sleep 1...");
}
END_TEST

static char *print_table(const Table *t, size_t width, bool header) {
        char *out = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&out, &n);

        ck_assert_ptr_nonnull(f);
        table_print(t, f, width, header, NULL, true);
        ck_assert_int_eq(fclose(f), 0);
        return out;
}

START_TEST(test_table) {
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ char *wide = NULL, *narrow = NULL, *plain = NULL;

        ck_assert_int_eq(table_new(&t, 2, "ID", "STATE", "DESCRIPTION", NULL), 0);
        ck_assert_int_eq(table_add(t, "3", NULL), 0);
        ck_assert_int_eq(table_add(t, "running", "\033[32m"), 0);
        ck_assert_int_eq(table_add(t, "sleep 100 with a long description", NULL), 0);
        ck_assert_int_eq(table_add(t, "12", NULL), 0);
        ck_assert_int_eq(table_add(t, "paused", NULL), 0);
        ck_assert_int_eq(table_add(t, "x", NULL), 0);
        ck_assert_uint_eq(table_rows(t), 2);

        wide = print_table(t, SIZE_MAX, true);
        ck_assert_str_eq(wide,
                         "ID STATE   DESCRIPTION\n"
                         "3  \033[32mrunning\033[0m sleep 100 with a long description\n"
                         "12 paused  x\n");
        /* 30 columns: the description gives way, the colour codes take no room. */
        narrow = print_table(t, 30, true);
        ck_assert_str_eq(narrow,
                         "ID STATE   DESCRIPTION\n"
                         "3  \033[32mrunning\033[0m sleep 100 with a l…\n"
                         "12 paused  x\n");
        plain = print_table(t, SIZE_MAX, false);
        ck_assert_str_eq(plain,
                         "3  \033[32mrunning\033[0m sleep 100 with a long description\n"
                         "12 paused  x\n");
}
END_TEST

static Suite *format_suite(void) {
        Suite *s = suite_create("format");
        TCase *tc = tcase_create("format");

        tcase_add_test(tc, test_bytes);
        tcase_add_test(tc, test_cpu_and_age);
        tcase_add_test(tc, test_signals);
        tcase_add_test(tc, test_session_ids);
        tcase_add_test(tc, test_queued);
        tcase_add_test(tc, test_ellipsize);
        tcase_add_test(tc, test_description);
        tcase_add_test(tc, test_table);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(format_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
