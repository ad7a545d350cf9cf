/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "scope.h"
#include "session.h"

/* The Executor puts sessions on an sd-event loop: it is the SessionDriver that forks through
 * spawn.c, watches the exec reports, the notify sockets and the timers, and owns SIGCHLD. It is the
 * only place that reaps: every child of this process, orphans of a subreaper included, is collected
 * here and routed to its Process by pid. Placement is direct: the process group made at fork is the
 * process's "scope", and a process is gone once its group is empty. */

typedef struct Executor Executor;

/* Called after every change of a session. It may read the session but must not free it: free
 * finished sessions from a later event (a defer source) or after the loop ends. */
typedef void (*ExecutorChangedFn)(Session *s, void *userdata);

int executor_new(Executor **ret, sd_event *event, ExecutorChangedFn changed, void *userdata);
Executor *executor_free(Executor *x);
DEFINE_TRIVIAL_CLEANUP_FUNC(Executor *, executor_free);

/* A new session in state queued; start it with SESSION_EVENT_START. Takes `spec`. */
int executor_add_session(Executor *x, const char *id, SessionSpec *spec, Session **ret);
/* Frees a session; its processes must be gone (the session finished or never started). */
Session *executor_remove_session(Session *s);

/* Standard I/O for the session's target (-1 inherits). The fds are borrowed: keep them open until
 * the target has been released. */
void executor_session_set_stdio(Session *s, int stdin_fd, int stdout_fd, int stderr_fd);

/* Like executor_session_set_stdio(), but the session takes the fds (the array is reset to -EBADF)
 * and closes them once the target is forked. */
void executor_session_take_stdio(Session *s, int fds[3]);

/* Run every process of the session as this user, with these groups. */
int executor_session_set_credentials(Session *s, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups);

/* Supporters start in this directory and write their output to "<name>.log" in it. */
int executor_session_set_output_directory(Session *s, const char *path);

/* Where processes go. The default is the direct backend (process groups); `backend` is borrowed
 * and must outlive the executor. Only before the first session. */
void executor_set_scope_backend(Executor *x, ScopeBackend *backend);

/* CPU time so far (what the scope holds now plus what the reaped main pid used) and current memory
 * of `p`; UINT64_MAX where unknown. */
void executor_process_accounting(Process *p, uint64_t *ret_cpu_usec, uint64_t *ret_memory_bytes);
/* The systemd unit of `p`, or of the session; NULL with the direct backend. */
const char *executor_process_unit(const Process *p);
const char *executor_session_slice(const Session *s);

/* Start processes through this gate helper (spawn.c) instead of fork(): for a daemon, whose
 * address space is too large to fork cheaply. The string must outlive the executor. */
void executor_set_gate_helper(Executor *x, const char *path);

/* A terminal the caller has in the foreground: the target gets it while it runs, and profd takes it
 * back when the target stops (Ctrl-Z) or ends. */
void executor_set_terminal(Executor *x, int tty_fd);

/* Sends `sig` to the target's process group when it runs; -ESRCH when there is nothing to send to. */
int executor_forward_signal(Session *s, int sig);

/* Children of this process that no session tracks (orphans that left their process group, with
 * setsid() say) belong to `s`: they count as part of its target, get its teardown signals, and the
 * target is not gone while any remains. Only right when `s` is the only session: `profd run`. */
void executor_adopt_strays(Session *s);

/* Re-adoption after a restart of the daemon. `p` (of a session from executor_add_session(), filled
 * in from its record) was started by an earlier profd: it gets its scope back (systemd's unit
 * profd-<id>-<name>.scope, or its process group) and is watched through a pidfd, since it is not
 * our child. `cgroup` is the directory the record names, used when the main pid is gone. Returns 1
 * when p->pid is still the process that started at `start_time` (0: not known), 0 when it is gone:
 * then call executor_adopted_gone() once the session is adopted. */
int executor_adopt_process(Process *p, const char *cgroup, uint64_t start_time);
/* Reports an adopted process whose main pid is gone: exited, status unknown; its scope is watched
 * until it is empty (a failure to watch is logged and returned, the exit is reported anyway). For
 * one the record says had exited already, only its scope's emptiness is reported or watched. */
int executor_adopted_gone(Process *p);

/* ".../cgroup.procs" of the scope of `p`, when known. */
const char *executor_process_cgroup(const Process *p);
