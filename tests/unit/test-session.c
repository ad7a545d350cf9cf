/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every transition of the session state machine, driven without forking: a recording driver hands
 * out fake pids and writes down what the session asked for, and the tests feed events back. */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>

#include "session.h"
#include "strv.h"

typedef struct Recorder {
        char log[8192];
        pid_t next_pid;
        bool place_async;               /* report placement later, as the systemd backend will */
        int fail_spawn_of;              /* process index whose spawn fails, or -1 */
        usec_t timers[_SESSION_TIMER_MAX];
        unsigned n_changed;
} Recorder;

static void record(Recorder *r, const char *fmt, ...) _printf_(2, 3);
static void record(Recorder *r, const char *fmt, ...) {
        size_t n = strlen(r->log);
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(r->log + n, sizeof(r->log) - n, fmt, ap);
        va_end(ap);
        strncat(r->log, ";", sizeof(r->log) - strlen(r->log) - 1);
}

static int rec_spawn(Session *s, Process *p) {
        Recorder *r = s->userdata;

        if (r->fail_spawn_of >= 0 && s->processes[r->fail_spawn_of] == p) {
                record(r, "spawn-fail %s", p->name);
                return -EAGAIN;
        }
        p->pid = r->next_pid++;
        p->placed = !r->place_async;
        record(r, "spawn %s", p->name);
        return 0;
}

static int rec_release(Session *s, Process *p) {
        record(s->userdata, "release %s", p->name);
        return 0;
}

static int rec_signal(Session *s, Process *p, int sig) {
        record(s->userdata, "%s %s", signal_abbrev(sig), p->name);
        return 0;
}

static int rec_set_timer(Session *s, SessionTimer timer, Process *p, usec_t usec) {
        Recorder *r = s->userdata;
        static const char * const names[] = { "stop", "max", "delay" };

        if (timer != SESSION_TIMER_READY_DELAY)
                r->timers[timer] = usec;
        if (usec == USEC_INFINITY) {
                /* Disarming is routine; record only arming to keep logs readable. */
                return 0;
        }
        record(r, "timer %s%s%s %" PRIu64, names[timer], p ? " " : "", p ? p->name : "", usec / USEC_PER_MSEC);
        return 0;
}

static void rec_changed(Session *s) {
        ((Recorder *) s->userdata)->n_changed++;
}

static const SessionDriver recorder_driver = {
        .spawn = rec_spawn,
        .release = rec_release,
        .signal = rec_signal,
        .set_timer = rec_set_timer,
        .changed = rec_changed,
};

static Recorder rec;

/* A session with target "prog" and supporters given as "name:mode" (mode exec|notify|delay). */
static Session *make_session(const char *supporters[], size_t n) {
        SessionSpec *spec;
        Session *s;
        char cmd[128];

        memset(&rec, 0, sizeof(rec));
        rec.next_pid = 100;
        rec.fail_spawn_of = -1;

        ck_assert_int_eq(session_spec_new(&spec), 0);
        spec->target = calloc(3, sizeof(char *));
        spec->target[0] = strdup("prog");
        spec->target[1] = strdup("--flag");
        spec->stop_timeout = 5 * USEC_PER_SEC;
        for (size_t i = 0; i < n; i++) {
                const char *colon = strchr(supporters[i], ':');
                size_t l = colon ? (size_t) (colon - supporters[i]) : strlen(supporters[i]);

                snprintf(cmd, sizeof(cmd), "%.*s=tool -p {pid} --out x{pid}y", (int) l, supporters[i]);
                ck_assert_int_eq(session_spec_add_supporter(spec, cmd, NULL), 0);
                if (colon)
                        ck_assert_int_eq(ready_parse(colon + 1, &spec->supporters[i].ready,
                                                     &spec->supporters[i].ready_delay), 0);
        }
        ck_assert_int_eq(session_new(&s, "7", spec, &recorder_driver, &rec), 0);
        return s;
}

static int ev(Session *s, SessionEventType type, Process *p) {
        return session_dispatch(s, &(SessionEvent) { .type = type, .process = p });
}

static int exec_ok(Session *s, Process *p) {
        return ev(s, SESSION_EVENT_EXEC, p);
}

static int exited(Session *s, Process *p, int code, int status) {
        return session_dispatch(s, &(SessionEvent) {
                .type = SESSION_EVENT_EXITED, .process = p, .code = code, .status = status, .empty = true });
}

static int stop(Session *s) {
        return session_dispatch(s, &(SessionEvent) { .type = SESSION_EVENT_STOP, .cause = STOP_CAUSE_REQUEST });
}

static int timer(Session *s, SessionTimer t, Process *p) {
        return session_dispatch(s, &(SessionEvent) { .type = SESSION_EVENT_TIMER, .timer = t, .process = p });
}

#define P(s, i) ((s)->processes[i])
#define ck_assert_log(expected) ck_assert_str_eq(rec.log, expected)
#define clear_log() (rec.log[0] = '\0')

/* Runs the session from queued to running with all supporters ready by exec. */
static void bring_up(Session *s) {
        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        for (size_t i = 1; i < s->n_processes; i++)
                ck_assert_int_eq(exec_ok(s, P(s, i)), 0);
        ck_assert_int_eq(s->state, SESSION_RUNNING);
        ck_assert_int_eq(exec_ok(s, P(s, 0)), 0);
        clear_log();
}

START_TEST(test_gated_start_exec_ready) {
        const char *sup[] = { "perf", "strace" };
        Session *s = make_session(sup, 2);

        ck_assert_int_eq(s->state, SESSION_QUEUED);
        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        /* Target forked first and held; supporters released at once; target not yet. */
        ck_assert_log("spawn target;spawn perf;release perf;spawn strace;release strace;");
        ck_assert_int_eq(s->state, SESSION_STARTING);
        ck_assert_int_eq(P(s, 0)->state, PROCESS_HELD);

        /* {pid} became the target's pid, in every place. */
        ck_assert_str_eq(P(s, 1)->argv[2], "100");
        ck_assert_str_eq(P(s, 1)->argv[4], "x100y");

        clear_log();
        ck_assert_int_eq(exec_ok(s, P(s, 1)), 0);
        ck_assert_log("");
        ck_assert_int_eq(s->state, SESSION_STARTING);
        ck_assert_int_eq(exec_ok(s, P(s, 2)), 0);
        ck_assert_log("release target;");
        ck_assert_int_eq(s->state, SESSION_RUNNING);
        ck_assert_int_eq(P(s, 0)->state, PROCESS_STARTING);
        ck_assert_int_eq(exec_ok(s, P(s, 0)), 0);
        ck_assert_int_eq(P(s, 0)->state, PROCESS_RUNNING);
        ck_assert_uint_gt(rec.n_changed, 0);
        session_free(s);
}
END_TEST

START_TEST(test_no_supporters_releases_at_once) {
        Session *s = make_session(NULL, 0);

        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        ck_assert_log("spawn target;release target;");
        ck_assert_int_eq(s->state, SESSION_RUNNING);
        session_free(s);
}
END_TEST

START_TEST(test_notify_ready) {
        const char *sup[] = { "tracer:notify" };
        Session *s = make_session(sup, 1);

        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        ck_assert_int_eq(exec_ok(s, P(s, 1)), 0);
        ck_assert_int_eq(s->state, SESSION_STARTING);
        ck_assert_int_eq(P(s, 1)->state, PROCESS_STARTING);
        clear_log();
        ck_assert_int_eq(ev(s, SESSION_EVENT_READY, P(s, 1)), 0);
        ck_assert_log("release target;");
        ck_assert_int_eq(s->state, SESSION_RUNNING);
        session_free(s);
}
END_TEST

START_TEST(test_notify_before_exec_report) {
        /* READY=1 may be read before the exec report: it must not be lost. */
        const char *sup[] = { "tracer:notify" };
        Session *s = make_session(sup, 1);

        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        ck_assert_int_eq(ev(s, SESSION_EVENT_READY, P(s, 1)), 0);
        ck_assert_int_eq(s->state, SESSION_STARTING);
        clear_log();
        ck_assert_int_eq(exec_ok(s, P(s, 1)), 0);
        ck_assert_log("release target;");
        session_free(s);
}
END_TEST

START_TEST(test_ready_ignored_for_exec_mode) {
        const char *sup[] = { "a:exec", "b:notify" };
        Session *s = make_session(sup, 2);

        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        ck_assert_int_eq(exec_ok(s, P(s, 1)), 0);
        ck_assert_int_eq(exec_ok(s, P(s, 2)), 0);
        /* b has not said READY=1; a READY for the target or for a does not count for b. */
        ck_assert_int_eq(ev(s, SESSION_EVENT_READY, P(s, 0)), 0);
        ck_assert_int_eq(ev(s, SESSION_EVENT_READY, P(s, 1)), 0);
        ck_assert_int_eq(s->state, SESSION_STARTING);
        ck_assert_int_eq(ev(s, SESSION_EVENT_READY, P(s, 2)), 0);
        ck_assert_int_eq(s->state, SESSION_RUNNING);
        session_free(s);
}
END_TEST

START_TEST(test_delay_ready) {
        const char *sup[] = { "perf:delay:250" };
        Session *s = make_session(sup, 1);

        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        clear_log();
        ck_assert_int_eq(exec_ok(s, P(s, 1)), 0);
        ck_assert_log("timer delay perf 250;");
        ck_assert_int_eq(s->state, SESSION_STARTING);
        clear_log();
        ck_assert_int_eq(timer(s, SESSION_TIMER_READY_DELAY, P(s, 1)), 0);
        ck_assert_log("release target;");
        ck_assert_int_eq(s->state, SESSION_RUNNING);
        session_free(s);
}
END_TEST

START_TEST(test_async_placement) {
        /* With a backend that places asynchronously, nothing execs before it is in its scope. */
        const char *sup[] = { "perf" };
        Session *s = make_session(sup, 1);

        rec.place_async = true;
        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        ck_assert_log("spawn target;spawn perf;");
        clear_log();
        ck_assert_int_eq(ev(s, SESSION_EVENT_PLACED, P(s, 1)), 0);
        ck_assert_log("release perf;");
        ck_assert_int_eq(exec_ok(s, P(s, 1)), 0);
        ck_assert_int_eq(s->state, SESSION_STARTING);
        clear_log();
        ck_assert_int_eq(ev(s, SESSION_EVENT_PLACED, P(s, 0)), 0);
        ck_assert_log("release target;");
        ck_assert_int_eq(s->state, SESSION_RUNNING);
        session_free(s);
}
END_TEST

START_TEST(test_target_exit_tears_down_in_order) {
        const char *sup[] = { "perf", "strace" };
        Session *s = make_session(sup, 2);

        bring_up(s);
        ck_assert_int_eq(exited(s, P(s, 0), CLD_EXITED, 0), 0);
        /* The target is gone: only supporters are signalled, and the stage has its grace. */
        ck_assert_log("TERM perf;TERM strace;timer stop 5000;");
        ck_assert_int_eq(s->state, SESSION_STOPPING_SUPPORTERS);
        ck_assert_int_eq(s->stop_cause, STOP_CAUSE_TARGET_EXITED);
        ck_assert_int_eq(exited(s, P(s, 1), CLD_KILLED, SIGTERM), 0);
        ck_assert_int_eq(s->state, SESSION_STOPPING_SUPPORTERS);
        ck_assert_int_eq(exited(s, P(s, 2), CLD_EXITED, 128 + SIGTERM), 0);
        ck_assert_int_eq(s->state, SESSION_FINISHED);
        ck_assert_int_eq(s->result, SESSION_RESULT_SUCCESS);
        ck_assert_int_eq(session_exit_status(s), 0);
        ck_assert_uint_eq(rec.timers[SESSION_TIMER_STOP], USEC_INFINITY);
        session_free(s);
}
END_TEST

START_TEST(test_stop_request_order) {
        const char *sup[] = { "perf", "strace" };
        Session *s = make_session(sup, 2);

        bring_up(s);
        ck_assert_int_eq(stop(s), 0);
        ck_assert_log("TERM perf;TERM strace;timer stop 5000;");
        ck_assert_int_eq(s->state, SESSION_STOPPING_SUPPORTERS);
        clear_log();
        ck_assert_int_eq(exited(s, P(s, 1), CLD_KILLED, SIGTERM), 0);
        ck_assert_log("");
        ck_assert_int_eq(exited(s, P(s, 2), CLD_KILLED, SIGTERM), 0);
        /* Supporters gone: now, and only now, the target. */
        ck_assert_log("TERM target;timer stop 5000;");
        ck_assert_int_eq(s->state, SESSION_STOPPING_TARGET);
        ck_assert_int_eq(exited(s, P(s, 0), CLD_KILLED, SIGTERM), 0);
        ck_assert_int_eq(s->state, SESSION_FINISHED);
        ck_assert_int_eq(s->result, SESSION_RESULT_STOPPED);
        ck_assert_int_eq(session_exit_status(s), 128 + SIGTERM);
        /* A second Stop of a finished session is harmless. */
        ck_assert_int_eq(stop(s), 0);
        session_free(s);
}
END_TEST

START_TEST(test_lingering_group_holds_stage) {
        /* The target's main pid exits but its group still has members: the stage waits for them. */
        Session *s = make_session(NULL, 0);

        bring_up(s);
        ck_assert_int_eq(session_dispatch(s, &(SessionEvent) { .type = SESSION_EVENT_EXITED, .process = P(s, 0),
                                                                .code = CLD_EXITED, .status = 0 }), 0);
        ck_assert_int_eq(s->state, SESSION_STOPPING_TARGET);
        ck_assert_log("TERM target;timer stop 5000;");
        ck_assert_int_eq(ev(s, SESSION_EVENT_EMPTY, P(s, 0)), 0);
        ck_assert_int_eq(s->state, SESSION_FINISHED);
        ck_assert_int_eq(s->result, SESSION_RESULT_SUCCESS);
        session_free(s);
}
END_TEST

START_TEST(test_escalation_after_grace) {
        const char *sup[] = { "stubborn", "polite" };
        Session *s = make_session(sup, 2);

        bring_up(s);
        ck_assert_int_eq(stop(s), 0);
        ck_assert_int_eq(exited(s, P(s, 2), CLD_KILLED, SIGTERM), 0);
        clear_log();
        ck_assert_int_eq(timer(s, SESSION_TIMER_STOP, NULL), 0);
        /* Only what is left of the supporter stage; the target is untouched. */
        ck_assert_log("KILL stubborn;");
        ck_assert_int_eq(s->state, SESSION_STOPPING_SUPPORTERS);
        clear_log();
        ck_assert_int_eq(exited(s, P(s, 1), CLD_KILLED, SIGKILL), 0);
        ck_assert_log("TERM target;timer stop 5000;");
        ck_assert_int_eq(exited(s, P(s, 0), CLD_KILLED, SIGTERM), 0);
        ck_assert_int_eq(s->result, SESSION_RESULT_KILLED);
        ck_assert(P(s, 1)->killed);
        ck_assert(!P(s, 0)->killed);
        session_free(s);
}
END_TEST

START_TEST(test_escalate_request) {
        const char *sup[] = { "perf" };
        Session *s = make_session(sup, 1);

        bring_up(s);
        ck_assert_int_eq(stop(s), 0);
        clear_log();
        ck_assert_int_eq(ev(s, SESSION_EVENT_ESCALATE, NULL), 0);
        ck_assert_log("KILL perf;");
        ck_assert_int_eq(exited(s, P(s, 1), CLD_KILLED, SIGKILL), 0);
        /* The target's stage gets its own grace. */
        ck_assert_int_eq(s->state, SESSION_STOPPING_TARGET);
        clear_log();
        ck_assert_int_eq(ev(s, SESSION_EVENT_ESCALATE, NULL), 0);
        ck_assert_log("KILL target;");
        ck_assert_int_eq(exited(s, P(s, 0), CLD_KILLED, SIGKILL), 0);
        ck_assert_int_eq(s->result, SESSION_RESULT_KILLED);
        ck_assert_int_eq(session_exit_status(s), 128 + SIGKILL);
        session_free(s);
}
END_TEST

START_TEST(test_escalate_while_running) {
        Session *s = make_session(NULL, 0);

        bring_up(s);
        ck_assert_int_eq(ev(s, SESSION_EVENT_ESCALATE, NULL), 0);
        ck_assert_log("TERM target;timer stop 5000;KILL target;");
        session_free(s);
}
END_TEST

START_TEST(test_supporter_exit_ends_session) {
        const char *sup[] = { "perf", "strace" };
        Session *s = make_session(sup, 2);

        bring_up(s);
        ck_assert_int_eq(exited(s, P(s, 1), CLD_EXITED, 1), 0);
        ck_assert_int_eq(s->stop_cause, STOP_CAUSE_SUPPORTER_EXITED);
        ck_assert_log("TERM strace;timer stop 5000;");
        clear_log();
        ck_assert_int_eq(exited(s, P(s, 2), CLD_KILLED, SIGTERM), 0);
        ck_assert_log("TERM target;timer stop 5000;");
        ck_assert_int_eq(exited(s, P(s, 0), CLD_KILLED, SIGTERM), 0);
        ck_assert_int_eq(s->result, SESSION_RESULT_SUPPORTER_FAILED);
        ck_assert(process_failed(P(s, 1)));
        ck_assert(!process_failed(P(s, 2)));
        ck_assert(!process_failed(P(s, 0)));
        session_free(s);
}
END_TEST

START_TEST(test_supporter_clean_exit_is_success) {
        const char *sup[] = { "oneshot" };
        Session *s = make_session(sup, 1);

        bring_up(s);
        ck_assert_int_eq(exited(s, P(s, 1), CLD_EXITED, 0), 0);
        ck_assert_int_eq(exited(s, P(s, 0), CLD_KILLED, SIGTERM), 0);
        ck_assert_int_eq(s->result, SESSION_RESULT_SUCCESS);
        session_free(s);
}
END_TEST

START_TEST(test_target_failure) {
        const char *sup[] = { "perf" };
        Session *s = make_session(sup, 1);

        bring_up(s);
        ck_assert_int_eq(exited(s, P(s, 0), CLD_DUMPED, SIGSEGV), 0);
        ck_assert_int_eq(exited(s, P(s, 1), CLD_KILLED, SIGTERM), 0);
        ck_assert_int_eq(s->result, SESSION_RESULT_TARGET_FAILED);
        ck_assert_int_eq(session_exit_status(s), 128 + SIGSEGV);
        session_free(s);
}
END_TEST

START_TEST(test_target_exec_failure) {
        const char *sup[] = { "perf" };
        Session *s = make_session(sup, 1);

        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        ck_assert_int_eq(exec_ok(s, P(s, 1)), 0);
        clear_log();
        ck_assert_int_eq(session_dispatch(s, &(SessionEvent) { .type = SESSION_EVENT_EXEC, .process = P(s, 0), .error = ENOENT }), 0);
        ck_assert_int_eq(s->stop_cause, STOP_CAUSE_EXEC_FAILED);
        ck_assert_log("TERM perf;timer stop 5000;");
        ck_assert_int_eq(exited(s, P(s, 0), CLD_EXITED, 127), 0);
        ck_assert_int_eq(exited(s, P(s, 1), CLD_KILLED, SIGTERM), 0);
        ck_assert_int_eq(s->state, SESSION_FINISHED);
        ck_assert_int_eq(s->result, SESSION_RESULT_EXEC_FAILED);
        ck_assert_int_eq(session_exit_status(s), 127);
        session_free(s);
}
END_TEST

START_TEST(test_supporter_exec_failure_target_never_runs) {
        const char *sup[] = { "perf", "missing" };
        Session *s = make_session(sup, 2);

        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        ck_assert_int_eq(exec_ok(s, P(s, 1)), 0);
        clear_log();
        ck_assert_int_eq(session_dispatch(s, &(SessionEvent) { .type = SESSION_EVENT_EXEC, .process = P(s, 2), .error = EACCES }), 0);
        /* Not "missing": it failed to exec and is exiting by itself. */
        ck_assert_log("TERM perf;timer stop 5000;");
        ck_assert_int_eq(exited(s, P(s, 2), CLD_EXITED, 127), 0);
        clear_log();
        ck_assert_int_eq(exited(s, P(s, 1), CLD_KILLED, SIGTERM), 0);
        /* The held target is killed, never released, and nothing of it counts as killed. */
        ck_assert_log("KILL target;timer stop 5000;");
        ck_assert_int_eq(exited(s, P(s, 0), CLD_KILLED, SIGKILL), 0);
        ck_assert_int_eq(s->result, SESSION_RESULT_EXEC_FAILED);
        ck_assert(!P(s, 0)->released);
        ck_assert(!P(s, 0)->killed);
        ck_assert_int_eq(session_exit_status(s), 126);
        session_free(s);
}
END_TEST

START_TEST(test_scope_refused_while_held) {
        /* systemd refused a supporter's scope: it waits at its gate, so it is killed, not left
         * there (it would hold the session in stopping-supporters forever), and its end says
         * which step failed. */
        const char *sup[] = { "perf" };
        char buf[PROCESS_FORMAT_END_MAX];
        Session *s = make_session(sup, 1);

        rec.place_async = true;
        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        clear_log();
        ck_assert_int_eq(session_dispatch(s, &(SessionEvent) { .type = SESSION_EVENT_EXEC, .process = P(s, 1),
                                                               .error = EEXIST, .stage = START_STAGE_SCOPE }), 0);
        ck_assert_log("KILL perf;timer stop 5000;");
        ck_assert_int_eq(s->state, SESSION_STOPPING_SUPPORTERS);
        /* Its grace ends before it is reaped: SIGKILL again, and still not counted as a kill. */
        clear_log();
        ck_assert_int_eq(timer(s, SESSION_TIMER_STOP, NULL), 0);
        ck_assert_log("KILL perf;");
        ck_assert(!P(s, 1)->killed);
        clear_log();
        ck_assert_int_eq(exited(s, P(s, 1), CLD_KILLED, SIGKILL), 0);
        ck_assert_log("KILL target;timer stop 5000;");
        ck_assert_int_eq(exited(s, P(s, 0), CLD_KILLED, SIGKILL), 0);
        ck_assert_int_eq(s->state, SESSION_FINISHED);
        ck_assert_int_eq(s->result, SESSION_RESULT_EXEC_FAILED);
        ck_assert_str_eq(process_format_end(P(s, 1), buf, sizeof(buf)),
                         "failed to start: systemd did not make its scope: File exists");
        session_free(s);
}
END_TEST

START_TEST(test_spawn_failure) {
        const char *sup[] = { "perf" };
        Session *s = make_session(sup, 1);

        rec.fail_spawn_of = 1;
        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        ck_assert_log("spawn target;spawn-fail perf;KILL target;timer stop 5000;");
        ck_assert_int_eq(P(s, 1)->state, PROCESS_PENDING);
        ck_assert_int_eq(exited(s, P(s, 0), CLD_KILLED, SIGKILL), 0);
        ck_assert_int_eq(s->result, SESSION_RESULT_EXEC_FAILED);
        ck_assert_int_eq(P(s, 1)->exec_error, EAGAIN);
        session_free(s);
}
END_TEST

START_TEST(test_target_spawn_failure_finishes_at_once) {
        Session *s = make_session(NULL, 0);

        rec.fail_spawn_of = 0;
        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        ck_assert_int_eq(s->state, SESSION_FINISHED);
        ck_assert_int_eq(s->result, SESSION_RESULT_EXEC_FAILED);
        session_free(s);
}
END_TEST

START_TEST(test_stop_while_starting) {
        const char *sup[] = { "tracer:notify" };
        Session *s = make_session(sup, 1);

        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        ck_assert_int_eq(exec_ok(s, P(s, 1)), 0);
        clear_log();
        ck_assert_int_eq(stop(s), 0);
        ck_assert_log("TERM tracer;timer stop 5000;");
        /* A late READY=1 must not release the target any more. */
        ck_assert_int_eq(ev(s, SESSION_EVENT_READY, P(s, 1)), 0);
        ck_assert_log("TERM tracer;timer stop 5000;");
        ck_assert_int_eq(exited(s, P(s, 1), CLD_KILLED, SIGTERM), 0);
        ck_assert_log("TERM tracer;timer stop 5000;KILL target;timer stop 5000;");
        ck_assert_int_eq(exited(s, P(s, 0), CLD_KILLED, SIGKILL), 0);
        ck_assert_int_eq(s->result, SESSION_RESULT_STOPPED);
        ck_assert_int_eq(session_exit_status(s), 128 + SIGTERM);
        session_free(s);
}
END_TEST

START_TEST(test_stop_queued) {
        Session *s = make_session(NULL, 0);

        ck_assert_int_eq(stop(s), 0);
        ck_assert_log("");
        ck_assert_int_eq(s->state, SESSION_FINISHED);
        ck_assert_int_eq(s->result, SESSION_RESULT_STOPPED);
        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), -EBUSY);
        session_free(s);
}
END_TEST

START_TEST(test_watchdog) {
        const char *sup[] = { "perf" };
        Session *s;

        s = make_session(sup, 1);
        s->spec->max_duration = 2 * USEC_PER_SEC;
        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        ck_assert_str_eq(rec.log, "timer max 2000;spawn target;spawn perf;release perf;");
        ck_assert_int_eq(exec_ok(s, P(s, 1)), 0);
        clear_log();
        ck_assert_int_eq(timer(s, SESSION_TIMER_MAX_DURATION, NULL), 0);
        ck_assert_log("TERM perf;timer stop 5000;");
        ck_assert_int_eq(s->stop_cause, STOP_CAUSE_WATCHDOG);
        ck_assert_uint_eq(rec.timers[SESSION_TIMER_MAX_DURATION], USEC_INFINITY);
        ck_assert_int_eq(exited(s, P(s, 1), CLD_KILLED, SIGTERM), 0);
        ck_assert_int_eq(exited(s, P(s, 0), CLD_KILLED, SIGTERM), 0);
        ck_assert_int_eq(s->result, SESSION_RESULT_TIMEOUT);
        session_free(s);
}
END_TEST

START_TEST(test_pause_resume) {
        const char *sup[] = { "perf" };
        Session *s = make_session(sup, 1);

        ck_assert_int_eq(ev(s, SESSION_EVENT_PAUSE, NULL), -EBUSY); /* queued */
        bring_up(s);
        ck_assert_int_eq(ev(s, SESSION_EVENT_PAUSE, NULL), 0);
        ck_assert_int_eq(s->state, SESSION_PAUSED);
        ck_assert_log("STOP target;STOP perf;");
        ck_assert_int_eq(ev(s, SESSION_EVENT_PAUSE, NULL), -EBUSY);
        clear_log();
        ck_assert_int_eq(ev(s, SESSION_EVENT_RESUME, NULL), 0);
        ck_assert_log("CONT target;CONT perf;");
        ck_assert_int_eq(s->state, SESSION_RUNNING);
        ck_assert_int_eq(ev(s, SESSION_EVENT_RESUME, NULL), -EBUSY);
        session_free(s);
}
END_TEST

START_TEST(test_stop_while_paused_continues) {
        const char *sup[] = { "perf" };
        Session *s = make_session(sup, 1);

        bring_up(s);
        ck_assert_int_eq(ev(s, SESSION_EVENT_PAUSE, NULL), 0);
        clear_log();
        ck_assert_int_eq(stop(s), 0);
        /* A stopped process cannot act on SIGTERM until continued. */
        ck_assert_log("TERM perf;CONT perf;timer stop 5000;");
        clear_log();
        ck_assert_int_eq(exited(s, P(s, 1), CLD_KILLED, SIGTERM), 0);
        ck_assert_log("TERM target;CONT target;timer stop 5000;");
        session_free(s);
}
END_TEST

START_TEST(test_events_after_finish) {
        Session *s = make_session(NULL, 0);

        bring_up(s);
        ck_assert_int_eq(exited(s, P(s, 0), CLD_EXITED, 4), 0);
        ck_assert_int_eq(s->state, SESSION_FINISHED);
        ck_assert_int_eq(s->result, SESSION_RESULT_TARGET_FAILED);
        ck_assert_int_eq(session_exit_status(s), 4);
        ck_assert_int_eq(ev(s, SESSION_EVENT_PAUSE, NULL), -EBUSY);
        ck_assert_int_eq(ev(s, SESSION_EVENT_ESCALATE, NULL), -EBUSY);
        ck_assert_int_eq(timer(s, SESSION_TIMER_STOP, NULL), -EBUSY);
        session_free(s);
}
END_TEST

START_TEST(test_process_failed_rules) {
        Process p = { .released = true, .state = PROCESS_EXITED, .exit_code = CLD_EXITED };

        ck_assert(!process_failed(&p));
        p.exit_status = 1;
        ck_assert(process_failed(&p));
        /* After we sent SIGTERM: dying of it, or exiting 143 as a shell does, is not a failure. */
        p.sent_signal = SIGTERM;
        ck_assert(process_failed(&p));
        p.exit_status = 143;
        ck_assert(!process_failed(&p));
        p.exit_code = CLD_KILLED;
        p.exit_status = SIGTERM;
        ck_assert(!process_failed(&p));
        p.exit_status = SIGSEGV;
        ck_assert(process_failed(&p));
        p.exit_code = CLD_DUMPED;
        ck_assert(process_failed(&p));
        /* Not released, or could not exec: not a failure of its own. */
        p.released = false;
        ck_assert(!process_failed(&p));
        p.released = true;
        p.exec_error = ENOENT;
        ck_assert(!process_failed(&p));
}
END_TEST

START_TEST(test_format_end) {
        char buf[PROCESS_FORMAT_END_MAX];
        Process p = { .released = true, .exec_done = true, .state = PROCESS_EXITED, .exit_code = CLD_EXITED, .exit_status = 3 };

        ck_assert_str_eq(process_format_end(&p, buf, sizeof(buf)), "exited 3");
        p.exit_code = CLD_KILLED;
        p.exit_status = SIGTERM;
        ck_assert_str_eq(process_format_end(&p, buf, sizeof(buf)), "killed by SIGTERM");
        p.exit_status = SIGKILL;
        p.killed = true;
        ck_assert_str_eq(process_format_end(&p, buf, sizeof(buf)), "killed by SIGKILL (escalated)");
        p.exit_code = CLD_DUMPED;
        p.exit_status = SIGSEGV;
        ck_assert_str_eq(process_format_end(&p, buf, sizeof(buf)), "dumped core, SIGSEGV");
        p.state = PROCESS_RUNNING;
        ck_assert_str_eq(process_format_end(&p, buf, sizeof(buf)), "running");
        p.released = false;
        ck_assert_str_eq(process_format_end(&p, buf, sizeof(buf)), "never started");
        p.exec_error = ENOENT;
        ck_assert_str_eq(process_format_end(&p, buf, sizeof(buf)), "failed to start: No such file or directory");
        p.exec_error = EACCES;
        p.start_stage = START_STAGE_CHDIR;
        ck_assert_str_eq(process_format_end(&p, buf, sizeof(buf)),
                         "failed to start: cannot enter its working directory: Permission denied");
        p.start_stage = START_STAGE_CREDENTIALS;
        p.exec_error = EPERM;
        ck_assert_str_eq(process_format_end(&p, buf, sizeof(buf)),
                         "failed to start: cannot take on its owner's credentials: Operation not permitted");
}
END_TEST

START_TEST(test_string_tables) {
        for (SessionState i = 0; i < _SESSION_STATE_MAX; i++)
                ck_assert_int_eq(session_state_from_string(session_state_to_string(i)), i);
        for (SessionResult i = 0; i < _SESSION_RESULT_MAX; i++)
                ck_assert_int_eq(session_result_from_string(session_result_to_string(i)), i);
        ck_assert_str_eq(session_state_to_string(SESSION_STOPPING_SUPPORTERS), "stopping-supporters");
        ck_assert_str_eq(session_result_to_string(SESSION_RESULT_SUPPORTER_FAILED), "supporter-failed");
        ck_assert_str_eq(session_result_to_string(SESSION_RESULT_NONE), "");
        ck_assert_int_eq(session_state_from_string("bogus"), -EINVAL);
        ck_assert_ptr_null(session_state_to_string(_SESSION_STATE_MAX));
        ck_assert_int_eq(process_state_from_string("exited"), PROCESS_EXITED);
}
END_TEST

START_TEST(test_kill_request) {
        const char *sup[] = { "perf" };
        char buf[PROCESS_FORMAT_END_MAX];
        Session *s = make_session(sup, 1);

        /* Nothing to signal before the process runs. */
        ck_assert_int_eq(session_dispatch(s, &(SessionEvent) { .type = SESSION_EVENT_KILL, .process = P(s, 1),
                                                                .signal = SIGKILL }), -ESRCH);
        bring_up(s);
        clear_log();
        ck_assert_int_eq(session_dispatch(s, &(SessionEvent) { .type = SESSION_EVENT_KILL, .process = P(s, 0),
                                                                .signal = SIGUSR1 }), 0);
        ck_assert_log("USR1 target;");
        ck_assert(!P(s, 0)->killed);
        clear_log();
        ck_assert_int_eq(session_dispatch(s, &(SessionEvent) { .type = SESSION_EVENT_KILL, .process = P(s, 1),
                                                                .signal = SIGKILL }), 0);
        ck_assert_log("KILL perf;");
        /* Its death is the kill we sent, not a failure of its own, and it shows in the result. */
        ck_assert_int_eq(exited(s, P(s, 1), CLD_KILLED, SIGKILL), 0);
        ck_assert(!process_failed(P(s, 1)));
        ck_assert_str_eq(process_format_end(P(s, 1), buf, sizeof(buf)), "killed by SIGKILL (requested)");
        ck_assert_int_eq(exited(s, P(s, 0), CLD_KILLED, SIGTERM), 0);
        ck_assert_int_eq(s->result, SESSION_RESULT_KILLED);
        session_free(s);
}
END_TEST

static char **strv_of(const char *a) {
        char **l = calloc(2, sizeof(char *));
        l[0] = strdup(a);
        return l;
}

START_TEST(test_requires_provides_chain) {
        const char *sup[] = { "c", "b", "a" };
        Session *s = make_session(sup, 3);

        /* a provides x; b requires x and provides y; c requires y: the order is a, b, c, whatever the
         * order they were given in. */
        s->spec->supporters[2].provides = strv_of("x");
        s->spec->supporters[1].requires = strv_of("x");
        s->spec->supporters[1].provides = strv_of("y");
        s->spec->supporters[0].requires = strv_of("y");

        ck_assert_int_eq(ev(s, SESSION_EVENT_START, NULL), 0);
        ck_assert_log("spawn target;spawn a;release a;");
        clear_log();
        ck_assert_int_eq(exec_ok(s, P(s, 3)), 0);
        ck_assert_log("spawn b;release b;");
        clear_log();
        ck_assert_int_eq(exec_ok(s, P(s, 2)), 0);
        ck_assert_log("spawn c;release c;");
        clear_log();
        ck_assert_int_eq(P(s, 0)->state, PROCESS_HELD);
        ck_assert_int_eq(exec_ok(s, P(s, 1)), 0);
        ck_assert_log("release target;");
        ck_assert_int_eq(s->state, SESSION_RUNNING);
        /* {pid} was substituted for the late ones too. */
        ck_assert_str_eq(P(s, 1)->argv[2], "100");
        session_free(s);
}
END_TEST

START_TEST(test_requirements_checked) {
        SessionSpec *spec;
        char *message = NULL;

        ck_assert_int_eq(session_spec_new(&spec), 0);
        ck_assert_int_eq(session_spec_add_supporter(spec, "a=tool", NULL), 0);
        ck_assert_int_eq(session_spec_add_supporter(spec, "b=tool", NULL), 0);
        ck_assert_int_eq(session_spec_add_supporter(spec, "c=tool", NULL), 0);
        ck_assert_int_eq(session_spec_check_requirements(spec, &message), 0);

        spec->supporters[0].requires = strv_of("nothing");
        ck_assert_int_eq(session_spec_check_requirements(spec, &message), -EINVAL);
        ck_assert_str_eq(message, "Supporters[0].Requires: no other supporter provides 'nothing'");
        free(message);

        /* a -> b -> c -> a */
        strv_free(spec->supporters[0].requires);
        spec->supporters[0].requires = strv_of("bx");
        spec->supporters[1].provides = strv_of("bx");
        spec->supporters[1].requires = strv_of("cx");
        spec->supporters[2].provides = strv_of("cx");
        spec->supporters[2].requires = strv_of("ax");
        spec->supporters[0].provides = strv_of("ax");
        ck_assert_int_eq(session_spec_check_requirements(spec, &message), -ELOOP);
        ck_assert_str_eq(message, "Supporters: Requires and Provides form a cycle: a -> b -> c -> a");
        free(message);

        /* Break the cycle: a chain is fine. */
        strv_free(spec->supporters[2].requires);
        spec->supporters[2].requires = NULL;
        ck_assert_int_eq(session_spec_check_requirements(spec, &message), 0);
        session_spec_free(spec);
}
END_TEST

static Suite *session_suite(void) {
        Suite *s = suite_create("session");
        TCase *tc;

        tc = tcase_create("start");
        tcase_add_test(tc, test_gated_start_exec_ready);
        tcase_add_test(tc, test_no_supporters_releases_at_once);
        tcase_add_test(tc, test_notify_ready);
        tcase_add_test(tc, test_notify_before_exec_report);
        tcase_add_test(tc, test_ready_ignored_for_exec_mode);
        tcase_add_test(tc, test_delay_ready);
        tcase_add_test(tc, test_async_placement);
        suite_add_tcase(s, tc);

        tc = tcase_create("teardown");
        tcase_add_test(tc, test_target_exit_tears_down_in_order);
        tcase_add_test(tc, test_stop_request_order);
        tcase_add_test(tc, test_lingering_group_holds_stage);
        tcase_add_test(tc, test_escalation_after_grace);
        tcase_add_test(tc, test_escalate_request);
        tcase_add_test(tc, test_escalate_while_running);
        tcase_add_test(tc, test_supporter_exit_ends_session);
        tcase_add_test(tc, test_supporter_clean_exit_is_success);
        tcase_add_test(tc, test_stop_while_starting);
        tcase_add_test(tc, test_stop_queued);
        tcase_add_test(tc, test_watchdog);
        tcase_add_test(tc, test_events_after_finish);
        suite_add_tcase(s, tc);

        tc = tcase_create("failures");
        tcase_add_test(tc, test_target_failure);
        tcase_add_test(tc, test_target_exec_failure);
        tcase_add_test(tc, test_supporter_exec_failure_target_never_runs);
        tcase_add_test(tc, test_scope_refused_while_held);
        tcase_add_test(tc, test_spawn_failure);
        tcase_add_test(tc, test_target_spawn_failure_finishes_at_once);
        suite_add_tcase(s, tc);

        tc = tcase_create("pause");
        tcase_add_test(tc, test_pause_resume);
        tcase_add_test(tc, test_kill_request);
        tcase_add_test(tc, test_requires_provides_chain);
        tcase_add_test(tc, test_requirements_checked);
        tcase_add_test(tc, test_stop_while_paused_continues);
        suite_add_tcase(s, tc);

        tc = tcase_create("results");
        tcase_add_test(tc, test_process_failed_rules);
        tcase_add_test(tc, test_format_end);
        tcase_add_test(tc, test_string_tables);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(session_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
