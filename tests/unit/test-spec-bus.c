/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The StartSession and AddSupporter specs through a real peer-to-peer bus: what a client appends
 * is what the daemon decodes, every bad input is refused naming its key, and a refusal leaves no
 * fd open. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "bus-errors.h"
#include "spec-bus.h"
#include "strv.h"

/* Both ends of a socketpair, made inside each test: libcheck forks, and a bus must not cross. */
typedef struct Peer {
        sd_bus *client, *server;
        sd_bus_message *received;
} Peer;

static void peer_done(Peer *p) {
        p->received = sd_bus_message_unref(p->received);
        p->client = sd_bus_close_unref(p->client);
        p->server = sd_bus_close_unref(p->server);
}

static int on_call(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Peer *p = userdata;

        p->received = sd_bus_message_ref(m);
        return 1;
}

static void peer_open(Peer *p) {
        int fds[2];
        sd_id128_t id;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
        ck_assert_int_eq(sd_id128_randomize(&id), 0);

        ck_assert_int_ge(sd_bus_new(&p->server), 0);
        ck_assert_int_ge(sd_bus_set_fd(p->server, fds[0], fds[0]), 0);
        ck_assert_int_ge(sd_bus_set_server(p->server, 1, id), 0);
        ck_assert_int_ge(sd_bus_negotiate_fds(p->server, 1), 0);
        ck_assert_int_ge(sd_bus_add_object(p->server, NULL, PROFD_BUS_PATH, on_call, p), 0);
        ck_assert_int_ge(sd_bus_start(p->server), 0);

        ck_assert_int_ge(sd_bus_new(&p->client), 0);
        ck_assert_int_ge(sd_bus_set_fd(p->client, fds[1], fds[1]), 0);
        ck_assert_int_ge(sd_bus_negotiate_fds(p->client, 1), 0);
        ck_assert_int_ge(sd_bus_start(p->client), 0);
}

/* One thread drives both ends: run them in turn until `done` says so. */
static void peer_run(Peer *p, bool (*done)(Peer *p)) {
        for (unsigned i = 0; !done(p); i++) {
                int a, b;

                ck_assert_uint_lt(i, 300);
                a = sd_bus_process(p->client, NULL);
                b = sd_bus_process(p->server, NULL);
                ck_assert_int_ge(a, 0);
                ck_assert_int_ge(b, 0);
                if (a == 0 && b == 0)
                        ck_assert_int_ge(sd_bus_wait(p->server, 10 * USEC_PER_MSEC), 0);
        }
}

static bool peer_is_ready(Peer *p) {
        return sd_bus_is_ready(p->client) > 0 && sd_bus_is_ready(p->server) > 0;
}

static bool peer_has_received(Peer *p) {
        return p->received;
}

/* Sends `m` and runs both ends until the server has it: the message the daemon would decode. */
static sd_bus_message *deliver(Peer *p, sd_bus_message *m) {
        ck_assert_int_ge(sd_bus_send(p->client, m, NULL), 0);
        peer_run(p, peer_has_received);
        ck_assert_int_ge(sd_bus_message_rewind(p->received, true), 0);
        return p->received;
}

static sd_bus_message *new_call(Peer *p, const char *method) {
        sd_bus_message *m = NULL;

        /* Until the handshake is done, whether fds may be sent is not known. */
        peer_run(p, peer_is_ready);

        ck_assert_int_ge(sd_bus_message_new_method_call(p->client, &m, NULL, PROFD_BUS_PATH,
                                                        PROFD_BUS_MANAGER_INTERFACE, method), 0);
        return m;
}

static unsigned n_open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        unsigned n = 0;

        ck_assert_ptr_nonnull(d);
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1; /* the directory itself */
}

static bool same_file(int a, int b) {
        struct stat sa, sb;

        ck_assert_int_eq(fstat(a, &sa), 0);
        ck_assert_int_eq(fstat(b, &sb), 0);
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Decodes the delivered spec, which must be refused with `error_name` and a message containing
 * `needle`, with nothing written and no fd left open. */
static void assert_decode_refused(Peer *p, const char *error_name, const char *needle) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SessionSpec *spec = NULL;
        int stdio[3] = { 42, 42, 42 };
        unsigned before = n_open_fds();

        ck_assert_int_lt(bus_message_read_session_spec(p->received, &spec, stdio, &error), 0);
        ck_assert_ptr_null(spec);
        ck_assert(stdio[0] == 42 && stdio[1] == 42 && stdio[2] == 42);
        ck_assert_msg(streq_ptr(error.name, error_name), "expected %s, got %s: %s", error_name,
                      error.name, error.message);
        ck_assert_msg(error.message && strstr(error.message, needle), "no '%s' in '%s'", needle,
                      error.message);
        ck_assert_uint_eq(n_open_fds(), before);
}

/* A StartSession whose a{sv} is given as for sd_bus_message_append(), refused as above. */
static void assert_refused(const char *error_name, const char *needle, const char *types, ...) {
        _cleanup_(peer_done) Peer p = { 0 };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        va_list ap;

        peer_open(&p);
        m = new_call(&p, "StartSession");
        va_start(ap, types);
        ck_assert_int_ge(sd_bus_message_appendv(m, types, ap), 0);
        va_end(ap);
        deliver(&p, m);
        assert_decode_refused(&p, error_name, needle);
}

#define INVALID_SPEC PROFD_ERROR_INVALID_SPEC
#define INVALID_ARGS SD_BUS_ERROR_INVALID_ARGS

/* The same for a spec appended by bus_message_append_session_spec(), for what is tedious to spell
 * out: many supporters, long argvs, fds. */
static void assert_spec_refused(const SessionSpec *spec, const int stdio[3], const char *error_name,
                                const char *needle) {
        _cleanup_(peer_done) Peer p = { 0 };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

        peer_open(&p);
        m = new_call(&p, "StartSession");
        ck_assert_int_ge(bus_message_append_session_spec(m, spec, stdio), 0);
        deliver(&p, m);
        assert_decode_refused(&p, error_name, needle);
}

static char **strv_make(const char *first, ...) {
        char **l = NULL;
        size_t n = 0;
        va_list ap;

        va_start(ap, first);
        for (const char *s = first; s; s = va_arg(ap, const char *))
                ck_assert_int_eq(strv_extend(&l, &n, s), 0);
        va_end(ap);
        return l;
}

static SessionSpec *simple_spec(void) {
        SessionSpec *spec = NULL;

        ck_assert_int_eq(session_spec_new(&spec), 0);
        spec->target = strv_make("true", NULL);
        return spec;
}

static void assert_strv_eq(char **a, char **b) {
        ck_assert_uint_eq(strv_length(a), strv_length(b));
        for (size_t i = 0; a && a[i]; i++)
                ck_assert_str_eq(a[i], b[i]);
}

START_TEST(test_roundtrip) {
        _cleanup_(peer_done) Peer p = { 0 };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(session_spec_freep) SessionSpec *in = NULL, *out = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_close_pair_ int pipe_fds[2] = { -EBADF, -EBADF };
        _cleanup_close_ int null_fd = -EBADF;
        int stdio[3], got[3] = { -EBADF, -EBADF, -EBADF };
        unsigned before;

        ck_assert_int_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        ck_assert_int_ge(null_fd, 0);
        stdio[0] = pipe_fds[0];
        stdio[1] = pipe_fds[1];
        stdio[2] = null_fd;

        in = simple_spec();
        strv_free(in->target);
        in->target = strv_make("/usr/bin/make", "-j", "8", "", "{pid}", NULL);
        in->working_directory = strdup("/src/project");
        in->environment = strv_make("PATH=/usr/bin", "EMPTY=", "X=a=b", NULL);
        in->description = strdup("build with caf\xc3\xa9");
        in->max_duration = 90 * USEC_PER_SEC;
        in->stop_timeout = 3 * USEC_PER_SEC;
        in->claims = strv_make("gpu0", "port:8080", NULL);
        in->uses = strv_make("disk", NULL);
        in->priority = -17;
        in->bind_to_caller = true;
        ck_assert_int_eq(session_spec_add_supporter(in, "perf record -p {pid}", NULL), 0);
        ck_assert_int_eq(session_spec_add_supporter(in, "trace=strace -f -p {pid}", NULL), 0);
        in->supporters[0].ready = READY_DELAY;
        in->supporters[0].ready_delay = 250 * USEC_PER_MSEC;
        in->supporters[0].requires = strv_make("gpu0", NULL);
        in->supporters[0].provides = strv_make("perf.data", "samples", NULL);
        in->supporters[0].working_directory = strdup("/var/tmp");
        in->supporters[1].ready = READY_NOTIFY;
        in->supporters[1].provides = strv_make("gpu0", NULL);

        peer_open(&p);
        m = new_call(&p, "StartSession");
        ck_assert_int_ge(bus_message_append_session_spec(m, in, stdio), 0);
        deliver(&p, m);

        before = n_open_fds();
        ck_assert_int_eq(bus_message_read_session_spec(p.received, &out, got, &error), 0);
        ck_assert(!sd_bus_error_is_set(&error));
        ck_assert_uint_eq(n_open_fds(), before + 3);

        assert_strv_eq(out->target, in->target);
        ck_assert_str_eq(out->working_directory, "/src/project");
        assert_strv_eq(out->environment, in->environment);
        ck_assert_str_eq(out->description, in->description);
        ck_assert_uint_eq(out->max_duration, 90 * USEC_PER_SEC);
        ck_assert_uint_eq(out->stop_timeout, 3 * USEC_PER_SEC);
        assert_strv_eq(out->claims, in->claims);
        assert_strv_eq(out->uses, in->uses);
        ck_assert_int_eq(out->priority, -17);
        ck_assert(out->bind_to_caller);

        ck_assert_uint_eq(out->n_supporters, 2);
        ck_assert_str_eq(out->supporters[0].name, "perf");
        assert_strv_eq(out->supporters[0].argv, in->supporters[0].argv);
        ck_assert_int_eq(out->supporters[0].ready, READY_DELAY);
        ck_assert_uint_eq(out->supporters[0].ready_delay, 250 * USEC_PER_MSEC);
        assert_strv_eq(out->supporters[0].requires, in->supporters[0].requires);
        assert_strv_eq(out->supporters[0].provides, in->supporters[0].provides);
        ck_assert_str_eq(out->supporters[0].working_directory, "/var/tmp");
        ck_assert_str_eq(out->supporters[1].name, "trace");
        ck_assert_str_eq(out->supporters[1].argv[0], "strace");
        ck_assert_int_eq(out->supporters[1].ready, READY_NOTIFY);
        ck_assert_ptr_null(out->supporters[1].requires);
        assert_strv_eq(out->supporters[1].provides, in->supporters[1].provides);
        ck_assert_ptr_null(out->supporters[1].working_directory);

        /* Our own copies of the caller's files, kept from stdio and from exec'd children. */
        for (size_t i = 0; i < 3; i++) {
                ck_assert_int_ge(got[i], 3);
                ck_assert(same_file(got[i], stdio[i]));
                ck_assert(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
                close(got[i]);
        }
}
END_TEST

START_TEST(test_defaults) {
        _cleanup_(peer_done) Peer p = { 0 };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(session_spec_freep) SessionSpec *out = NULL;
        int got[3] = { 42, 42, 42 };

        peer_open(&p);
        m = new_call(&p, "StartSession");
        ck_assert_int_ge(sd_bus_message_append(m, "a{sv}", 3,
                                               "Target", "as", 1, "true",
                                               "MaxDurationUSec", "t", UINT64_MAX,
                                               "Environment", "as", 0), 0);
        deliver(&p, m);
        ck_assert_int_eq(bus_message_read_session_spec(p.received, &out, got, NULL), 0);
        ck_assert(got[0] == -EBADF && got[1] == -EBADF && got[2] == -EBADF);
        ck_assert_uint_eq(out->max_duration, USEC_INFINITY);
        ck_assert_uint_eq(out->stop_timeout, SPEC_STOP_TIMEOUT_DEFAULT);
        /* Given but empty is an empty environment, not the inherited one. */
        ck_assert_ptr_nonnull(out->environment);
        ck_assert_ptr_null(out->environment[0]);
        ck_assert_ptr_null(out->working_directory);
        ck_assert_ptr_null(out->claims);
        ck_assert_int_eq(out->priority, 0);
        ck_assert(!out->bind_to_caller);
        ck_assert_uint_eq(out->n_supporters, 0);
}
END_TEST

START_TEST(test_keys_and_types) {
        assert_refused(INVALID_SPEC, "Unknown key 'Foo'", "a{sv}", 2,
                       "Target", "as", 1, "true", "Foo", "s", "x");
        assert_refused(INVALID_SPEC, "Unknown key 'target'", "a{sv}", 1, "target", "as", 1, "true");
        assert_refused(INVALID_SPEC, "Duplicate key 'Target'", "a{sv}", 2,
                       "Target", "as", 1, "true", "Target", "as", 1, "false");
        assert_refused(INVALID_ARGS, "Key 'Target': expected type 'as', got 's'", "a{sv}", 1,
                       "Target", "s", "true");
        assert_refused(INVALID_ARGS, "Key 'Priority': expected type 'i', got 'u'", "a{sv}", 2,
                       "Target", "as", 1, "true", "Priority", "u", 5);
        assert_refused(INVALID_ARGS, "Key 'StdoutFD': expected type 'h', got 'i'", "a{sv}", 2,
                       "Target", "as", 1, "true", "StdoutFD", "i", 1);
        assert_refused(INVALID_ARGS, "Key 'Supporters': expected type 'aa{sv}', got 'a{sv}'", "a{sv}", 2,
                       "Target", "as", 1, "true", "Supporters", "a{sv}", 0);
        assert_refused(INVALID_ARGS, "Key 'BindToCaller': expected type 'b', got 's'", "a{sv}", 2,
                       "Target", "as", 1, "true", "BindToCaller", "s", "yes");
}
END_TEST

START_TEST(test_target_environment_directory) {
        assert_refused(INVALID_SPEC, "Target: missing", "a{sv}", 0);
        assert_refused(INVALID_SPEC, "Target: missing", "a{sv}", 1, "Description", "s", "x");
        assert_refused(INVALID_SPEC, "Target: no command given", "a{sv}", 1, "Target", "as", 0);
        assert_refused(INVALID_SPEC, "Target: no command given", "a{sv}", 1, "Target", "as", 2, "", "x");
        assert_refused(INVALID_SPEC, "Environment: ", "a{sv}", 2,
                       "Target", "as", 1, "true", "Environment", "as", 2, "A=1", "=x");
        assert_refused(INVALID_SPEC, "Environment: ", "a{sv}", 2,
                       "Target", "as", 1, "true", "Environment", "as", 1, "NOVALUE");
        assert_refused(INVALID_SPEC, "WorkingDirectory: not an absolute path", "a{sv}", 2,
                       "Target", "as", 1, "true", "WorkingDirectory", "s", "src");
        assert_refused(INVALID_SPEC, "Description: contains control characters", "a{sv}", 2,
                       "Target", "as", 1, "true", "Description", "s", "red \033[31m");
        assert_refused(INVALID_SPEC, "Claims: ", "a{sv}", 2,
                       "Target", "as", 1, "true", "Claims", "as", 1, "two words");
        assert_refused(INVALID_SPEC, "Uses: ", "a{sv}", 2,
                       "Target", "as", 1, "true", "Uses", "as", 1, "");
        assert_refused(INVALID_SPEC, "Priority: ", "a{sv}", 2,
                       "Target", "as", 1, "true", "Priority", "i", 1001);
        assert_refused(INVALID_SPEC, "Priority: ", "a{sv}", 2,
                       "Target", "as", 1, "true", "Priority", "i", INT32_MIN);
}
END_TEST

START_TEST(test_durations) {
        const uint64_t days31 = 31ULL * 24 * 3600 * USEC_PER_SEC;

        assert_refused(INVALID_SPEC, "MaxDurationUSec: must be greater than zero", "a{sv}", 2,
                       "Target", "as", 1, "true", "MaxDurationUSec", "t", UINT64_C(0));
        assert_refused(INVALID_SPEC, "MaxDurationUSec: too large", "a{sv}", 2,
                       "Target", "as", 1, "true", "MaxDurationUSec", "t", days31);
        assert_refused(INVALID_SPEC, "MaxDurationUSec: too large", "a{sv}", 2,
                       "Target", "as", 1, "true", "MaxDurationUSec", "t", UINT64_MAX - 1);
        assert_refused(INVALID_SPEC, "StopTimeoutUSec: must be greater than zero", "a{sv}", 2,
                       "Target", "as", 1, "true", "StopTimeoutUSec", "t", UINT64_C(0));
        /* Teardown always ends: no infinity here. */
        assert_refused(INVALID_SPEC, "StopTimeoutUSec: too large", "a{sv}", 2,
                       "Target", "as", 1, "true", "StopTimeoutUSec", "t", UINT64_MAX);
        assert_refused(INVALID_SPEC, "StopTimeoutUSec: too large", "a{sv}", 2,
                       "Target", "as", 1, "true", "StopTimeoutUSec", "t", days31);
}
END_TEST

START_TEST(test_fds) {
        _cleanup_close_pair_ int pipe_fds[2] = { -EBADF, -EBADF };
        _cleanup_close_ int path_fd = -EBADF;
        _cleanup_(session_spec_freep) SessionSpec *spec = simple_spec();
        unsigned before;

        ck_assert_int_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
        path_fd = open("/dev/null", O_PATH | O_CLOEXEC);
        ck_assert_int_ge(path_fd, 0);
        before = n_open_fds();

        assert_spec_refused(spec, (int[]) { -1, pipe_fds[0], -1 }, INVALID_SPEC,
                            "StdoutFD: not open for writing");
        assert_spec_refused(spec, (int[]) { -1, -1, pipe_fds[0] }, INVALID_SPEC,
                            "StderrFD: not open for writing");
        assert_spec_refused(spec, (int[]) { pipe_fds[1], -1, -1 }, INVALID_SPEC,
                            "StdinFD: not open for reading");
        assert_spec_refused(spec, (int[]) { path_fd, -1, -1 }, INVALID_SPEC,
                            "StdinFD: an O_PATH descriptor");
        /* Good ones first, then a bad one: what was already taken is given back. */
        assert_spec_refused(spec, (int[]) { pipe_fds[0], pipe_fds[1], pipe_fds[0] }, INVALID_SPEC,
                            "StderrFD: not open for writing");
        assert_refused(INVALID_SPEC, "StdoutFD: ", "a{sv}", 3, "Target", "as", 1, "true",
                       "StdinFD", "h", pipe_fds[0], "StdoutFD", "h", pipe_fds[0]);
        /* ... and so is it when the trouble comes after them. */
        assert_refused(INVALID_SPEC, "Target: missing", "a{sv}", 2,
                       "StdinFD", "h", pipe_fds[0], "StdoutFD", "h", pipe_fds[1]);
        assert_refused(INVALID_SPEC, "Duplicate key 'StdoutFD'", "a{sv}", 3, "Target", "as", 1, "true",
                       "StdoutFD", "h", pipe_fds[1], "StdoutFD", "h", pipe_fds[1]);

        ck_assert_uint_eq(n_open_fds(), before);
}
END_TEST

START_TEST(test_fd_write_end_accepted) {
        _cleanup_(peer_done) Peer p = { 0 };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(session_spec_freep) SessionSpec *in = simple_spec(), *out = NULL;
        _cleanup_close_pair_ int pipe_fds[2] = { -EBADF, -EBADF };
        int got[3];

        ck_assert_int_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
        peer_open(&p);
        m = new_call(&p, "StartSession");
        ck_assert_int_ge(bus_message_append_session_spec(m, in, (int[]) { -1, pipe_fds[1], -1 }), 0);
        deliver(&p, m);
        ck_assert_int_eq(bus_message_read_session_spec(p.received, &out, got, NULL), 0);
        ck_assert_int_eq(got[0], -EBADF);
        ck_assert_int_eq(got[2], -EBADF);
        ck_assert(same_file(got[1], pipe_fds[1]));
        /* Really the write end: what goes in comes out of ours. */
        ck_assert_int_eq(write(got[1], "x", 1), 1);
        close(got[1]);
        {
                char c;
                ck_assert_int_eq(read(pipe_fds[0], &c, 1), 1);
                ck_assert_int_eq(c, 'x');
        }
}
END_TEST

START_TEST(test_supporters) {
        assert_refused(INVALID_SPEC, "Supporters[0]: unknown key 'Args'", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 1, 1, "Args", "as", 1, "perf");
        assert_refused(INVALID_SPEC, "Supporters[1].Argv: missing", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 2, 1, "Argv", "as", 1, "perf", 1, "Name", "s", "x");
        assert_refused(INVALID_SPEC, "Supporters[0].Argv: empty command", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 1, 1, "Argv", "as", 0);
        assert_refused(INVALID_SPEC, "Supporters[0].Argv: empty command", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 1, 1, "Argv", "as", 1, "");
        assert_refused(INVALID_ARGS, "Supporters[0].Argv: expected type 'as', got 's'", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 1, 1, "Argv", "s", "perf record");
        assert_refused(INVALID_SPEC, "Supporters[0]: duplicate key 'Argv'", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 1, 2, "Argv", "as", 1, "a", "Argv", "as", 1, "b");
        assert_refused(INVALID_SPEC, "Supporters[0].Ready: 'sometime' is not one of exec, notify, delay:MS",
                       "a{sv}", 2, "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 1, 2, "Argv", "as", 1, "perf", "Ready", "s", "sometime");
        assert_refused(INVALID_SPEC, "Supporters[0].Name: 'a b' is not a valid name (letters, digits",
                       "a{sv}", 2, "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 1, 2, "Name", "s", "a b", "Argv", "as", 1, "perf");
        assert_refused(INVALID_SPEC, "Supporters[0].Name: 'perf-2' is not a valid name", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 1, 2, "Name", "s", "perf-2", "Argv", "as", 1, "perf");
        assert_refused(INVALID_SPEC, "Supporters[0].Name: 'target' is not a valid name", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 1, 2, "Name", "s", "target", "Argv", "as", 1, "perf");
        assert_refused(INVALID_SPEC, "Supporters: duplicate name 'p'", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 2,
                       2, "Name", "s", "p", "Argv", "as", 1, "a",
                       2, "Name", "s", "p", "Argv", "as", 1, "b");
        assert_refused(INVALID_SPEC, "Supporters[0].WorkingDirectory: not an absolute path", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 1, 2, "Argv", "as", 1, "a", "WorkingDirectory", "s", "out");
        assert_refused(INVALID_SPEC, "Supporters[0].Requires: 'a\tb' is not a valid name", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 1, 2, "Argv", "as", 1, "a", "Requires", "as", 1, "a\tb");
        assert_refused(INVALID_SPEC, "Supporters[0].Provides: '' is not a valid name", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 1, 2, "Argv", "as", 1, "a", "Provides", "as", 1, "");
}
END_TEST

START_TEST(test_supporter_names) {
        _cleanup_(peer_done) Peer p = { 0 };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(session_spec_freep) SessionSpec *out = NULL;

        /* An explicit name wins over a derived one, wherever it comes. */
        peer_open(&p);
        m = new_call(&p, "StartSession");
        ck_assert_int_ge(sd_bus_message_append(m, "a{sv}", 2,
                                               "Target", "as", 1, "true",
                                               "Supporters", "aa{sv}", 3,
                                               1, "Argv", "as", 1, "/usr/bin/perf",
                                               2, "Name", "s", "perf", "Argv", "as", 1, "x",
                                               1, "Argv", "as", 1, "/opt/my-tool"), 0);
        deliver(&p, m);
        ck_assert_int_eq(bus_message_read_session_spec(p.received, &out, NULL, NULL), 0);
        ck_assert_uint_eq(out->n_supporters, 3);
        ck_assert_str_eq(out->supporters[0].name, "perf_2");
        ck_assert_str_eq(out->supporters[1].name, "perf");
        ck_assert_str_eq(out->supporters[2].name, "my_tool");
        ck_assert_int_eq(out->supporters[0].ready, READY_EXEC);
}
END_TEST

START_TEST(test_limits) {
        _cleanup_(session_spec_freep) SessionSpec *spec = simple_spec();
        _cleanup_strv_free_ char **many = NULL;
        size_t n = 0;

        for (int i = 0; i <= SPEC_SUPPORTERS_MAX; i++)
                ck_assert_int_eq(session_spec_add_supporter(spec, "sleep 1", NULL), 0);
        assert_spec_refused(spec, NULL, INVALID_SPEC, "Supporters: too many supporters");

        spec = session_spec_free(spec);
        spec = simple_spec();
        for (int i = 0; i <= SPEC_ARGV_MAX; i++)
                ck_assert_int_eq(strv_extend(&many, &n, "a"), 0);
        strv_free(spec->target);
        spec->target = TAKE_PTR(many);
        /* Refused as it is read, at the first word too many. */
        assert_spec_refused(spec, NULL, INVALID_SPEC, "Target: more than 4096 entries");

        spec = session_spec_free(spec);
        spec = simple_spec();
        n = 0;
        for (int i = 0; i <= SPEC_ENVIRONMENT_MAX; i++)
                ck_assert_int_eq(strv_extend(&spec->environment, &n, "A=1"), 0);
        assert_spec_refused(spec, NULL, INVALID_SPEC, "Environment: more than 16384 entries");

        spec = session_spec_free(spec);
        spec = simple_spec();
        n = 0;
        for (int i = 0; i <= SPEC_NAMES_MAX; i++) {
                char name[16];

                snprintf(name, sizeof(name), "c%d", i);
                ck_assert_int_eq(strv_extend(&spec->claims, &n, name), 0);
        }
        assert_spec_refused(spec, NULL, INVALID_SPEC, "Claims: more than 64 entries");

        spec = session_spec_free(spec);
        spec = simple_spec();
        spec->description = malloc(SPEC_DESCRIPTION_MAX + 2);
        memset(spec->description, 'd', SPEC_DESCRIPTION_MAX + 1);
        spec->description[SPEC_DESCRIPTION_MAX + 1] = '\0';
        assert_spec_refused(spec, NULL, INVALID_SPEC, "Description: 1025 bytes, at most 1024");
}
END_TEST

START_TEST(test_add_supporter) {
        _cleanup_(peer_done) Peer p = { 0 };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(session_spec_freep) SessionSpec *spec = simple_spec();
        _cleanup_(supporter_spec_done) SupporterSpec s = { 0 }, in = { 0 };
        const char *id;

        ck_assert_int_eq(session_spec_add_supporter(spec, "perf record", NULL), 0);

        /* AddSupporter(s id, a{sv} supporter), as a client would send it. */
        in.argv = strv_make("/usr/bin/perf", "stat", "-p", "{pid}", NULL);
        in.ready = READY_NOTIFY;
        in.provides = strv_make("counters", NULL);
        peer_open(&p);
        m = new_call(&p, "AddSupporter");
        ck_assert_int_ge(sd_bus_message_append(m, "s", "1"), 0);
        ck_assert_int_ge(bus_message_append_supporter_spec(m, &in), 0);
        deliver(&p, m);
        ck_assert_int_ge(sd_bus_message_read(p.received, "s", &id), 0);
        ck_assert_int_eq(bus_message_read_supporter_spec(p.received, spec, &s, &error), 0);
        ck_assert_str_eq(s.name, "perf_2");
        assert_strv_eq(s.argv, in.argv);
        ck_assert_int_eq(s.ready, READY_NOTIFY);
        assert_strv_eq(s.provides, in.provides);
        ck_assert_int_eq(session_spec_add_supporter_spec(spec, &s), 0);
        ck_assert_uint_eq(spec->n_supporters, 2);
}
END_TEST

START_TEST(test_add_supporter_refused) {
        static const struct {
                const char *name, *ready, *needle;
        } cases[] = {
                { "perf", "exec",  "Supporters: duplicate name 'perf'" },
                { "x",    "delay", "Supporters[1].Ready: 'delay' is not one of" },
                { "x/y",  "exec",  "Supporters[1].Name: 'x/y' is not a valid name" },
        };
        _cleanup_(session_spec_freep) SessionSpec *spec = simple_spec();

        ck_assert_int_eq(session_spec_add_supporter(spec, "perf record", NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(peer_done) Peer p = { 0 };
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                SupporterSpec s = { .name = (char *) "untouched" };

                peer_open(&p);
                m = new_call(&p, "AddSupporter");
                ck_assert_int_ge(sd_bus_message_append(m, "a{sv}", 3,
                                                       "Name", "s", cases[i].name,
                                                       "Argv", "as", 1, "x",
                                                       "Ready", "s", cases[i].ready), 0);
                deliver(&p, m);
                ck_assert_int_lt(bus_message_read_supporter_spec(p.received, spec, &s, &error), 0);
                ck_assert_str_eq(s.name, "untouched");
                ck_assert_str_eq(error.name, PROFD_ERROR_INVALID_SPEC);
                ck_assert_msg(strstr(error.message, cases[i].needle), "no '%s' in '%s'", cases[i].needle,
                              error.message);
        }
}
END_TEST

/* An AddSupporter of `in` to `spec` must be refused with `r` and a message containing `needle`. */
static void assert_add_refused(const SessionSpec *spec, const SupporterSpec *in, int r, const char *needle) {
        _cleanup_(peer_done) Peer p = { 0 };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SupporterSpec s = { 0 };

        peer_open(&p);
        m = new_call(&p, "AddSupporter");
        ck_assert_int_ge(bus_message_append_supporter_spec(m, in), 0);
        deliver(&p, m);
        ck_assert_int_eq(bus_message_read_supporter_spec(p.received, spec, &s, &error), r);
        ck_assert_ptr_null(s.argv);
        ck_assert_str_eq(error.name, PROFD_ERROR_INVALID_SPEC);
        ck_assert_msg(strstr(error.message, needle), "no '%s' in '%s'", needle, error.message);
}

/* AddSupporter has no session_spec_validate() after it: the spec's limits hold all the same. */
START_TEST(test_add_supporter_limits) {
        _cleanup_(session_spec_freep) SessionSpec *spec = simple_spec();
        _cleanup_(supporter_spec_done) SupporterSpec big = { 0 }, small = { 0 };
        size_t n = 0;

        for (int i = 0; i <= SPEC_ARGV_MAX; i++)
                ck_assert_int_eq(strv_extend(&big.argv, &n, "a"), 0);
        assert_add_refused(spec, &big, -E2BIG, "Supporters[0].Argv: more than 4096 entries");

        small.argv = strv_make("x", NULL);
        while (spec->n_supporters < SPEC_SUPPORTERS_MAX)
                ck_assert_int_eq(session_spec_add_supporter(spec, "sleep 1", NULL), 0);
        assert_add_refused(spec, &small, -E2BIG, "Supporters: too many supporters (at most 64)");
}
END_TEST

START_TEST(test_requirements) {
        assert_refused(INVALID_SPEC, "Supporters[0].Requires: no other supporter provides 'gpu'", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 1, 2, "Argv", "as", 1, "a", "Requires", "as", 1, "gpu");
        assert_refused(INVALID_SPEC, "Supporters: Requires and Provides form a cycle: a -> b -> a", "a{sv}", 2,
                       "Target", "as", 1, "true",
                       "Supporters", "aa{sv}", 2,
                       4, "Name", "s", "a", "Argv", "as", 1, "x", "Requires", "as", 1, "bx", "Provides", "as", 1, "ax",
                       4, "Name", "s", "b", "Argv", "as", 1, "x", "Provides", "as", 1, "bx", "Requires", "as", 1, "ax");
}
END_TEST

static Suite *spec_bus_suite(void) {
        Suite *s = suite_create("spec-bus");
        TCase *tc = tcase_create("decode");

        /* test_limits encodes and decodes arrays of thousands of entries: more than check's 4 s
         * under ASan on a busy machine, not more than this. */
        tcase_set_timeout(tc, 120);

        tcase_add_test(tc, test_roundtrip);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_keys_and_types);
        tcase_add_test(tc, test_target_environment_directory);
        tcase_add_test(tc, test_durations);
        tcase_add_test(tc, test_fds);
        tcase_add_test(tc, test_fd_write_end_accepted);
        tcase_add_test(tc, test_supporters);
        tcase_add_test(tc, test_supporter_names);
        tcase_add_test(tc, test_requirements);
        tcase_add_test(tc, test_limits);
        tcase_add_test(tc, test_add_supporter);
        tcase_add_test(tc, test_add_supporter_refused);
        tcase_add_test(tc, test_add_supporter_limits);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(spec_bus_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
