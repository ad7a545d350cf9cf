/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <dirent.h>
#include <grp.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "macro.h"
#include "spawn.h"

/* The child's fds while it waits at the gate. */
#define CHILD_GATE_FD 3
#define CHILD_REPORT_FD 4

const char *spawn_stage_to_string(SpawnStage stage) {
        static const char * const table[_SPAWN_STAGE_MAX] = {
                [SPAWN_STAGE_SETUP] = "set up",
                [SPAWN_STAGE_CREDENTIALS] = "change credentials for",
                [SPAWN_STAGE_CHDIR] = "change directory",
                [SPAWN_STAGE_EXEC] = "execute",
        };
        return stage >= 0 && stage < _SPAWN_STAGE_MAX ? table[stage] : "start";
}

static int close_all_fds_from(int first) {
        _cleanup_(closedirp) DIR *d = NULL;

        if (syscall(SYS_close_range, (unsigned) first, ~0U, 0) >= 0)
                return 0;

        /* Kernels before 5.9: walk /proc/self/fd. */
        d = opendir("/proc/self/fd");
        if (!d)
                return negative_errno();
        for (struct dirent *de; (de = readdir(d));) {
                int fd = atoi(de->d_name);

                if (fd >= first && fd != dirfd(d))
                        (void) close(fd);
        }
        return 0;
}

/* Only async-signal-safe calls from here on, bar close_all_fds_from()'s fallback: the parent may
 * not be single-threaded forever. */
_noreturn_ static void child_fail(SpawnStage stage, int error) {
        SpawnReport report = { .stage = stage, .error = error };

        (void) !write(CHILD_REPORT_FD, &report, sizeof(report));
        _exit(127);
}

static void child_reset_signals(void) {
        struct sigaction sa = { .sa_handler = SIG_DFL };
        sigset_t empty;

        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) sigaction(sig, &sa, NULL);
        sigemptyset(&empty);
        (void) sigprocmask(SIG_SETMASK, &empty, NULL);
}

/* Moves fd to `target`, whatever fds are in the way; the result is not CLOEXEC. */
static int child_move_fd(int fd, int target) {
        if (fd == target)
                return fcntl(fd, F_SETFD, 0) < 0 ? -errno : 0;
        return dup2(fd, target) < 0 ? -errno : 0;
}

static const char *child_getenv(char * const *envp, const char *name) {
        size_t l = strlen(name);

        for (char * const *e = envp; e && *e; e++)
                if (strncmp(*e, name, l) == 0 && (*e)[l] == '=')
                        return *e + l + 1;
        return NULL;
}

/* execvpe() searches the PATH of the parent's environment; the session's own PATH is what counts. */
static int child_exec(char * const *argv, char * const *envp) {
        const char *path, *p;
        char buf[PATH_MAX];
        int error = ENOENT;

        if (strchr(argv[0], '/')) {
                execve(argv[0], argv, envp);
                return errno;
        }

        path = child_getenv(envp, "PATH");
        if (!path)
                path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (p = path;; p++) {
                const char *end = strchrnul(p, ':');
                size_t dl = end - p, fl = strlen(argv[0]);

                if (dl + 1 + fl + 1 <= sizeof(buf)) {
                        /* An empty element means the current directory, as POSIX says. */
                        if (dl == 0)
                                memcpy(buf, ".", (dl = 1));
                        else
                                memcpy(buf, p, dl);
                        buf[dl] = '/';
                        memcpy(buf + dl + 1, argv[0], fl + 1);
                        execve(buf, argv, envp);
                        /* Keep looking past what is not there; remember a denial, as a shell does. */
                        if (errno == EACCES)
                                error = EACCES;
                        else if (!IN_SET(errno, ENOENT, ENOTDIR, ENAMETOOLONG, ELOOP))
                                return errno;
                }
                if (*end == '\0')
                        return error;
                p = end;
        }
}

_noreturn_ static void child_run(const SpawnParams *params, int gate_fd, int report_fd) {
        int stdio[3], r;
        char go;

        child_reset_signals();
        (void) setpgid(0, 0);

        /* Park the fds we need above anything stdio could be moved onto, then lay them out. */
        gate_fd = fcntl(gate_fd, F_DUPFD_CLOEXEC, 10);
        report_fd = fcntl(report_fd, F_DUPFD_CLOEXEC, 10);
        if (gate_fd < 0 || report_fd < 0)
                _exit(127);
        for (int i = 0; i < 3; i++) {
                stdio[i] = params->stdio[i] >= 0 ? fcntl(params->stdio[i], F_DUPFD_CLOEXEC, 10) : -1;
                if (params->stdio[i] >= 0 && stdio[i] < 0)
                        _exit(127);
        }
        if (dup3(report_fd, CHILD_REPORT_FD, O_CLOEXEC) < 0 || dup3(gate_fd, CHILD_GATE_FD, O_CLOEXEC) < 0)
                _exit(127);
        for (int i = 0; i < 3; i++)
                if (stdio[i] >= 0) {
                        r = child_move_fd(stdio[i], i);
                        if (r < 0)
                                child_fail(SPAWN_STAGE_SETUP, -r);
                }
        r = close_all_fds_from(CHILD_REPORT_FD + 1);
        if (r < 0)
                child_fail(SPAWN_STAGE_SETUP, -r);

        /* Groups first, the uid last: after it there is no privilege left to change the rest. */
        if (params->set_credentials &&
            (setgroups(params->n_groups, params->groups) < 0 ||
             setresgid(params->gid, params->gid, params->gid) < 0 ||
             setresuid(params->uid, params->uid, params->uid) < 0))
                child_fail(SPAWN_STAGE_CREDENTIALS, errno);

        /* Wait at the gate. EOF without the go byte: the parent gave up on us. */
        while ((r = read(CHILD_GATE_FD, &go, 1)) < 0 && errno == EINTR)
                ;
        if (r != 1)
                _exit(EXIT_FAILURE);
        (void) close(CHILD_GATE_FD);

        if (params->working_directory && chdir(params->working_directory) < 0)
                child_fail(SPAWN_STAGE_CHDIR, errno);

        child_fail(SPAWN_STAGE_EXEC, child_exec(params->argv, params->envp));
}

int spawn_held(const SpawnParams *params, pid_t *ret_pid, int *ret_gate_fd, int *ret_report_fd) {
        _cleanup_close_pair_ int gate[2] = { -EBADF, -EBADF }, report[2] = { -EBADF, -EBADF };
        pid_t pid;

        assert(params && params->argv && params->argv[0] && params->envp);

        if (pipe2(gate, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC | O_NONBLOCK) < 0)
                return negative_errno();

        pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                (void) close(gate[1]);
                (void) close(report[0]);
                child_run(params, gate[0], report[1]);
        }

        /* Both sides set the group, so it exists whichever runs first. */
        (void) setpgid(pid, pid);

        *ret_pid = pid;
        *ret_gate_fd = TAKE_FD(gate[1]);
        *ret_report_fd = TAKE_FD(report[0]);
        return 0;
}

int spawn_release(int *gate_fd) {
        ssize_t n;

        assert(gate_fd && *gate_fd >= 0);

        n = write(*gate_fd, "g", 1);
        *gate_fd = safe_close(*gate_fd);
        if (n != 1)
                return n < 0 ? negative_errno() : -EIO;
        return 0;
}

int spawn_read_report(int report_fd, int *ret_error, SpawnStage *ret_stage) {
        SpawnReport report;
        ssize_t n;

        n = read(report_fd, &report, sizeof(report));
        if (n < 0)
                return errno == EAGAIN ? 0 : negative_errno();
        if (n == 0) {
                *ret_error = 0;
                *ret_stage = SPAWN_STAGE_EXEC;
                return 1;
        }
        if (n != sizeof(report) || report.error <= 0 || report.stage < 0 || report.stage >= _SPAWN_STAGE_MAX)
                return -EBADMSG;
        *ret_error = report.error;
        *ret_stage = report.stage;
        return 1;
}
