/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "bench-util.h"
#include "log.h"
#include "macro.h"
#include "time-util.h"

/* bench-run: what `profd run` costs, against what it has to cost.
 *
 *   1. The whole command `profd run -q -- /bin/true` against a bare /bin/true, and against tini and
 *      dumb-init doing the same job.
 *   2. SIGTERM to profd until it exits, for 3 cooperative supporters and a cooperative target,
 *      against the processes' own exit time: this program stopping 3 + 1 such processes itself, in
 *      the same order.
 *
 * Everything is measured in one run, interleaved round by round in rotating order, so that whatever
 * the machine does meanwhile hits every figure alike. Only ratios and differences mean anything;
 * nothing here asserts a wall-clock limit. The exit status is non-zero only if a measured command
 * fails or the benchmark cannot run. */

#define ROUNDS_DEFAULT 200
#define STOP_ROUNDS_DEFAULT 50
#define ROUNDS_MAX 1000000
#define WARMUP_ROUNDS 5
#define STOP_WARMUP_ROUNDS 2

#define N_SUPPORTERS 3
/* A session counts as running once all its processes executed and profd is back asleep; then it
 * gets this long to settle before the clock starts. */
#define SETTLE_NSEC (5 * NSEC_PER_MSEC)
#define START_TIMEOUT_NSEC (10 * NSEC_PER_SEC)
#define POLL_NSEC (200 * NSEC_PER_USEC)

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

#define PROC_CHILDREN_MAX 256
#define PROC_DEPTH_MAX 32

extern char **environ;

static volatile sig_atomic_t interrupted = 0;

static int sleep_nsec(nsec_t t) {
        int r = nsec_sleep(t);

        if (r < 0)
                return r;
        return interrupted ? -EINTR : 0;
}

static void on_interrupt(int sig) {
        interrupted = sig;
}

/* ---- processes ----------------------------------------------------------------------------- */

/* How every child starts: stdio on /dev/null, in a process group of its own (so that nothing here
 * is in the terminal's way), with no signal blocked. Set up once, so spawning costs the same for
 * every command and nothing of the set-up lands in a measured interval. */
typedef struct Spawner {
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        int null_fd;
        bool have_actions;
        bool have_attr;
} Spawner;

static void spawner_done(Spawner *s) {
        if (s->have_actions)
                (void) posix_spawn_file_actions_destroy(&s->actions);
        if (s->have_attr)
                (void) posix_spawnattr_destroy(&s->attr);
        s->have_actions = s->have_attr = false;
        s->null_fd = safe_close(s->null_fd);
}

static int spawner_init(Spawner *s) {
        sigset_t empty;
        int r;

        *s = (Spawner) { .null_fd = -EBADF };

        s->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (s->null_fd < 0)
                return log_error_errno(errno, "Failed to open /dev/null: %m");

        r = posix_spawn_file_actions_init(&s->actions);
        if (r != 0)
                return log_error_errno(r, "Failed to set up spawning: %m");
        s->have_actions = true;
        for (int fd = 0; fd < 3; fd++) {
                r = posix_spawn_file_actions_adddup2(&s->actions, s->null_fd, fd);
                if (r != 0)
                        return log_error_errno(r, "Failed to set up spawning: %m");
        }

        r = posix_spawnattr_init(&s->attr);
        if (r != 0)
                return log_error_errno(r, "Failed to set up spawning: %m");
        s->have_attr = true;
        sigemptyset(&empty);
        r = posix_spawnattr_setsigmask(&s->attr, &empty);
        if (r == 0)
                r = posix_spawnattr_setpgroup(&s->attr, 0);
        if (r == 0)
                r = posix_spawnattr_setflags(&s->attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
        if (r != 0)
                return log_error_errno(r, "Failed to set up spawning: %m");
        return 0;
}

/* glibc's posix_spawn() returns once the child executed, or failed to. */
static int spawn(const Spawner *s, char * const *argv, pid_t *ret_pid) {
        pid_t pid;
        int r;

        r = posix_spawn(&pid, argv[0], &s->actions, &s->attr, argv, environ);
        if (r != 0)
                return log_error_errno(r, "Failed to run %s: %m", argv[0]);
        *ret_pid = pid;
        return 0;
}

static int wait_pid(pid_t pid, int *ret_status) {
        for (;;) {
                if (waitpid(pid, ret_status, 0) >= 0)
                        return 0;
                if (errno != EINTR)
                        return negative_errno();
                if (interrupted)
                        return -EINTR;
        }
}

static const char *format_status(char *buf, size_t size, int status) {
        if (WIFEXITED(status))
                snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                snprintf(buf, size, "killed by SIG%s", strempty(sigabbrev_np(WTERMSIG(status))));
        else
                snprintf(buf, size, "ended with wait status 0x%x", (unsigned) status);
        return buf;
}
#define FORMAT_STATUS_MAX 64

/* The children of pid, over all its threads. Fewer than there are if they do not fit. */
static int proc_children(pid_t pid, pid_t *ret, size_t max, size_t *ret_n) {
        _cleanup_(closedirp) DIR *d = NULL;
        char path[64 + sizeof(((struct dirent *) NULL)->d_name)];
        size_t n = 0;

        snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        d = opendir(path);
        if (!d)
                return negative_errno();

        for (struct dirent *de; (de = readdir(d)) && n < max;) {
                _cleanup_close_ int fd = -EBADF;
                char buf[4096], *p, *end;
                ssize_t l;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/task/%s/children", (int) pid, de->d_name);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue; /* The thread is gone. */
                l = read(fd, buf, sizeof(buf) - 1);
                if (l < 0)
                        continue;
                buf[l] = '\0';
                for (p = buf; n < max; p = end) {
                        long v = strtol(p, &end, 10);

                        if (end == p)
                                break;
                        if (v > 0 && v <= INT_MAX)
                                ret[n++] = (pid_t) v;
                }
        }

        *ret_n = n;
        return 0;
}

static bool proc_comm_is(pid_t pid, const char *comm) {
        _cleanup_close_ int fd = -EBADF;
        char path[64], buf[32];
        ssize_t l;

        snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        l = read(fd, buf, sizeof(buf) - 1);
        if (l <= 0)
                return false;
        buf[l] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        return streq(buf, comm);
}

/* The state letter of /proc/PID/stat: 'R', 'S', 'Z', …; 0 if unknown. */
static char proc_state(pid_t pid) {
        _cleanup_close_ int fd = -EBADF;
        char path[64], buf[512], *p;
        ssize_t l;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        l = read(fd, buf, sizeof(buf) - 1);
        if (l <= 0)
                return 0;
        buf[l] = '\0';
        p = strrchr(buf, ')'); /* comm may contain anything. */
        return p && p[1] == ' ' ? p[2] : 0;
}

/* SIGKILL to everything below pid, deepest first, each with its process group. */
static unsigned kill_descendants(pid_t pid, unsigned depth) {
        pid_t children[PROC_CHILDREN_MAX];
        unsigned n_killed = 0;
        size_t n;

        if (depth > PROC_DEPTH_MAX || proc_children(pid, children, ELEMENTSOF(children), &n) < 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                n_killed += kill_descendants(children[i], depth + 1);
                /* A pid in use is only ever the id of its own process group, if any. */
                (void) kill(-children[i], SIGKILL);
                if (kill(children[i], SIGKILL) >= 0)
                        n_killed++;
        }
        return n_killed;
}

/* Leave nothing behind: kill and reap every descendant, orphans included (they come to us, we are
 * a subreaper). Returns how many processes were still there. */
static unsigned kill_and_reap_all(void) {
        unsigned n = 0;

        for (;;) {
                n += kill_descendants(getpid(), 0);
                if (waitpid(-1, NULL, 0) < 0 && errno != EINTR)
                        return n; /* ECHILD: done. */
        }
}

/* Between rounds nothing of ours should exist any more: count and clear what does. */
static unsigned reap_strays(void) {
        pid_t children[1];
        unsigned n = 0;
        size_t n_children;

        while (waitpid(-1, NULL, WNOHANG) > 0)
                n++;
        if (proc_children(getpid(), children, ELEMENTSOF(children), &n_children) >= 0 && n_children > 0)
                n += kill_and_reap_all();
        return n;
}

/* ---- statistics ---------------------------------------------------------------------------- */

typedef struct Series {
        const char *key;   /* for scripts: "ratio KEY/KEY: …" */
        const char *label; /* for people */
        nsec_t *samples;
        size_t n_samples;
        bool skipped;
} Series;

static void series_sort(Series *s) {
        samples_sort(s->samples, s->n_samples);
}

static double series_median(const Series *s) {
        return samples_median(s->samples, s->n_samples);
}

static double series_percentile(const Series *s, unsigned pct) {
        return samples_percentile(s->samples, s->n_samples, pct);
}

static bool series_usable(const Series *s) {
        return !s->skipped && s->n_samples > 0;
}

static void print_header(const char *title) {
        printf("\n%s\n", title);
        printf("  %-12s %-46s %5s %10s %10s %10s %8s\n", "key", "what", "n", "min/us", "median/us",
               "p90/us", "ratio");
}

static void print_row(const Series *s, const Series *ref) {
        if (s->skipped) {
                printf("  %-12s %-46s %s\n", s->key, s->label, "skipped");
                return;
        }
        printf("  %-12s %-46s %5zu %10.1f %10.1f %10.1f", s->key, s->label, s->n_samples,
               (double) s->samples[0] / NSEC_PER_USEC, series_median(s) / NSEC_PER_USEC,
               series_percentile(s, 90) / NSEC_PER_USEC);
        if (ref == s)
                printf(" %8s\n", "1.00");
        else if (ref && series_usable(ref))
                printf(" %8.2f\n", series_median(s) / series_median(ref));
        else
                printf(" %8s\n", "-");
}

static void print_ratio(const Series *a, const Series *b) {
        if (series_usable(a) && series_usable(b))
                printf("ratio %s/%s: %.2f\n", a->key, b->key, series_median(a) / series_median(b));
}

static void print_median(const Series *s) {
        if (series_usable(s))
                printf("median %s: %.1f us\n", s->key, series_median(s) / NSEC_PER_USEC);
}

/* ---- part 1: the whole command ------------------------------------------------------------- */

enum {
        CMD_BARE,
        CMD_PROFD,
        CMD_TINI,
        CMD_DUMB_INIT,
        _CMD_MAX,
};

typedef struct Command {
        Series series;
        char *argv[8];
} Command;

/* A program in $PATH, as the shell would find it. */
static char *find_in_path(const char *name) {
        const char *path = getenv("PATH");

        if (!path)
                path = "/usr/local/bin:/usr/bin:/bin";

        for (const char *p = path;;) {
                const char *end = strchrnul(p, ':');
                _cleanup_free_ char *full = NULL;

                if (end > p && asprintf(&full, "%.*s/%s", (int) (end - p), p, name) >= 0 &&
                    access(full, X_OK) >= 0)
                        return TAKE_PTR(full);
                if (*end == '\0')
                        return NULL;
                p = end + 1;
        }
}

static int run_command(const Spawner *sp, Command *c, bool record) {
        char st[FORMAT_STATUS_MAX];
        nsec_t t0, t1;
        pid_t pid;
        int r, status;

        t0 = now_nsec();
        r = spawn(sp, c->argv, &pid);
        if (r < 0)
                return r;
        r = wait_pid(pid, &status);
        t1 = now_nsec();
        if (r < 0)
                return r;

        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return log_error_errno(EPROTO, "'%s' (%s) %s.", c->series.label, c->series.key,
                                       format_status(st, sizeof(st), status));
        if (record)
                c->series.samples[c->series.n_samples++] = t1 - t0;
        return 0;
}

static int bench_whole_command(const Spawner *sp, const char *profd, unsigned rounds, unsigned *n_strays) {
        _cleanup_free_ char *tini = NULL, *dumb_init = NULL;
        Command cmds[_CMD_MAX] = {
                [CMD_BARE] = {
                        .series = { .key = "bare", .label = "/bin/true" },
                        .argv = { (char *) "/bin/true" },
                },
                [CMD_PROFD] = {
                        .series = { .key = "profd-run", .label = "profd run -q -- /bin/true" },
                        .argv = { (char *) profd, (char *) "run", (char *) "-q", (char *) "--",
                                  (char *) "/bin/true" },
                },
                [CMD_TINI] = {
                        .series = { .key = "tini", .label = "tini -s -- /bin/true" },
                        .argv = { NULL, (char *) "-s", (char *) "--", (char *) "/bin/true" },
                },
                [CMD_DUMB_INIT] = {
                        .series = { .key = "dumb-init", .label = "dumb-init /bin/true" },
                        .argv = { NULL, (char *) "/bin/true" },
                },
        };
        _cleanup_free_ nsec_t *buf = NULL;
        int r = 0;

        tini = find_in_path("tini");
        dumb_init = find_in_path("dumb-init");
        cmds[CMD_TINI].argv[0] = tini;
        cmds[CMD_TINI].series.skipped = !tini;
        cmds[CMD_DUMB_INIT].argv[0] = dumb_init;
        cmds[CMD_DUMB_INIT].series.skipped = !dumb_init;

        buf = new0(nsec_t, (size_t) rounds * _CMD_MAX);
        if (!buf)
                return log_oom();
        for (size_t i = 0; i < _CMD_MAX; i++)
                cmds[i].series.samples = buf + i * rounds;

        for (unsigned round = 0; round < WARMUP_ROUNDS + rounds; round++) {
                bool record = round >= WARMUP_ROUNDS;

                for (size_t k = 0; k < _CMD_MAX; k++) {
                        Command *c = &cmds[(round + k) % _CMD_MAX];

                        if (c->series.skipped)
                                continue;
                        r = run_command(sp, c, record);
                        if (r < 0)
                                goto finish;
                        *n_strays += reap_strays();
                }
        }

finish:
        for (size_t i = 0; i < _CMD_MAX; i++)
                series_sort(&cmds[i].series);

        print_header("Whole command: spawn, run, reap (posix_spawn + waitpid)");
        for (size_t i = 0; i < _CMD_MAX; i++)
                print_row(&cmds[i].series, &cmds[CMD_BARE].series);
        if (!tini)
                printf("note: tini not found in $PATH, skipped\n");
        if (!dumb_init)
                printf("note: dumb-init not found in $PATH, skipped\n");
        for (size_t i = 0; i < _CMD_MAX; i++)
                print_median(&cmds[i].series);
        print_ratio(&cmds[CMD_PROFD].series, &cmds[CMD_BARE].series);
        print_ratio(&cmds[CMD_TINI].series, &cmds[CMD_BARE].series);
        print_ratio(&cmds[CMD_DUMB_INIT].series, &cmds[CMD_BARE].series);
        print_ratio(&cmds[CMD_PROFD].series, &cmds[CMD_TINI].series);
        print_ratio(&cmds[CMD_PROFD].series, &cmds[CMD_DUMB_INIT].series);
        fflush(stdout);
        return r;
}

/* ---- part 2: SIGTERM until exit ------------------------------------------------------------ */

/* Running: every process of the session executed `sleep`, and profd waits for what comes next. */
static int wait_session_running(pid_t profd_pid, size_t n_expected) {
        char st[FORMAT_STATUS_MAX];
        nsec_t deadline = now_nsec() + START_TIMEOUT_NSEC;
        int r, status;

        for (;;) {
                pid_t children[16];
                size_t n, n_running = 0;
                pid_t pid;

                r = proc_children(profd_pid, children, ELEMENTSOF(children), &n);
                if (r < 0)
                        return log_error_errno(r, "Failed to list the children of profd: %m");
                for (size_t i = 0; i < n; i++)
                        if (proc_comm_is(children[i], "sleep"))
                                n_running++;
                if (n_running == n_expected && proc_state(profd_pid) == 'S')
                        return 0;

                pid = waitpid(profd_pid, &status, WNOHANG);
                if (pid < 0)
                        return log_error_errno(errno, "Failed to wait for profd: %m");
                if (pid > 0)
                        return log_error_errno(ESRCH, "profd %s before the session was running.",
                                               format_status(st, sizeof(st), status));
                if (now_nsec() > deadline)
                        return log_error_errno(ETIMEDOUT, "The session did not come up within %" PRIu64 "s.",
                                               START_TIMEOUT_NSEC / NSEC_PER_SEC);
                r = sleep_nsec(POLL_NSEC);
                if (r < 0)
                        return r;
        }
}

static int stop_profd(const Spawner *sp, const char *profd, Series *s, bool record) {
        char sleep_cmd[] = "sleep 1000";
        char *argv[] = {
                (char *) profd, (char *) "run", (char *) "-q",
                (char *) "-s", sleep_cmd, (char *) "-s", sleep_cmd, (char *) "-s", sleep_cmd,
                (char *) "--", (char *) "sleep", (char *) "1000", NULL,
        };
        char st[FORMAT_STATUS_MAX];
        nsec_t t0, t1;
        pid_t pid;
        int r, status;

        r = spawn(sp, argv, &pid);
        if (r < 0)
                return r;
        r = wait_session_running(pid, N_SUPPORTERS + 1);
        if (r < 0)
                return r; /* The caller kills what is left. */
        r = sleep_nsec(SETTLE_NSEC);
        if (r < 0)
                return r;

        t0 = now_nsec();
        if (kill(pid, SIGTERM) < 0)
                return log_error_errno(errno, "Failed to send SIGTERM to profd: %m");
        r = wait_pid(pid, &status);
        t1 = now_nsec();
        if (r < 0)
                return r;

        /* profd exits with the target's status: killed by SIGTERM. */
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 128 + SIGTERM)
                return log_error_errno(EPROTO, "profd run %s on SIGTERM, expected status %d.",
                                       format_status(st, sizeof(st), status), 128 + SIGTERM);
        if (record)
                s->samples[s->n_samples++] = t1 - t0;
        return 0;
}

static int stop_batch(const pid_t *pids, size_t n) {
        char st[FORMAT_STATUS_MAX];
        int r, status;

        for (size_t i = 0; i < n; i++)
                if (kill(pids[i], SIGTERM) < 0)
                        return log_error_errno(errno, "Failed to send SIGTERM to sleep: %m");
        for (size_t i = 0; i < n; i++) {
                r = wait_pid(pids[i], &status);
                if (r < 0)
                        return r;
                if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM)
                        return log_error_errno(EPROTO, "sleep %s on SIGTERM.",
                                               format_status(st, sizeof(st), status));
        }
        return 0;
}

/* The floor: the same four processes, stopped by us in profd's order, supporters then target. */
static int stop_own(const Spawner *sp, const char *sleep_path, Series *s, bool record) {
        char *argv[] = { (char *) sleep_path, (char *) "1000", NULL };
        pid_t pids[N_SUPPORTERS + 1];
        nsec_t t0, t1;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(pids); i++) {
                r = spawn(sp, argv, &pids[i]);
                if (r < 0)
                        return r;
        }
        r = sleep_nsec(SETTLE_NSEC);
        if (r < 0)
                return r;

        t0 = now_nsec();
        r = stop_batch(pids, N_SUPPORTERS);
        if (r < 0)
                return r;
        r = stop_batch(pids + N_SUPPORTERS, 1);
        t1 = now_nsec();
        if (r < 0)
                return r;

        if (record)
                s->samples[s->n_samples++] = t1 - t0;
        return 0;
}

static int bench_stop(const Spawner *sp, const char *profd, unsigned rounds, unsigned *n_strays) {
        _cleanup_free_ char *sleep_path = NULL;
        _cleanup_free_ nsec_t *buf = NULL;
        Series own = { .key = "own-exit", .label = "sleep x4: SIGTERM 3, reap, SIGTERM 1, reap" },
               prof = { .key = "profd-stop", .label = "profd run -s sleep x3 -- sleep: SIGTERM, reap" };
        int r = 0;

        sleep_path = find_in_path("sleep");
        if (!sleep_path)
                return log_error_errno(ENOENT, "sleep not found in $PATH.");

        buf = new0(nsec_t, (size_t) rounds * 2);
        if (!buf)
                return log_oom();
        own.samples = buf;
        prof.samples = buf + rounds;

        for (unsigned round = 0; round < STOP_WARMUP_ROUNDS + rounds; round++) {
                bool record = round >= STOP_WARMUP_ROUNDS;

                for (unsigned k = 0; k < 2; k++) {
                        if ((round + k) % 2 == 0)
                                r = stop_own(sp, sleep_path, &own, record);
                        else
                                r = stop_profd(sp, profd, &prof, record);
                        if (r < 0)
                                goto finish;
                        *n_strays += reap_strays();
                }
        }

finish:
        series_sort(&own);
        series_sort(&prof);

        print_header("SIGTERM until exit: " STRINGIFY(N_SUPPORTERS) " cooperative supporters, "
                     "cooperative target");
        print_row(&own, &own);
        print_row(&prof, &own);
        print_median(&own);
        print_median(&prof);
        if (series_usable(&own) && series_usable(&prof))
                printf("diff %s - %s: %.3f ms\n", prof.key, own.key,
                       (series_median(&prof) - series_median(&own)) / NSEC_PER_MSEC);
        print_ratio(&prof, &own);
        fflush(stdout);
        return r;
}

/* ---- main ---------------------------------------------------------------------------------- */

static void help(void) {
        printf("%s [OPTIONS] PROFD\n"
               "\n"
               "Measure `PROFD run` against what it has to cost, in one interleaved run:\n"
               "the whole command `profd run -q -- /bin/true` against a bare /bin/true, tini\n"
               "and dumb-init; and SIGTERM until exit with 3 supporters against the processes'\n"
               "own exit time. Prints medians, p90s and ratios; asserts no time limit.\n"
               "\n"
               "  --rounds=N       Rounds of the whole-command figures (default: %d)\n"
               "  --stop-rounds=N  Rounds of the SIGTERM figures (default: %d)\n"
               "  -h --help        Show this help\n",
               program_invocation_short_name, ROUNDS_DEFAULT, STOP_ROUNDS_DEFAULT);
}

static int parse_rounds(const char *option, const char *value, unsigned *ret) {
        char *end;
        long v;

        errno = 0;
        v = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v < 1 || v > ROUNDS_MAX)
                return log_error_errno(EINVAL, "Invalid %s '%s': expected 1…%d.",
                                       option, value, ROUNDS_MAX);
        *ret = (unsigned) v;
        return 0;
}

static int parse_argv(int argc, char *argv[], unsigned *rounds, unsigned *stop_rounds,
                      const char **ret_profd) {
        enum {
                ARG_ROUNDS = 0x100,
                ARG_STOP_ROUNDS,
        };
        static const struct option options[] = {
                { "rounds",      required_argument, NULL, ARG_ROUNDS      },
                { "stop-rounds", required_argument, NULL, ARG_STOP_ROUNDS },
                { "help",        no_argument,       NULL, 'h'             },
                { NULL, 0, NULL, 0 }
        };
        int opt, r;

        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case ARG_ROUNDS:
                        r = parse_rounds("--rounds", optarg, rounds);
                        if (r < 0)
                                return r;
                        break;
                case ARG_STOP_ROUNDS:
                        r = parse_rounds("--stop-rounds", optarg, stop_rounds);
                        if (r < 0)
                                return r;
                        break;
                case 'h':
                        help();
                        return 0;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(EINVAL, "Unhandled option %d.", opt);
                }

        if (argc - optind != 1)
                return log_error_errno(EINVAL, "Expected one argument, the profd binary. See --help.");
        if (access(argv[optind], X_OK) < 0)
                return log_error_errno(errno, "Cannot execute '%s': %m", argv[optind]);
        *ret_profd = argv[optind];
        return 1;
}

int main(int argc, char *argv[]) {
        static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };
        struct sigaction sa = { .sa_handler = on_interrupt }; /* No SA_RESTART: waits return EINTR. */
        _cleanup_(spawner_done) Spawner sp = { .null_fd = -EBADF };
        unsigned rounds = ROUNDS_DEFAULT, stop_rounds = STOP_ROUNDS_DEFAULT, n_strays = 0, n;
        const char *profd = NULL;
        int r;

        r = parse_argv(argc, argv, &rounds, &stop_rounds, &profd);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        /* Orphans of whatever we run come to us, so that nothing outlives the benchmark. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                log_error_errno(errno, "Failed to become a subreaper: %m");
                return EXIT_FAILURE;
        }
        for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++)
                (void) sigaction(stop_signals[i], &sa, NULL);

        r = spawner_init(&sp);
        if (r < 0)
                return EXIT_FAILURE;

        printf("bench-run: profd %s, %u rounds (+%d warm-up) of the whole command, %u (+%d) of SIGTERM\n",
               profd, rounds, WARMUP_ROUNDS, stop_rounds, STOP_WARMUP_ROUNDS);

        r = bench_whole_command(&sp, profd, rounds, &n_strays);
        if (r >= 0)
                r = bench_stop(&sp, profd, stop_rounds, &n_strays);

        /* After a failure, whatever was running is killed here; otherwise nothing should be left. */
        n = kill_and_reap_all();
        if (r >= 0)
                n_strays += n;
        if (n_strays > 0)
                printf("note: %u process(es) outlived their command and were reaped or killed\n", n_strays);

        if (r == -EINTR && interrupted)
                log_error("Interrupted by SIG%s.", strempty(sigabbrev_np(interrupted)));
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
