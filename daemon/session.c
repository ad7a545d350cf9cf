/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "session.h"
#include "strv.h"

static const char * const session_state_table[_SESSION_STATE_MAX] = {
        [SESSION_QUEUED] = "queued",
        [SESSION_STARTING] = "starting",
        [SESSION_RUNNING] = "running",
        [SESSION_PAUSED] = "paused",
        [SESSION_STOPPING_SUPPORTERS] = "stopping-supporters",
        [SESSION_STOPPING_TARGET] = "stopping-target",
        [SESSION_FINISHED] = "finished",
};
DEFINE_STRING_TABLE_LOOKUP(session_state, SessionState, _SESSION_STATE_MAX);

static const char * const session_result_table[_SESSION_RESULT_MAX] = {
        [SESSION_RESULT_NONE] = "",
        [SESSION_RESULT_SUCCESS] = "success",
        [SESSION_RESULT_TARGET_FAILED] = "target-failed",
        [SESSION_RESULT_SUPPORTER_FAILED] = "supporter-failed",
        [SESSION_RESULT_EXEC_FAILED] = "exec-failed",
        [SESSION_RESULT_TIMEOUT] = "timeout",
        [SESSION_RESULT_KILLED] = "killed",
        [SESSION_RESULT_STOPPED] = "stopped",
        [SESSION_RESULT_DEPENDENCY] = "dependency",
        [SESSION_RESULT_UNKNOWN] = "unknown",
};
DEFINE_STRING_TABLE_LOOKUP(session_result, SessionResult, _SESSION_RESULT_MAX);

static const char * const stop_cause_table[_STOP_CAUSE_MAX] = {
        [STOP_CAUSE_NONE] = "none",
        [STOP_CAUSE_TARGET_EXITED] = "target-exited",
        [STOP_CAUSE_SUPPORTER_EXITED] = "supporter-exited",
        [STOP_CAUSE_EXEC_FAILED] = "exec-failed",
        [STOP_CAUSE_REQUEST] = "request",
        [STOP_CAUSE_WATCHDOG] = "watchdog",
        [STOP_CAUSE_DEPENDENCY] = "dependency",
};
DEFINE_STRING_TABLE_LOOKUP(stop_cause, StopCause, _STOP_CAUSE_MAX);

static const char * const process_role_table[_PROCESS_ROLE_MAX] = {
        [PROCESS_TARGET] = "target",
        [PROCESS_SUPPORTER] = "supporter",
};
DEFINE_STRING_TABLE_LOOKUP(process_role, ProcessRole, _PROCESS_ROLE_MAX);

static const char * const process_state_table[_PROCESS_STATE_MAX] = {
        [PROCESS_PENDING] = "pending",
        [PROCESS_HELD] = "held",
        [PROCESS_STARTING] = "starting",
        [PROCESS_RUNNING] = "running",
        [PROCESS_STOPPING] = "stopping",
        [PROCESS_EXITED] = "exited",
};
DEFINE_STRING_TABLE_LOOKUP(process_state, ProcessState, _PROCESS_STATE_MAX);

static Process *process_free(Session *s, Process *p) {
        if (!p)
                return NULL;
        if (s->driver->process_free)
                s->driver->process_free(s, p);
        free(p->name);
        strv_free(p->argv);
        free(p);
        return NULL;
}

static int session_add_process(Session *s, ProcessRole role, const char *name, ReadyMode ready_mode,
                               usec_t ready_delay) {
        Process *p, **grown;

        grown = reallocarray(s->processes, s->n_processes + 1, sizeof(Process *));
        if (!grown)
                return -ENOMEM;
        s->processes = grown;

        p = new0(Process, 1);
        if (!p)
                return -ENOMEM;
        *p = (Process) {
                .session = s,
                .role = role,
                .name = strdup(name),
                .ready_mode = ready_mode,
                .ready_delay = ready_delay,
                .state = PROCESS_PENDING,
        };
        if (!p->name) {
                free(p);
                return -ENOMEM;
        }
        s->processes[s->n_processes++] = p;
        return 0;
}

int session_new(Session **ret, const char *id, SessionSpec *spec, const SessionDriver *driver, void *userdata) {
        _cleanup_(session_spec_freep) SessionSpec *owned_spec = spec;
        _cleanup_(session_freep) Session *s = NULL;
        int r;

        assert(ret);
        assert(spec);
        assert(driver && driver->spawn && driver->release && driver->signal && driver->set_timer);

        s = new0(Session, 1);
        if (!s)
                return -ENOMEM;
        s->driver = driver;
        s->userdata = userdata;
        s->state = SESSION_QUEUED;
        s->id = strdup(id);
        if (!s->id)
                return -ENOMEM;
        s->spec = TAKE_PTR(owned_spec);

        r = session_add_process(s, PROCESS_TARGET, "target", READY_EXEC, 0);
        if (r < 0)
                return r;
        r = strv_copy(s->spec->target, &session_target(s)->argv);
        if (r < 0)
                return r;

        /* Supporters get their argv at spawn time, when {pid} is known. */
        for (size_t i = 0; i < s->spec->n_supporters; i++) {
                const SupporterSpec *sup = &s->spec->supporters[i];

                r = session_add_process(s, PROCESS_SUPPORTER, sup->name, sup->ready, sup->ready_delay);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(s);
        return 0;
}

Session *session_free(Session *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_processes; i++)
                process_free(s, s->processes[i]);
        free(s->processes);
        session_spec_free(s->spec);
        free(s->id);
        free(s);
        return NULL;
}

Process *session_find_process_by_pid(const Session *s, pid_t pid) {
        for (size_t i = 0; i < s->n_processes; i++)
                if (s->processes[i]->pid == pid && pid > 0)
                        return s->processes[i];
        return NULL;
}

size_t session_process_index(const Session *s, const Process *p) {
        for (size_t i = 0; i < s->n_processes; i++)
                if (s->processes[i] == p)
                        return i;
        assert(false);
        return SIZE_MAX;
}

Process *session_find_process_by_name(const Session *s, const char *name) {
        for (size_t i = 0; i < s->n_processes; i++)
                if (streq(s->processes[i]->name, name))
                        return s->processes[i];
        return NULL;
}

bool process_is_gone(const Process *p) {
        return p->state == PROCESS_PENDING || (p->state == PROCESS_EXITED && p->empty);
}

static bool process_ended_by_sent_signal(const Process *p) {
        if (p->sent_signal == 0)
                return false;
        if (p->exit_code == CLD_EXITED)
                return p->exit_status == 128 + p->sent_signal; /* a shell's way of dying of it */
        return p->exit_status == p->sent_signal;
}

/* It ended by itself, and how cannot be known: it was not our child when it did. */
static bool process_end_unknown(const Process *p) {
        return p->state == PROCESS_EXITED && p->exit_unknown && p->sent_signal == 0;
}

bool process_failed(const Process *p) {
        if (!p->released || p->state != PROCESS_EXITED || p->exec_error != 0 || p->exit_unknown)
                return false;
        if (p->exit_code == CLD_EXITED && p->exit_status == 0)
                return false;
        return !process_ended_by_sent_signal(p);
}

int session_exit_status(const Session *s) {
        const Process *t = session_target(s);

        if (t->exec_done && t->state == PROCESS_EXITED && t->exit_unknown)
                return -1;
        if (t->exec_done && t->state == PROCESS_EXITED)
                return t->exit_code == CLD_EXITED ? t->exit_status : 128 + t->exit_status;

        /* The target never ran. Say why, as a shell would for a command it could not run. */
        for (size_t i = 0; i < s->n_processes; i++)
                if (s->processes[i]->exec_error != 0)
                        return s->processes[i]->exec_error == ENOENT ? 127 : 126;
        return 128 + SIGTERM; /* stopped before it was released */
}

static const char *start_stage_to_what(StartStage stage) {
        static const char * const table[_START_STAGE_MAX] = {
                [START_STAGE_EXEC] = "",
                [START_STAGE_SCOPE] = "systemd did not make its scope: ",
                [START_STAGE_SETUP] = "cannot set up its standard I/O: ",
                [START_STAGE_CREDENTIALS] = "cannot take on its owner's credentials: ",
                [START_STAGE_CHDIR] = "cannot enter its working directory: ",
        };
        return stage >= 0 && stage < _START_STAGE_MAX ? table[stage] : "";
}

const char *process_format_end(const Process *p, char *buf, size_t size) {
        if (p->exec_error != 0)
                snprintf(buf, size, "failed to start: %s%s", start_stage_to_what(p->start_stage),
                         strerror(p->exec_error));
        else if (!p->released)
                snprintf(buf, size, "never started");
        else if (p->state != PROCESS_EXITED)
                snprintf(buf, size, "%s", process_state_to_string(p->state));
        else if (p->exit_unknown)
                snprintf(buf, size, "exited, status unknown (profd was restarted)");
        else if (p->exit_code == CLD_EXITED)
                snprintf(buf, size, "exited %d", p->exit_status);
        else
                snprintf(buf, size, "%s SIG%s%s", p->exit_code == CLD_DUMPED ? "dumped core," : "killed by",
                         signal_abbrev(p->exit_status),
                         !p->killed || p->exit_status != SIGKILL ? "" : p->kill_requested ? " (requested)" : " (escalated)");
        return buf;
}

static SessionResult session_compute_result(const Session *s) {
        bool killed = false, supporter_failed = false, unknown = false;

        if (s->stop_cause == STOP_CAUSE_DEPENDENCY)
                return SESSION_RESULT_DEPENDENCY;

        for (size_t i = 0; i < s->n_processes; i++) {
                const Process *p = s->processes[i];

                if (p->exec_error != 0)
                        return SESSION_RESULT_EXEC_FAILED;
                killed = killed || p->killed;
                supporter_failed = supporter_failed || (p->role == PROCESS_SUPPORTER && process_failed(p));
                unknown = unknown || process_end_unknown(p);
        }

        /* The most telling way the session ended wins; each process keeps its own status. */
        if (s->stop_cause == STOP_CAUSE_WATCHDOG)
                return SESSION_RESULT_TIMEOUT;
        if (killed)
                return SESSION_RESULT_KILLED;
        if (s->stop_cause == STOP_CAUSE_REQUEST)
                return SESSION_RESULT_STOPPED;
        if (process_failed(session_target(s)))
                return SESSION_RESULT_TARGET_FAILED;
        if (supporter_failed)
                return SESSION_RESULT_SUPPORTER_FAILED;
        /* Success is not invented for what ended unseen. */
        if (unknown)
                return SESSION_RESULT_UNKNOWN;
        return SESSION_RESULT_SUCCESS;
}

static bool session_is_active(const Session *s) {
        return IN_SET(s->state, SESSION_STARTING, SESSION_RUNNING, SESSION_PAUSED);
}

static void session_disarm(Session *s, SessionTimer timer, Process *p) {
        /* Disarming cannot meaningfully fail. */
        (void) s->driver->set_timer(s, timer, p, USEC_INFINITY);
}

static int session_enter_finished(Session *s) {
        session_disarm(s, SESSION_TIMER_STOP, NULL);
        session_disarm(s, SESSION_TIMER_MAX_DURATION, NULL);
        s->result = session_compute_result(s);
        s->state = SESSION_FINISHED;
        return 0;
}

/* Asks `p` to go: SIGTERM to everything of it. A process still held at its gate never ran any code
 * of its own, so it is simply killed, which counts as nothing. */
static void session_terminate_process(Session *s, Process *p) {
        if (process_is_gone(p))
                return;
        if (!p->released) {
                /* Also when its own start failed (its scope refused, say): it waits at the gate
                 * until told otherwise. */
                (void) s->driver->signal(s, p, SIGKILL);
                return;
        }
        if (p->exec_error != 0)
                return; /* released, it failed to exec and is exiting by itself */
        (void) s->driver->signal(s, p, SIGTERM);
        if (s->paused_on_stop)
                (void) s->driver->signal(s, p, SIGCONT);
        p->sent_signal = SIGTERM;
        if (p->state != PROCESS_EXITED)
                p->state = PROCESS_STOPPING;
}

static int session_arm_stop_timer(Session *s) {
        return s->driver->set_timer(s, SESSION_TIMER_STOP, NULL, s->spec->stop_timeout);
}

static int session_enter_stopping_target(Session *s) {
        Process *t = session_target(s);

        s->state = SESSION_STOPPING_TARGET;
        session_disarm(s, SESSION_TIMER_STOP, NULL);
        if (process_is_gone(t))
                return session_enter_finished(s);
        session_terminate_process(s, t);
        return session_arm_stop_timer(s);
}

static bool session_supporters_gone(const Session *s) {
        for (size_t i = 1; i < s->n_processes; i++)
                if (!process_is_gone(s->processes[i]))
                        return false;
        return true;
}

/* Moves the teardown on once the current stage has nothing left. */
static int session_check_progress(Session *s) {
        if (s->state == SESSION_STOPPING_SUPPORTERS && session_supporters_gone(s))
                return session_enter_stopping_target(s);
        if (s->state == SESSION_STOPPING_TARGET && process_is_gone(session_target(s)))
                return session_enter_finished(s);
        return 0;
}

static int session_begin_stop(Session *s, StopCause cause) {
        if (s->state == SESSION_QUEUED) {
                /* Never started: nothing to tear down. */
                s->stop_cause = cause;
                return session_enter_finished(s);
        }
        if (!session_is_active(s))
                return 0;

        if (s->stop_cause == STOP_CAUSE_NONE)
                s->stop_cause = cause;
        s->paused_on_stop = s->state == SESSION_PAUSED;
        session_disarm(s, SESSION_TIMER_MAX_DURATION, NULL);
        for (size_t i = 0; i < s->n_processes; i++)
                if (s->processes[i]->ready_mode == READY_DELAY)
                        session_disarm(s, SESSION_TIMER_READY_DELAY, s->processes[i]);

        s->state = SESSION_STOPPING_SUPPORTERS;
        for (size_t i = 1; i < s->n_processes; i++)
                session_terminate_process(s, s->processes[i]);
        if (session_supporters_gone(s))
                return session_enter_stopping_target(s);
        return session_arm_stop_timer(s);
}

/* The grace of the current stage is over: SIGKILL what is left of it. */
static int session_kill_stage(Session *s) {
        size_t from, to;

        if (s->state == SESSION_STOPPING_SUPPORTERS)
                from = 1, to = s->n_processes;
        else if (s->state == SESSION_STOPPING_TARGET)
                from = 0, to = 1;
        else
                return 0;

        session_disarm(s, SESSION_TIMER_STOP, NULL);
        for (size_t i = from; i < to; i++) {
                Process *p = s->processes[i];

                if (process_is_gone(p))
                        continue;
                (void) s->driver->signal(s, p, SIGKILL);
                if (!p->released)
                        continue; /* never ran: its death is not a kill */
                p->sent_signal = SIGKILL;
                p->killed = true;
        }
        return 0;
}

/* The gate opens: `p` may execve(). A failure here is a failure to start it. */
static int session_release_process(Session *s, Process *p) {
        int r;

        r = s->driver->release(s, p);
        if (r < 0) {
                p->exec_error = -r;
                return session_begin_stop(s, STOP_CAUSE_EXEC_FAILED);
        }
        p->released = true;
        p->state = PROCESS_STARTING;
        return 0;
}

/* The target runs only once it is in its scope and every supporter is ready, so the profilers see
 * it from its first instruction. */
static int session_maybe_release_target(Session *s) {
        Process *t = session_target(s);
        int r;

        if (s->state != SESSION_STARTING || t->state != PROCESS_HELD || !t->placed)
                return 0;
        for (size_t i = 1; i < s->n_processes; i++)
                if (s->processes[i]->state != PROCESS_RUNNING)
                        return 0;

        r = session_release_process(s, t);
        if (r < 0)
                return r;
        if (s->state == SESSION_STARTING)
                s->state = SESSION_RUNNING;
        return 0;
}

static int session_process_placed(Session *s, Process *p) {
        if (!p->placed || p->state != PROCESS_HELD)
                return 0;
        if (!session_is_active(s)) {
                session_terminate_process(s, p);
                return 0;
        }
        if (p->role == PROCESS_SUPPORTER)
                return session_release_process(s, p);
        return session_maybe_release_target(s);
}

/* Supporter `i` (a process index) may start: every name it Requires is provided by a supporter
 * that is ready already. */
static bool session_requirements_met(const Session *s, size_t i) {
        const SupporterSpec *spec = &s->spec->supporters[i - 1];

        for (char * const *req = spec->requires; req && *req; req++) {
                bool met = false;

                for (size_t j = 1; j < s->n_processes && !met; j++)
                        met = j != i && s->processes[j]->state == PROCESS_RUNNING &&
                              strv_contains(s->spec->supporters[j - 1].provides, *req);
                if (!met)
                        return false;
        }
        return true;
}

static int session_spawn_supporter(Session *s, Process *p);

/* Starts the supporters that were waiting for what has just become ready. */
static int session_spawn_unblocked(Session *s) {
        int r;

        for (size_t i = 1; i < s->n_processes && session_is_active(s); i++) {
                Process *p = s->processes[i];

                if (p->state != PROCESS_PENDING || !session_requirements_met(s, i))
                        continue;
                r = session_spawn_supporter(s, p);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int session_check_ready(Session *s, Process *p) {
        int r;

        if (p->state != PROCESS_STARTING || !p->exec_done || !p->ready)
                return 0;
        p->state = PROCESS_RUNNING;
        if (p->role == PROCESS_SUPPORTER) {
                r = session_spawn_unblocked(s);
                if (r < 0 || !session_is_active(s))
                        return r;
        }
        return session_maybe_release_target(s);
}

static int session_process_exec(Session *s, Process *p, int error, StartStage stage) {
        if (p->exec_done || p->exec_error != 0)
                return 0; /* reported already */
        if (error != 0) {
                /* Also before release: the child failed to set itself up at the gate. */
                p->exec_error = error;
                p->start_stage = stage;
                return session_begin_stop(s, STOP_CAUSE_EXEC_FAILED);
        }
        if (!p->released)
                return 0; /* the report pipe closed because a held child died: not an exec */

        p->exec_done = true;
        if (p->role == PROCESS_TARGET || p->ready_mode == READY_EXEC)
                p->ready = true;
        else if (p->ready_mode == READY_DELAY && p->state == PROCESS_STARTING) {
                int r = s->driver->set_timer(s, SESSION_TIMER_READY_DELAY, p, p->ready_delay);
                if (r < 0)
                        return r;
        }
        return session_check_ready(s, p);
}

static int session_spawn(Session *s, Process *p) {
        int r;

        r = s->driver->spawn(s, p);
        if (r < 0) {
                p->exec_error = -r;
                return session_begin_stop(s, STOP_CAUSE_EXEC_FAILED);
        }
        p->state = PROCESS_HELD;
        return session_process_placed(s, p);
}

static int session_enter_starting(Session *s) {
        Process *t = session_target(s);
        int r;

        s->state = SESSION_STARTING;
        if (s->spec->max_duration != USEC_INFINITY) {
                r = s->driver->set_timer(s, SESSION_TIMER_MAX_DURATION, NULL, s->spec->max_duration);
                if (r < 0)
                        return r;
        }

        /* The target first, held, so that supporters can be given its pid. */
        r = session_spawn(s, t);
        if (r < 0 || s->state != SESSION_STARTING)
                return r;

        /* Supporters that Require something wait until its provider is ready. */
        for (size_t i = 1; i < s->n_processes && s->state == SESSION_STARTING; i++) {
                if (!session_requirements_met(s, i))
                        continue;
                r = session_spawn_supporter(s, s->processes[i]);
                if (r < 0)
                        return r;
        }
        return session_maybe_release_target(s);
}

/* A supporter's argv gets the target's pid now that the target exists. */
static int session_spawn_supporter(Session *s, Process *p) {
        size_t i = session_process_index(s, p);
        int r;

        if (!p->argv) {
                r = argv_substitute_pid(s->spec->supporters[i - 1].argv, session_target(s)->pid, &p->argv);
                if (r < 0)
                        return r;
        }
        return session_spawn(s, p);
}

static int session_process_exited(Session *s, Process *p, int code, int status, bool empty) {
        if (p->state == PROCESS_EXITED || p->state == PROCESS_PENDING)
                return 0;

        p->exit_unknown = code == 0;
        p->exit_code = code == 0 ? CLD_EXITED : code;
        p->exit_status = code == 0 ? 0 : status;
        p->state = PROCESS_EXITED;
        p->empty = empty;
        if (p->ready_mode == READY_DELAY)
                session_disarm(s, SESSION_TIMER_READY_DELAY, p);

        if (session_is_active(s))
                return session_begin_stop(s, p->role == PROCESS_TARGET ? STOP_CAUSE_TARGET_EXITED
                                                                        : STOP_CAUSE_SUPPORTER_EXITED);
        return session_check_progress(s);
}

static int session_set_paused(Session *s, bool pause) {
        if (s->state != (pause ? SESSION_RUNNING : SESSION_PAUSED))
                return -EBUSY;
        for (size_t i = 0; i < s->n_processes; i++) {
                Process *p = s->processes[i];

                if (p->released && !process_is_gone(p))
                        (void) s->driver->signal(s, p, pause ? SIGSTOP : SIGCONT);
        }
        s->state = pause ? SESSION_PAUSED : SESSION_RUNNING;
        return 0;
}

/* A signal someone asked for. SIGKILL counts as the teardown's own would: the process did not fail,
 * it was killed, and the result says so. -ESRCH when there is nothing of `p` to signal. */
static int session_kill_process(Session *s, Process *p, int sig) {
        int r;

        if (!p->released || process_is_gone(p))
                return -ESRCH;
        r = s->driver->signal(s, p, sig);
        if (r < 0)
                return r;
        if (sig == SIGKILL) {
                p->sent_signal = SIGKILL;
                p->killed = p->kill_requested = true;
        }
        return 0;
}

static int session_timer_elapsed(Session *s, SessionTimer timer, Process *p) {
        switch (timer) {
        case SESSION_TIMER_STOP:
                return session_kill_stage(s);
        case SESSION_TIMER_MAX_DURATION:
                return session_begin_stop(s, STOP_CAUSE_WATCHDOG);
        case SESSION_TIMER_READY_DELAY:
                p->ready = true;
                return session_check_ready(s, p);
        default:
                assert(false);
                return -EINVAL;
        }
}

int session_adopt(Session *s, SessionState state, StopCause cause, usec_t max_duration_left) {
        int r = 0;

        assert(s->state == SESSION_QUEUED);

        switch (state) {
        case SESSION_QUEUED:
                return 0;
        case SESSION_STARTING:
                /* Its held processes lost their gates with the old daemon: it cannot go on starting. */
                s->state = SESSION_STARTING;
                r = session_begin_stop(s, STOP_CAUSE_REQUEST);
                break;
        case SESSION_RUNNING:
        case SESSION_PAUSED:
                s->state = state;
                if (max_duration_left == 0)
                        r = session_begin_stop(s, STOP_CAUSE_WATCHDOG);
                else if (max_duration_left != USEC_INFINITY)
                        r = s->driver->set_timer(s, SESSION_TIMER_MAX_DURATION, NULL, max_duration_left);
                break;
        case SESSION_STOPPING_SUPPORTERS:
        case SESSION_STOPPING_TARGET:
                s->state = state;
                s->stop_cause = cause == STOP_CAUSE_NONE ? STOP_CAUSE_REQUEST : cause;
                r = session_arm_stop_timer(s);
                if (r >= 0)
                        r = session_check_progress(s);
                break;
        default:
                return -EINVAL;
        }

        if (r >= 0 && s->driver->changed)
                s->driver->changed(s);
        return r;
}

int session_add_supporter(Session *s, SupporterSpec *sup) {
        const SupporterSpec *added;
        Process *p;
        int r;

        if (!IN_SET(s->state, SESSION_STARTING, SESSION_RUNNING))
                return -EBUSY;

        r = session_spec_add_supporter_spec(s->spec, sup);
        if (r < 0)
                return r;
        added = &s->spec->supporters[s->spec->n_supporters - 1];
        r = session_add_process(s, PROCESS_SUPPORTER, added->name, added->ready, added->ready_delay);
        if (r < 0) {
                /* Keep the spec and the processes in step: drop what was appended. */
                supporter_spec_done(&s->spec->supporters[--s->spec->n_supporters]);
                return r;
        }
        p = s->processes[s->n_processes - 1];
        /* Like the others, it waits for what it Requires. */
        r = session_requirements_met(s, s->n_processes - 1) ? session_spawn_supporter(s, p) : 0;
        if (s->driver->changed)
                s->driver->changed(s);
        return r;
}

int session_dispatch(Session *s, const SessionEvent *e) {
        Process *p = e->process;
        int r;

        assert(s);
        assert(e);
        assert(!p || p->session == s);

        if (s->state == SESSION_FINISHED)
                return e->type == SESSION_EVENT_STOP ? 0 : -EBUSY;

        switch (e->type) {
        case SESSION_EVENT_START:
                r = s->state == SESSION_QUEUED ? session_enter_starting(s) : -EBUSY;
                break;
        case SESSION_EVENT_PLACED:
                p->placed = true;
                r = session_process_placed(s, p);
                break;
        case SESSION_EVENT_EXEC:
                r = session_process_exec(s, p, e->error, e->stage);
                break;
        case SESSION_EVENT_READY:
                /* Only a notify supporter's READY=1 counts; it may arrive before we saw the exec. */
                if (p->ready_mode != READY_NOTIFY || p->role != PROCESS_SUPPORTER)
                        return 0;
                p->ready = true;
                r = session_check_ready(s, p);
                break;
        case SESSION_EVENT_EXITED:
                r = session_process_exited(s, p, e->code, e->status, e->empty);
                break;
        case SESSION_EVENT_EMPTY:
                p->empty = true;
                r = session_check_progress(s);
                break;
        case SESSION_EVENT_STOP:
                r = session_begin_stop(s, e->cause);
                break;
        case SESSION_EVENT_ESCALATE:
                r = session_begin_stop(s, STOP_CAUSE_REQUEST);
                if (r >= 0)
                        r = session_kill_stage(s);
                break;
        case SESSION_EVENT_TIMER:
                r = session_timer_elapsed(s, e->timer, p);
                break;
        case SESSION_EVENT_PAUSE:
        case SESSION_EVENT_RESUME:
                r = session_set_paused(s, e->type == SESSION_EVENT_PAUSE);
                break;
        case SESSION_EVENT_KILL:
                r = session_kill_process(s, p, e->signal);
                if (r < 0)
                        return r; /* nothing changed */
                break;
        default:
                assert(false);
                return -EINVAL;
        }

        if (r >= 0 && s->driver->changed)
                s->driver->changed(s);
        return r;
}
