/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The decoders of user input: the supporter command line, readiness, durations, spec limits, {pid}
 * substitution, and the JSON string writer. */
#include <check.h>
#include <stdio.h>

#include "json.h"
#include "path-lookup.h"
#include "shell-split.h"
#include "spec.h"
#include "strv.h"
#include "time-util.h"

static void assert_split(const char *in, const char * const *expected) {
        _cleanup_strv_free_ char **words = NULL;
        size_t i;

        ck_assert_msg(shell_split(in, &words, NULL) == 0, "failed to split <%s>", in);
        for (i = 0; expected[i]; i++) {
                ck_assert_msg(words[i], "<%s>: word %zu missing", in, i);
                ck_assert_str_eq(words[i], expected[i]);
        }
        ck_assert_msg(!words[i], "<%s>: extra word <%s>", in, words[i]);
}

static void assert_split_error(const char *in, size_t offset, const char *reason) {
        _cleanup_strv_free_ char **words = NULL;
        ShellSplitError e = { 0 };

        ck_assert_int_eq(shell_split(in, &words, &e), -EINVAL);
        ck_assert_ptr_null(words);
        ck_assert_uint_eq(e.offset, offset);
        ck_assert_str_eq(e.reason, reason);
}

START_TEST(test_split_words) {
        assert_split("perf record -p {pid}", (const char *[]) { "perf", "record", "-p", "{pid}", NULL });
        assert_split("  a \t b\n c  ", (const char *[]) { "a", "b", "c", NULL });
        assert_split("", (const char *[]) { NULL });
        assert_split("   ", (const char *[]) { NULL });
}
END_TEST

START_TEST(test_split_quotes) {
        assert_split("sh -c 'echo $HOME; exit 3'", (const char *[]) { "sh", "-c", "echo $HOME; exit 3", NULL });
        assert_split("a\"b c\"d", (const char *[]) { "ab cd", NULL });
        assert_split("\"a \\\"q\\\" \\\\ \\$x \\n\"", (const char *[]) { "a \"q\" \\ $x \\n", NULL });
        assert_split("'it'\\''s'", (const char *[]) { "it's", NULL });
        assert_split("a\\ b c\\\\", (const char *[]) { "a b", "c\\", NULL });
        assert_split("'' \"\"", (const char *[]) { "", "", NULL });
        /* No expansion of any kind. */
        assert_split("~ * $PATH `x` $(y)", (const char *[]) { "~", "*", "$PATH", "`x`", "$(y)", NULL });
        assert_split("a\\\nb", (const char *[]) { "ab", NULL });
}
END_TEST

START_TEST(test_split_errors) {
        assert_split_error("perf -o 'x", 8, "unterminated single quote");
        assert_split_error("a \"b 'c'", 2, "unterminated double quote");
        assert_split_error("abc\\", 3, "backslash at end of command");
}
END_TEST

START_TEST(test_quote_roundtrip) {
        const char *words[] = { "plain", "", "with space", "it's", "$HOME", "a\"b", "{pid}", "\\", NULL };

        for (size_t i = 0; words[i]; i++) {
                _cleanup_free_ char *q = shell_quote(words[i]);
                _cleanup_strv_free_ char **back = NULL;

                ck_assert_int_eq(shell_split(q, &back, NULL), 0);
                ck_assert_str_eq(back[0], words[i]);
                ck_assert_ptr_null(back[1]);
        }
}
END_TEST

START_TEST(test_add_supporter) {
        _cleanup_(session_spec_freep) SessionSpec *spec = NULL;
        ShellSplitError e = { 0 };

        ck_assert_int_eq(session_spec_new(&spec), 0);
        ck_assert_int_eq(session_spec_add_supporter(spec, "/usr/bin/perf record -p {pid}", &e), 0);
        ck_assert_int_eq(session_spec_add_supporter(spec, "perf stat -p {pid}", &e), 0);
        ck_assert_int_eq(session_spec_add_supporter(spec, "trace=strace -f -p {pid}", &e), 0);
        ck_assert_int_eq(session_spec_add_supporter(spec, "./my tool", &e), 0);
        ck_assert_uint_eq(spec->n_supporters, 4);
        ck_assert_str_eq(spec->supporters[0].name, "perf");
        ck_assert_str_eq(spec->supporters[0].argv[0], "/usr/bin/perf");
        ck_assert_str_eq(spec->supporters[1].name, "perf_2");
        ck_assert_str_eq(spec->supporters[2].name, "trace");
        ck_assert_str_eq(spec->supporters[2].argv[0], "strace");
        ck_assert_str_eq(spec->supporters[3].name, "my");
        ck_assert_int_eq(spec->supporters[0].ready, READY_EXEC);

        /* An '=' inside an argument is not a name. */
        ck_assert_int_eq(session_spec_add_supporter(spec, "env 'A=B' x", &e), 0);
        ck_assert_str_eq(spec->supporters[4].name, "env");
        ck_assert_int_eq(session_spec_add_supporter(spec, "'X=y' z", &e), 0);
        ck_assert_str_eq(spec->supporters[5].argv[0], "X=y");

        ck_assert_int_eq(session_spec_add_supporter(spec, "trace=strace", &e), -EEXIST);
        ck_assert_str_eq(e.reason, "duplicate supporter name");
        ck_assert_int_eq(session_spec_add_supporter(spec, "target=x", &e), -EINVAL);
        ck_assert_int_eq(session_spec_add_supporter(spec, "-bad=x", &e), -EINVAL);
        ck_assert_int_eq(session_spec_add_supporter(spec, "my-tool=x", &e), -EINVAL);
        ck_assert_ptr_nonnull(strstr(e.reason, "letters, digits, '_' and '.'"));
        ck_assert_int_eq(session_spec_add_supporter(spec, "   ", &e), -EINVAL);
        ck_assert_str_eq(e.reason, "empty command");
        ck_assert_int_eq(session_spec_add_supporter(spec, "n=", &e), -EINVAL);
        ck_assert_int_eq(session_spec_add_supporter(spec, "n=perf 'x", &e), -EINVAL);
        ck_assert_uint_eq(e.offset, 7); /* points into the whole string, name included */
        ck_assert_uint_eq(spec->n_supporters, 6);
}
END_TEST

/* attach: the daemon names a supporter given without one, unique within the running session. */
START_TEST(test_parse_supporter) {
        _cleanup_(supporter_spec_done) SupporterSpec s = { 0 }, named = { 0 };
        ShellSplitError e = { 0 };

        ck_assert_int_eq(supporter_spec_parse("perf record -p {pid}", &s, &e), 0);
        ck_assert_ptr_null(s.name);
        ck_assert_str_eq(s.argv[0], "perf");
        ck_assert_str_eq(s.argv[3], "{pid}");
        ck_assert_int_eq(s.ready, READY_EXEC);
        ck_assert_int_eq(supporter_spec_parse("trace=strace -p {pid}", &named, &e), 0);
        ck_assert_str_eq(named.name, "trace");
        ck_assert_str_eq(named.argv[0], "strace");

        ck_assert_int_eq(supporter_spec_parse("my-tool=x", &s, &e), -EINVAL);
        ck_assert_uint_eq(e.offset, 0);
        ck_assert_int_eq(supporter_spec_parse("n=perf 'x", &s, &e), -EINVAL);
        ck_assert_uint_eq(e.offset, 7);
        ck_assert_int_eq(supporter_spec_parse("", &s, &e), -EINVAL);
        ck_assert_str_eq(e.reason, "empty command");
        /* Left as it was on failure. */
        ck_assert_str_eq(s.argv[0], "perf");
}
END_TEST

START_TEST(test_derived_names) {
        _cleanup_(session_spec_freep) SessionSpec *spec = NULL;

        ck_assert_int_eq(session_spec_new(&spec), 0);
        ck_assert_int_eq(session_spec_add_supporter(spec, "'/opt/my tool!' a", NULL), 0);
        ck_assert_str_eq(spec->supporters[0].name, "my_tool_");
        ck_assert_int_eq(session_spec_add_supporter(spec, "/bin/target", NULL), 0);
        ck_assert_str_eq(spec->supporters[1].name, "supporter");
        ck_assert_int_eq(session_spec_add_supporter(spec, "_x", NULL), 0);
        ck_assert_str_eq(spec->supporters[2].name, "supporter_2");
        ck_assert(supporter_name_is_valid(spec->supporters[2].name));
        /* '-' separates the fields of a unit name: it never makes it into a derived name. */
        ck_assert_int_eq(session_spec_add_supporter(spec, "/usr/bin/perf-trace x", NULL), 0);
        ck_assert_str_eq(spec->supporters[3].name, "perf_trace");
}
END_TEST

START_TEST(test_names) {
        ck_assert(supporter_name_is_valid("perf"));
        ck_assert(supporter_name_is_valid("perf_2.x_y"));
        ck_assert(!supporter_name_is_valid("perf-2"));
        ck_assert(!supporter_name_is_valid("a@b"));
        ck_assert(!supporter_name_is_valid(""));
        ck_assert(!supporter_name_is_valid("target"));
        ck_assert(!supporter_name_is_valid("../etc"));
        ck_assert(!supporter_name_is_valid("a/b"));
        ck_assert(!supporter_name_is_valid("a b"));
        ck_assert(!supporter_name_is_valid("0123456789012345678901234567890123"));
}
END_TEST

START_TEST(test_ready_parse) {
        ReadyMode m;
        usec_t d;

        ck_assert_int_eq(ready_parse("exec", &m, &d), 0);
        ck_assert_int_eq(m, READY_EXEC);
        ck_assert_int_eq(ready_parse("notify", &m, &d), 0);
        ck_assert_int_eq(m, READY_NOTIFY);
        ck_assert_int_eq(ready_parse("delay:250", &m, &d), 0);
        ck_assert_int_eq(m, READY_DELAY);
        ck_assert_uint_eq(d, 250 * USEC_PER_MSEC);
        ck_assert_int_eq(ready_parse("delay", &m, &d), -EINVAL);
        ck_assert_int_eq(ready_parse("delay:", &m, &d), -EINVAL);
        ck_assert_int_eq(ready_parse("delay:-1", &m, &d), -EINVAL);
        ck_assert_int_eq(ready_parse("delay:1s", &m, &d), -EINVAL);
        ck_assert_int_eq(ready_parse("delay:99999999999", &m, &d), -EINVAL);
        ck_assert_int_eq(ready_parse("Notify", &m, &d), -EINVAL);
        ck_assert_int_eq(ready_parse("", &m, &d), -EINVAL);
}
END_TEST

START_TEST(test_timespan) {
        usec_t t;
        char buf[FORMAT_TIMESPAN_MAX];

        ck_assert_int_eq(parse_timespan("10", USEC_PER_SEC, &t), 0);
        ck_assert_uint_eq(t, 10 * USEC_PER_SEC);
        ck_assert_int_eq(parse_timespan("1.5", USEC_PER_SEC, &t), 0);
        ck_assert_uint_eq(t, 1500 * USEC_PER_MSEC);
        ck_assert_int_eq(parse_timespan("500ms", USEC_PER_SEC, &t), 0);
        ck_assert_uint_eq(t, 500 * USEC_PER_MSEC);
        ck_assert_int_eq(parse_timespan("2min", USEC_PER_SEC, &t), 0);
        ck_assert_uint_eq(t, 120 * USEC_PER_SEC);
        ck_assert_int_eq(parse_timespan("infinity", USEC_PER_SEC, &t), 0);
        ck_assert_uint_eq(t, USEC_INFINITY);
        ck_assert_int_eq(parse_timespan("", USEC_PER_SEC, &t), -EINVAL);
        ck_assert_int_eq(parse_timespan("-1", USEC_PER_SEC, &t), -EINVAL);
        ck_assert_int_eq(parse_timespan(" 1", USEC_PER_SEC, &t), -EINVAL);
        ck_assert_int_eq(parse_timespan("inf", USEC_PER_SEC, &t), -EINVAL);
        ck_assert_int_eq(parse_timespan("0x10", USEC_PER_SEC, &t), -EINVAL);
        ck_assert_int_eq(parse_timespan("10 s", USEC_PER_SEC, &t), -EINVAL);
        ck_assert_int_eq(parse_timespan("10parsecs", USEC_PER_SEC, &t), -EINVAL);
        ck_assert_int_eq(parse_timespan("1e400", USEC_PER_SEC, &t), -EINVAL);
        ck_assert_int_eq(parse_timespan("99999999999999999999", USEC_PER_SEC, &t), -ERANGE);

        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 1203 * USEC_PER_MSEC), "1.203s");
        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 15 * USEC_PER_MSEC), "15ms");
        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 123 * USEC_PER_SEC), "2min 3s");
        ck_assert_str_eq(format_timespan(buf, sizeof(buf), 7), "7us");
}
END_TEST

START_TEST(test_validate) {
        _cleanup_(session_spec_freep) SessionSpec *spec = NULL;
        const char *msg = NULL;

        ck_assert_int_eq(session_spec_new(&spec), 0);
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        ck_assert_str_eq(msg, "Target: no command given");

        spec->target = calloc(2, sizeof(char *));
        spec->target[0] = strdup("");
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        free(spec->target[0]);
        spec->target[0] = strdup("prog");
        ck_assert_int_eq(session_spec_validate(spec, &msg), 0);

        spec->working_directory = strdup("relative/dir");
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        ck_assert_str_eq(msg, "WorkingDirectory: not an absolute path");
        free(spec->working_directory);
        spec->working_directory = NULL;

        spec->stop_timeout = 0;
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        spec->stop_timeout = USEC_PER_SEC;

        for (int i = 0; i <= SPEC_SUPPORTERS_MAX; i++)
                ck_assert_int_eq(session_spec_add_supporter(spec, "x", NULL), 0);
        ck_assert_int_eq(session_spec_validate(spec, &msg), -E2BIG);
        ck_assert_str_eq(msg, "Supporters: too many supporters");
}
END_TEST

START_TEST(test_validate_argv_size) {
        _cleanup_(session_spec_freep) SessionSpec *spec = NULL;
        const char *msg = NULL;
        size_t n = 0;

        ck_assert_int_eq(session_spec_new(&spec), 0);
        for (int i = 0; i <= SPEC_ARGV_MAX; i++)
                ck_assert_int_eq(strv_extend(&spec->target, &n, "a"), 0);
        ck_assert_int_eq(session_spec_validate(spec, &msg), -E2BIG);
        ck_assert_str_eq(msg, "Target: too many arguments or arguments too long");
}
END_TEST

static char **strv_of(const char *a, const char *b) {
        char **l = calloc(3, sizeof(char *));

        l[0] = strdup(a);
        l[1] = b ? strdup(b) : NULL;
        return l;
}

START_TEST(test_validate_new_fields) {
        _cleanup_(session_spec_freep) SessionSpec *spec = NULL;
        const char *msg = NULL;

        ck_assert_int_eq(session_spec_new(&spec), 0);
        spec->target = strv_of("prog", NULL);
        ck_assert_int_eq(session_spec_add_supporter(spec, "perf record", NULL), 0);
        ck_assert_int_eq(session_spec_validate(spec, &msg), 0);

        spec->environment = strv_of("A=1", "=x");
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        ck_assert_str_eq(msg, "Environment: entries must be NAME=VALUE with a non-empty NAME");
        free(spec->environment[1]);
        spec->environment[1] = strdup("NOEQUALS");
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        free(spec->environment[1]);
        spec->environment[1] = strdup("B=");
        ck_assert_int_eq(session_spec_validate(spec, &msg), 0);

        spec->description = strdup("fine: caf\xc3\xa9");
        ck_assert_int_eq(session_spec_validate(spec, &msg), 0);
        spec->description[0] = '\033';
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        ck_assert_str_eq(msg, "Description: contains control characters");
        free(spec->description);
        spec->description = strdup("csi \xc2\x9b");
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        free(spec->description);
        spec->description = NULL;

        spec->claims = strv_of("gpu0", "has space");
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        ck_assert(startswith(msg, "Claims: "));
        free(spec->claims[1]);
        spec->claims[1] = strdup("port:8080");
        spec->uses = strv_of("", NULL);
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        ck_assert(startswith(msg, "Uses: "));
        free(spec->uses[0]);
        spec->uses[0] = strdup("012345678901234567890123456789012"); /* 33 bytes */
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        spec->uses[0][32] = '\0';
        ck_assert_int_eq(session_spec_validate(spec, &msg), 0);

        spec->priority = 1001;
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        ck_assert_str_eq(msg, "Priority: not between -1000 and 1000");
        spec->priority = -1000;
        ck_assert_int_eq(session_spec_validate(spec, &msg), 0);

        spec->supporters[0].working_directory = strdup("out");
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        ck_assert_str_eq(msg, "Supporters: working directory not an absolute path");
        free(spec->supporters[0].working_directory);
        spec->supporters[0].working_directory = strdup("/out");
        spec->supporters[0].provides = strv_of("perf\tdata", NULL);
        ck_assert_int_eq(session_spec_validate(spec, &msg), -EINVAL);
        ck_assert(startswith(msg, "Supporters: "));
        spec->supporters[0].provides[0][4] = '.';
        spec->supporters[0].requires = strv_of("x", NULL);
        ck_assert_int_eq(session_spec_validate(spec, &msg), 0);
}
END_TEST

START_TEST(test_add_supporter_spec) {
        _cleanup_(session_spec_freep) SessionSpec *spec = NULL;
        _cleanup_(supporter_spec_done) SupporterSpec s = { 0 };
        char *name, **argv;

        ck_assert_int_eq(session_spec_new(&spec), 0);
        s = (SupporterSpec) { .name = name = strdup("perf"), .argv = argv = strv_of("perf", "record") };
        ck_assert_int_eq(session_spec_add_supporter_spec(spec, &s), 0);
        ck_assert_ptr_null(s.name);
        ck_assert_ptr_null(s.argv);
        ck_assert_uint_eq(spec->n_supporters, 1);
        ck_assert_ptr_eq(spec->supporters[0].name, name);
        ck_assert_ptr_eq(spec->supporters[0].argv, argv);
        ck_assert_ptr_eq(session_spec_find_supporter(spec, "perf"), &spec->supporters[0]);
        ck_assert_ptr_null(session_spec_find_supporter(spec, "strace"));

        /* Refused: the caller keeps what it had. */
        s = (SupporterSpec) { .name = name = strdup("perf"), .argv = argv = strv_of("x", NULL) };
        ck_assert_int_eq(session_spec_add_supporter_spec(spec, &s), -EEXIST);
        ck_assert_ptr_eq(s.name, name);
        ck_assert_ptr_eq(s.argv, argv);
        free(s.name);
        s.name = name = strdup("a-b");
        ck_assert_int_eq(session_spec_add_supporter_spec(spec, &s), -EINVAL);
        ck_assert_ptr_eq(s.name, name);
        ck_assert_uint_eq(spec->n_supporters, 1);
}
END_TEST

START_TEST(test_find_executable) {
        char *path_env[] = { "HOME=/", "PATH=::relative:/nonexistent:/proc/self", "PATH=/bin", NULL };
        char *empty_env[] = { "PATH=", NULL };
        char *no_path_env[] = { "HOME=/", NULL };
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        char *p = NULL;

        /* /proc/self/exe is a regular executable file, wherever the test runs. */
        ck_assert_int_eq(find_executable("exe", path_env, &a), 0);
        ck_assert_str_eq(a, "/proc/self/exe");
        /* Regular but not executable; a directory; nothing at all. */
        ck_assert_int_eq(find_executable("status", path_env, &p), -ENOENT);
        ck_assert_int_eq(find_executable("fd", path_env, &p), -ENOENT);
        ck_assert_int_eq(find_executable("no-such-command", path_env, &p), -ENOENT);
        ck_assert_int_eq(find_executable("", path_env, &p), -ENOENT);
        /* Empty components are not the working directory. */
        ck_assert_int_eq(find_executable("exe", empty_env, &p), -ENOENT);
        ck_assert_ptr_null(p);

        /* With a '/', as is, unchecked. */
        ck_assert_int_eq(find_executable("./no/such", path_env, &b), 0);
        ck_assert_str_eq(b, "./no/such");

        /* No PATH: the default one, where every system has a sh. */
        ck_assert_int_eq(find_executable("sh", no_path_env, &c), 0);
        ck_assert(c[0] == '/' && streq(strrchr(c, '/'), "/sh"));
        ck_assert_int_eq(find_executable("sh", NULL, &d), 0);
        ck_assert_str_eq(c, d);
}
END_TEST

START_TEST(test_substitute_pid) {
        _cleanup_strv_free_ char **out = NULL;
        char *in[] = { "perf", "-p", "{pid}", "--out=x.{pid}.{pid}", "{pi}", "{{pid}}", "", NULL };

        ck_assert_int_eq(argv_substitute_pid(in, 4242, &out), 0);
        ck_assert_str_eq(out[0], "perf");
        ck_assert_str_eq(out[2], "4242");
        ck_assert_str_eq(out[3], "--out=x.4242.4242");
        ck_assert_str_eq(out[4], "{pi}");
        ck_assert_str_eq(out[5], "{4242}");
        ck_assert_str_eq(out[6], "");
        ck_assert_ptr_null(out[7]);
}
END_TEST

static char *json_of(const char *s) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        json_write_string(f, s);
        fclose(f);
        return buf;
}

START_TEST(test_json_string) {
        _cleanup_free_ char *a = json_of("plain"), *b = json_of("q\"b\\n\n\t\x01"),
                            *c = json_of("caf\xc3\xa9"), *d = json_of("bad\xff\xc3(x"), *e = json_of("\xed\xa0\x80");

        ck_assert_str_eq(a, "\"plain\"");
        ck_assert_str_eq(b, "\"q\\\"b\\\\n\\n\\t\\u0001\"");
        ck_assert_str_eq(c, "\"caf\xc3\xa9\"");
        ck_assert_str_eq(d, "\"bad\\ufffd\\ufffd(x\"");
        ck_assert_str_eq(e, "\"\\ufffd\\ufffd\\ufffd\""); /* a surrogate is not UTF-8 */
}
END_TEST

static Suite *spec_suite(void) {
        Suite *s = suite_create("spec");
        TCase *tc = tcase_create("parse");

        tcase_add_test(tc, test_split_words);
        tcase_add_test(tc, test_split_quotes);
        tcase_add_test(tc, test_split_errors);
        tcase_add_test(tc, test_quote_roundtrip);
        tcase_add_test(tc, test_add_supporter);
        tcase_add_test(tc, test_parse_supporter);
        tcase_add_test(tc, test_derived_names);
        tcase_add_test(tc, test_names);
        tcase_add_test(tc, test_ready_parse);
        tcase_add_test(tc, test_timespan);
        tcase_add_test(tc, test_validate);
        tcase_add_test(tc, test_validate_argv_size);
        tcase_add_test(tc, test_validate_new_fields);
        tcase_add_test(tc, test_add_supporter_spec);
        tcase_add_test(tc, test_find_executable);
        tcase_add_test(tc, test_substitute_pid);
        tcase_add_test(tc, test_json_string);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(spec_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
