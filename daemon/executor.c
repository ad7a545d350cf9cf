/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <fcntl.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <grp.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

#include "executor.h"
#include "list.h"
#include "log.h"
#include "scope.h"
#include "spawn.h"
#include "store.h"
#include "strv.h"

typedef struct SessionIO SessionIO;
typedef struct ProcessIO ProcessIO;

struct Executor {
        sd_event *event;
        ScopeBackend *backend;          /* where processes are placed; owned when own_backend */
        bool own_backend;
        sd_event_source *sigchld_source;
        void *processes_by_pid;         /* tsearch() tree of Process*, by pid, until reaped */
        ProcessIO *lingering;           /* main pid reaped, process group not empty yet */
        unsigned n_sessions;

        int tty_fd;
        Process *tty_holder;            /* the target that has the terminal */
        int null_fd;                    /* /dev/null: supporters' stdin */
        const char *gate_helper;        /* spawn through profd-gate, not fork() */

        /* With a single session (profd run), children of ours that no Process knows (orphans that
         * left their process group, with setsid() say) are still the session's: they count as part
         * of this target's scope. */
        Process *stray_owner;
        pid_t *strays_signalled;        /* strays that got the owner's teardown signal */
        size_t n_strays_signalled;

        ExecutorChangedFn changed;
        void *userdata;
};

struct SessionIO {
        Executor *executor;
        sd_event_source *timers[_SESSION_TIMER_MAX];
        int stdio[3];
        bool own_stdio;                 /* close stdio once the target is forked */

        char *slice;                    /* made for the session, freed when it finishes */
        bool slice_made;

        /* Whom the processes run as. Without, they run as we do (profd run). */
        bool set_credentials;
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        size_t n_groups;

        /* Supporters' working directory and where their output goes, when set. */
        char *output_directory;
};

struct ProcessIO {
        Process *process;
        int gate_fd;
        int report_fd;
        sd_event_source *report_source;
        int notify_fd;
        sd_event_source *notify_source;
        sd_event_source *ready_timer;
        Scope *scope;
        /* systemd has not answered for the scope yet. A held child killed now would leave
         * systemd a scope whose emptying it may never see; the signal waits for the answer. */
        bool placing;
        int deferred_signal;
        uint64_t cpu_exited_usec;       /* of the main pid (and what it reaped), once it is reaped */

        /* Re-adopted from an earlier daemon: not our child, so no SIGCHLD. Its exit comes as its
         * pidfd turning readable; its scope emptying, from cgroup.events (or a timer without it). */
        int pidfd;
        sd_event_source *pidfd_source;
        int empty_watch_fd;
        sd_event_source *empty_source;

        bool lingering;
        LIST_FIELDS(ProcessIO, lingering);
};

#define PROCESS_IO_INIT(p)                                                                      \
        (ProcessIO) { .process = (p), .gate_fd = -EBADF, .report_fd = -EBADF, .notify_fd = -EBADF,     \
                      .pidfd = -EBADF, .empty_watch_fd = -EBADF }

static Executor *process_executor(const Process *p) {
        return ((SessionIO *) p->session->userdata)->executor;
}

static int compare_pid(const void *a, const void *b) {
        pid_t x = ((const Process *) a)->pid, y = ((const Process *) b)->pid;
        return x < y ? -1 : x > y;
}

static Process *executor_find_pid(Executor *x, pid_t pid) {
        Process key = { .pid = pid };
        Process **found = tfind(&key, &x->processes_by_pid, compare_pid);
        return found ? *found : NULL;
}

static void process_io_forget_pid(Executor *x, Process *p) {
        if (executor_find_pid(x, p->pid) == p)
                (void) tdelete(p, &x->processes_by_pid, compare_pid);
}

/* The stdio we were handed for the target: ours to close once the target has its copies, or will
 * never need them. */
static void session_io_close_stdio(SessionIO *sio) {
        if (!sio->own_stdio)
                return;
        for (int i = 0; i < 3; i++)
                sio->stdio[i] = safe_close(sio->stdio[i]);
}

static void process_io_close_report(ProcessIO *io) {
        io->report_source = sd_event_source_disable_unref(io->report_source);
        io->report_fd = safe_close(io->report_fd);
}

static void executor_dispatch(Session *s, const SessionEvent *e) {
        const char *previous = log_set_session(s->id);
        int r;

        r = session_dispatch(s, e);
        if (r < 0)
                log_warning_errno(r, "Session %s: failed to handle event %d, ignoring: %m", s->id, e->type);
        (void) log_set_session(previous);
}

static StartStage start_stage_from_spawn_stage(SpawnStage stage) {
        switch (stage) {
        case SPAWN_STAGE_SETUP:
                return START_STAGE_SETUP;
        case SPAWN_STAGE_CREDENTIALS:
                return START_STAGE_CREDENTIALS;
        case SPAWN_STAGE_CHDIR:
                return START_STAGE_CHDIR;
        default:
                return START_STAGE_EXEC;
        }
}

/* Reads the exec report if it is there; dispatches EXEC once. */
static void process_io_drain_report(Process *p) {
        ProcessIO *io = p->driver_data;
        SpawnStage stage;
        int r, error;

        if (io->report_fd < 0)
                return;
        r = spawn_read_report(io->report_fd, &error, &stage);
        if (r == 0)
                return;
        if (r < 0) {
                /* Garbage on our own pipe: say so, and count it as a failure to start. */
                log_warning_errno(r, "Session %s: bad exec report from %s: %m", p->session->id, p->name);
                error = -r;
                stage = SPAWN_STAGE_EXEC;
        }
        process_io_close_report(io);
        if (error != 0 && p->role == PROCESS_TARGET)
                log_error_errno(error, "Session %s: failed to %s the target '%s': %m", p->session->id,
                                spawn_stage_to_string(stage), p->argv[0]);
        else if (error != 0)
                log_error_errno(error, "Session %s: failed to %s supporter %s ('%s'): %m", p->session->id,
                                spawn_stage_to_string(stage), p->name, p->argv[0]);
        executor_dispatch(p->session, &(SessionEvent) { .type = SESSION_EVENT_EXEC, .process = p, .error = error,
                                                        .stage = start_stage_from_spawn_stage(stage) });
}

static int on_report(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        process_io_drain_report(userdata);
        return 0;
}

static int on_notify(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Process *p = userdata;
        char buf[4096 + 1];
        ssize_t n;

        n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : log_warning_errno(errno, "recv() on notify socket failed: %m");
        if ((size_t) n >= sizeof(buf)) {
                log_warning("Session %s: oversized notification from %s, ignoring.", p->session->id, p->name);
                return 0;
        }
        buf[n] = '\0';

        /* Newline-separated assignments, as sd_notify(3) sends them; only READY=1 matters here. */
        for (char *line = buf, *next; line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (streq(line, "READY=1")) {
                        executor_dispatch(p->session,
                                          &(SessionEvent) { .type = SESSION_EVENT_READY, .process = p });
                        break;
                }
        }
        return 0;
}

/* One datagram socket per notify supporter: whatever arrives on it, from the supporter or any of its
 * descendants (systemd-notify is one), is that supporter's. Abstract, so it needs no directory. */
static int process_io_open_notify(Process *p, char **ret_env) {
        ProcessIO *io = p->driver_data;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        uint64_t random;
        int r, n;

        if (getrandom(&random, sizeof(random), 0) != sizeof(random))
                return negative_errno();
        n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "profd/notify/%d/%016" PRIx64, (int) getpid(), random);

        io->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (io->notify_fd < 0)
                return negative_errno();
        if (bind(io->notify_fd, (struct sockaddr *) &sa, offsetof(struct sockaddr_un, sun_path) + 1 + n) < 0)
                return negative_errno();
        r = sd_event_add_io(process_executor(p)->event, &io->notify_source, io->notify_fd, EPOLLIN, on_notify, p);
        if (r < 0)
                return r;
        if (asprintf(ret_env, "NOTIFY_SOCKET=@%s", sa.sun_path + 1) < 0)
                return -ENOMEM;
        return 0;
}

/* The environment a process starts with: the session's, with NOTIFY_SOCKET pointing at profd for
 * notify supporters. */
static int process_build_environment(Process *p, char ***ret) {
        char * const *base = p->session->spec->environment ? p->session->spec->environment : environ;
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *notify = NULL;
        size_t n = 0;
        int r;

        if (p->ready_mode == READY_NOTIFY && p->role == PROCESS_SUPPORTER) {
                r = process_io_open_notify(p, &notify);
                if (r < 0)
                        return r;
        }

        env = calloc(1, sizeof(char *));
        if (!env)
                return -ENOMEM;
        for (char * const *e = base; *e; e++) {
                if (notify && startswith(*e, "NOTIFY_SOCKET="))
                        continue;
                r = strv_extend(&env, &n, *e);
                if (r < 0)
                        return r;
        }
        if (notify) {
                r = strv_consume(&env, &n, TAKE_PTR(notify));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(env);
        return 0;
}

static void executor_signal_strays(Executor *x, int sig, bool only_new);

static void on_scope_placed(Scope *scope, int error, void *userdata) {
        Process *p = userdata;
        ProcessIO *io = p->driver_data;

        io->placing = false;
        if (io->deferred_signal != 0) {
                (void) scope_kill(scope, io->deferred_signal);
                io->deferred_signal = 0;
        }

        if (error < 0) {
                /* Not in its scope, it must not run: count it as a failure to start. */
                executor_dispatch(p->session, &(SessionEvent) {
                        .type = SESSION_EVENT_EXEC, .process = p, .error = -error, .stage = START_STAGE_SCOPE });
                return;
        }
        executor_dispatch(p->session, &(SessionEvent) { .type = SESSION_EVENT_PLACED, .process = p });
}

/* Output of a supporter of a session with an output directory: "<name>.log" there, owned by whom
 * the session runs as. Opened by us, before the fork, with O_NOFOLLOW in a directory we made. */
static int process_open_log(Process *p, int *ret_fd) {
        SessionIO *sio = p->session->userdata;
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&path, "%s/%s.log", sio->output_directory, p->name) < 0)
                return -ENOMEM;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create %s: %m", path);
        if (sio->set_credentials && fchown(fd, sio->uid, sio->gid) < 0)
                return log_error_errno(errno, "Failed to hand %s to its owner: %m", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int process_place(Process *p) {
        SessionIO *sio = p->session->userdata;
        Executor *x = sio->executor;
        ProcessIO *io = p->driver_data;
        _cleanup_free_ char *unit = NULL;
        int r;

        if (x->backend->type == SCOPE_BACKEND_SYSTEMD) {
                /* The scope's Slice= brings the slice into being; it is stopped at the end. */
                sio->slice_made = true;
                if (asprintf(&unit, "profd-%s-%s.scope", p->session->id, p->name) < 0)
                        return -ENOMEM;
        }
        r = scope_new(&io->scope, x->backend, unit, sio->slice, p->pid, on_scope_placed, p);
        if (r < 0)
                return r;
        r = scope_place(io->scope, p->argv[0], p->session->spec->stop_timeout);
        if (r < 0)
                return log_error_errno(r, "Session %s: failed to place %s in %s: %m", p->session->id,
                                       p->name, unit);
        p->placed = r > 0;
        io->placing = r == 0;
        return 0;
}

static int driver_spawn(Session *s, Process *p) {
        SessionIO *sio = s->userdata;
        Executor *x = sio->executor;
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_close_ int log_fd = -EBADF;
        ProcessIO *io;
        SpawnParams params;
        int r;

        io = p->driver_data = new0(ProcessIO, 1);
        if (!io)
                return -ENOMEM;
        *io = PROCESS_IO_INIT(p);

        r = process_build_environment(p, &env);
        if (r < 0)
                return log_error_errno(r, "Session %s: failed to prepare %s: %m", s->id, p->name);

        params = (SpawnParams) {
                .argv = p->argv,
                .envp = env,
                .working_directory = s->spec->working_directory,
                .stdio = { -1, -1, -1 },
                .gate_helper = x->gate_helper,
                .set_credentials = sio->set_credentials,
                .uid = sio->uid,
                .gid = sio->gid,
                .groups = sio->groups,
                .n_groups = sio->n_groups,
        };
        if (p->role == PROCESS_TARGET)
                memcpy(params.stdio, sio->stdio, sizeof(params.stdio));
        else {
                const SupporterSpec *spec = &s->spec->supporters[session_process_index(s, p) - 1];

                /* The terminal's input is the target's: a supporter reading it would steal keys or
                 * be stopped by SIGTTIN. */
                params.stdio[0] = x->null_fd;
                if (sio->output_directory) {
                        r = process_open_log(p, &log_fd);
                        if (r < 0)
                                return r;
                        params.stdio[1] = params.stdio[2] = log_fd;
                        params.working_directory = sio->output_directory;
                }
                if (spec->working_directory)
                        params.working_directory = spec->working_directory;
        }

        r = spawn_held(&params, &p->pid, &io->gate_fd, &io->report_fd);
        if (r < 0)
                return log_error_errno(r, "Session %s: failed to fork %s: %m", s->id, p->name);
        if (p->role == PROCESS_TARGET)
                session_io_close_stdio(sio);

        r = sd_event_add_io(x->event, &io->report_source, io->report_fd, EPOLLIN, on_report, p);
        if (r >= 0 && !tsearch(p, &x->processes_by_pid, compare_pid))
                r = -ENOMEM;
        if (r >= 0)
                r = process_place(p);
        if (r < 0) {
                /* It never ran: kill it and let the reaper collect it as an orphan. */
                process_io_forget_pid(x, p);
                (void) kill(p->pid, SIGKILL);
                p->pid = 0;
                return log_error_errno(r, "Session %s: failed to set up %s: %m", s->id, p->name);
        }

        log_debug("Session %s: forked %s as pid %d, held.", s->id, p->name, (int) p->pid);
        return 0;
}

static int driver_release(Session *s, Process *p) {
        ProcessIO *io = p->driver_data;
        Executor *x = process_executor(p);

        p->start_usec = now_usec(CLOCK_MONOTONIC);
        if (p->role == PROCESS_TARGET && x->tty_fd >= 0) {
                if (tcsetpgrp(x->tty_fd, p->pid) < 0)
                        log_debug_errno(errno, "Failed to give the terminal to the target, ignoring: %m");
                else
                        x->tty_holder = p;
        }
        return spawn_release(&io->gate_fd);
}

static int driver_signal(Session *s, Process *p, int sig) {
        Executor *x = process_executor(p);

        ProcessIO *io = p->driver_data;
        int r;

        if (p == x->stray_owner && IN_SET(sig, SIGTERM, SIGKILL, SIGSTOP, SIGCONT))
                executor_signal_strays(x, sig, false);
        if (!io || !io->scope)
                return -ESRCH;
        if (io->placing && !p->released) {
                /* Held, it runs nothing of its own meanwhile; only SIGKILL is sent to such a one. */
                io->deferred_signal = sig;
                log_debug("Session %s: SIG%s to %s waits for its scope.", s->id, signal_abbrev(sig), p->name);
                return 0;
        }
        /* Pausing and resuming is the scope's business: the cgroup freezer where there is one. */
        if (IN_SET(sig, SIGSTOP, SIGCONT))
                r = scope_freeze(io->scope, sig == SIGSTOP);
        else
                r = scope_kill(io->scope, sig);
        if (r < 0) {
                if (r != -ESRCH)
                        log_warning_errno(r, "Session %s: failed to send %s to %s: %m", s->id,
                                          signal_abbrev(sig), p->name);
                return r;
        }
        log_debug("Session %s: sent SIG%s to %s.", s->id, signal_abbrev(sig), p->name);
        return 0;
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Session *s = userdata;
        SessionIO *sio = s->userdata;

        for (SessionTimer t = 0; t < _SESSION_TIMER_MAX; t++)
                if (sio->timers[t] == source)
                        executor_dispatch(s, &(SessionEvent) { .type = SESSION_EVENT_TIMER, .timer = t });
        return 0;
}

static int on_ready_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Process *p = userdata;

        executor_dispatch(p->session, &(SessionEvent) {
                .type = SESSION_EVENT_TIMER,
                .timer = SESSION_TIMER_READY_DELAY,
                .process = p,
        });
        return 0;
}

static int driver_set_timer(Session *s, SessionTimer timer, Process *p, usec_t usec) {
        SessionIO *sio = s->userdata;
        sd_event_source **slot;
        int r;

        if (timer == SESSION_TIMER_READY_DELAY) {
                if (!p->driver_data)
                        return 0;
                slot = &((ProcessIO *) p->driver_data)->ready_timer;
        } else
                slot = &sio->timers[timer];

        if (usec == USEC_INFINITY) {
                *slot = sd_event_source_disable_unref(*slot);
                return 0;
        }
        if (*slot) {
                r = sd_event_source_set_time_relative(*slot, usec);
                if (r < 0)
                        return r;
                return sd_event_source_set_enabled(*slot, SD_EVENT_ONESHOT);
        }
        return sd_event_add_time_relative(sio->executor->event, slot, CLOCK_MONOTONIC, usec, 0,
                                          timer == SESSION_TIMER_READY_DELAY ? on_ready_timer : on_timer,
                                          timer == SESSION_TIMER_READY_DELAY ? (void *) p : (void *) s);
}

static void driver_changed(Session *s) {
        SessionIO *sio = s->userdata;
        Executor *x = sio->executor;

        /* Finished: every process is gone, so the slice may go too, and the caller's stdio of a
         * target that never ran is given back now, not when the session leaves the bus (a reader
         * at the other end of a pipe waits for its EOF). */
        if (s->state == SESSION_FINISHED) {
                session_io_close_stdio(sio);
                if (sio->slice_made) {
                        scope_backend_slice_free(x->backend, sio->slice);
                        sio->slice_made = false;
                }
        }

        if (x->changed)
                x->changed(s, x->userdata);
}

static void driver_process_free(Session *s, Process *p) {
        ProcessIO *io = p->driver_data;
        Executor *x = process_executor(p);

        if (!io)
                return;
        process_io_forget_pid(x, p);
        if (io->lingering)
                LIST_REMOVE(lingering, x->lingering, io);
        if (x->tty_holder == p)
                x->tty_holder = NULL;
        if (x->stray_owner == p)
                x->stray_owner = NULL;
        io->gate_fd = safe_close(io->gate_fd);
        process_io_close_report(io);
        io->notify_source = sd_event_source_disable_unref(io->notify_source);
        io->notify_fd = safe_close(io->notify_fd);
        io->ready_timer = sd_event_source_disable_unref(io->ready_timer);
        io->pidfd_source = sd_event_source_disable_unref(io->pidfd_source);
        io->pidfd = safe_close(io->pidfd);
        io->empty_source = sd_event_source_disable_unref(io->empty_source);
        io->empty_watch_fd = safe_close(io->empty_watch_fd);
        scope_free(io->scope);
        free(io);
        p->driver_data = NULL;
}

static const SessionDriver executor_driver = {
        .spawn = driver_spawn,
        .release = driver_release,
        .signal = driver_signal,
        .set_timer = driver_set_timer,
        .changed = driver_changed,
        .process_free = driver_process_free,
};

/* Our children that no Process tracks and that are not in a tracked process group either. Needs
 * CONFIG_PROC_CHILDREN; without it there are none. */
static int executor_list_strays(Executor *x, pid_t **ret, size_t *ret_n) {
        _cleanup_free_ pid_t *children = NULL;
        char path[64];
        size_t n_children = 0, n = 0;
        int r;

        snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) getpid());
        r = read_pid_list(path, &children, &n_children);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;

        /* Filtered in place. */
        for (size_t i = 0; i < n_children; i++) {
                pid_t pid = children[i], pgid;

                if (executor_find_pid(x, pid))
                        continue;
                /* An orphan still in a tracked process's group gets that group's signals already. */
                pgid = getpgid(pid);
                if (pgid > 0 && x->stray_owner && session_find_process_by_pid(x->stray_owner->session, pgid))
                        continue;
                children[n++] = pid;
        }
        *ret = TAKE_PTR(children);
        *ret_n = n;
        return 0;
}

static bool executor_stray_was_signalled(Executor *x, pid_t pid) {
        for (size_t i = 0; i < x->n_strays_signalled; i++)
                if (x->strays_signalled[i] == pid)
                        return true;
        return false;
}

/* Sends `sig` to every stray, and to its group if it leads one. With `only_new`, skips the strays
 * that got a teardown signal already, so that a SIGTERM is not repeated at each one's exit. */
static void executor_signal_strays(Executor *x, int sig, bool only_new) {
        _cleanup_free_ pid_t *strays = NULL;
        size_t n;

        if (executor_list_strays(x, &strays, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                if (only_new && executor_stray_was_signalled(x, strays[i]))
                        continue;
                (void) kill(strays[i], sig);
                if (getpgid(strays[i]) == strays[i])
                        (void) kill(-strays[i], sig);
                log_debug("Sent SIG%s to stray process %d.", signal_abbrev(sig), (int) strays[i]);
                if (!executor_stray_was_signalled(x, strays[i])) {
                        pid_t *grown = reallocarray(x->strays_signalled, x->n_strays_signalled + 1, sizeof(pid_t));
                        if (grown) {
                                x->strays_signalled = grown;
                                x->strays_signalled[x->n_strays_signalled++] = strays[i];
                        }
                }
        }
}

/* Nothing of `p` is left: its process group is empty, and for the owner of strays, no stray is. */
static bool executor_process_is_empty(Executor *x, Process *p) {
        _cleanup_free_ pid_t *strays = NULL;
        ProcessIO *io = p->driver_data;
        size_t n = 0;

        if (io->scope && !scope_is_empty(io->scope))
                return false;
        if (p != x->stray_owner)
                return true;
        if (executor_list_strays(x, &strays, &n) < 0)
                return true;
        return n == 0;
}

static void executor_take_terminal(Executor *x) {
        if (x->tty_fd >= 0 && tcsetpgrp(x->tty_fd, getpgrp()) < 0)
                log_debug_errno(errno, "Failed to take the terminal back, ignoring: %m");
}

/* The target was stopped by job control (Ctrl-Z, or reading the terminal in the background): do
 * what a shell expects of a job, stop ourselves with the terminal back in our hands, and when we are
 * continued hand it over again and continue the target. */
static void executor_target_stopped(Executor *x, Process *p) {
        sigset_t tstp;

        if (getpid() == 1)
                return; /* no job control above PID 1 */

        executor_take_terminal(x);
        sigemptyset(&tstp);
        sigaddset(&tstp, SIGTSTP);
        (void) kill(getpid(), SIGTSTP);
        (void) sigprocmask(SIG_UNBLOCK, &tstp, NULL); /* stops here until SIGCONT */
        (void) sigprocmask(SIG_BLOCK, &tstp, NULL);

        if (tcsetpgrp(x->tty_fd, p->pid) < 0)
                log_debug_errno(errno, "Failed to give the terminal back to the target, ignoring: %m");
        (void) kill(-p->pid, SIGCONT);
}

static void executor_process_exited(Executor *x, Process *p, const siginfo_t *si, const struct rusage *ru) {
        ProcessIO *io = p->driver_data;
        bool empty;

        io->cpu_exited_usec = (uint64_t) (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * USEC_PER_SEC +
                              (uint64_t) (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec);

        if (x->tty_holder == p) {
                executor_take_terminal(x);
                x->tty_holder = NULL;
        }

        /* Its gate is of no use any more: a held child killed at it is gone. */
        io->gate_fd = safe_close(io->gate_fd);

        /* The exec report first: a child that failed to exec exits at once, and that exit must not
         * be mistaken for the program's own. */
        process_io_drain_report(p);
        process_io_close_report(io);

        empty = executor_process_is_empty(x, p);
        if (!empty) {
                io->lingering = true;
                LIST_PREPEND(lingering, x->lingering, io);
        }
        p->exit_usec = now_usec(CLOCK_MONOTONIC);
        executor_dispatch(p->session, &(SessionEvent) {
                .type = SESSION_EVENT_EXITED,
                .process = p,
                .code = si->si_code,
                .status = si->si_status,
                .empty = empty,
        });
}

/* Collects every child that changed state. Exits are only acted on once all zombies are gone, so
 * that a process group that is empty also looks empty. */
static int on_sigchld(sd_event_source *source, const struct signalfd_siginfo *ssi, void *userdata) {
        Executor *x = userdata;
        _cleanup_free_ struct { Process *process; siginfo_t si; struct rusage ru; } *exits = NULL;
        size_t n_exits = 0, n_allocated = 0;
        ProcessIO *io, *next;

        for (;;) {
                siginfo_t si = { 0 };
                struct rusage ru = { 0 };
                Process *p;

                /* The raw system call takes a struct rusage, which the libc wrapper does not: the
                 * CPU time a process used comes with its exit. */
                if (syscall(SYS_waitid, P_ALL, 0, &si, WEXITED | WNOHANG | (x->tty_fd >= 0 ? WSTOPPED : 0), &ru) < 0) {
                        if (errno != ECHILD)
                                log_warning_errno(errno, "waitid() failed, ignoring: %m");
                        break;
                }
                if (si.si_pid == 0)
                        break;

                p = executor_find_pid(x, si.si_pid);
                if (si.si_code == CLD_STOPPED) {
                        if (p && p == x->tty_holder && IN_SET(si.si_status, SIGTSTP, SIGTTIN, SIGTTOU))
                                executor_target_stopped(x, p);
                        continue;
                }
                if (!IN_SET(si.si_code, CLD_EXITED, CLD_KILLED, CLD_DUMPED))
                        continue;
                if (!p) {
                        log_debug("Reaped orphan %d.", (int) si.si_pid);
                        continue;
                }

                /* Reaped: the pid may be reused from now on, so forget it at once. */
                process_io_forget_pid(x, p);
                if (n_exits >= n_allocated) {
                        __typeof__(exits) grown = reallocarray(exits, MAX(n_allocated * 2, 8u), sizeof(*exits));
                        if (!grown) {
                                log_oom();
                                /* Cannot defer it: act on it now, emptiness may be seen late. */
                                executor_process_exited(x, p, &si, &ru);
                                continue;
                        }
                        exits = grown;
                        n_allocated = MAX(n_allocated * 2, 8u);
                }
                exits[n_exits].process = p;
                exits[n_exits].ru = ru;
                exits[n_exits++].si = si;
        }

        for (size_t i = 0; i < n_exits; i++)
                executor_process_exited(x, exits[i].process, &exits[i].si, &exits[i].ru);

        /* Strays that appeared since the teardown reached the target get what it got. */
        if (x->stray_owner && x->stray_owner->sent_signal != 0)
                executor_signal_strays(x, x->stray_owner->sent_signal, true);

        LIST_FOREACH_SAFE(lingering, io, next, x->lingering)
                if (executor_process_is_empty(x, io->process)) {
                        io->lingering = false;
                        LIST_REMOVE(lingering, x->lingering, io);
                        executor_dispatch(io->process->session,
                                          &(SessionEvent) { .type = SESSION_EVENT_EMPTY, .process = io->process });
                }
        return 0;
}

int executor_new(Executor **ret, sd_event *event, ExecutorChangedFn changed, void *userdata) {
        _cleanup_(executor_freep) Executor *x = NULL;
        sigset_t mask;
        int r;

        x = new0(Executor, 1);
        if (!x)
                return -ENOMEM;
        x->event = sd_event_ref(event);
        x->changed = changed;
        x->userdata = userdata;
        x->tty_fd = -EBADF;
        x->null_fd = -EBADF;

        /* Opened once, not per supporter, so that a running daemon's fds stay what they are. */
        x->null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (x->null_fd < 0)
                return negative_errno();

        r = scope_backend_new_direct(&x->backend);
        if (r < 0)
                return r;
        x->own_backend = true;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();
        r = sd_event_add_signal(event, &x->sigchld_source, SIGCHLD, on_sigchld, x);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(x);
        return 0;
}

Executor *executor_free(Executor *x) {
        if (!x)
                return NULL;
        assert(x->n_sessions == 0);
        sd_event_source_disable_unref(x->sigchld_source);
        tdestroy(x->processes_by_pid, free_nothing);
        if (x->own_backend)
                scope_backend_free(x->backend);
        safe_close(x->null_fd);
        free(x->strays_signalled);
        sd_event_unref(x->event);
        free(x);
        return NULL;
}

int executor_add_session(Executor *x, const char *id, SessionSpec *spec, Session **ret) {
        SessionIO *sio;
        int r;

        sio = new0(SessionIO, 1);
        if (!sio) {
                session_spec_free(spec);
                return -ENOMEM;
        }
        *sio = (SessionIO) { .executor = x, .stdio = { -EBADF, -EBADF, -EBADF } };
        if (asprintf(&sio->slice, "profd-%s.slice", id) < 0) {
                free(sio);
                session_spec_free(spec);
                return -ENOMEM;
        }

        r = session_new(ret, id, spec, &executor_driver, sio);
        if (r < 0) {
                free(sio->slice);
                free(sio);
                return r;
        }
        x->n_sessions++;
        return 0;
}

Session *executor_remove_session(Session *s) {
        SessionIO *sio;

        if (!s)
                return NULL;
        sio = s->userdata;
        for (SessionTimer t = 0; t < _SESSION_TIMER_MAX; t++)
                sd_event_source_disable_unref(sio->timers[t]);
        session_free(s);
        if (sio->slice_made)
                scope_backend_slice_free(sio->executor->backend, sio->slice);
        session_io_close_stdio(sio);
        sio->executor->n_sessions--;
        free(sio->slice);
        free(sio->groups);
        free(sio->output_directory);
        free(sio);
        return NULL;
}

void executor_session_set_stdio(Session *s, int stdin_fd, int stdout_fd, int stderr_fd) {
        SessionIO *sio = s->userdata;

        sio->stdio[0] = stdin_fd;
        sio->stdio[1] = stdout_fd;
        sio->stdio[2] = stderr_fd;
}

void executor_session_take_stdio(Session *s, int fds[3]) {
        SessionIO *sio = s->userdata;

        for (int i = 0; i < 3; i++) {
                safe_close(sio->stdio[i]);
                sio->stdio[i] = fds[i];
                fds[i] = -EBADF;
        }
        sio->own_stdio = true;
}

int executor_session_set_credentials(Session *s, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups) {
        SessionIO *sio = s->userdata;
        gid_t *copy = NULL;

        if (n_groups > 0) {
                copy = reallocarray(NULL, n_groups, sizeof(gid_t));
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, groups, n_groups * sizeof(gid_t));
        }
        free(sio->groups);
        sio->groups = copy;
        sio->n_groups = n_groups;
        sio->uid = uid;
        sio->gid = gid;
        sio->set_credentials = true;
        return 0;
}

int executor_session_set_output_directory(Session *s, const char *path) {
        SessionIO *sio = s->userdata;
        char *copy;

        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        free(sio->output_directory);
        sio->output_directory = copy;
        return 0;
}

void executor_process_accounting(Process *p, uint64_t *ret_cpu_usec, uint64_t *ret_memory_bytes) {
        ProcessIO *io = p->driver_data;
        uint64_t cpu = UINT64_MAX, memory = UINT64_MAX;

        if (io && io->scope && !process_is_gone(p))
                scope_accounting(io->scope, &cpu, &memory);
        if (io && p->state == PROCESS_EXITED)
                cpu = cpu == UINT64_MAX ? io->cpu_exited_usec : cpu + io->cpu_exited_usec;
        *ret_cpu_usec = cpu;
        *ret_memory_bytes = memory;
}

const char *executor_process_unit(const Process *p) {
        const ProcessIO *io = p->driver_data;

        return io && io->scope ? io->scope->unit : NULL;
}

const char *executor_session_slice(const Session *s) {
        const SessionIO *sio = s->userdata;

        return sio->executor->backend->type == SCOPE_BACKEND_SYSTEMD ? sio->slice : NULL;
}

void executor_set_scope_backend(Executor *x, ScopeBackend *backend) {
        assert(x->n_sessions == 0);
        if (x->own_backend)
                scope_backend_free(x->backend);
        x->backend = backend;
        x->own_backend = false;
}

void executor_set_gate_helper(Executor *x, const char *path) {
        x->gate_helper = path;
}

void executor_set_terminal(Executor *x, int tty_fd) {
        x->tty_fd = tty_fd;
}

int executor_forward_signal(Session *s, int sig) {
        Process *t = session_target(s);

        if (!t->released || process_is_gone(t))
                return -ESRCH;
        return driver_signal(s, t, sig);
}

void executor_adopt_strays(Session *s) {
        ((SessionIO *) s->userdata)->executor->stray_owner = session_target(s);
}

/* Re-adoption. The scope's emptiness, for a process that is not our child: cgroup.events says
 * "populated 0" (cgroup v2, or the unified hierarchy of a hybrid setup), and inotify tells when it
 * changes. Without that file, a timer looks now and then: only adopted sessions pay for it. */
#define ADOPTED_EMPTY_POLL_USEC (250 * USEC_PER_MSEC)

static void adopted_check_empty(Process *p) {
        ProcessIO *io = p->driver_data;

        if (p->state != PROCESS_EXITED || p->empty || !scope_is_empty(io->scope))
                return;
        io->empty_source = sd_event_source_disable_unref(io->empty_source);
        io->empty_watch_fd = safe_close(io->empty_watch_fd);
        executor_dispatch(p->session, &(SessionEvent) { .type = SESSION_EVENT_EMPTY, .process = p });
}

static int on_adopted_cgroup_event(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        uint8_t buf[4096];

        while (read(fd, buf, sizeof(buf)) > 0)
                ;
        adopted_check_empty(userdata);
        return 0;
}

static int on_adopted_empty_poll(sd_event_source *source, uint64_t usec, void *userdata) {
        Process *p = userdata;
        int r;

        adopted_check_empty(p);
        if (p->driver_data && ((ProcessIO *) p->driver_data)->empty_source == source) {
                r = sd_event_source_set_time_relative(source, ADOPTED_EMPTY_POLL_USEC);
                if (r >= 0)
                        r = sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
                if (r < 0)
                        log_warning_errno(r, "Session %s: cannot watch %s any more: %m", p->session->id, p->name);
        }
        return 0;
}

static int adopted_watch_empty(Process *p) {
        ProcessIO *io = p->driver_data;
        Executor *x = process_executor(p);
        _cleanup_free_ char *events = NULL;
        _cleanup_close_ int fd = -EBADF;
        const char *slash;

        if (io->empty_source)
                return 0;
        slash = io->scope->cgroup_procs ? strrchr(io->scope->cgroup_procs, '/') : NULL;
        if (slash && asprintf(&events, "%.*s/cgroup.events", (int) (slash - io->scope->cgroup_procs),
                              io->scope->cgroup_procs) < 0)
                return -ENOMEM;
        if (events && access(events, F_OK) >= 0) {
                fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
                if (fd >= 0 && inotify_add_watch(fd, events, IN_MODIFY) >= 0 &&
                    sd_event_add_io(x->event, &io->empty_source, fd, EPOLLIN, on_adopted_cgroup_event, p) >= 0) {
                        io->empty_watch_fd = TAKE_FD(fd);
                        return 0;
                }
        }
        return sd_event_add_time_relative(x->event, &io->empty_source, CLOCK_MONOTONIC, ADOPTED_EMPTY_POLL_USEC, 0,
                                          on_adopted_empty_poll, p);
}

int executor_adopted_gone(Process *p) {
        ProcessIO *io = p->driver_data;
        bool empty = scope_is_empty(io->scope);
        int r = 0;

        /* Its exit is known already (from the record): only its scope is left to empty. */
        if (p->state == PROCESS_EXITED) {
                if (empty) {
                        adopted_check_empty(p);
                        return 0;
                }
                return adopted_watch_empty(p);
        }

        p->exit_usec = now_usec(CLOCK_MONOTONIC);
        if (!empty) {
                r = adopted_watch_empty(p);
                if (r < 0)
                        log_warning_errno(r, "Session %s: cannot watch the scope of %s: %m", p->session->id, p->name);
        }
        /* Not our child: how it ended went to whoever reaped it. */
        executor_dispatch(p->session, &(SessionEvent) {
                .type = SESSION_EVENT_EXITED, .process = p, .code = 0, .empty = empty });
        return r;
}

static int on_adopted_exit(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Process *p = userdata;
        ProcessIO *io = p->driver_data;

        io->pidfd_source = sd_event_source_disable_unref(io->pidfd_source);
        io->pidfd = safe_close(io->pidfd);
        (void) executor_adopted_gone(p);
        return 0;
}

int executor_adopt_process(Process *p, const char *cgroup, uint64_t start_time) {
        SessionIO *sio = p->session->userdata;
        Executor *x = sio->executor;
        _cleanup_free_ char *unit = NULL;
        _cleanup_close_ int pidfd = -EBADF;
        ProcessIO *io;
        uint64_t now_start;
        int r;

        assert(!p->driver_data);
        io = p->driver_data = new0(ProcessIO, 1);
        if (!io)
                return -ENOMEM;
        *io = PROCESS_IO_INIT(p);

        if (x->backend->type == SCOPE_BACKEND_SYSTEMD) {
                sio->slice_made = true;
                if (asprintf(&unit, "profd-%s-%s.scope", p->session->id, p->name) < 0)
                        return -ENOMEM;
        }
        r = scope_new(&io->scope, x->backend, unit, sio->slice, p->pid, NULL, NULL);
        if (r < 0)
                return r;
        io->scope->placed = true;
        io->scope->foreign = true;
        p->placed = true;

        /* Still the same process? A pidfd pins it; its start time, read after, tells it from a
         * process that got the pid since. */
        if (p->pid > 0) {
                pidfd = (int) syscall(SYS_pidfd_open, p->pid, 0);
                if (pidfd >= 0 && (pid_get_start_time(p->pid, &now_start) < 0 ||
                                   (start_time != 0 && now_start != start_time)))
                        pidfd = safe_close(pidfd);
        }
        if (pidfd >= 0)
                (void) scope_discover_cgroup(io->scope);
        if (!io->scope->cgroup_procs && cgroup) {
                if (asprintf(&io->scope->cgroup_procs, "%s/cgroup.procs", cgroup) < 0)
                        return -ENOMEM;
        }

        if (pidfd < 0)
                return 0; /* gone: the caller reports it exited, how unknown */
        r = sd_event_add_io(x->event, &io->pidfd_source, pidfd, EPOLLIN, on_adopted_exit, p);
        if (r < 0)
                return r;
        io->pidfd = TAKE_FD(pidfd);
        return 1;
}

const char *executor_process_cgroup(const Process *p) {
        const ProcessIO *io = p->driver_data;

        return io && io->scope ? io->scope->cgroup_procs : NULL;
}
