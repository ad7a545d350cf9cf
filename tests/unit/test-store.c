/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Session records: the format both ways, what damage and truncation look like to the parser, and the
 * store on disk (atomic saves, loading after a restart, skipping what is corrupt, retention, ids). */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "store.h"
#include "strv.h"

static char *xstrdup(const char *s) {
        char *c = strdup(s);

        ck_assert_ptr_nonnull(c);
        return c;
}

/* A new list of the arguments up to NULL. */
static char **strv_new(const char *first, ...) {
        char **l = NULL;
        size_t n = 0;
        va_list ap;

        va_start(ap, first);
        for (const char *s = first; s; s = va_arg(ap, const char *))
                ck_assert_int_eq(strv_extend(&l, &n, s), 0);
        va_end(ap);
        return l;
}

/* Every field set, with what is hard to keep intact in a line-based text: blanks at either end,
 * '=', backslashes, control characters, UTF-8 and bytes that are not, and values that look like
 * the record's own structure. */
static StoredSession *full_record(const char *id) {
        StoredSupporter *sup;
        StoredProcess *p;
        StoredSession *r;

        ck_assert_int_eq(stored_session_new(&r), 0);
        r->id = xstrdup(id);
        r->boot_id = xstrdup("8a5a9e43-5f1e-4a8b-a2d7-5b7f0c1e9d11");
        r->state = xstrdup("finished");
        r->result = xstrdup("target-failed");
        r->stop_cause = xstrdup("target-exited");
        r->exit_status = 3;
        r->uid = 4294967294U;
        r->gid = 0;
        r->groups = calloc(3, sizeof(gid_t));
        ck_assert_ptr_nonnull(r->groups);
        r->groups[0] = 0;
        r->groups[1] = 27;
        r->groups[2] = 4294967294U;
        r->n_groups = 3;
        r->description = xstrdup("tab\there\nnewline \\ backslash \\n \"quoted\" ünïcödé 日本語 "
                                 "\x01\x1f\x7f\r end=\nChecksum=00000000\n[Process]\nName=evil");
        r->target = strv_new("/usr/bin/prog", "", "  lead and trail  ", "a=b", "--x=\\x41", "\xff\xfe not UTF-8",
                             "[Supporter]", NULL);
        r->working_directory = xstrdup("/home/ann/src with space");
        r->claims = strv_new("gpu0", NULL);
        r->uses = strv_new("disk", "net", NULL);
        r->priority = -1000;
        r->bind_to_caller = true;
        r->session_group = xstrdup("nightly");
        r->group_exclusive = true;
        r->after = strv_new("40", "41", NULL);
        r->after_success = true;
        r->adopted = true;
        r->stop_timeout = 10 * USEC_PER_SEC;
        r->max_duration = 3600 * USEC_PER_SEC;
        r->slice = xstrdup("profd-42.slice");
        r->created_realtime = UINT64_C(1718000000000000);
        r->created_monotonic = 5 * USEC_PER_SEC;
        r->finished_realtime = UINT64_C(1718000012000000);
        r->output_directory = xstrdup("/var/lib/profd/sessions/42");
        r->output_files = strv_new("target.stdout", "target.stderr", "perf.log", NULL);

        ck_assert_int_eq(stored_session_add_supporter(r, &sup), 0);
        sup->name = xstrdup("perf");
        sup->argv = strv_new("perf", "record", "-p", "{pid}", NULL);
        sup->ready = xstrdup("delay:500");
        sup->requires = strv_new("x", NULL);
        sup->provides = strv_new("y", "z", NULL);
        sup->working_directory = xstrdup("/w");
        ck_assert_int_eq(stored_session_add_supporter(r, &sup), 0);
        sup->name = xstrdup("strace");
        sup->argv = strv_new("strace", "-p", "{pid}", NULL);

        ck_assert_int_eq(stored_session_add_process(r, &p), 0);
        p->name = xstrdup("target");
        p->role = xstrdup("target");
        p->argv = strv_new("/usr/bin/prog", "", NULL);
        p->state = xstrdup("exited");
        p->pid = 4242;
        p->start_time = 123456789;
        p->unit = xstrdup("profd-42-target.scope");
        p->cgroup = xstrdup("/sys/fs/cgroup/profd.slice/profd-42.slice/profd-42-target.scope");
        p->exit_unknown = true;
        p->released = true;
        p->exit_code = CLD_EXITED;
        p->exit_status = 3;
        p->end = xstrdup("exited 3");
        p->cpu_usec = 1500;
        p->memory_bytes = 1048576;

        ck_assert_int_eq(stored_session_add_process(r, &p), 0);
        p->name = xstrdup("perf");
        p->role = xstrdup("supporter");
        p->argv = strv_new("perf", "record", "-p", "4242", NULL);
        p->state = xstrdup("exited");
        p->pid = INT_MAX;
        p->start_time = UINT64_MAX - 1;
        p->released = true;
        p->exit_code = CLD_KILLED;
        p->exit_status = SIGTERM;
        p->end = xstrdup("killed by SIGTERM");
        p->cpu_usec = 0;
        /* memory_bytes unknown */

        ck_assert_int_eq(stored_session_add_process(r, &p), 0);
        p->name = xstrdup("strace");
        p->role = xstrdup("supporter");
        p->state = xstrdup("pending");
        p->end = xstrdup("never started");
        return r;
}

#define assert_str_eq_null(a, b) \
        ck_assert_msg(streq_ptr((a), (b)), "%s: '%s' != '%s'", #a, strempty(a), strempty(b))

/* NULL and an empty list are the same list. */
static void assert_strv_eq(char * const *a, char * const *b, const char *what) {
        ck_assert_msg(strv_length(a) == strv_length(b), "%s: %zu != %zu words", what, strv_length(a),
                      strv_length(b));
        for (size_t i = 0; i < strv_length(a); i++)
                ck_assert_msg(streq(a[i], b[i]), "%s[%zu]: '%s' != '%s'", what, i, a[i], b[i]);
}

static void assert_records_equal(const StoredSession *a, const StoredSession *b) {
        assert_str_eq_null(a->id, b->id);
        assert_str_eq_null(a->boot_id, b->boot_id);
        assert_str_eq_null(a->state, b->state);
        assert_str_eq_null(a->result, b->result);
        assert_str_eq_null(a->stop_cause, b->stop_cause);
        ck_assert_int_eq(a->exit_status, b->exit_status);
        ck_assert_uint_eq(a->uid, b->uid);
        ck_assert_uint_eq(a->gid, b->gid);
        ck_assert_uint_eq(a->n_groups, b->n_groups);
        for (size_t i = 0; i < a->n_groups; i++)
                ck_assert_uint_eq(a->groups[i], b->groups[i]);
        assert_str_eq_null(a->description, b->description);
        assert_strv_eq(a->target, b->target, "target");
        assert_str_eq_null(a->working_directory, b->working_directory);
        assert_strv_eq(a->claims, b->claims, "claims");
        assert_strv_eq(a->uses, b->uses, "uses");
        ck_assert_int_eq(a->priority, b->priority);
        ck_assert(a->bind_to_caller == b->bind_to_caller);
        ck_assert_uint_eq(a->stop_timeout, b->stop_timeout);
        ck_assert_uint_eq(a->max_duration, b->max_duration);
        assert_str_eq_null(a->slice, b->slice);
        ck_assert_uint_eq(a->created_realtime, b->created_realtime);
        ck_assert_uint_eq(a->created_monotonic, b->created_monotonic);
        ck_assert_uint_eq(a->finished_realtime, b->finished_realtime);
        assert_str_eq_null(a->output_directory, b->output_directory);
        assert_strv_eq(a->output_files, b->output_files, "output_files");

        ck_assert_uint_eq(a->n_supporters, b->n_supporters);
        for (size_t i = 0; i < a->n_supporters; i++) {
                const StoredSupporter *x = &a->supporters[i], *y = &b->supporters[i];

                assert_str_eq_null(x->name, y->name);
                assert_strv_eq(x->argv, y->argv, "supporter argv");
                assert_str_eq_null(x->ready, y->ready);
                assert_strv_eq(x->requires, y->requires, "requires");
                assert_strv_eq(x->provides, y->provides, "provides");
                assert_str_eq_null(x->working_directory, y->working_directory);
        }

        ck_assert_uint_eq(a->n_processes, b->n_processes);
        for (size_t i = 0; i < a->n_processes; i++) {
                const StoredProcess *x = &a->processes[i], *y = &b->processes[i];

                assert_str_eq_null(x->name, y->name);
                assert_str_eq_null(x->role, y->role);
                assert_strv_eq(x->argv, y->argv, "process argv");
                assert_str_eq_null(x->state, y->state);
                ck_assert_int_eq(x->pid, y->pid);
                ck_assert_uint_eq(x->start_time, y->start_time);
                assert_str_eq_null(x->unit, y->unit);
                ck_assert(x->released == y->released);
                ck_assert_int_eq(x->exit_code, y->exit_code);
                ck_assert_int_eq(x->exit_status, y->exit_status);
                assert_str_eq_null(x->end, y->end);
                ck_assert_uint_eq(x->cpu_usec, y->cpu_usec);
                ck_assert_uint_eq(x->memory_bytes, y->memory_bytes);
        }
}

/* Parses exactly `size` bytes from a buffer of that size, so that AddressSanitizer sees any read
 * past the end (the text is not NUL-terminated either). */
static int parse_exact(const char *text, size_t size, StoredSession **ret, StoreParseError *ret_error) {
        _cleanup_free_ char *copy = malloc(size > 0 ? size : 1);
        int r;

        ck_assert_ptr_nonnull(copy);
        memcpy(copy, text, size);
        r = stored_session_parse(copy, size, ret, ret_error);
        return r;
}

/* The CRC-32 of zlib, a bit at a time: an independent check of the table in store.c. */
static uint32_t crc32_reference(const char *data, size_t size) {
        uint32_t crc = 0xffffffff;

        for (size_t i = 0; i < size; i++) {
                crc ^= (uint8_t) data[i];
                for (int k = 0; k < 8; k++)
                        crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
        }
        return ~crc;
}

/* `body` with the Checksum= line a record ends with, so that tests reach what lies past it. */
static char *seal_n(const char *body, size_t size, size_t *ret_size) {
        char *text = malloc(size + 32);
        int n;

        ck_assert_ptr_nonnull(text);
        memcpy(text, body, size);
        n = snprintf(text + size, 32, "Checksum=%08x\n", crc32_reference(body, size));
        *ret_size = size + n;
        return text;
}

/* The outcome of parsing `body` once sealed; the reason goes to `ret_error`. */
static int parse_sealed_n(const char *body, size_t size, StoreParseError *ret_error) {
        _cleanup_(stored_session_freep) StoredSession *r = NULL;
        _cleanup_free_ char *text = NULL;
        size_t n;

        text = seal_n(body, size, &n);
        return parse_exact(text, n, &r, ret_error);
}

static int parse_sealed(const char *body, StoreParseError *ret_error) {
        return parse_sealed_n(body, strlen(body), ret_error);
}

#define HEAD "ProfdRecord=1\nId=1\nState=running\n"
#define PROC "[Process]\nName=t\nRole=target\nState=running\n"

/* Refused as damaged, at `line` (0: anywhere), for a reason that says `why`. */
static void assert_refused_n(const char *body, size_t size, unsigned line, const char *why) {
        StoreParseError e = { .reason = NULL };

        ck_assert_msg(parse_sealed_n(body, size, &e) == -EBADMSG, "accepted: <%.*s>", (int) MIN(size, 200), body);
        ck_assert_ptr_nonnull(e.reason);
        ck_assert_msg(strstr(e.reason, why), "<%.*s>: '%s' does not say '%s'", (int) MIN(size, 200), body, e.reason, why);
        if (line > 0)
                ck_assert_msg(e.line == line, "<%s>: line %u, not %u", body, e.line, line);
}

static void assert_refused(const char *body, unsigned line, const char *why) {
        assert_refused_n(body, strlen(body), line, why);
}

START_TEST(test_round_trip) {
        _cleanup_(stored_session_freep) StoredSession *r = full_record("42"), *back = NULL;
        _cleanup_free_ char *text = NULL, *again = NULL;
        size_t size, size_again;
        unsigned checksums = 0, processes = 0;

        ck_assert_int_eq(stored_session_format(r, &text, &size), 0);
        ck_assert_uint_eq(strlen(text), size);
        ck_assert_int_eq(parse_exact(text, size, &back, NULL), 0);
        assert_records_equal(r, back);

        /* What was read is written the same way again, byte for byte. */
        ck_assert_int_eq(stored_session_format(back, &again, &size_again), 0);
        ck_assert_uint_eq(size, size_again);
        ck_assert_mem_eq(text, again, size);

        /* Nothing a value holds can pose as a line of the record's own: one Checksum=, at the end,
         * and as many [Process] headers as processes. */
        for (const char *p = text; (p = strstr(p, "\nChecksum=")); p++)
                checksums++;
        for (const char *p = text; (p = strstr(p, "\n[Process]\n")); p++)
                processes++;
        ck_assert_uint_eq(checksums, 1);
        ck_assert_uint_eq(processes, 3);
        ck_assert_ptr_nonnull(strstr(text, "\nDescription=tab\\there\\nnewline \\\\ backslash \\\\n \"quoted\" "
                                           "ünïcödé 日本語 \\x01\\x1f\\x7f\\r end=\\nChecksum=00000000\\n"
                                           "[Process]\\nName=evil\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nTarget=\n"));
        ck_assert_ptr_nonnull(strstr(text, "\nTarget=  lead and trail  \n"));
        ck_assert_ptr_nonnull(strstr(text, "\nTarget=\xff\xfe not UTF-8\n"));
        /* Unknown figures are left out rather than written as a number that means "unknown". */
        ck_assert_ptr_null(strstr(text, "MemoryBytes=18446744073709551615"));
        ck_assert_uint_eq(back->processes[1].memory_bytes, UINT64_MAX);
        ck_assert_uint_eq(back->processes[1].cpu_usec, 0);
}
END_TEST

START_TEST(test_empty_record) {
        _cleanup_(stored_session_freep) StoredSession *r = NULL, *back = NULL;
        _cleanup_free_ char *text = NULL;
        StoredProcess *p;
        size_t size;

        /* Only what is required: every list empty, every string absent, every figure unset. */
        ck_assert_int_eq(stored_session_new(&r), 0);
        r->id = xstrdup("1");
        r->state = xstrdup("queued");
        ck_assert_int_eq(stored_session_format(r, &text, &size), 0);
        ck_assert_int_eq(parse_exact(text, size, &back, NULL), 0);
        assert_records_equal(r, back);
        ck_assert_ptr_null(back->target);
        ck_assert_ptr_null(back->groups);
        ck_assert_ptr_null(back->result);
        ck_assert_uint_eq(back->n_processes, 0);
        ck_assert_uint_eq(back->n_supporters, 0);
        ck_assert_uint_eq(back->max_duration, USEC_INFINITY);
        ck_assert_uint_eq(back->stop_timeout, USEC_INFINITY);
        ck_assert_uint_eq(back->finished_realtime, 0);

        /* An empty list is no list; a list of one empty word is one word; an empty string is not
         * a missing one. */
        stored_session_free(back);
        back = NULL;
        free(text);
        text = NULL;
        r->target = calloc(1, sizeof(char *));
        ck_assert_ptr_nonnull(r->target);
        r->output_files = strv_new("", NULL);
        r->result = xstrdup("");
        ck_assert_int_eq(stored_session_add_process(r, &p), 0);
        p->name = xstrdup("target");
        p->role = xstrdup("target");
        p->state = xstrdup("pending");
        ck_assert_int_eq(stored_session_format(r, &text, &size), 0);
        ck_assert_int_eq(parse_exact(text, size, &back, NULL), 0);
        ck_assert_ptr_null(back->target);
        ck_assert_uint_eq(strv_length(back->output_files), 1);
        ck_assert_str_eq(back->output_files[0], "");
        ck_assert_str_eq(back->result, "");
        ck_assert_uint_eq(back->processes[0].cpu_usec, UINT64_MAX);
        ck_assert_uint_eq(back->processes[0].memory_bytes, UINT64_MAX);
        ck_assert_ptr_null(back->processes[0].unit);
        ck_assert_int_eq(back->processes[0].exit_code, 0);
}
END_TEST

/* The format is a promise to the daemons that come later: this text must stay what it is, the
 * checksum included, which is zlib's crc32() (python3 -c 'import zlib; print(hex(zlib.crc32(…)))'). */
START_TEST(test_golden) {
        static const char expected[] =
                "ProfdRecord=1\n"
                "Id=7\n"
                "State=running\n"
                "ExitStatus=0\n"
                "UID=1000\n"
                "GID=1000\n"
                "Priority=0\n"
                "BindToCaller=no\n"
                "\n"
                "[Process]\n"
                "Name=target\n"
                "Role=target\n"
                "State=running\n"
                "PID=100\n"
                "Released=yes\n"
                "ExitStatus=0\n"
                "Checksum=161da4cc\n";
        _cleanup_(stored_session_freep) StoredSession *r = NULL, *back = NULL;
        _cleanup_free_ char *text = NULL;
        StoredProcess *p;
        size_t size;

        ck_assert_int_eq(stored_session_new(&r), 0);
        r->id = xstrdup("7");
        r->state = xstrdup("running");
        r->uid = r->gid = 1000;
        ck_assert_int_eq(stored_session_add_process(r, &p), 0);
        p->name = xstrdup("target");
        p->role = xstrdup("target");
        p->state = xstrdup("running");
        p->pid = 100;
        p->released = true;

        ck_assert_int_eq(stored_session_format(r, &text, &size), 0);
        ck_assert_str_eq(text, expected);
        ck_assert_int_eq(parse_exact(expected, strlen(expected), &back, NULL), 0);
        ck_assert_int_eq(back->processes[0].pid, 100);
}
END_TEST

START_TEST(test_truncation) {
        _cleanup_(stored_session_freep) StoredSession *r = full_record("42");
        _cleanup_free_ char *text = NULL;
        size_t size;

        ck_assert_int_eq(stored_session_format(r, &text, &size), 0);

        /* Whatever is cut off, at any byte, the rest is not taken for a record. */
        for (size_t i = 0; i < size; i++) {
                StoredSession *back = NULL;
                StoreParseError e = { .reason = NULL };

                ck_assert_msg(parse_exact(text, i, &back, &e) == -EBADMSG, "cut at %zu accepted", i);
                ck_assert_ptr_null(back);
                ck_assert_ptr_nonnull(e.reason);
        }
}
END_TEST

START_TEST(test_damage) {
        _cleanup_(stored_session_freep) StoredSession *r = full_record("42");
        _cleanup_free_ char *text = NULL;
        size_t size;

        ck_assert_int_eq(stored_session_format(r, &text, &size), 0);

        /* Any one bit flipped anywhere: the checksum or the shape tells. */
        for (size_t i = 0; i < size; i++)
                for (int bit = 0; bit < 8; bit++) {
                        StoredSession *back = NULL;
                        int k;

                        text[i] ^= (char) (1 << bit);
                        k = parse_exact(text, size, &back, NULL);
                        text[i] ^= (char) (1 << bit);
                        ck_assert_msg(k == -EBADMSG || (k == -EPROTONOSUPPORT && i < strlen("ProfdRecord=1")),
                                      "bit %d of byte %zu flipped: %d", bit, i, k);
                        ck_assert_ptr_null(back);
                }
}
END_TEST

START_TEST(test_shape) {
        StoreParseError e;

        /* Well-formed, to show that the cases below fail for what they change. */
        ck_assert_int_eq(parse_sealed(HEAD PROC, NULL), 0);
        ck_assert_int_eq(parse_sealed(HEAD "Priority=-2147483648\nStopTimeoutUSec=18446744073709551615\n", NULL), 0);

        assert_refused("", 1, "not a profd session record");
        assert_refused("\n", 1, "not a profd session record");
        assert_refused("Id=1\nState=running\n", 1, "not a profd session record");
        assert_refused("ProfdRecord=01\nId=1\nState=running\n", 1, "invalid format version");
        assert_refused("ProfdRecord=0\nId=1\nState=running\n", 1, "invalid format version");
        assert_refused("ProfdRecord=1 \nId=1\nState=running\n", 1, "invalid format version");
        ck_assert_int_eq(parse_sealed("ProfdRecord=2\nWhatever\n", &e), -EPROTONOSUPPORT);
        ck_assert_ptr_nonnull(strstr(e.reason, "later version"));

        assert_refused("ProfdRecord=1\n", 2, "required session key is missing");
        assert_refused("ProfdRecord=1\nId=1\n", 3, "required session key is missing");
        assert_refused("ProfdRecord=1\nState=running\n" PROC, 3, "required session key is missing");
        assert_refused("ProfdRecord=1\nState=running\nId=../etc\n", 3, "invalid id");
        assert_refused("ProfdRecord=1\nState=running\nId=\n", 3, "invalid id");
        assert_refused("ProfdRecord=1\nState=running\nId=1.record\n", 3, "invalid id");
        assert_refused(HEAD "Id=2\n", 4, "key given twice");
        assert_refused(HEAD "Description\n", 4, "expected KEY=VALUE");
        assert_refused(HEAD "=x\n", 4, "invalid key");
        assert_refused(HEAD "Descr iption=x\n", 4, "invalid key");
        assert_refused(HEAD "Description =x\n", 4, "invalid key");
        assert_refused(HEAD "# a comment\n", 4, "expected KEY=VALUE");
        assert_refused(HEAD "1Key=x\n", 4, "invalid key");
        assert_refused(HEAD "Description=a\\qb\n", 4, "unknown escape");
        assert_refused(HEAD "Description=a\\\n", 4, "incomplete escape");
        assert_refused(HEAD "Description=\\x4\n", 4, "incomplete escape");
        assert_refused(HEAD "Description=\\xg0\n", 4, "invalid \\x escape");
        assert_refused(HEAD "Description=\\x00\n", 4, "\\x00");
        assert_refused(HEAD "Description=a\tb\n", 4, "control character");
        assert_refused(HEAD "Description=a\rb\n", 4, "control character");
        assert_refused(HEAD "Description=a\x7f\n", 4, "control character");
        assert_refused_n(HEAD "Descr\0ption=x\n", strlen(HEAD) + 14, 4, "NUL byte");
        assert_refused(HEAD "UID=-1\n", 4, "invalid user or group id");
        assert_refused(HEAD "UID=4294967296\n", 4, "invalid user or group id");
        assert_refused(HEAD "UID=01\n", 4, "invalid user or group id");
        assert_refused(HEAD "UID=\n", 4, "invalid user or group id");
        assert_refused(HEAD "GID= 1\n", 4, "invalid user or group id");
        assert_refused(HEAD "Group=abc\n", 4, "invalid group");
        assert_refused(HEAD "Priority=2147483648\n", 4, "invalid number");
        assert_refused(HEAD "Priority=-2147483649\n", 4, "invalid number");
        assert_refused(HEAD "Priority=-0\n", 4, "invalid number");
        assert_refused(HEAD "Priority=+1\n", 4, "invalid number");
        assert_refused(HEAD "Priority=-\n", 4, "invalid number");
        assert_refused(HEAD "StopTimeoutUSec=18446744073709551616\n", 4, "invalid number");
        assert_refused(HEAD "StopTimeoutUSec=0x10\n", 4, "invalid number");
        assert_refused(HEAD "BindToCaller=true\n", 4, "expected yes or no");
        assert_refused(HEAD "[Process\n", 4, "invalid section header");
        assert_refused(HEAD "[]\n", 4, "invalid section header");
        assert_refused(HEAD "[\n", 4, "invalid section header");
        assert_refused(HEAD "[Pro cess]\n", 4, "invalid section header");
        assert_refused(HEAD "[Process] \n", 4, "invalid section header");
        assert_refused(HEAD "[Process]\nName=t\nRole=target\n", 0, "required key is missing in a section");
        assert_refused(HEAD "[Process]\nName=t\nRole=target\n" PROC, 7, "required key is missing in a section");
        assert_refused(HEAD "[Supporter]\nArgv=x\n", 0, "required key is missing in a section");
        assert_refused(HEAD PROC "PID=-5\n", 8, "invalid pid");
        assert_refused(HEAD PROC "PID=2147483648\n", 8, "invalid pid");
        assert_refused(HEAD PROC "ExitCode=stopped\n", 8, "invalid exit code");
        assert_refused(HEAD PROC "ExitCode=1\n", 8, "invalid exit code");
        assert_refused(HEAD PROC "Name=u\n", 8, "key given twice");
        assert_refused(HEAD PROC "Released=yes\nReleased=yes\n", 9, "key given twice");
}
END_TEST

START_TEST(test_checksum_line) {
        _cleanup_free_ char *text = NULL;
        StoredSession *r = NULL;
        StoreParseError e;
        char buf[256];
        size_t size;

        text = seal_n(HEAD, strlen(HEAD), &size);
        ck_assert_int_eq(parse_exact(text, size, &r, NULL), 0);
        r = stored_session_free(r);

        /* Upper case, short, long, wrong, missing newline, something after it. */
        snprintf(buf, sizeof(buf), HEAD "Checksum=%08X\n", crc32_reference(HEAD, strlen(HEAD)) | 0xa0000000);
        ck_assert_int_eq(parse_exact(buf, strlen(buf), &r, &e), -EBADMSG);
        ck_assert_str_eq(e.reason, "invalid checksum");
        snprintf(buf, sizeof(buf), HEAD "Checksum=%07x\n", crc32_reference(HEAD, strlen(HEAD)) & 0xfffffff);
        ck_assert_int_eq(parse_exact(buf, strlen(buf), &r, &e), -EBADMSG);
        ck_assert_str_eq(e.reason, "invalid checksum");
        snprintf(buf, sizeof(buf), HEAD "Checksum=%08x0\n", crc32_reference(HEAD, strlen(HEAD)));
        ck_assert_int_eq(parse_exact(buf, strlen(buf), &r, &e), -EBADMSG);
        snprintf(buf, sizeof(buf), HEAD "Checksum=%08x\n", crc32_reference(HEAD, strlen(HEAD)) ^ 1);
        ck_assert_int_eq(parse_exact(buf, strlen(buf), &r, &e), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(e.reason, "checksum mismatch"));
        ck_assert_uint_eq(e.line, 4);
        ck_assert_int_eq(parse_exact(text, size - 1, &r, &e), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(e.reason, "truncated"));
        ck_assert_uint_eq(e.line, 0);
        snprintf(buf, sizeof(buf), "%s\n", text);
        ck_assert_int_eq(parse_exact(buf, strlen(buf), &r, &e), -EBADMSG);
        ck_assert_str_eq(e.reason, "data after the Checksum= line");
        snprintf(buf, sizeof(buf), "%sId=2\n", text);
        ck_assert_int_eq(parse_exact(buf, strlen(buf), &r, &e), -EBADMSG);
        ck_assert_ptr_null(r);
}
END_TEST

START_TEST(test_forward_compatible) {
        static const char body[] =
                HEAD
                "FutureKey=anything \\x41 \\\\ at all\n"
                "Description=kept\n"
                "PID=5\n"                       /* a key of another section means nothing here */
                "\n"
                "[Future]\n"
                "Name=not a process\n"
                "State=whatever\n"
                "\n"
                PROC
                "FutureProcessKey=1\n"
                "\n"
                "[Supporter]\n"
                "Name=perf\n"
                "Later=yes\n";
        _cleanup_(stored_session_freep) StoredSession *r = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size;

        text = seal_n(body, strlen(body), &size);
        ck_assert_int_eq(parse_exact(text, size, &r, NULL), 0);
        ck_assert_str_eq(r->description, "kept");
        ck_assert_uint_eq(r->n_processes, 1);
        ck_assert_str_eq(r->processes[0].name, "t");
        ck_assert_uint_eq(r->n_supporters, 1);
        ck_assert_str_eq(r->supporters[0].name, "perf");

        /* Skipped, but not unchecked: a value must still be well-formed. */
        assert_refused(HEAD "FutureKey=\\q\n", 4, "unknown escape");
        assert_refused(HEAD "[Future]\nFuture Key=1\n", 5, "invalid key");
}
END_TEST

/* A little deterministic fuzzing ahead of the real thing: whatever the bytes, the parser returns
 * cleanly, and whatever it accepts it writes back and reads again the same. */
static uint64_t xorshift(uint64_t *state) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        return *state;
}

static bool check_accepted(const char *text, size_t size) {
        _cleanup_(stored_session_freep) StoredSession *r = NULL, *back = NULL;
        _cleanup_free_ char *out = NULL, *again = NULL;
        size_t n, n_again;
        int k;

        k = parse_exact(text, size, &r, NULL);
        ck_assert_msg(IN_SET(k, 0, -EBADMSG, -EPROTONOSUPPORT), "parse: %d", k);
        if (k < 0)
                return false;
        ck_assert_int_eq(stored_session_format(r, &out, &n), 0);
        ck_assert_int_eq(parse_exact(out, n, &back, NULL), 0);
        assert_records_equal(r, back);
        ck_assert_int_eq(stored_session_format(back, &again, &n_again), 0);
        ck_assert_uint_eq(n, n_again);
        ck_assert_mem_eq(out, again, n);
        return true;
}

START_TEST(test_garbage) {
        static const char alphabet[] = "\n\n\n\\\\=[]xnt0123456789-aAZ \x01\x7f\xff";
        _cleanup_(stored_session_freep) StoredSession *r = full_record("42");
        _cleanup_free_ char *text = NULL;
        uint64_t state = 0x9e3779b97f4a7c15ULL;
        unsigned accepted = 0;
        size_t size;

        check_accepted("", 0);
        check_accepted("\n\n\n", 3);
        check_accepted("\0\0\0\n", 4);
        check_accepted("ProfdRecord=1", 13);
        check_accepted("ProfdRecord=1\n", 14);
        check_accepted("ProfdRecord=1\nChecksum=\n", 24);

        /* Random bytes. */
        for (unsigned i = 0; i < 2000; i++) {
                char buf[256];
                size_t n = xorshift(&state) % sizeof(buf);

                for (size_t k = 0; k < n; k++)
                        buf[k] = (char) xorshift(&state);
                check_accepted(buf, n);
        }

        /* A real record, changed in a few places and sealed again, so the checksum does not hide
         * what the parser makes of it. */
        ck_assert_int_eq(stored_session_format(r, &text, &size), 0);
        size -= strlen("Checksum=00000000\n");
        for (unsigned i = 0; i < 3000; i++) {
                _cleanup_free_ char *body = malloc(size), *sealed = NULL;
                unsigned changes = 1 + xorshift(&state) % 4;
                size_t n;

                ck_assert_ptr_nonnull(body);
                memcpy(body, text, size);
                for (unsigned c = 0; c < changes; c++) {
                        size_t at = 14 + xorshift(&state) % (size - 14);    /* keep the version line */

                        body[at] = alphabet[xorshift(&state) % (sizeof(alphabet) - 1)];
                }
                sealed = seal_n(body, size, &n);
                if (check_accepted(sealed, n))
                        accepted++;
        }
        /* Some changes land in values and are fine: the test did reach past the line shapes. */
        ck_assert_uint_gt(accepted, 0);
}
END_TEST

START_TEST(test_limits) {
        _cleanup_(stored_session_freep) StoredSession *r = NULL;
        _cleanup_free_ char *big = NULL, *text = NULL;
        StoredSession *back = NULL;
        size_t n, size;

        /* A line of exactly 1 MiB is fine, one byte more is not. */
        big = malloc(STORE_RECORD_SIZE_MAX + 4096);
        ck_assert_ptr_nonnull(big);
        n = (size_t) sprintf(big, HEAD "Description=");
        memset(big + n, 'a', STORE_LINE_MAX - strlen("Description="));
        n += STORE_LINE_MAX - strlen("Description=");
        big[n++] = '\n';
        ck_assert_int_eq(parse_sealed_n(big, n, NULL), 0);
        memmove(big + n, big + n - 1, 1);
        big[n - 1] = 'a';
        assert_refused_n(big, n + 1, 4, "line longer than 1 MiB");

        /* 4 MiB in all, the same. */
        n = (size_t) sprintf(big, HEAD);
        while (n < STORE_RECORD_SIZE_MAX) {
                size_t k = MIN((size_t) 1000, STORE_RECORD_SIZE_MAX - n + 100);

                n += (size_t) sprintf(big + n, "Pad=");
                memset(big + n, 'p', k);
                n += k;
                big[n++] = '\n';
        }
        assert_refused_n(big, n, 0, "larger than 4 MiB");

        /* 4096 processes, and a list of 65536 words; one more of either is refused. */
        n = (size_t) sprintf(big, HEAD);
        for (unsigned i = 0; i < STORE_SECTIONS_MAX; i++)
                n += (size_t) sprintf(big + n, PROC);
        text = seal_n(big, n, &size);
        ck_assert_int_eq(parse_exact(text, size, &back, NULL), 0);
        ck_assert_uint_eq(back->n_processes, STORE_SECTIONS_MAX);
        back = stored_session_free(back);
        n += (size_t) sprintf(big + n, PROC);
        assert_refused_n(big, n, 0, "too many processes");

        n = (size_t) sprintf(big, HEAD);
        for (unsigned i = 0; i < STORE_LIST_MAX; i++)
                n += (size_t) sprintf(big + n, "Target=%u\n", i);
        ck_assert_int_eq(parse_sealed_n(big, n, NULL), 0);
        n += (size_t) sprintf(big + n, "Target=x\n");
        assert_refused_n(big, n, STORE_LIST_MAX + 4, "too many entries in a list");

        /* What cannot be read back is not written either. */
        ck_assert_int_eq(stored_session_new(&r), 0);
        r->id = xstrdup("1");
        r->state = xstrdup("running");
        r->description = malloc(STORE_LINE_MAX);
        ck_assert_ptr_nonnull(r->description);
        memset(r->description, 'a', STORE_LINE_MAX - 1);
        r->description[STORE_LINE_MAX - 1] = '\0';
        ck_assert_int_eq(stored_session_format(r, &text, &size), -E2BIG);
        /* Exactly 1 MiB is fine, and escaping counts. */
        r->description[STORE_LINE_MAX - strlen("Description=")] = '\0';
        free(text);
        text = NULL;
        ck_assert_int_eq(stored_session_format(r, &text, &size), 0);
        free(text);
        text = NULL;
        r->description[0] = '\n';
        ck_assert_int_eq(stored_session_format(r, &text, &size), -E2BIG);
        r->description = mfree(r->description);

        /* Made by hand: strv_extend() copies the list every time. */
        r->target = calloc(STORE_LIST_MAX + 2, sizeof(char *));
        ck_assert_ptr_nonnull(r->target);
        for (unsigned i = 0; i <= STORE_LIST_MAX; i++)
                r->target[i] = xstrdup("x");
        ck_assert_int_eq(stored_session_format(r, &text, &size), -E2BIG);
        r->target = strv_free(r->target);

        memset(big, 'f', 100000);
        big[100000] = '\0';
        n = 0;
        for (unsigned i = 0; i < 50; i++)
                ck_assert_int_eq(strv_extend(&r->output_files, &n, big), 0);
        ck_assert_int_eq(stored_session_format(r, &text, &size), -E2BIG);
}
END_TEST

START_TEST(test_format_refuses) {
        _cleanup_(stored_session_freep) StoredSession *r = NULL;
        _cleanup_free_ char *text = NULL;
        StoredProcess *p;
        size_t size;

        ck_assert_int_eq(stored_session_new(&r), 0);
        r->state = xstrdup("running");
        ck_assert_int_eq(stored_session_format(r, &text, &size), -EINVAL);      /* no id */
        r->id = xstrdup("../../etc/passwd");
        ck_assert_int_eq(stored_session_format(r, &text, &size), -EINVAL);
        free(r->id);
        r->id = xstrdup("7");
        r->state = mfree(r->state);
        ck_assert_int_eq(stored_session_format(r, &text, &size), -EINVAL);      /* no state */
        r->state = xstrdup("running");

        ck_assert_int_eq(stored_session_add_process(r, &p), 0);
        p->name = xstrdup("target");
        p->role = xstrdup("target");
        ck_assert_int_eq(stored_session_format(r, &text, &size), -EINVAL);      /* no state */
        p->state = xstrdup("exited");
        p->exit_code = 7;
        ck_assert_int_eq(stored_session_format(r, &text, &size), -EINVAL);
        p->exit_code = CLD_DUMPED;
        p->pid = -1;
        ck_assert_int_eq(stored_session_format(r, &text, &size), -EINVAL);
        p->pid = 1;
        ck_assert_ptr_null(text);
        ck_assert_int_eq(stored_session_format(r, &text, &size), 0);
        ck_assert_ptr_nonnull(strstr(text, "\nExitCode=dumped\n"));

        ck_assert(store_id_is_valid("12"));
        ck_assert(store_id_is_valid("run_1"));
        ck_assert(!store_id_is_valid(""));
        ck_assert(!store_id_is_valid(NULL));
        ck_assert(!store_id_is_valid("a.b"));
        ck_assert(!store_id_is_valid("a/b"));
        ck_assert(!store_id_is_valid("a-b"));
        ck_assert(store_id_is_valid("1234567890123456789012345678901234567890123456789012345678901234"));
        ck_assert(!store_id_is_valid("12345678901234567890123456789012345678901234567890123456789012345"));
}
END_TEST

/* The store on disk. */

/* A directory of the test's own in the build tree, never in /tmp. */
static void make_test_dir(char *buf, size_t size) {
        const char *base = getenv("MESON_BUILD_ROOT");
        char cwd[PATH_MAX];

        if (!base || base[0] != '/') {
                ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
                base = cwd;
        }
        ck_assert_int_lt(snprintf(buf, size, "%s/test-store.XXXXXX", base), (int) size);
        ck_assert_ptr_nonnull(mkdtemp(buf));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *walk) {
        return remove(path);
}

static void remove_tree(const char *path) {
        ck_assert_int_eq(nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* The state directory of a store in a new test directory. */
typedef struct TestStore {
        char dir[PATH_MAX];
        char state[PATH_MAX + 32];
        char records[PATH_MAX + 64];
} TestStore;

static Store *test_store_open(TestStore *t) {
        Store *s;

        make_test_dir(t->dir, sizeof(t->dir));
        /* Parents made as needed, as for a first start with a fresh StateDirectory=. */
        snprintf(t->state, sizeof(t->state), "%s/var/lib/profd", t->dir);
        snprintf(t->records, sizeof(t->records), "%s/records", t->state);
        ck_assert_int_eq(store_open(&s, t->state), 0);
        return s;
}

static void write_file(const char *dir, const char *name, const char *data, size_t size) {
        char path[PATH_MAX + 128];
        _cleanup_close_ int fd = -EBADF;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, size), (ssize_t) size);
}

static bool file_exists(const char *dir, const char *name) {
        char path[PATH_MAX + 128];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return access(path, F_OK) >= 0;
}

static unsigned count_files(const char *dir) {
        _cleanup_(closedirp) DIR *d = opendir(dir);
        unsigned n = 0;

        ck_assert_ptr_nonnull(d);
        for (struct dirent *de; (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        return n;
}

static void save_simple(Store *s, const char *id, const char *state, usec_t finished) {
        _cleanup_(stored_session_freep) StoredSession *r = NULL;

        ck_assert_int_eq(stored_session_new(&r), 0);
        r->id = xstrdup(id);
        r->state = xstrdup(state);
        r->finished_realtime = finished;
        ck_assert_int_eq(store_save(s, r, STORE_SAVE_NO_SYNC), 0);
}

START_TEST(test_save_load) {
        _cleanup_(stored_session_freep) StoredSession *r = full_record("42"), *back = NULL;
        _cleanup_(store_freep) Store *s = NULL;
        char path[PATH_MAX + 128], copy[PATH_MAX + 128], buf[16384];
        struct stat st, st_new;
        TestStore t;
        ssize_t n;
        int old;

        s = test_store_open(&t);
        ck_assert_int_eq(stat(t.records, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0700);

        ck_assert_int_eq(store_save(s, r, 0), 0);
        snprintf(path, sizeof(path), "%s/42.record", t.records);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        ck_assert_int_eq(store_load(s, "42", &back), 0);
        assert_records_equal(r, back);
        back = stored_session_free(back);

        /* A later save replaces it whole, by a rename: whoever has the old file open still reads
         * all of the old one. And it leaves nothing else behind. */
        old = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge(old, 0);
        ck_assert_int_eq(fstat(old, &st), 0);
        free(r->state);
        r->state = xstrdup("running");
        r->processes[0].pid = 99;
        ck_assert_int_eq(store_save(s, r, STORE_SAVE_NO_SYNC), 0);
        ck_assert_uint_eq(count_files(t.records), 1);
        ck_assert_int_eq(stat(path, &st_new), 0);
        ck_assert_uint_ne(st.st_ino, st_new.st_ino);
        n = read(old, buf, sizeof(buf));
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(stored_session_parse(buf, n, &back, NULL), 0);
        ck_assert_str_eq(back->state, "finished");
        back = stored_session_free(back);
        close(old);

        /* After a restart. */
        s = store_free(s);
        ck_assert_int_eq(store_open(&s, t.state), 0);
        ck_assert_int_eq(store_load(s, "42", &back), 0);
        assert_records_equal(r, back);
        ck_assert_str_eq(back->state, "running");
        back = stored_session_free(back);

        ck_assert_int_eq(store_load(s, "43", &back), -ENOENT);
        ck_assert_int_eq(store_load(s, "../records/42", &back), -EINVAL);
        ck_assert_int_eq(store_load(s, "", &back), -EINVAL);

        /* An id the store cannot name a file after is refused, and nothing is created. */
        free(r->id);
        r->id = xstrdup("../escape");
        ck_assert_int_eq(store_save(s, r, 0), -EINVAL);
        ck_assert_uint_eq(count_files(t.records), 1);
        ck_assert_uint_eq(count_files(t.state), 1);

        /* When the rename fails (here, a directory in the way), nothing is left behind either. */
        free(r->id);
        r->id = xstrdup("44");
        snprintf(copy, sizeof(copy), "%s/44.record", t.records);
        ck_assert_int_eq(mkdir(copy, 0700), 0);
        snprintf(copy, sizeof(copy), "%s/44.record/x", t.records);
        ck_assert_int_eq(mkdir(copy, 0700), 0);
        ck_assert_int_lt(store_save(s, r, 0), 0);
        ck_assert_uint_eq(count_files(t.records), 2);

        /* A record under another name is not that session's. */
        snprintf(copy, sizeof(copy), "%s/43.record", t.records);
        ck_assert_int_eq(link(path, copy), 0);
        ck_assert_int_eq(store_load(s, "43", &back), -EBADMSG);
        ck_assert_ptr_null(back);

        remove_tree(t.dir);
}
END_TEST

START_TEST(test_stale_temporary) {
        _cleanup_(stored_session_freep) StoredSession *r = full_record("5");
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_free_ char *text = NULL;
        StoredSession **all = NULL;
        size_t size, n;
        TestStore t;

        s = test_store_open(&t);
        save_simple(s, "4", "finished", 1);

        /* What a crash in the middle of a save leaves: a whole temporary file (a complete record,
         * even) and a partial one, for the highest id too. */
        ck_assert_int_eq(stored_session_format(r, &text, &size), 0);
        write_file(t.records, "5.record.Ab12Cd", text, size);
        write_file(t.records, "4.record.zzzzzz", text, size / 2);
        write_file(t.records, "highest-id.x1x2x3", "99", 2);
        write_file(t.records, "notes.txt", "mine", 4);

        /* Ignored while the store is open... */
        ck_assert_int_eq(store_load_all(s, &all, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(all[0]->id, "4");
        stored_sessions_free(all, n);
        ck_assert_int_eq(store_load(s, "5", &r), -ENOENT);

        /* ...and gone when it is opened again; what is not ours stays. */
        s = store_free(s);
        ck_assert_int_eq(store_open(&s, t.state), 0);
        ck_assert(!file_exists(t.records, "5.record.Ab12Cd"));
        ck_assert(!file_exists(t.records, "4.record.zzzzzz"));
        ck_assert(!file_exists(t.records, "highest-id.x1x2x3"));
        ck_assert(file_exists(t.records, "notes.txt"));
        ck_assert(file_exists(t.records, "4.record"));

        remove_tree(t.dir);
}
END_TEST

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

START_TEST(test_load_all_skips_corrupt) {
        _cleanup_(stored_session_freep) StoredSession *other = full_record("8");
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_free_ char *text = NULL;
        char path[PATH_MAX + 128], log[4096];
        StoredSession **all = NULL;
        size_t size, n;
        TestStore t;
        Capture cap;

        s = test_store_open(&t);
        ck_assert_int_eq(store_load_all(s, &all, &n), 0);
        ck_assert_uint_eq(n, 0);
        stored_sessions_free(all, n);

        save_simple(s, "10", "finished", 1);
        save_simple(s, "9", "running", 0);
        save_simple(s, "1", "finished", 1);
        save_simple(s, "2", "finished", 1);
        save_simple(s, "3", "finished", 1);
        save_simple(s, "run_x", "finished", 1);

        /* Cut short, someone else's file, a directory, a symlink, a record of another id. */
        snprintf(path, sizeof(path), "%s/2.record", t.records);
        ck_assert_int_eq(truncate(path, 20), 0);
        write_file(t.records, "4.record", "hello\n", 6);
        snprintf(path, sizeof(path), "%s/5.record", t.records);
        ck_assert_int_eq(mkdir(path, 0700), 0);
        snprintf(path, sizeof(path), "%s/6.record", t.records);
        ck_assert_int_eq(symlink("1.record", path), 0);
        ck_assert_int_eq(stored_session_format(other, &text, &size), 0);
        write_file(t.records, "7.record", text, size);

        cap = capture_begin();
        ck_assert_int_eq(store_load_all(s, &all, &n), 0);
        capture_end(cap, log, sizeof(log));

        /* The good ones, numbers in numeric order first. */
        ck_assert_uint_eq(n, 5);
        ck_assert_str_eq(all[0]->id, "1");
        ck_assert_str_eq(all[1]->id, "3");
        ck_assert_str_eq(all[2]->id, "9");
        ck_assert_str_eq(all[3]->id, "10");
        ck_assert_str_eq(all[4]->id, "run_x");
        ck_assert_str_eq(all[2]->state, "running");
        stored_sessions_free(all, n);

        /* And every other one named, with why. */
        ck_assert_msg(strstr(log, "records/2.record: truncated"), "%s", log);
        ck_assert_msg(strstr(log, "records/4.record: line 1: not a profd session record"), "%s", log);
        ck_assert_msg(strstr(log, "records/5.record: not a regular file"), "%s", log);
        ck_assert_msg(strstr(log, "records/6.record: Too many levels of symbolic links"), "%s", log);
        ck_assert_msg(strstr(log, "records/7.record: the Id= inside is not the one in the file name"), "%s", log);
        ck_assert_msg(!strstr(log, "records/1.record") && !strstr(log, "records/10.record"), "%s", log);

        remove_tree(t.dir);
}
END_TEST

static void assert_removed(char **removed, const char *first, ...) {
        va_list ap;
        size_t i = 0;

        va_start(ap, first);
        for (const char *id = first; id; id = va_arg(ap, const char *), i++) {
                ck_assert_msg(i < strv_length(removed), "%s not removed", id);
                ck_assert_str_eq(removed[i], id);
        }
        va_end(ap);
        ck_assert_uint_eq(strv_length(removed), i);
}

START_TEST(test_prune) {
        _cleanup_(store_freep) Store *s = NULL;
        usec_t now = 1000 * USEC_PER_SEC;
        char **removed = NULL;
        TestStore t;

        s = test_store_open(&t);
        save_simple(s, "1", "finished", 100 * USEC_PER_SEC);
        save_simple(s, "2", "finished", 200 * USEC_PER_SEC);
        save_simple(s, "3", "running", 0);              /* live, and the oldest of all */
        save_simple(s, "4", "finished", 300 * USEC_PER_SEC);
        save_simple(s, "5", "finished", 400 * USEC_PER_SEC);
        save_simple(s, "7", "finished", 2000 * USEC_PER_SEC);   /* the clock went back since */
        write_file(t.records, "6.record", "damaged\n", 8);

        /* No limits, nothing goes. */
        ck_assert_int_eq(store_prune(s, UINT_MAX, USEC_INFINITY, now, &removed), 0);
        assert_removed(removed, NULL);
        removed = strv_free(removed);

        /* By count: the oldest finished ones. */
        ck_assert_int_eq(store_prune(s, 3, USEC_INFINITY, now, &removed), 0);
        assert_removed(removed, "1", "2", NULL);
        removed = strv_free(removed);
        ck_assert(!file_exists(t.records, "1.record"));
        ck_assert(!file_exists(t.records, "2.record"));

        /* By age: 700 s is too old for 650 s, 600 s is not. */
        ck_assert_int_eq(store_prune(s, UINT_MAX, 650 * USEC_PER_SEC, now, &removed), 0);
        assert_removed(removed, "4", NULL);
        removed = strv_free(removed);
        ck_assert_int_eq(store_prune(s, UINT_MAX, 0, now, NULL), 0);
        ck_assert(!file_exists(t.records, "5.record"));
        ck_assert(file_exists(t.records, "7.record"));

        /* Keep none: the live and the unreadable ones stay all the same. */
        ck_assert_int_eq(store_prune(s, 0, USEC_INFINITY, now, &removed), 0);
        assert_removed(removed, "7", NULL);
        removed = strv_free(removed);
        ck_assert(file_exists(t.records, "3.record"));
        ck_assert(file_exists(t.records, "6.record"));

        remove_tree(t.dir);
}
END_TEST

START_TEST(test_forget_and_highest_id) {
        _cleanup_(store_freep) Store *s = NULL;
        StoredSession *r = NULL;
        unsigned long long id;
        char log[4096];
        TestStore t;
        Capture cap;

        s = test_store_open(&t);
        ck_assert_int_eq(store_highest_id(s, &id), 0);
        ck_assert_uint_eq(id, 0);

        save_simple(s, "3", "finished", 1);
        save_simple(s, "12", "running", 0);
        save_simple(s, "7", "finished", 1);
        save_simple(s, "abc", "finished", 1);
        save_simple(s, "99999999999999999999999", "finished", 1);      /* no number we could hand out */
        write_file(t.records, "100", "not a record", 12);
        ck_assert_int_eq(store_highest_id(s, &id), 0);
        ck_assert_uint_eq(id, 12);

        ck_assert_int_eq(store_forget(s, "12"), 0);
        ck_assert_int_eq(store_load(s, "12", &r), -ENOENT);
        ck_assert_int_eq(store_forget(s, "12"), -ENOENT);
        ck_assert_int_eq(store_forget(s, "../records/3"), -EINVAL);
        ck_assert_int_eq(store_forget(s, "abc"), 0);
        ck_assert(file_exists(t.records, "3.record"));

        /* Gone, yet not to be handed out again, after a restart neither. */
        ck_assert_int_eq(store_highest_id(s, &id), 0);
        ck_assert_uint_eq(id, 12);
        s = store_free(s);
        ck_assert_int_eq(store_open(&s, t.state), 0);
        ck_assert_int_eq(store_highest_id(s, &id), 0);
        ck_assert_uint_eq(id, 12);

        save_simple(s, "13", "finished", 1);
        ck_assert_int_eq(store_forget(s, "13"), 0);
        ck_assert_int_eq(store_highest_id(s, &id), 0);
        ck_assert_uint_eq(id, 13);

        /* Pruning the highest one keeps it as well. */
        save_simple(s, "14", "finished", 1);
        ck_assert_int_eq(store_prune(s, 0, USEC_INFINITY, 10, NULL), 0);
        ck_assert(!file_exists(t.records, "14.record"));
        ck_assert_int_eq(store_highest_id(s, &id), 0);
        ck_assert_uint_eq(id, 14);

        /* A damaged note is reported, and what the records say is the best there is. */
        save_simple(s, "5", "running", 0);
        write_file(t.records, "highest-id", "x\n", 2);
        cap = capture_begin();
        ck_assert_int_eq(store_highest_id(s, &id), 0);
        capture_end(cap, log, sizeof(log));
        ck_assert_uint_eq(id, 5);
        ck_assert_msg(strstr(log, "highest-id"), "%s", log);

        remove_tree(t.dir);
}
END_TEST

START_TEST(test_proc) {
        _cleanup_free_ char *boot_id = NULL, *again = NULL;
        uint64_t start, renamed, child_start;
        double uptime;
        FILE *f;
        int pipefd[2];
        pid_t pid;
        char c;

        ck_assert_int_eq(pid_get_start_time(getpid(), &start), 0);
        ck_assert_uint_gt(start, 0);

        /* The right field: this process started within the last minute of uptime. */
        f = fopen("/proc/uptime", "re");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fscanf(f, "%lf", &uptime), 1);
        fclose(f);
        ck_assert_msg((double) start / sysconf(_SC_CLK_TCK) <= uptime + 1 &&
                      (double) start / sysconf(_SC_CLK_TCK) >= uptime - 60,
                      "start %" PRIu64 " ticks, uptime %f s", start, uptime);

        /* A name with blanks and parentheses does not shift the fields. */
        ck_assert_int_eq(prctl(PR_SET_NAME, "a) b (c d 1 2"), 0);
        ck_assert_int_eq(pid_get_start_time(getpid(), &renamed), 0);
        ck_assert_uint_eq(renamed, start);

        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(pipefd[1]);
                _exit(read(pipefd[0], &c, 1) < 0);
        }
        close(pipefd[0]);
        ck_assert_int_eq(pid_get_start_time(pid, &child_start), 0);
        ck_assert_uint_ge(child_start, start);
        close(pipefd[1]);
        ck_assert_int_eq(waitpid(pid, NULL, 0), pid);

        ck_assert_int_eq(pid_get_start_time(INT_MAX, &start), -ESRCH);
        ck_assert_int_eq(pid_get_start_time(0, &start), -EINVAL);

        ck_assert_int_eq(read_boot_id(&boot_id), 0);
        ck_assert_uint_eq(strlen(boot_id), 36);
        ck_assert(boot_id[8] == '-' && boot_id[13] == '-' && boot_id[18] == '-' && boot_id[23] == '-');
        ck_assert_int_eq(read_boot_id(&again), 0);
        ck_assert_str_eq(boot_id, again);
}
END_TEST

static Suite *store_suite(void) {
        Suite *s = suite_create("store");
        TCase *tc;

        tc = tcase_create("format");
        tcase_add_test(tc, test_round_trip);
        tcase_add_test(tc, test_empty_record);
        tcase_add_test(tc, test_golden);
        tcase_add_test(tc, test_truncation);
        tcase_add_test(tc, test_damage);
        tcase_add_test(tc, test_shape);
        tcase_add_test(tc, test_checksum_line);
        tcase_add_test(tc, test_forward_compatible);
        tcase_add_test(tc, test_garbage);
        tcase_add_test(tc, test_limits);
        tcase_add_test(tc, test_format_refuses);
        /* Under the sanitizers, the byte-by-byte loops take a while. */
        tcase_set_timeout(tc, 120);
        suite_add_tcase(s, tc);

        tc = tcase_create("disk");
        tcase_add_test(tc, test_save_load);
        tcase_add_test(tc, test_stale_temporary);
        tcase_add_test(tc, test_load_all_skips_corrupt);
        tcase_add_test(tc, test_prune);
        tcase_add_test(tc, test_forget_and_highest_id);
        tcase_add_test(tc, test_proc);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(store_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
