/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <dirent.h>
#include <grp.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "config.h"
#include "macro.h"
#include "spawn.h"

/* The child's fds while it waits at the gate. */
#define CHILD_GATE_FD 3
#define CHILD_REPORT_FD 4

/* The gate helper's view of the world: argv[0] "profd-gate", then --credentials=UID:GID:G1,G2,…
 * and --chdir=DIR when set, "--" and the program's argv; fds 0-2 are its stdio, 3 the gate, 4 the
 * report pipe. It runs spawn_child_finish(). */

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

        spawn_child_finish(params);
}

void spawn_child_finish(const SpawnParams *params) {
        char go;
        int r;

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

/* The gate helper's command line: what spawn_child_finish() needs, as gate_helper_main() parses it. */
static int gate_helper_argv(const SpawnParams *params, char ***ret) {
        size_t n_argv = 0, n = 0;
        char **argv, *groups = NULL;
        int r = -ENOMEM;

        while (params->argv[n_argv])
                n_argv++;
        argv = calloc(n_argv + 8, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        if (!(argv[n++] = strdup("profd-gate")))
                goto fail;
        if (params->set_credentials) {
                size_t size = 16 * (params->n_groups + 1), used = 0;

                groups = malloc(size);
                if (!groups)
                        goto fail;
                groups[0] = '\0';
                for (size_t i = 0; i < params->n_groups; i++)
                        used += snprintf(groups + used, size - used, "%s%u", i > 0 ? "," : "",
                                         (unsigned) params->groups[i]);
                if (asprintf(&argv[n++], "--credentials=%u:%u:%s", (unsigned) params->uid,
                             (unsigned) params->gid, groups) < 0)
                        goto fail;
        }
        if (params->working_directory && asprintf(&argv[n++], "--chdir=%s", params->working_directory) < 0)
                goto fail;
        if (!(argv[n++] = strdup("--")))
                goto fail;
        for (size_t i = 0; i < n_argv; i++)
                if (!(argv[n++] = strdup(params->argv[i])))
                        goto fail;
        free(groups);
        *ret = argv;
        return 0;
fail:
        free(groups);
        for (size_t i = 0; i < n; i++)
                free(argv[i]);
        free(argv);
        return r;
}

/* posix_spawn() (a vfork, no copy of our address space) of the small gate helper, which waits at
 * the gate and then executes the program. A daemon with a large heap pays for fork() in
 * copy-on-write faults for as long as a held child shares its pages; this costs one extra exec. */
static int spawn_gate_helper(const SpawnParams *params, int gate_fd, int report_fd, pid_t *ret_pid) {
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        sigset_t all, none;
        char **argv = NULL;
        int r;

        r = gate_helper_argv(params, &argv);
        if (r < 0)
                return r;

        sigfillset(&all);
        sigemptyset(&none);
        r = posix_spawnattr_init(&attr);
        if (r != 0)
                goto finish_argv;
        r = posix_spawn_file_actions_init(&actions);
        if (r != 0)
                goto finish_attr;

        /* The same layout child_run() makes: stdio, the gate on 3, the report on 4, nothing else. */
        r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
        if (r == 0)
                r = posix_spawnattr_setpgroup(&attr, 0);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &all);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        for (int i = 0; i < 3 && r == 0; i++)
                if (params->stdio[i] >= 0)
                        r = posix_spawn_file_actions_adddup2(&actions, params->stdio[i], i);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&actions, gate_fd, CHILD_GATE_FD);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&actions, report_fd, CHILD_REPORT_FD);
        if (r == 0)
                r = posix_spawn_file_actions_addclosefrom_np(&actions, CHILD_REPORT_FD + 1);
        if (r == 0)
                r = posix_spawn(ret_pid, params->gate_helper, &actions, &attr, argv, params->envp);

        posix_spawn_file_actions_destroy(&actions);
finish_attr:
        posix_spawnattr_destroy(&attr);
finish_argv:
        for (char **a = argv; *a; a++)
                free(*a);
        free(argv);
        return -r;
}

int spawn_held(const SpawnParams *params, pid_t *ret_pid, int *ret_gate_fd, int *ret_report_fd) {
        _cleanup_close_pair_ int gate[2] = { -EBADF, -EBADF }, report[2] = { -EBADF, -EBADF };
        pid_t pid;
        int r;

        assert(params && params->argv && params->argv[0] && params->envp);

        if (pipe2(gate, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC | O_NONBLOCK) < 0)
                return negative_errno();

        if (params->gate_helper) {
                r = spawn_gate_helper(params, gate[0], report[1], &pid);
                if (r < 0)
                        return r;
        } else {
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
        }

        *ret_pid = pid;
        *ret_gate_fd = TAKE_FD(gate[1]);
        *ret_report_fd = TAKE_FD(report[0]);
        return 0;
}

const char *spawn_find_gate_helper(void) {
        static char path[PATH_MAX];
        static bool looked;
        char self[PATH_MAX];
        ssize_t n;

        if (looked)
                return path[0] ? path : NULL;
        looked = true;

        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                char *slash;

                self[n] = '\0';
                slash = strrchr(self, '/');
                if (slash && (size_t) snprintf(path, sizeof(path), "%.*s/profd-gate", (int) (slash - self), self) < sizeof(path) &&
                    access(path, X_OK) >= 0)
                        return path;
        }
        if ((size_t) snprintf(path, sizeof(path), "%s/profd-gate", PROFD_LIBEXECDIR) < sizeof(path) &&
            access(path, X_OK) >= 0)
                return path;
        path[0] = '\0';
        return NULL;
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

int gate_helper_main(int argc, char *argv[], char *envp[]) {
        SpawnParams params = { .envp = envp };
        gid_t groups[NGROUPS_MAX];
        int i;

        /* A report fd that is closed on exec is what tells the parent that the exec worked. */
        if (fcntl(CHILD_REPORT_FD, F_SETFD, FD_CLOEXEC) < 0 || fcntl(CHILD_GATE_FD, F_SETFD, FD_CLOEXEC) < 0)
                return 127;

        for (i = 1; i < argc; i++) {
                const char *v;

                if (streq(argv[i], "--")) {
                        i++;
                        break;
                } else if ((v = startswith(argv[i], "--credentials="))) {
                        unsigned uid, gid;
                        int consumed;

                        if (sscanf(v, "%u:%u:%n", &uid, &gid, &consumed) != 2)
                                child_fail(SPAWN_STAGE_SETUP, EINVAL);
                        params.set_credentials = true;
                        params.uid = uid;
                        params.gid = gid;
                        for (v += consumed; *v && params.n_groups < NGROUPS_MAX; ) {
                                char *end;

                                groups[params.n_groups++] = (gid_t) strtoul(v, &end, 10);
                                if (end == v)
                                        child_fail(SPAWN_STAGE_SETUP, EINVAL);
                                v = *end == ',' ? end + 1 : end;
                        }
                        params.groups = groups;
                } else if ((v = startswith(argv[i], "--chdir=")))
                        params.working_directory = v;
                else
                        child_fail(SPAWN_STAGE_SETUP, EINVAL);
        }
        if (i >= argc)
                child_fail(SPAWN_STAGE_SETUP, EINVAL);
        params.argv = argv + i;
        spawn_child_finish(&params);
}
