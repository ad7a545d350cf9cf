/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-errors.h"
#include "bench-util.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

/* bench-start: what StartSession costs, against what it has to cost.
 *
 *   1. One StartSession of /bin/true, from the call until the reply (profd answers once the target
 *      executed in its scope), against the floor: this program doing with systemd what profd has
 *      to do, a child held at a gate, a transient scope for it (StartTransientUnit, the same
 *      properties profd sets, JobRemoved), the gate opened and the exec confirmed. A third figure,
 *      the floor plus a transient slice of its own per start as profd makes one per session, tells
 *      how much of the difference is systemd's work on that slice.
 *   2. Concurrent starts: sessions per second with 16 clients (16 bus connections, one
 *      StartSession in flight on each), against 1 client. Starts that are pipelined in profd scale;
 *      serialized ones do not. The floor with 16 starts in flight shows what the machine manages
 *      at all; the CPU time of profd, systemd and the bus daemon per session shows who pays.
 *   3. Whole commands: `profctl run -q -- /bin/true` against `systemd-run --scope -q /bin/true`,
 *      each spawned as root with a clean environment and waited for, as a user at a shell would
 *      run them: connecting, the session or scope, the target, its end and the exit included.
 *      profctl reads the result of its session once it finished, which KeepFinishedSec=0 may have
 *      removed by then: this part has a profd of its own, with the default KeepFinishedSec.
 *
 * It runs against a real systemd and a real system bus: the throwaway ones of tests/sandbox. Run
 * on the host, it boots a sandbox around itself (`$SANDBOX run`) and runs its measuring side in
 * there (`$SANDBOX exec`), which installs profd's bus policy, starts profd as a transient service
 * with KeepFinishedSec=0 and talks to both with sd-bus.
 *
 * Everything is measured in one run, interleaved round by round in rotating order, so that whatever
 * the machine does meanwhile hits every figure alike. Only ratios mean anything; nothing here
 * asserts a wall-clock limit. The exit status is non-zero only if a call fails or the benchmark
 * cannot run. */

#define ROUNDS_DEFAULT 200
#define SESSIONS_DEFAULT 400
#define THROUGHPUT_ROUNDS_DEFAULT 3
#define CLIENTS_DEFAULT 16
#define CLIENTS_MAX 256
#define ROUNDS_MAX 1000000
#define WARMUP_ROUNDS 5

/* After a round, once all of it is gone, this long for the stragglers (journal lines, cgroup
 * removal) before the next one starts. */
#define SETTLE_NSEC (2 * NSEC_PER_MSEC)
#define GONE_TIMEOUT_NSEC (30 * NSEC_PER_SEC)
#define POLL_MIN_NSEC (100 * NSEC_PER_USEC)
#define POLL_MAX_NSEC (5 * NSEC_PER_MSEC)
#define CALL_TIMEOUT_USEC (30 * USEC_PER_SEC)
/* What profd gives its scopes with the default StopTimeoutUSec: 2 × 10 s + 5 s. */
#define FLOOR_STOP_TIMEOUT_USEC (25 * USEC_PER_SEC)

#define TARGET "/bin/true"
#define DESCRIPTION "bench-start"
#define SANDBOX_CONTAINER "profd-test"
#define PROFD_UNIT "bench-profd.service"
/* The profd of part 3, which keeps finished sessions for as long as it does by default. */
#define PROFD_KEEP_UNIT "bench-profd-keep.service"
#define FLOOR_SLICE "bench.slice"
#define FLOOR_UNIT_PATTERN "bench-floor-*"
#define PROFD_UNIT_PATTERN "profd-*"
/* What `systemd-run --scope` names its scopes: run-rRANDOM.scope. */
#define SYSTEMD_RUN_UNIT_PATTERN "run-*"
/* The whole environment of the commands of part 3. */
#define CLEAN_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#define SYSTEMD_SERVICE "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"

extern char **environ;

typedef struct Options {
        unsigned rounds;
        unsigned command_rounds;        /* 0: as many as rounds */
        unsigned sessions;
        unsigned throughput_rounds;
        unsigned clients;
        bool inside;
        const char *profd;
        const char *policy;
        const char *profctl;
} Options;

static const char *bus_error_text(const sd_bus_error *e) {
        return e->message ? e->message : e->name;
}

/* ---- processes ----------------------------------------------------------------------------- */

static int wait_pid(pid_t pid, int *ret_status) {
        for (;;) {
                if (waitpid(pid, ret_status, 0) >= 0)
                        return 0;
                if (errno != EINTR)
                        return negative_errno();
        }
}

static const char *format_status(char *buf, size_t size, int status) {
        if (WIFEXITED(status))
                snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                snprintf(buf, size, "was killed by SIG%s", signal_abbrev(WTERMSIG(status)));
        else
                snprintf(buf, size, "ended with wait status 0x%x", (unsigned) status);
        return buf;
}
#define FORMAT_STATUS_MAX 64

/* A helper command (mount, systemd-run, journalctl, rm) with our stdio, to its end. */
static int run_helper(char * const *argv) {
        posix_spawnattr_t attr;
        char st[FORMAT_STATUS_MAX];
        sigset_t dfl;
        pid_t pid;
        int r, status;

        /* SIGPIPE ignored and SIGCHLD blocked here; neither for them. */
        fflush(stdout);
        r = posix_spawnattr_init(&attr);
        if (r != 0)
                return log_error_errno(r, "Failed to set up spawning: %m");
        sigemptyset(&dfl);
        sigaddset(&dfl, SIGPIPE);
        r = posix_spawnattr_setsigdefault(&attr, &dfl);
        if (r == 0) {
                sigemptyset(&dfl);
                r = posix_spawnattr_setsigmask(&attr, &dfl);
        }
        if (r == 0)
                r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
        if (r == 0)
                r = posix_spawnp(&pid, argv[0], NULL, &attr, argv, environ);
        (void) posix_spawnattr_destroy(&attr);
        if (r != 0)
                return log_error_errno(r, "Failed to run %s: %m", argv[0]);
        r = wait_pid(pid, &status);
        if (r < 0)
                return log_error_errno(r, "Failed to wait for %s: %m", argv[0]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return log_error_errno(EPROTO, "%s %s.", argv[0], format_status(st, sizeof(st), status));
        return 0;
}

/* PID 1 here is the sandbox's systemd: nothing below may touch the host's /etc or its services. */
static bool in_sandbox(void) {
        _cleanup_close_ int fd = -EBADF;
        static char buf[65536];
        size_t n = 0;
        ssize_t l;

        fd = open("/proc/1/environ", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        while (n < sizeof(buf) - 1 && (l = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
                n += (size_t) l;
        buf[n] = '\0';
        for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
                if (streq(buf + i, "container=" SANDBOX_CONTAINER))
                        return true;
        return false;
}

/* Time on a CPU of all threads of pid, from the scheduler; -1 if unknown. */
static int64_t proc_cpu_nsec(pid_t pid) {
        _cleanup_(closedirp) DIR *d = NULL;
        char path[64 + sizeof(((struct dirent *) NULL)->d_name)];
        int64_t sum = 0;

        if (pid <= 0)
                return -1;
        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        d = opendir(path);
        if (!d)
                return -1;
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_close_ int fd = -EBADF;
                char buf[128];
                ssize_t l;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int) pid, de->d_name);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue; /* The thread is gone. */
                l = read(fd, buf, sizeof(buf) - 1);
                if (l <= 0)
                        return -1;
                buf[l] = '\0';
                sum += strtoll(buf, NULL, 10);
        }
        return sum;
}

/* ---- statistics ---------------------------------------------------------------------------- */

typedef struct Series {
        const char *key;   /* for scripts: "ratio KEY/KEY …: …" */
        const char *label; /* for people */
        nsec_t *samples;
        size_t n_samples;
} Series;

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

static void series_sort(Series *s) {
        samples_sort(s->samples, s->n_samples);
}

static double series_median(const Series *s) {
        return samples_median(s->samples, s->n_samples);
}

static double series_percentile(const Series *s, unsigned pct) {
        return samples_percentile(s->samples, s->n_samples, pct);
}

/* Sorts v. */
static double doubles_median(double *v, size_t n) {
        if (n == 0)
                return 0;
        qsort(v, n, sizeof(double), cmp_double);
        if (n % 2 == 1)
                return v[n / 2];
        return (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the bench ----------------------------------------------------------------------------- */

typedef struct FloorSlot FloorSlot;

typedef struct Bench {
        const Options *options;
        sd_bus *systemd;        /* ours: Subscribe()d, JobRemoved matched; floor scopes, unit checks */
        const char *controller; /* its unique name */
        sd_bus *client;         /* a client of profd, SessionRemoved matched in part 1 */
        sd_bus_slot *session_removed_slot;
        int null_fd;

        /* The floor's scope in flight (and its slice, if it has one of its own), and what its start
         * job ended with. */
        unsigned n_floor;
        char floor_unit[64];
        char floor_slice[64];
        char floor_result[32];
        bool floor_job_removed;
        int floor_slice_error;

        /* The floor's starts in flight when there are many at once. */
        FloorSlot *slots;
        unsigned n_slots;

        /* The session in flight, and whether profd dropped it. */
        char session_id[64];
        bool session_removed;

        pid_t profd_pid, bus_pid;
} Bench;

/* Runs bus's callbacks until *done, or for timeout. */
static int bus_process_until(sd_bus *bus, const bool *done, nsec_t timeout) {
        nsec_t deadline = now_nsec() + timeout;
        int r;

        while (!*done) {
                nsec_t n;

                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                if (*done)
                        break;
                n = now_nsec();
                if (n >= deadline)
                        return -ETIMEDOUT;
                r = sd_bus_wait(bus, (deadline - n + NSEC_PER_USEC - 1) / NSEC_PER_USEC);
                if (r < 0 && r != -EINTR)
                        return r;
        }
        return 0;
}

/* How many units match pattern, in any state. */
static int count_units(Bench *b, const char *pattern, unsigned *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        unsigned n = 0;
        int r;

        r = sd_bus_call_method(b->systemd, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "ListUnitsByPatterns",
                               &error, &reply, "asas", 0, 1, pattern);
        if (r < 0)
                return log_error_errno(r, "ListUnitsByPatterns failed: %s", bus_error_text(&error));
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        while (r >= 0 && (r = sd_bus_message_skip(reply, "(ssssssouso)")) > 0)
                n++;
        if (r < 0)
                return log_error_errno(r, "Cannot read the list of units: %m");
        *ret = n;
        return 0;
}

static int count_sessions(Bench *b, unsigned *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        unsigned n = 0;
        int r;

        r = sd_bus_call_method(b->client, PROFD_BUS_NAME, PROFD_BUS_PATH, PROFD_BUS_MANAGER_INTERFACE,
                               "ListSessions", &error, &reply, NULL);
        if (r < 0)
                return log_error_errno(r, "ListSessions failed: %s", bus_error_text(&error));
        r = sd_bus_message_enter_container(reply, 'a', "(ssuuso)");
        while (r >= 0 && (r = sd_bus_message_skip(reply, "(ssuuso)")) > 0)
                n++;
        if (r < 0)
                return log_error_errno(r, "Cannot read the list of sessions: %m");
        *ret = n;
        return 0;
}

/* Signals that came in while we waited for replies: dispatched, so that they do not pile up. */
static void bus_drain(sd_bus *bus) {
        while (sd_bus_process(bus, NULL) > 0)
                ;
}

/* Until profd has no session left (if sessions) and systemd no unit matching pattern: so that
 * nothing of one round is still being torn down in the next. Polls, backing off. */
static int wait_all_gone(Bench *b, bool sessions, const char *pattern) {
        nsec_t deadline = now_nsec() + GONE_TIMEOUT_NSEC, delay = POLL_MIN_NSEC;
        unsigned n_sessions = 0, n_units = 0;
        int r;

        for (;;) {
                if (sessions) {
                        r = count_sessions(b, &n_sessions);
                        if (r < 0)
                                return r;
                }
                bus_drain(b->systemd);
                bus_drain(b->client);
                if (n_sessions == 0) {
                        r = count_units(b, pattern, &n_units);
                        if (r < 0)
                                return r;
                        if (n_units == 0)
                                return nsec_sleep(SETTLE_NSEC);
                }
                if (now_nsec() > deadline)
                        return log_error_errno(ETIMEDOUT, "After %" PRIu64 "s, still %u session(s) and %u unit(s) "
                                               "%s.", GONE_TIMEOUT_NSEC / NSEC_PER_SEC, n_sessions, n_units,
                                               pattern);
                r = nsec_sleep(delay);
                if (r < 0)
                        return r;
                delay = MIN(delay * 2, POLL_MAX_NSEC);
        }
}

static void floor_slots_job_removed(Bench *b, const char *unit, const char *result);

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Bench *b = userdata;
        const char *job, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0)
                return 0;
        if (b->floor_unit[0] != '\0' && streq(unit, b->floor_unit)) {
                snprintf(b->floor_result, sizeof(b->floor_result), "%s", result);
                b->floor_job_removed = true;
        }
        if (b->n_slots > 0)
                floor_slots_job_removed(b, unit, result);
        return 0;
}

static int on_session_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Bench *b = userdata;
        const char *id, *path;

        if (sd_bus_message_read(m, "so", &id, &path) < 0)
                return 0;
        if (streq(id, b->session_id))
                b->session_removed = true;
        return 0;
}

static pid_t bus_name_pid(sd_bus *bus, const char *name) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        pid_t pid;

        if (sd_bus_get_name_creds(bus, name, SD_BUS_CREDS_PID, &creds) < 0 ||
            sd_bus_creds_get_pid(creds, &pid) < 0)
                return 0;
        return pid;
}

static int bench_connect(Bench *b) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        uint32_t pid = 0;
        int r;

        r = sd_bus_open_system(&b->systemd);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = sd_bus_get_unique_name(b->systemd, &b->controller);
        if (r < 0)
                return log_error_errno(r, "Failed to get our bus name: %m");
        /* The match before Subscribe(), so that no JobRemoved can slip through. */
        r = sd_bus_match_signal(b->systemd, NULL, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "JobRemoved",
                                on_job_removed, b);
        if (r < 0)
                return log_error_errno(r, "Failed to watch JobRemoved: %m");
        r = sd_bus_call_method(b->systemd, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "Subscribe", &error,
                               NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to systemd: %s", bus_error_text(&error));

        r = sd_bus_get_property_trivial(b->systemd, SYSTEMD_SERVICE, SYSTEMD_PATH "/unit/dbus_2eservice",
                                        "org.freedesktop.systemd1.Service", "MainPID", NULL, 'u', &pid);
        b->bus_pid = r >= 0 ? (pid_t) pid : 0;

        r = sd_bus_open_system(&b->client);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = sd_bus_match_signal(b->client, &b->session_removed_slot, PROFD_BUS_NAME, PROFD_BUS_PATH,
                                PROFD_BUS_MANAGER_INTERFACE, "SessionRemoved", on_session_removed, b);
        if (r < 0)
                return log_error_errno(r, "Failed to watch SessionRemoved: %m");
        return 0;
}

/* ---- set-up inside the sandbox ------------------------------------------------------------- */

static int install_policy(Bench *b, const char *policy) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char *argv[] = {
                (char *) "sh", (char *) "-c",
                (char *) "mount -t tmpfs -o mode=0755 tmpfs /etc/dbus-1/system.d && "
                         "cp -- \"$1\" /etc/dbus-1/system.d/",
                (char *) "sh", (char *) policy, NULL,
        };
        int r;

        r = run_helper(argv);
        if (r < 0)
                return r;
        r = sd_bus_call_method(b->systemd, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "ReloadConfig", &error, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to reload the bus configuration: %s", bus_error_text(&error));
        return 0;
}

static int start_profd(Bench *b, const char *unit, const char *profd, const char *config, const char *state) {
        _cleanup_free_ char *unit_arg = NULL, *config_arg = NULL, *state_arg = NULL;
        unsigned n;
        int r;

        if (asprintf(&unit_arg, "--unit=%s", unit) < 0 || asprintf(&config_arg, "--config=%s", config) < 0 ||
            asprintf(&state_arg, "--state-directory=%s", state) < 0)
                return log_oom();
        {
                char *argv[] = {
                        (char *) "systemd-run", (char *) "--quiet", unit_arg, (char *) "--property=Type=notify",
                        (char *) profd, config_arg, state_arg, NULL,
                };

                r = run_helper(argv);
                if (r < 0)
                        return log_error_errno(r, "Failed to start profd as %s.", unit);
        }

        /* Type=notify: it has its name by now. */
        r = count_sessions(b, &n);
        if (r < 0)
                return log_error_errno(r, "profd is not reachable on the bus.");
        b->profd_pid = bus_name_pid(b->client, PROFD_BUS_NAME);
        return 0;
}

/* Still the same profd as at its start, that is it did not crash or restart along the way; then
 * stopped. */
static int stop_profd(Bench *b, const char *unit) {
        char *stop[] = { (char *) "systemctl", (char *) "stop", (char *) unit, NULL };
        pid_t pid;
        int r = 0, k;

        pid = b->profd_pid > 0 ? bus_name_pid(b->systemd, PROFD_BUS_NAME) : 0;
        if (b->profd_pid > 0 && pid != b->profd_pid)
                r = log_error_errno(ESRCH, "profd (pid %d) is gone from the bus%s.", (int) b->profd_pid,
                                    pid > 0 ? ", another one has its name" : "");
        k = run_helper(stop);
        b->profd_pid = 0;
        return r < 0 ? r : k;
}

/* keep: finished sessions stay for the default time; else they vanish at once. */
static int write_config(const char *path, bool keep) {
        _cleanup_(fclosep) FILE *f = NULL;

        f = fopen(path, "we");
        if (!f)
                return log_error_errno(errno, "Failed to create %s: %m", path);
        if (keep)
                fputs("# bench-start: the defaults, so that profctl finds its finished session.\n", f);
        else
                fputs("# bench-start: finished sessions vanish at once, so that phases do not overlap.\n"
                      "[Sessions]\n"
                      "KeepFinishedSec=0\n", f);
        /* What is measured is starting, not waiting in the queue: 16 clients run 16 at once. */
        fputs("[Limits]\nSessionsPerUser=256\n[Scheduling]\nMaxParallelSessions=256\n", f);
        if (fflush(f) != 0 || ferror(f))
                return log_error_errno(errno, "Failed to write %s: %m", path);
        return 0;
}

/* ---- part 1: one start, against the floor -------------------------------------------------- */

/* Like profd's target: waits at the gate, then executes; an exec error goes back through the
 * CLOEXEC report pipe, whose EOF says that the exec happened. */
_noreturn_ static void floor_child(int null_fd, int gate_fd, int report_fd) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        char *argv[] = { (char *) TARGET, NULL };
        sigset_t empty;
        ssize_t n;
        int error;
        char go;

        (void) sigaction(SIGPIPE, &sa, NULL);
        sigemptyset(&empty);
        (void) sigprocmask(SIG_SETMASK, &empty, NULL);
        (void) setpgid(0, 0);
        for (int fd = 0; fd < 3; fd++)
                if (dup2(null_fd, fd) < 0)
                        _exit(127);

        while ((n = read(gate_fd, &go, 1)) < 0 && errno == EINTR)
                ;
        if (n != 1)
                _exit(EXIT_FAILURE); /* The parent gave up. */

        execve(TARGET, argv, environ);
        error = errno;
        (void) !write(report_fd, &error, sizeof(error));
        _exit(127);
}

static int on_floor_slice_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Bench *b = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e)
                b->floor_slice_error = log_error_errno(sd_bus_message_get_errno(reply), "Failed to create %s: %s",
                                                       b->floor_slice, bus_error_text(e));
        return 0;
}

/* A slice of the round's own, as profd makes one per session: not waited for, the scope's call
 * follows on the same connection. */
static int floor_slice_new(Bench *b) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(b->systemd, &m, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", b->floor_slice, "fail");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sv)", 1, "Description", "s", DESCRIPTION);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r >= 0)
                r = sd_bus_call_async(b->systemd, NULL, m, on_floor_slice_reply, b, CALL_TIMEOUT_USEC);
        if (r < 0)
                return log_error_errno(r, "Failed to ask for %s: %m", b->floor_slice);
        return 0;
}

static int floor_slice_free(Bench *b) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(b->systemd, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "StopUnit", &error,
                               NULL, "ss", b->floor_slice, "replace");
        if (r < 0)
                return log_error_errno(r, "Failed to stop %s: %s", b->floor_slice, bus_error_text(&error));
        return 0;
}

/* The child, held at its gate; report_flags for the read end of the report pipe. */
static int floor_fork(Bench *b, int report_flags, pid_t *ret_pid, int *ret_gate_fd, int *ret_report_fd) {
        _cleanup_close_pair_ int gate[2] = { -EBADF, -EBADF }, report[2] = { -EBADF, -EBADF };
        pid_t pid;

        if (pipe2(gate, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0)
                return log_error_errno(errno, "Failed to make pipes: %m");
        if (report_flags != 0 && fcntl(report[0], F_SETFL, report_flags) < 0)
                return log_error_errno(errno, "Failed to set up a pipe: %m");
        pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "Failed to fork: %m");
        if (pid == 0)
                floor_child(b->null_fd, gate[0], report[1]);
        (void) setpgid(pid, pid); /* Both sides, as profd does. */

        *ret_pid = pid;
        *ret_gate_fd = TAKE_FD(gate[1]);
        *ret_report_fd = TAKE_FD(report[0]);
        return 0;
}

/* StartTransientUnit of a scope for pid, with what profd's systemd backend sets. */
static int floor_new_start(Bench *b, const char *unit, const char *slice, pid_t pid, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(b->systemd, &m, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sv)", 8,
                                          "Description", "s", DESCRIPTION,
                                          "Slice", "s", slice,
                                          "PIDs", "au", 1, (uint32_t) pid,
                                          "Controller", "s", b->controller,
                                          "TimeoutStopUSec", "t", (uint64_t) FLOOR_STOP_TIMEOUT_USEC,
                                          "CollectMode", "s", "inactive-or-failed",
                                          "CPUAccounting", "b", 1,
                                          "MemoryAccounting", "b", 1);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return log_error_errno(r, "Failed to build StartTransientUnit: %m");
        *ret = TAKE_PTR(m);
        return 0;
}

/* A scope for pid; returns once its job is done. */
static int floor_place(Bench *b, pid_t pid) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        if (b->floor_slice[0] != '\0') {
                r = floor_slice_new(b);
                if (r < 0)
                        return r;
        }

        r = floor_new_start(b, b->floor_unit, b->floor_slice[0] != '\0' ? b->floor_slice : FLOOR_SLICE, pid, &m);
        if (r < 0)
                return r;

        r = sd_bus_call(b->systemd, m, CALL_TIMEOUT_USEC, &error, &reply);
        if (r < 0)
                return log_error_errno(r, "StartTransientUnit of %s failed: %s", b->floor_unit, bus_error_text(&error));
        r = bus_process_until(b->systemd, &b->floor_job_removed, CALL_TIMEOUT_USEC * NSEC_PER_USEC);
        if (r < 0)
                return log_error_errno(r, "No JobRemoved for %s: %m", b->floor_unit);
        if (!streq(b->floor_result, "done"))
                return log_error_errno(EIO, "The start job of %s ended with result '%s'.", b->floor_unit,
                                       b->floor_result);
        return b->floor_slice_error;
}

static int floor_round(Bench *b, Series *s, bool own_slice, bool record) {
        _cleanup_close_ int gate = -EBADF, report = -EBADF;
        char st[FORMAT_STATUS_MAX];
        nsec_t t0, t1 = 0;
        ssize_t n = 0;
        int r, k, status, child_error = 0;
        pid_t pid = 0;

        snprintf(b->floor_unit, sizeof(b->floor_unit), "bench-floor-%u.scope", b->n_floor);
        if (own_slice)
                /* bench-floor.slice/bench-floor-N.slice, as profd.slice/profd-ID.slice. */
                snprintf(b->floor_slice, sizeof(b->floor_slice), "bench-floor-%u.slice", b->n_floor);
        else
                b->floor_slice[0] = '\0';
        b->n_floor++;
        b->floor_result[0] = '\0';
        b->floor_job_removed = false;
        b->floor_slice_error = 0;

        t0 = now_nsec();
        r = floor_fork(b, 0, &pid, &gate, &report);
        if (r < 0)
                return r;

        r = floor_place(b, pid);
        if (r >= 0 && write(gate, "g", 1) != 1)
                r = log_error_errno(errno, "Failed to open the gate: %m");
        gate = safe_close(gate); /* On failure: EOF, and the child leaves. */
        if (r >= 0) {
                while ((n = read(report, &child_error, sizeof(child_error))) < 0 && errno == EINTR)
                        ;
                t1 = now_nsec();
                if (n < 0)
                        r = log_error_errno(errno, "Failed to read the exec report: %m");
                else if (n > 0)
                        r = log_error_errno(child_error, "The floor's child failed to execute " TARGET ": %m");
        }

        k = wait_pid(pid, &status);
        if (k < 0)
                return log_error_errno(k, "Failed to reap the floor's child: %m");
        if (r < 0)
                return r;
        /* Done with it, as profd is once its session finished. */
        if (own_slice) {
                r = floor_slice_free(b);
                if (r < 0)
                        return r;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return log_error_errno(EPROTO, TARGET " %s in %s.", format_status(st, sizeof(st), status),
                                       b->floor_unit);
        if (record)
                s->samples[s->n_samples++] = t1 - t0;
        return 0;
}

static int new_start_session(sd_bus *bus, sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, PROFD_BUS_NAME, PROFD_BUS_PATH, PROFD_BUS_MANAGER_INTERFACE,
                                           "StartSession");
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 2,
                                          "Target", "as", 1, TARGET,
                                          "Description", "s", DESCRIPTION);
        if (r < 0)
                return log_error_errno(r, "Failed to build StartSession: %m");
        *ret = TAKE_PTR(m);
        return 0;
}

static int profd_round(Bench *b, Series *s, bool record) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *id, *path;
        nsec_t t0, t1;
        int r;

        r = new_start_session(b->client, &m);
        if (r < 0)
                return r;

        t0 = now_nsec();
        r = sd_bus_call(b->client, m, CALL_TIMEOUT_USEC, &error, &reply);
        t1 = now_nsec();
        if (r < 0)
                return log_error_errno(r, "StartSession failed: %s: %s", strempty(error.name), bus_error_text(&error));
        r = sd_bus_message_read(reply, "so", &id, &path);
        if (r < 0)
                return log_error_errno(r, "Cannot read the reply of StartSession: %m");

        /* Its target is /bin/true: it finishes at once, and with KeepFinishedSec=0 it is removed. The
         * signal comes after the reply on this connection, so it cannot have been missed. */
        snprintf(b->session_id, sizeof(b->session_id), "%s", id);
        b->session_removed = false;
        r = bus_process_until(b->client, &b->session_removed, GONE_TIMEOUT_NSEC);
        if (r < 0)
                return log_error_errno(r, "No SessionRemoved for session %s (KeepFinishedSec=0): %m", b->session_id);
        if (record)
                s->samples[s->n_samples++] = t1 - t0;
        return 0;
}

/* key_width: of the longest key in the table. */
static void print_latency_header(const char *title, int key_width) {
        printf("\n%s\n", title);
        printf("  %-*s %-54s %5s %9s %9s %9s %9s %7s\n", key_width, "key", "what", "n", "min/us", "median/us",
               "p90/us", "p99/us", "ratio");
}

static void print_latency_row(const Series *s, const Series *ref, int key_width) {
        printf("  %-*s %-54s %5zu %9.1f %9.1f %9.1f %9.1f", key_width, s->key, s->label, s->n_samples,
               s->n_samples > 0 ? (double) s->samples[0] / NSEC_PER_USEC : 0.0, series_median(s) / NSEC_PER_USEC,
               series_percentile(s, 90) / NSEC_PER_USEC, series_percentile(s, 99) / NSEC_PER_USEC);
        if (ref->n_samples > 0 && s->n_samples > 0)
                printf(" %7.2f\n", series_median(s) / series_median(ref));
        else
                printf(" %7s\n", "-");
}

enum {
        FIGURE_FLOOR,
        FIGURE_FLOOR_SLICE,
        FIGURE_PROFD,
        _FIGURE_MAX,
};

static int bench_latency(Bench *b) {
        unsigned rounds = b->options->rounds;
        _cleanup_free_ nsec_t *buf = NULL;
        Series all[_FIGURE_MAX] = {
                [FIGURE_FLOOR] = {
                        .key = "floor",
                        .label = "fork held, StartTransientUnit scope, JobRemoved, exec",
                },
                [FIGURE_FLOOR_SLICE] = {
                        .key = "floor+slice",
                        .label = "the same, plus a slice of its own (as profd)",
                },
                [FIGURE_PROFD] = {
                        .key = "profd",
                        .label = "StartSession Target=" TARGET ", call until reply",
                },
        };
        Series *floor = &all[FIGURE_FLOOR], *prof = &all[FIGURE_PROFD];
        int r = 0;

        buf = new0(nsec_t, (size_t) rounds * _FIGURE_MAX);
        if (!buf)
                return log_oom();
        for (size_t i = 0; i < _FIGURE_MAX; i++)
                all[i].samples = buf + i * rounds;

        for (unsigned round = 0; round < WARMUP_ROUNDS + rounds; round++) {
                bool record = round >= WARMUP_ROUNDS;

                for (unsigned k = 0; k < _FIGURE_MAX; k++) {
                        unsigned f = (round + k) % _FIGURE_MAX;

                        if (f == FIGURE_PROFD) {
                                r = profd_round(b, &all[f], record);
                                if (r >= 0)
                                        r = wait_all_gone(b, true, PROFD_UNIT_PATTERN);
                        } else {
                                r = floor_round(b, &all[f], f == FIGURE_FLOOR_SLICE, record);
                                if (r >= 0)
                                        r = wait_all_gone(b, false, FLOOR_UNIT_PATTERN);
                        }
                        if (r < 0)
                                goto finish;
                }
        }

finish:
        for (size_t i = 0; i < _FIGURE_MAX; i++)
                series_sort(&all[i]);

        print_latency_header("One start, until the target executed in its scope (interleaved rounds)", 11);
        for (size_t i = 0; i < _FIGURE_MAX; i++)
                print_latency_row(&all[i], floor, 11);
        if (floor->n_samples > 0 && prof->n_samples > 0) {
                for (size_t i = 0; i < _FIGURE_MAX; i++)
                        printf("median %s: %.1f us\n", all[i].key, series_median(&all[i]) / NSEC_PER_USEC);
                printf("diff profd - floor (median): %.3f ms\n",
                       (series_median(prof) - series_median(floor)) / NSEC_PER_MSEC);
                printf("ratio profd/floor (median): %.2f (goal: <= 1.3)\n",
                       series_median(prof) / series_median(floor));
                printf("ratio profd/floor (p99): %.2f\n",
                       series_percentile(prof, 99) / series_percentile(floor, 99));
                printf("ratio floor+slice/floor (median): %.2f\n",
                       series_median(&all[FIGURE_FLOOR_SLICE]) / series_median(floor));
                printf("ratio profd/floor+slice (median): %.2f\n",
                       series_median(prof) / series_median(&all[FIGURE_FLOOR_SLICE]));
        }
        fflush(stdout);
        return r;
}

/* ---- part 2: concurrent starts ------------------------------------------------------------- */

typedef struct Phase Phase;

typedef struct Client {
        Phase *phase;
        sd_bus *bus;
} Client;

struct Phase {
        unsigned total, issued, done;
        unsigned reaped;        /* of the floor's children */
        nsec_t t_last;
        int error;
};

static int client_issue(Client *c);

static int on_start_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Client *c = userdata;
        Phase *p = c->phase;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        int r;

        if (e) {
                p->error = log_error_errno(sd_bus_message_get_errno(reply), "StartSession failed: %s: %s",
                                           strempty(e->name), bus_error_text(e));
                return 0;
        }
        if (++p->done == p->total) {
                p->t_last = now_nsec();
                return 0;
        }
        if (p->issued < p->total) {
                r = client_issue(c);
                if (r < 0)
                        p->error = r;
        }
        return 0;
}

static int client_issue(Client *c) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = new_start_session(c->bus, &m);
        if (r < 0)
                return r;
        r = sd_bus_call_async(c->bus, NULL, m, on_start_reply, c, CALL_TIMEOUT_USEC);
        if (r < 0)
                return log_error_errno(r, "Failed to send StartSession: %m");
        c->phase->issued++;
        return 0;
}

/* The floor, many at once: what this machine manages without profd. Each slot keeps one start in
 * flight, as a client does: fork held, StartTransientUnit (async), JobRemoved, gate, exec. */
struct FloorSlot {
        Bench *bench;
        Phase *phase;
        sd_event *event;
        char unit[64];
        int gate_fd;
        sd_event_source *report;
};

static int floor_slot_issue(FloorSlot *slot);

static void floor_slot_fail(FloorSlot *slot, int error) {
        if (slot->phase->error == 0)
                slot->phase->error = error < 0 ? error : -EIO;
}

static void floor_slots_job_removed(Bench *b, const char *unit, const char *result) {
        for (unsigned i = 0; i < b->n_slots; i++) {
                FloorSlot *slot = &b->slots[i];

                if (slot->gate_fd < 0 || !streq(slot->unit, unit))
                        continue;
                if (!streq(result, "done"))
                        floor_slot_fail(slot, log_error_errno(EIO, "The start job of %s ended with result '%s'.",
                                                              unit, result));
                else if (write(slot->gate_fd, "g", 1) != 1)
                        floor_slot_fail(slot, log_error_errno(errno, "Failed to open the gate: %m"));
                slot->gate_fd = safe_close(slot->gate_fd);
                return;
        }
}

static int on_floor_start_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        FloorSlot *slot = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e)
                floor_slot_fail(slot, log_error_errno(sd_bus_message_get_errno(reply),
                                                      "StartTransientUnit of %s failed: %s", slot->unit,
                                                      bus_error_text(e)));
        return 0; /* JobRemoved follows. */
}

static int on_floor_report(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        FloorSlot *slot = userdata;
        Phase *p = slot->phase;
        int child_error = 0, r;
        ssize_t n;

        n = read(fd, &child_error, sizeof(child_error));
        if (n < 0 && IN_SET(errno, EAGAIN, EINTR))
                return 0;
        slot->report = sd_event_source_disable_unref(slot->report); /* closes fd */
        if (n < 0) {
                floor_slot_fail(slot, log_error_errno(errno, "Failed to read the exec report: %m"));
                return 0;
        }
        if (n > 0) {
                floor_slot_fail(slot, log_error_errno(child_error, "The floor's child failed to execute "
                                                      TARGET ": %m"));
                return 0;
        }

        /* Executed: this start is done. */
        if (++p->done == p->total)
                p->t_last = now_nsec();
        else if (p->issued < p->total) {
                r = floor_slot_issue(slot);
                if (r < 0)
                        floor_slot_fail(slot, r);
        }
        return 0;
}

static int on_floor_child_exit(sd_event_source *source, const siginfo_t *si, void *userdata) {
        Phase *p = userdata;
        char st[FORMAT_STATUS_MAX];

        p->reaped++;
        if (si->si_code != CLD_EXITED || si->si_status != 0) {
                snprintf(st, sizeof(st), si->si_code == CLD_EXITED ? "exited with status %d" : "was killed by "
                         "signal %d", si->si_status);
                if (p->error == 0)
                        p->error = log_error_errno(EPROTO, TARGET " (pid %d) %s.", (int) si->si_pid, st);
        }
        return 0;
}

static int floor_slot_issue(FloorSlot *slot) {
        Bench *b = slot->bench;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_close_ int gate = -EBADF, report = -EBADF;
        pid_t pid = 0;
        int r;

        snprintf(slot->unit, sizeof(slot->unit), "bench-floor-%u.scope", b->n_floor++);
        r = floor_fork(b, O_NONBLOCK, &pid, &gate, &report);
        if (r < 0)
                return r;
        slot->phase->issued++;

        /* Reaped by the event loop (floating: it goes with the loop); an error ends the phase, and
         * the child leaves when the gate closes. */
        r = sd_event_add_child(slot->event, NULL, pid, WEXITED, on_floor_child_exit, slot->phase);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the floor's child: %m");
        r = sd_event_add_io(slot->event, &slot->report, report, EPOLLIN, on_floor_report, slot);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the exec report: %m");
        (void) sd_event_source_set_io_fd_own(slot->report, true);
        TAKE_FD(report);

        r = floor_new_start(b, slot->unit, FLOOR_SLICE, pid, &m);
        if (r < 0)
                return r;
        r = sd_bus_call_async(b->systemd, NULL, m, on_floor_start_reply, slot, CALL_TIMEOUT_USEC);
        if (r < 0)
                return log_error_errno(r, "Failed to send StartTransientUnit: %m");
        slot->gate_fd = TAKE_FD(gate);
        return 0;
}

/* Runs event until all of phase is done and, for the floor, all its children are reaped. */
static int phase_run(sd_event *event, Phase *phase, bool floor) {
        int r;

        /* Not sd_event_loop(): on sd_event_exit() the attached buses would be closed. */
        while (phase->error == 0 && (phase->done < phase->total || (floor && phase->reaped < phase->issued))) {
                r = sd_event_run(event, UINT64_MAX);
                if (r < 0)
                        return log_error_errno(r, "The event loop failed: %m");
        }
        return phase->error;
}

enum {
        CPU_PROFD,
        CPU_SYSTEMD,
        CPU_BUS,
        CPU_SELF,
        _CPU_MAX,
};

typedef struct Rate {
        const char *key;
        char label[64];
        unsigned clients;
        bool floor;                     /* the floor's starts, not profd's */
        double *rates;                  /* sessions/s, one per round */
        double *cpu[_CPU_MAX];          /* us on a CPU per session, one per round; < 0 unknown */
        double *busy;                   /* % of the machine's CPU time in use meanwhile; < 0 unknown */
        size_t n;
} Rate;

/* Time all CPUs of the machine were in use, and in all, in ticks. */
static int machine_cpu(uint64_t *ret_busy, uint64_t *ret_total) {
        _cleanup_(fclosep) FILE *f = NULL;
        unsigned long long v[8] = { 0 };
        uint64_t total = 0;

        f = fopen("/proc/stat", "re");
        if (!f)
                return negative_errno();
        /* cpu user nice system idle iowait irq softirq steal */
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]) != 8)
                return -EBADMSG;
        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                total += v[i];
        *ret_busy = total - v[3] - v[4];
        *ret_total = total;
        return 0;
}

static void cpu_snapshot(const Bench *b, int64_t ret[_CPU_MAX]) {
        ret[CPU_PROFD] = proc_cpu_nsec(b->profd_pid);
        ret[CPU_SYSTEMD] = proc_cpu_nsec(1);
        ret[CPU_BUS] = proc_cpu_nsec(b->bus_pid);
        ret[CPU_SELF] = proc_cpu_nsec(getpid());
}

/* `sessions` starts of /bin/true by `rate->clients` clients at once, one call in flight each; or as
 * many of the floor's starts at once. */
static int throughput_phase(Bench *b, Client *clients, Rate *rate) {
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_free_ FloorSlot *slots = NULL;
        Phase phase = { .total = b->options->sessions };
        int64_t cpu0[_CPU_MAX], cpu1[_CPU_MAX];
        uint64_t busy0 = 0, busy1 = 0, total0 = 0, total1 = 0;
        bool busy_known;
        nsec_t t0;
        int r;

        r = sd_event_new(&event);
        if (r < 0)
                return log_error_errno(r, "Failed to make an event loop: %m");
        if (rate->floor) {
                slots = new0(FloorSlot, rate->clients);
                if (!slots)
                        return log_oom();
                for (unsigned i = 0; i < rate->clients; i++)
                        slots[i] = (FloorSlot) { .bench = b, .phase = &phase, .event = event, .gate_fd = -EBADF };
                b->slots = slots;
                b->n_slots = rate->clients;
                r = sd_bus_attach_event(b->systemd, event, SD_EVENT_PRIORITY_NORMAL);
        } else
                for (unsigned i = 0; i < rate->clients && r >= 0; i++) {
                        clients[i].phase = &phase;
                        r = sd_bus_attach_event(clients[i].bus, event, SD_EVENT_PRIORITY_NORMAL);
                }
        if (r < 0) {
                log_error_errno(r, "Failed to attach a bus to the event loop: %m");
                goto finish;
        }

        cpu_snapshot(b, cpu0);
        busy_known = machine_cpu(&busy0, &total0) >= 0;
        t0 = now_nsec();
        for (unsigned i = 0; i < rate->clients && phase.issued < phase.total; i++) {
                r = rate->floor ? floor_slot_issue(&slots[i]) : client_issue(&clients[i]);
                if (r < 0)
                        goto finish;
        }
        r = phase_run(event, &phase, rate->floor);
        if (r < 0)
                goto finish;
        busy_known = busy_known && machine_cpu(&busy1, &total1) >= 0 && total1 > total0;

        /* What a start costs includes its teardown: count until all of it is gone. */
        r = wait_all_gone(b, !rate->floor, rate->floor ? FLOOR_UNIT_PATTERN : PROFD_UNIT_PATTERN);
        if (r < 0)
                goto finish;
        cpu_snapshot(b, cpu1);

        rate->rates[rate->n] = phase.total / ((double) (phase.t_last - t0) / NSEC_PER_SEC);
        rate->busy[rate->n] = busy_known ? 100.0 * (double) (busy1 - busy0) / (double) (total1 - total0) : -1;
        for (size_t k = 0; k < _CPU_MAX; k++)
                rate->cpu[k][rate->n] = cpu0[k] >= 0 && cpu1[k] >= cpu0[k] ?
                        (double) (cpu1[k] - cpu0[k]) / NSEC_PER_USEC / phase.total : -1;
        rate->n++;

finish:
        if (rate->floor) {
                for (unsigned i = 0; i < rate->clients; i++) {
                        /* After a failure: the held children leave once their gates close. */
                        slots[i].gate_fd = safe_close(slots[i].gate_fd);
                        slots[i].report = sd_event_source_disable_unref(slots[i].report);
                }
                b->slots = NULL;
                b->n_slots = 0;
                (void) sd_bus_detach_event(b->systemd);
        } else {
                for (unsigned i = 0; i < rate->clients; i++) {
                        (void) sd_bus_detach_event(clients[i].bus);
                        clients[i].phase = NULL;
                }
                if (r < 0 && phase.issued > 0)
                        /* Whatever is still in flight answers to nobody: drop the connections. */
                        for (unsigned i = 0; i < rate->clients; i++)
                                clients[i].bus = sd_bus_flush_close_unref(clients[i].bus);
        }
        return r;
}

/* Of v[0…n), none unknown (< 0). */
static double known_median(double *v, size_t n) {
        if (n == 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (v[i] < 0)
                        return -1;
        return doubles_median(v, n);
}

static void print_cpu(double v) {
        if (v < 0)
                printf(" %11s", "-");
        else
                printf(" %11.0f", v);
}

enum {
        RATE_PROFD_1,
        RATE_PROFD_N,
        RATE_FLOOR_N,
        _RATE_MAX,
};

static int bench_throughput(Bench *b) {
        const Options *o = b->options;
        Client clients[CLIENTS_MAX] = { { .phase = NULL } };
        _cleanup_free_ double *buf = NULL;
        Rate rates[_RATE_MAX] = {
                [RATE_PROFD_1] = { .clients = 1 },
                [RATE_PROFD_N] = { .clients = o->clients },
                [RATE_FLOOR_N] = { .clients = o->clients, .floor = true },
        };
        char keys[_RATE_MAX][32];
        int r = 0;

        /* Only part 1 waits for single sessions to go: no more SessionRemoved for us from here. */
        b->session_removed_slot = sd_bus_slot_unref(b->session_removed_slot);

        for (size_t i = 0; i < ELEMENTSOF(rates); i++) {
                Rate *rt = &rates[i];

                snprintf(keys[i], sizeof(keys[i]), "%s-%u", rt->floor ? "floor" : "clients", rt->clients);
                rt->key = keys[i];
                if (rt->floor)
                        snprintf(rt->label, sizeof(rt->label), "the floor, %u at once (no profd)", rt->clients);
                else
                        snprintf(rt->label, sizeof(rt->label), "%u client%s, one StartSession in flight%s",
                                 rt->clients, rt->clients == 1 ? "" : "s", rt->clients == 1 ? "" : " each");
        }

        buf = new0(double, (size_t) o->throughput_rounds * ELEMENTSOF(rates) * (2 + _CPU_MAX));
        if (!buf)
                return log_oom();
        for (size_t i = 0; i < ELEMENTSOF(rates); i++) {
                double *p = buf + i * o->throughput_rounds * (2 + _CPU_MAX);

                rates[i].rates = p;
                rates[i].busy = p + o->throughput_rounds;
                for (size_t k = 0; k < _CPU_MAX; k++)
                        rates[i].cpu[k] = p + (2 + k) * o->throughput_rounds;
        }

        /* Connected before anything is timed. */
        for (unsigned i = 0; i < o->clients; i++) {
                const char *name;

                r = sd_bus_open_system(&clients[i].bus);
                if (r >= 0)
                        r = sd_bus_get_unique_name(clients[i].bus, &name);
                if (r < 0) {
                        log_error_errno(r, "Failed to connect client %u to the system bus: %m", i);
                        goto finish;
                }
        }

        for (unsigned round = 0; round < o->throughput_rounds; round++)
                for (unsigned k = 0; k < ELEMENTSOF(rates); k++) {
                        r = throughput_phase(b, clients, &rates[(round + k) % ELEMENTSOF(rates)]);
                        if (r < 0)
                                goto finish;
                }

finish:
        for (unsigned i = 0; i < o->clients; i++)
                sd_bus_flush_close_unref(clients[i].bus);

        printf("\nConcurrent starts: %u sessions of " TARGET " per phase, %u phase(s) per row "
               "(interleaved)\n"
               "  busy: the machine's CPUs in use meanwhile; *-cpu: us on a CPU per session, teardown "
               "included, of profd, systemd,\n  the bus daemon and this program (the clients, or the floor's "
               "own work); medians\n", o->sessions, o->throughput_rounds);
        printf("  %-10s %-44s %3s %8s %8s %8s %6s %11s %11s %11s %11s\n", "key", "what", "n", "min/s",
               "median/s", "max/s", "busy%", "profd-cpu", "systemd-cpu", "dbus-cpu", "bench-cpu");
        for (size_t i = 0; i < ELEMENTSOF(rates); i++) {
                Rate *rt = &rates[i];
                double lo = 0, hi = 0, med;

                for (size_t j = 0; j < rt->n; j++) {
                        lo = j == 0 ? rt->rates[j] : MIN(lo, rt->rates[j]);
                        hi = j == 0 ? rt->rates[j] : MAX(hi, rt->rates[j]);
                }
                med = doubles_median(rt->rates, rt->n);
                printf("  %-10s %-44s %3zu %8.1f %8.1f %8.1f", rt->key, rt->label, rt->n, lo, med, hi);
                med = known_median(rt->busy, rt->n);
                if (med < 0)
                        printf(" %6s", "-");
                else
                        printf(" %6.0f", med);
                for (size_t k = 0; k < _CPU_MAX; k++)
                        print_cpu(known_median(rt->cpu[k], rt->n));
                printf("\n");
        }
        for (size_t i = 0; i < ELEMENTSOF(rates); i++)
                if (rates[i].n > 0)
                        printf("rate %s: %.1f sessions/s%s\n", rates[i].key,
                               doubles_median(rates[i].rates, rates[i].n),
                               !rates[i].floor && rates[i].clients == CLIENTS_DEFAULT ? " (goal: >= 150)" : "");
        if (rates[RATE_PROFD_1].n > 0 && rates[RATE_PROFD_N].n > 0)
                printf("ratio %s/%s: %.2f (goal: well above 1)\n", rates[RATE_PROFD_N].key, rates[RATE_PROFD_1].key,
                       doubles_median(rates[RATE_PROFD_N].rates, rates[RATE_PROFD_N].n) /
                       doubles_median(rates[RATE_PROFD_1].rates, rates[RATE_PROFD_1].n));
        if (rates[RATE_PROFD_N].n > 0 && rates[RATE_FLOOR_N].n > 0)
                printf("ratio %s/%s: %.2f\n", rates[RATE_PROFD_N].key, rates[RATE_FLOOR_N].key,
                       doubles_median(rates[RATE_PROFD_N].rates, rates[RATE_PROFD_N].n) /
                       doubles_median(rates[RATE_FLOOR_N].rates, rates[RATE_FLOOR_N].n));
        fflush(stdout);
        return r;
}

/* ---- part 3: whole commands ---------------------------------------------------------------- */

/* Where a command is in CLEAN_PATH, so that both are spawned alike, by absolute path. */
static int find_in_clean_path(const char *name, char **ret) {
        for (const char *p = CLEAN_PATH; *p;) {
                size_t l = strcspn(p, ":");
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%.*s/%s", (int) l, p, name) < 0)
                        return log_oom();
                if (access(path, X_OK) >= 0) {
                        *ret = TAKE_PTR(path);
                        return 0;
                }
                p += l + (p[l] == ':');
        }
        return log_error_errno(ENOENT, "%s is not in " CLEAN_PATH ": %m", name);
}

/* argv with PATH as its whole environment and /dev/null as its stdio, from before the spawn until
 * it is reaped; it must exit 0. posix_spawn() for both commands, so that the spawning costs each
 * the same. */
static int command_round(Bench *b, char * const *argv, Series *s, bool record) {
        char *envp[] = { (char *) "PATH=" CLEAN_PATH, NULL };
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        char st[FORMAT_STATUS_MAX];
        sigset_t set;
        nsec_t t0, t1;
        pid_t pid;
        int r, status;

        r = posix_spawnattr_init(&attr);
        if (r != 0)
                return log_error_errno(r, "Failed to set up spawning: %m");
        r = posix_spawn_file_actions_init(&actions);
        if (r != 0) {
                (void) posix_spawnattr_destroy(&attr);
                return log_error_errno(r, "Failed to set up spawning: %m");
        }
        /* SIGPIPE ignored and SIGCHLD blocked here; neither for them. */
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        r = posix_spawnattr_setsigdefault(&attr, &set);
        if (r == 0) {
                sigemptyset(&set);
                r = posix_spawnattr_setsigmask(&attr, &set);
        }
        if (r == 0)
                r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
        for (int fd = 0; fd < 3 && r == 0; fd++)
                r = posix_spawn_file_actions_adddup2(&actions, b->null_fd, fd);

        t0 = now_nsec();
        if (r == 0)
                r = posix_spawn(&pid, argv[0], &actions, &attr, argv, envp);
        (void) posix_spawn_file_actions_destroy(&actions);
        (void) posix_spawnattr_destroy(&attr);
        if (r != 0)
                return log_error_errno(r, "Failed to run %s: %m", argv[0]);
        r = wait_pid(pid, &status);
        t1 = now_nsec();
        if (r < 0)
                return log_error_errno(r, "Failed to wait for %s: %m", argv[0]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return log_error_errno(EPROTO, "%s %s.", argv[0], format_status(st, sizeof(st), status));
        if (record)
                s->samples[s->n_samples++] = t1 - t0;
        return 0;
}

enum {
        COMMAND_PROFCTL,
        COMMAND_SYSTEMD_RUN,
        _COMMAND_MAX,
};

static int bench_commands(Bench *b, const char *profctl) {
        unsigned rounds = b->options->command_rounds > 0 ? b->options->command_rounds : b->options->rounds;
        _cleanup_free_ char *systemd_run = NULL;
        _cleanup_free_ nsec_t *buf = NULL;
        Series all[_COMMAND_MAX] = {
                [COMMAND_PROFCTL] = {
                        .key = "profctl-run",
                        .label = "profctl run -q -- " TARGET ", spawn until reaped",
                },
                [COMMAND_SYSTEMD_RUN] = {
                        .key = "systemd-run-scope",
                        .label = "systemd-run --scope -q " TARGET ", spawn until reaped",
                },
        };
        Series *prof = &all[COMMAND_PROFCTL], *ref = &all[COMMAND_SYSTEMD_RUN];
        int r;

        r = find_in_clean_path("systemd-run", &systemd_run);
        if (r < 0)
                return r;
        {
                char *argv[_COMMAND_MAX][6] = {
                        [COMMAND_PROFCTL] = { (char *) profctl, (char *) "run", (char *) "-q", (char *) "--",
                                              (char *) TARGET, NULL },
                        [COMMAND_SYSTEMD_RUN] = { systemd_run, (char *) "--scope", (char *) "-q", (char *) TARGET,
                                                  NULL },
                };

                buf = new0(nsec_t, (size_t) rounds * _COMMAND_MAX);
                if (!buf)
                        return log_oom();
                for (size_t i = 0; i < _COMMAND_MAX; i++)
                        all[i].samples = buf + i * rounds;

                for (unsigned round = 0; round < WARMUP_ROUNDS + rounds; round++) {
                        bool record = round >= WARMUP_ROUNDS;

                        for (unsigned k = 0; k < _COMMAND_MAX; k++) {
                                unsigned c = (round + k) % _COMMAND_MAX;

                                r = command_round(b, argv[c], &all[c], record);
                                /* Finished sessions stay (PROFD_KEEP_UNIT): only their units go. */
                                if (r >= 0)
                                        r = wait_all_gone(b, false, c == COMMAND_PROFCTL ? PROFD_UNIT_PATTERN :
                                                          SYSTEMD_RUN_UNIT_PATTERN);
                                if (r < 0)
                                        goto finish;
                        }
                }
        }

finish:
        for (size_t i = 0; i < _COMMAND_MAX; i++)
                series_sort(&all[i]);

        print_latency_header("Whole commands, as root with a clean environment (interleaved rounds)", 17);
        for (size_t i = 0; i < _COMMAND_MAX; i++)
                print_latency_row(&all[i], ref, 17);
        if (prof->n_samples > 0 && ref->n_samples > 0) {
                for (size_t i = 0; i < _COMMAND_MAX; i++)
                        printf("median %s: %.1f us\np99 %s: %.1f us\n", all[i].key,
                               series_median(&all[i]) / NSEC_PER_USEC, all[i].key,
                               series_percentile(&all[i], 99) / NSEC_PER_USEC);
                printf("diff %s - %s (median): %.3f ms\n", prof->key, ref->key,
                       (series_median(prof) - series_median(ref)) / NSEC_PER_MSEC);
                printf("ratio %s/%s (median): %.2f (goal: <= 1.0)\n", prof->key, ref->key,
                       series_median(prof) / series_median(ref));
                printf("ratio %s/%s (p99): %.2f\n", prof->key, ref->key,
                       series_percentile(prof, 99) / series_percentile(ref, 99));
        }
        fflush(stdout);
        return r;
}

/* ---- the two sides ------------------------------------------------------------------------- */

/* On the host: boot a sandbox around ourselves, then run the measuring side in it. Returns only on
 * failure, or 77 (skip) where the sandbox cannot run. */
static int run_outside(const Options *o, int argc, char *argv[]) {
        const char *sandbox = getenv("SANDBOX"), *statedir = getenv("SANDBOX_STATEDIR");
        _cleanup_free_ char **args = NULL;
        char self[PATH_MAX];
        size_t n = 0;
        ssize_t l;

        if (geteuid() != 0) {
                printf("SKIP: the sandbox needs root\n");
                return 77;
        }
        if (!sandbox)
                return log_error_errno(EINVAL, "$SANDBOX is not set: run through meson, or set it to "
                                       "tests/sandbox/sandbox.");
        if (access(o->profd, X_OK) < 0)
                return log_error_errno(errno, "Cannot execute '%s': %m", o->profd);
        if (access(o->policy, R_OK) < 0)
                return log_error_errno(errno, "Cannot read '%s': %m", o->policy);
        if (access(o->profctl, X_OK) < 0)
                return log_error_errno(errno, "Cannot execute '%s': %m", o->profctl);
        l = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (l < 0)
                return log_error_errno(errno, "Cannot tell where this program is: %m");
        self[l] = '\0';

        args = new0(char *, (size_t) argc + 8);
        if (!args)
                return log_oom();
        args[n++] = (char *) sandbox;
        if (!statedir) {
                /* `run` boots it, runs us on this side with $SANDBOX_STATEDIR, and always stops it. */
                args[n++] = (char *) "run";
                args[n++] = (char *) "--";
                args[n++] = self;
        } else {
                args[n++] = (char *) "exec";
                args[n++] = (char *) statedir;
                args[n++] = (char *) "--";
                args[n++] = self;
                args[n++] = (char *) "--inside";
        }
        for (int i = 1; i < argc; i++)
                args[n++] = argv[i];
        args[n] = NULL;

        fflush(stdout);
        execv(sandbox, args);
        return log_error_errno(errno, "Failed to execute %s: %m", sandbox);
}

static int remove_tree(const char *path) {
        char *argv[] = { (char *) "rm", (char *) "-rf", (char *) "--", (char *) path, NULL };

        return run_helper(argv);
}

/* In the sandbox: profd as a service, then the measurements. */
static int run_inside(const Options *o) {
        _cleanup_free_ char *profd = NULL, *policy = NULL, *profctl = NULL, *workdir = NULL, *config = NULL,
                *config_keep = NULL, *state = NULL;
        Bench b = { .options = o, .null_fd = -EBADF };
        const char *statedir = getenv("SANDBOX_STATEDIR"), *running = NULL;
        bool started = false;
        int r, k;

        if (!statedir || !in_sandbox())
                return log_error_errno(EPERM, "--inside is for the sandbox's side only, and PID 1 here is not "
                                       "the sandbox's systemd.");

        /* systemd starts profd in /: absolute paths. */
        profd = realpath(o->profd, NULL);
        policy = realpath(o->policy, NULL);
        profctl = realpath(o->profctl, NULL);
        if (!profd || !policy || !profctl)
                return log_error_errno(errno, "Cannot find %s: %m", !profd ? o->profd : !policy ? o->policy : o->profctl);
        if (asprintf(&workdir, "%s/bench-start.XXXXXX", statedir) < 0)
                return log_oom();
        if (!mkdtemp(workdir))
                return log_error_errno(errno, "Failed to create %s: %m", workdir);
        if (asprintf(&config, "%s/profd.conf", workdir) < 0 || asprintf(&config_keep, "%s/profd-keep.conf", workdir) < 0 ||
            asprintf(&state, "%s/state", workdir) < 0) {
                r = log_oom();
                goto finish;
        }

        /* The floor's children are reaped by sd-event when many run at once: SIGCHLD blocked. Helper
         * commands and the floor's children get an empty mask again. */
        (void) signal(SIGPIPE, SIG_IGN);
        {
                sigset_t chld;

                sigemptyset(&chld);
                sigaddset(&chld, SIGCHLD);
                (void) sigprocmask(SIG_BLOCK, &chld, NULL);
        }
        b.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (b.null_fd < 0) {
                r = log_error_errno(errno, "Failed to open /dev/null: %m");
                goto finish;
        }

        r = write_config(config, false);
        if (r >= 0)
                r = write_config(config_keep, true);
        if (r >= 0)
                r = bench_connect(&b);
        if (r >= 0)
                r = install_policy(&b, policy);
        if (r >= 0) {
                started = true;
                running = PROFD_UNIT;
                r = start_profd(&b, PROFD_UNIT, profd, config, state);
        }
        if (r < 0)
                goto finish;

        printf("bench-start: profd %s, %u rounds (+%d warm-up) of one start; %u rounds (+%d warm-up) of "
               "whole commands; %u phase(s) of %u starts with 1 and %u clients and %u floor starts at once\n",
               profd, o->rounds, WARMUP_ROUNDS, o->command_rounds > 0 ? o->command_rounds : o->rounds,
               WARMUP_ROUNDS, o->throughput_rounds, o->sessions, o->clients, o->clients);
        fflush(stdout);

        r = bench_latency(&b);
        if (r >= 0)
                r = bench_throughput(&b);
        if (r >= 0) {
                running = NULL;
                r = stop_profd(&b, PROFD_UNIT);
        }
        if (r >= 0) {
                running = PROFD_KEEP_UNIT;
                r = start_profd(&b, PROFD_KEEP_UNIT, profd, config_keep, state);
        }
        if (r >= 0)
                r = bench_commands(&b, profctl);

finish:
        if (running) {
                k = stop_profd(&b, running);
                if (k < 0 && r >= 0)
                        r = k;
        }
        if (started) {
                char *journal[] = {
                        (char *) "journalctl", (char *) "--quiet", (char *) "--no-pager", (char *) "-o", (char *) "cat",
                        (char *) "--priority=warning", (char *) "--unit=" PROFD_UNIT, (char *) "--unit=" PROFD_KEEP_UNIT,
                        NULL,
                };

                printf("\nprofd's warnings and errors in the journal (none if nothing follows):\n");
                (void) run_helper(journal);
        }
        sd_bus_flush_close_unref(b.client);
        sd_bus_flush_close_unref(b.systemd);
        b.null_fd = safe_close(b.null_fd);
        k = remove_tree(workdir);
        if (k < 0 && r >= 0)
                r = k;
        return r;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void help(void) {
        printf("%s [OPTIONS] PROFD POLICY PROFCTL\n"
               "\n"
               "Measure what StartSession of PROFD costs, in one interleaved run inside a throwaway\n"
               "systemd (tests/sandbox, found through $SANDBOX): one start of /bin/true until the reply,\n"
               "against the floor of doing the same with systemd directly; `PROFCTL run -q -- /bin/true`\n"
               "against `systemd-run --scope -q /bin/true`, whole commands; and sessions per second\n"
               "with many clients against one, and against the floor with as many at once. POLICY is\n"
               "profd's D-Bus policy file. Prints medians, percentiles and ratios; asserts no time\n"
               "limit.\n"
               "\n"
               "  --rounds=N             Rounds of the one-start figures (default: %d)\n"
               "  --command-rounds=N     Rounds of the whole commands (default: as --rounds)\n"
               "  --sessions=N           Sessions per concurrent phase (default: %d)\n"
               "  --throughput-rounds=N  Phases per concurrent figure (default: %d)\n"
               "  --clients=N            Concurrent clients, and floor starts (default: %d, at most %d)\n"
               "  -h --help              Show this help\n",
               program_invocation_short_name, ROUNDS_DEFAULT, SESSIONS_DEFAULT, THROUGHPUT_ROUNDS_DEFAULT,
               CLIENTS_DEFAULT, CLIENTS_MAX);
}

static int parse_count(const char *option, const char *value, long max, unsigned *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v < 1 || v > max)
                return log_error_errno(EINVAL, "Invalid %s '%s': expected 1…%ld.", option, value, max);
        *ret = (unsigned) v;
        return 0;
}

static int parse_argv(int argc, char *argv[], Options *o) {
        enum {
                ARG_ROUNDS = 0x100,
                ARG_COMMAND_ROUNDS,
                ARG_SESSIONS,
                ARG_THROUGHPUT_ROUNDS,
                ARG_CLIENTS,
                ARG_INSIDE,
        };
        static const struct option options[] = {
                { "rounds",            required_argument, NULL, ARG_ROUNDS            },
                { "command-rounds",    required_argument, NULL, ARG_COMMAND_ROUNDS    },
                { "sessions",          required_argument, NULL, ARG_SESSIONS          },
                { "throughput-rounds", required_argument, NULL, ARG_THROUGHPUT_ROUNDS },
                { "clients",           required_argument, NULL, ARG_CLIENTS           },
                { "inside",            no_argument,       NULL, ARG_INSIDE            },
                { "help",              no_argument,       NULL, 'h'                   },
                { NULL, 0, NULL, 0 }
        };
        int opt, r;

        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case ARG_ROUNDS:
                        r = parse_count("--rounds", optarg, ROUNDS_MAX, &o->rounds);
                        if (r < 0)
                                return r;
                        break;
                case ARG_COMMAND_ROUNDS:
                        r = parse_count("--command-rounds", optarg, ROUNDS_MAX, &o->command_rounds);
                        if (r < 0)
                                return r;
                        break;
                case ARG_SESSIONS:
                        r = parse_count("--sessions", optarg, ROUNDS_MAX, &o->sessions);
                        if (r < 0)
                                return r;
                        break;
                case ARG_THROUGHPUT_ROUNDS:
                        r = parse_count("--throughput-rounds", optarg, ROUNDS_MAX, &o->throughput_rounds);
                        if (r < 0)
                                return r;
                        break;
                case ARG_CLIENTS:
                        r = parse_count("--clients", optarg, CLIENTS_MAX, &o->clients);
                        if (r < 0)
                                return r;
                        break;
                case ARG_INSIDE:
                        o->inside = true;
                        break;
                case 'h':
                        help();
                        return 0;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(EINVAL, "Unhandled option %d.", opt);
                }

        if (argc - optind != 3)
                return log_error_errno(EINVAL, "Expected three arguments, the profd binary, its D-Bus policy and "
                                       "the profctl binary. See --help.");
        o->profd = argv[optind];
        o->policy = argv[optind + 1];
        o->profctl = argv[optind + 2];
        return 1;
}

int main(int argc, char *argv[]) {
        Options o = {
                .rounds = ROUNDS_DEFAULT,
                .sessions = SESSIONS_DEFAULT,
                .throughput_rounds = THROUGHPUT_ROUNDS_DEFAULT,
                .clients = CLIENTS_DEFAULT,
        };
        int r;

        r = parse_argv(argc, argv, &o);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        bus_error_register_profd();

        r = o.inside ? run_inside(&o) : run_outside(&o, argc, argv);
        if (r == 77)
                return 77;
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
