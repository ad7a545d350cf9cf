/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "spec.h"
#include "time-util.h"

/* The session state machine (DESIGN.md, "The session state machine"). It is pure: it never forks,
 * signals, reads a clock or touches a file descriptor. Everything it wants done goes through a
 * SessionDriver, and everything that happens comes back in through session_dispatch(), the one
 * place where transitions are made. That is what lets the unit tests drive every transition
 * without a single process. */

typedef struct Session Session;
typedef struct Process Process;

typedef enum SessionState {
        SESSION_QUEUED,
        SESSION_STARTING,
        SESSION_RUNNING,
        SESSION_PAUSED,
        SESSION_STOPPING_SUPPORTERS,
        SESSION_STOPPING_TARGET,
        SESSION_FINISHED,
        _SESSION_STATE_MAX,
        _SESSION_STATE_INVALID = -EINVAL,
} SessionState;

typedef enum SessionResult {
        SESSION_RESULT_NONE,            /* not finished yet: "" on the bus */
        SESSION_RESULT_SUCCESS,
        SESSION_RESULT_TARGET_FAILED,
        SESSION_RESULT_SUPPORTER_FAILED,
        SESSION_RESULT_EXEC_FAILED,
        SESSION_RESULT_TIMEOUT,
        SESSION_RESULT_KILLED,
        SESSION_RESULT_STOPPED,
        SESSION_RESULT_DEPENDENCY,      /* never started: an AfterSuccess session did not succeed */
        SESSION_RESULT_UNKNOWN,         /* ended on its own while profd was not watching (re-adopted) */
        _SESSION_RESULT_MAX,
        _SESSION_RESULT_INVALID = -EINVAL,
} SessionResult;

/* Why the ordered teardown began; the first cause wins. */
typedef enum StopCause {
        STOP_CAUSE_NONE,
        STOP_CAUSE_TARGET_EXITED,
        STOP_CAUSE_SUPPORTER_EXITED,
        STOP_CAUSE_EXEC_FAILED,
        STOP_CAUSE_REQUEST,             /* Stop(), or a signal to `profd run` */
        STOP_CAUSE_WATCHDOG,            /* MaxDurationUSec elapsed */
        STOP_CAUSE_DEPENDENCY,          /* queued, and an AfterSuccess session did not succeed */
        _STOP_CAUSE_MAX,
        _STOP_CAUSE_INVALID = -EINVAL,
} StopCause;

typedef enum ProcessRole {
        PROCESS_TARGET,
        PROCESS_SUPPORTER,
        _PROCESS_ROLE_MAX,
        _PROCESS_ROLE_INVALID = -EINVAL,
} ProcessRole;

typedef enum ProcessState {
        PROCESS_PENDING,        /* not forked */
        PROCESS_HELD,           /* forked, waiting at the gate before execve() */
        PROCESS_STARTING,       /* released: execve() or readiness outstanding */
        PROCESS_RUNNING,        /* executing and ready */
        PROCESS_STOPPING,       /* a teardown signal was sent */
        PROCESS_EXITED,         /* the main pid is gone (its group may still hold others) */
        _PROCESS_STATE_MAX,
        _PROCESS_STATE_INVALID = -EINVAL,
} ProcessState;

/* Which step of starting a process failed, for the message that says so. */
typedef enum StartStage {
        START_STAGE_EXEC,               /* execve(), or a step not told apart */
        START_STAGE_SCOPE,              /* its scope was not made */
        START_STAGE_SETUP,              /* its standard I/O and fds */
        START_STAGE_CREDENTIALS,        /* taking on its owner's uid and groups */
        START_STAGE_CHDIR,              /* entering its working directory */
        _START_STAGE_MAX,
} StartStage;

typedef enum SessionTimer {
        SESSION_TIMER_STOP,             /* grace of the current teardown stage */
        SESSION_TIMER_MAX_DURATION,     /* the watchdog */
        SESSION_TIMER_READY_DELAY,      /* per process: readiness "delay:MS" */
        _SESSION_TIMER_MAX,
} SessionTimer;

struct Process {
        Session *session;
        ProcessRole role;
        char *name;
        char **argv;                    /* for supporters, after {pid} substitution */
        ReadyMode ready_mode;
        usec_t ready_delay;

        ProcessState state;
        pid_t pid;
        bool placed;                    /* in its scope; the driver may set this inside spawn() */
        bool released;                  /* the gate was opened */
        bool exec_done;                 /* execve() succeeded */
        bool ready;
        bool empty;                     /* nothing left in its scope / process group */
        int exec_error;                 /* positive errno when it could not be started */
        StartStage start_stage;         /* ... and at which step */
        int exit_code;                  /* CLD_EXITED, CLD_KILLED or CLD_DUMPED; 0 while alive */
        int exit_status;                /* exit status or signal number */
        int sent_signal;                /* last teardown signal sent: 0, SIGTERM or SIGKILL */
        bool killed;                    /* SIGKILL was needed */
        bool kill_requested;            /* ... because Kill() asked for it, not the stop timer */
        bool exit_unknown;              /* it exited, but not as our child: no status (re-adopted) */

        usec_t start_usec, exit_usec;   /* CLOCK_MONOTONIC, kept by the driver */
        uint64_t pid_start_time;        /* of pid, in clock ticks after boot, kept by the daemon
                                         * for re-adoption; 0: not read */
        void *driver_data;              /* owned by the driver */
};

typedef struct SessionDriver {
        /* Fork `p` held at its gate and set p->pid. May set p->placed when placement is
         * synchronous; otherwise SESSION_EVENT_PLACED follows. */
        int (*spawn)(Session *s, Process *p);
        /* Open the gate: `p` runs execve(). The outcome comes back as SESSION_EVENT_EXEC. */
        int (*release)(Session *s, Process *p);
        /* Send `sig` to everything of `p` (its process group or scope). */
        int (*signal)(Session *s, Process *p, int sig);
        /* Arm a one-shot timer `usec` from now, or disarm it with USEC_INFINITY. `p` is set for
         * per-process timers only. */
        int (*set_timer)(Session *s, SessionTimer timer, Process *p, usec_t usec);
        /* The state, the result or a process changed. Must not call back into the session. */
        void (*changed)(Session *s);
        /* Free p->driver_data; called by session_free(). Optional. */
        void (*process_free)(Session *s, Process *p);
} SessionDriver;

typedef enum SessionEventType {
        SESSION_EVENT_START,            /* admitted: fork and start */
        SESSION_EVENT_PLACED,           /* .process is in its scope */
        SESSION_EVENT_EXEC,             /* .process execve() done; .error is a positive errno on
                                         * failure, .stage the step that failed */
        SESSION_EVENT_READY,            /* .process sent READY=1 */
        SESSION_EVENT_EXITED,           /* .process main pid reaped: .code (CLD_*), .status, and
                                         * .empty if nothing else of it is left; .code 0 when the
                                         * pid is gone but its status cannot be known (re-adopted) */
        SESSION_EVENT_EMPTY,            /* nothing of .process is left */
        SESSION_EVENT_STOP,             /* begin the ordered teardown with .cause */
        SESSION_EVENT_ESCALATE,         /* skip the grace: SIGKILL the current stage now */
        SESSION_EVENT_TIMER,            /* .timer elapsed (.process for per-process timers) */
        SESSION_EVENT_PAUSE,
        SESSION_EVENT_RESUME,
        SESSION_EVENT_KILL,             /* send .signal to .process on request (Kill()) */
        _SESSION_EVENT_MAX,
} SessionEventType;

typedef struct SessionEvent {
        SessionEventType type;
        Process *process;
        int error;
        StartStage stage;
        int code;
        int status;
        bool empty;
        StopCause cause;
        SessionTimer timer;
        int signal;
} SessionEvent;

struct Session {
        char *id;
        SessionSpec *spec;
        SessionState state;
        SessionResult result;
        StopCause stop_cause;
        bool paused_on_stop;            /* SIGCONT follows SIGTERM when the teardown began paused */

        Process **processes;            /* [0] is the target, then the supporters */
        size_t n_processes;

        const SessionDriver *driver;
        void *userdata;
};

/* Takes ownership of `spec` (also on failure). */
int session_new(Session **ret, const char *id, SessionSpec *spec, const SessionDriver *driver, void *userdata);
Session *session_free(Session *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Session *, session_free);

/* The one entry point of every transition. Returns 0, or -EBUSY when the event is not allowed in
 * the current state (a request to pause a finished session, say), or an error of the driver that
 * could not be turned into a session outcome. */
int session_dispatch(Session *s, const SessionEvent *e);

/* Re-adoption after a daemon restart: `s` is fresh from session_new() and its processes have been
 * given what the record says (state, pid, released, exec_done, ready, exit, sent_signal). Puts the
 * session in `state` with `cause`, re-arms the timers that state has (the stop timer in full; the
 * watchdog with `max_duration_left`) and moves on what the restart missed: a session that was still
 * starting is stopped, since its gates died with the old daemon. -EINVAL for a state that cannot
 * be adopted. */
int session_adopt(Session *s, SessionState state, StopCause cause, usec_t max_duration_left);

/* Adds a supporter to a starting or running session and starts it; -EBUSY in any other state.
 * Takes the members of `sup` on success. */
int session_add_supporter(Session *s, SupporterSpec *sup);

static inline Process *session_target(const Session *s) {
        return s->processes[0];
}

Process *session_find_process_by_pid(const Session *s, pid_t pid);
Process *session_find_process_by_name(const Session *s, const char *name);
/* The position of `p` in s->processes; supporter i is spec->supporters[i - 1]. */
size_t session_process_index(const Session *s, const Process *p) _pure_;

/* Nothing of it is left running: never forked, or exited with an empty scope. */
bool process_is_gone(const Process *p) _pure_;
/* It ended unsuccessfully on its own: not 0, and not the teardown signal we sent it. */
bool process_failed(const Process *p) _pure_;

/* How `p` ended, for people: "exited 0", "killed by SIGTERM", "killed by SIGKILL (escalated)",
 * "killed by SIGKILL (requested)", "dumped core, SIGSEGV", "failed to start: No such file or
 * directory", "failed to start: cannot enter its working directory: Permission denied", "never
 * started", "running". */
const char *process_format_end(const Process *p, char *buf, size_t size);
#define PROCESS_FORMAT_END_MAX 160

/* What `profd run` exits with: the target's status, 128+N for signal N, 127/126 when it could not
 * be executed (as a shell does), 127 when it never ran. */
int session_exit_status(const Session *s) _pure_;

const char *session_state_to_string(SessionState s) _const_;
SessionState session_state_from_string(const char *s) _pure_;
const char *session_result_to_string(SessionResult r) _const_;
SessionResult session_result_from_string(const char *s) _pure_;
const char *stop_cause_to_string(StopCause c) _const_;
StopCause stop_cause_from_string(const char *s) _pure_;
const char *process_role_to_string(ProcessRole r) _const_;
ProcessRole process_role_from_string(const char *s) _pure_;
const char *process_state_to_string(ProcessState s) _const_;
ProcessState process_state_from_string(const char *s) _pure_;
