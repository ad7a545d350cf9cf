/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-login.h>

#include "log.h"
#include "manager.h"

/* How profd goes. SIGINT and SIGHUP stop every session in order and exit once they finished.
 * SIGTERM does the same, unless systemd sends it for a restart of profd's own unit (a package
 * upgrade, `systemctl restart profd`): then the sessions are left running, in their own scopes, and
 * the next profd adopts them from their records. Only the job systemd runs on our unit tells a
 * restart from a stop, so SIGTERM first asks for it. */

#define SYSTEMD_SERVICE "org.freedesktop.systemd1"
/* systemd answers in a few milliseconds; past this, the stop it may be is not held up further. */
#define OWN_JOB_QUERY_TIMEOUT_USEC (5 * USEC_PER_SEC)

/* In the middle of a start: a process may still be held at its gate or outside its scope, where the
 * next profd could not take it over, or the target released but not yet executed, with the
 * StartSession that waits for that unanswered. */
static bool manager_session_mid_start(Manager *m) {
        LIST_FOREACH(records, r, m->records) {
                Session *s = r->session;
                Process *t = session_target(s);

                if (s->state == SESSION_STARTING || r->start_request ||
                    (s->state != SESSION_FINISHED && t->released && !t->exec_done))
                        return true;
        }
        return false;
}

static unsigned manager_count_live(Manager *m) {
        unsigned n = 0;

        LIST_FOREACH(records, r, m->records)
                if (r->session->state != SESSION_FINISHED)
                        n++;
        return n;
}

void manager_maybe_exit(Manager *m) {
        if (m->shutdown != MANAGER_STOPPING && m->shutdown != MANAGER_LEAVING)
                return;
        /* What the backend put off for later (a session's slice is stopped a little after it
         * finished) goes now, and is waited for like the rest. */
        if (m->backend) {
                scope_backend_flush(m->backend);
                if (scope_backend_busy(m->backend))
                        return;
        }
        if (m->shutdown == MANAGER_STOPPING ? manager_count_live(m) == 0 : !manager_session_mid_start(m))
                (void) sd_event_exit(m->event, 0);
}

static void manager_stop_sessions(Manager *m, const char *why) {
        m->shutdown = MANAGER_STOPPING;
        log_info("%s, stopping every session.", why);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping every session.");
        LIST_FOREACH(records, r, m->records)
                (void) manager_dispatch(r, &(SessionEvent) { .type = SESSION_EVENT_STOP, .cause = STOP_CAUSE_REQUEST });
        manager_maybe_exit(m);
}

static void manager_leave_sessions(Manager *m) {
        unsigned n = manager_count_live(m);

        m->shutdown = MANAGER_LEAVING;
        log_info("systemd is restarting profd: leaving %u session%s running for the next profd to adopt.", n,
                 n == 1 ? "" : "s");
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Restarting; the sessions keep running.");
        manager_maybe_exit(m);
}

/* The answer about our unit's job: a restart leaves the sessions running, anything else (a stop,
 * no job at all because somebody ran kill, no answer) stops them. */
static void manager_own_job_known(Manager *m, const char *job_type, int error) {
        char why[128];

        m->own_job_query = sd_bus_slot_unref(m->own_job_query);
        if (m->shutdown != MANAGER_ASKING)
                return;
        if (error < 0) {
                log_warning_errno(error, "Cannot ask systemd why profd is being stopped (%m), taking it for a stop.");
                job_type = NULL;
        }
        if (job_type && (streq(job_type, "restart") || streq(job_type, "try-restart"))) {
                manager_leave_sessions(m);
                return;
        }
        snprintf(why, sizeof(why), "Got SIGTERM (%s%s)", job_type ? "systemd job " : "no systemd job",
                 job_type ? job_type : "");
        manager_stop_sessions(m, why);
}

static int on_job_type(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        const char *type = NULL;
        int k;

        if (sd_bus_message_is_method_error(reply, NULL))
                k = -sd_bus_message_get_errno(reply);
        else
                k = sd_bus_message_read(reply, "v", "s", &type);
        manager_own_job_known(userdata, k < 0 ? NULL : type, MIN(k, 0));
        return 0;
}

static int on_unit_job(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        const char *job_path;
        uint32_t job_id;
        int k;

        if (sd_bus_message_is_method_error(reply, NULL)) {
                manager_own_job_known(m, NULL, -sd_bus_message_get_errno(reply));
                return 0;
        }
        k = sd_bus_message_read(reply, "v", "(uo)", &job_id, &job_path);
        if (k < 0 || job_id == 0) {
                manager_own_job_known(m, NULL, MIN(k, 0));
                return 0;
        }
        m->own_job_query = sd_bus_slot_unref(m->own_job_query);
        k = sd_bus_call_method_async(m->systemd_bus, &m->own_job_query, SYSTEMD_SERVICE, job_path,
                                     "org.freedesktop.DBus.Properties", "Get", on_job_type, m, "ss",
                                     "org.freedesktop.systemd1.Job", "JobType");
        if (k < 0)
                manager_own_job_known(m, NULL, k);
        return 0;
}

/* Asks systemd for the job on the unit we run in: our unit's Job property, then that job's type.
 * Returns 0 when there is nobody to ask (the direct backend, not in a unit). */
static int manager_ask_own_job(Manager *m) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
        _cleanup_free_ char *unit = NULL, *path = NULL;
        bool user = m->mode == MANAGER_USER || (m->mode == MANAGER_LISTEN && geteuid() != 0);
        int k;

        if (!m->systemd_bus || !m->backend || m->backend->type != SCOPE_BACKEND_SYSTEMD)
                return 0;
        k = user ? sd_pid_get_user_unit(0, &unit) : sd_pid_get_unit(0, &unit);
        if (k < 0)
                return 0;
        k = sd_bus_path_encode("/org/freedesktop/systemd1/unit", unit, &path);
        if (k < 0)
                return k;
        k = sd_bus_message_new_method_call(m->systemd_bus, &call, SYSTEMD_SERVICE, path,
                                           "org.freedesktop.DBus.Properties", "Get");
        if (k >= 0)
                k = sd_bus_message_append(call, "ss", "org.freedesktop.systemd1.Unit", "Job");
        if (k >= 0)
                k = sd_bus_call_async(m->systemd_bus, &m->own_job_query, call, on_unit_job, m,
                                      OWN_JOB_QUERY_TIMEOUT_USEC);
        return k < 0 ? k : 1;
}

static int on_signal(sd_event_source *source, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        int sig = (int) si->ssi_signo, k;
        char why[32];

        switch (m->shutdown) {
        case MANAGER_SERVING:
                if (sig == SIGTERM) {
                        m->shutdown = MANAGER_ASKING;
                        k = manager_ask_own_job(m);
                        if (k > 0)
                                log_debug("Got SIGTERM, asking systemd whether it restarts profd.");
                        else if (k < 0)
                                manager_own_job_known(m, NULL, k);
                        if (k != 0)
                                return 0;
                }
                snprintf(why, sizeof(why), "Got SIG%s", signal_abbrev(sig));
                manager_stop_sessions(m, why);
                return 0;
        case MANAGER_ASKING:
                /* No time to wait for the answer: stop, and at once. */
                m->own_job_query = sd_bus_slot_unref(m->own_job_query);
                snprintf(why, sizeof(why), "Got SIG%s again", signal_abbrev(sig));
                manager_stop_sessions(m, why);
                break;
        case MANAGER_LEAVING:
                log_info("Got SIG%s again, leaving now.", signal_abbrev(sig));
                (void) sd_event_exit(m->event, 0);
                return 0;
        case MANAGER_STOPPING:
                break;
        }
        log_info("Got SIG%s again, skipping the grace periods.", signal_abbrev(sig));
        LIST_FOREACH(records, r, m->records)
                (void) manager_dispatch(r, &(SessionEvent) { .type = SESSION_EVENT_ESCALATE });
        manager_maybe_exit(m);
        return 0;
}

int manager_watch_signals(Manager *m) {
        static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
        sigset_t mask;
        int k;

        _Static_assert(ELEMENTSOF(signals) == ELEMENTSOF(m->signal_sources), "one source per signal");
        sigemptyset(&mask);
        for (size_t i = 0; i < ELEMENTSOF(signals); i++)
                sigaddset(&mask, signals[i]);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();
        for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                k = sd_event_add_signal(m->event, &m->signal_sources[i], signals[i], on_signal, m);
                if (k < 0)
                        return k;
        }
        return 0;
}
