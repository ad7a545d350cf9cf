/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "bus-errors.h"
#include "log.h"
#include "manager.h"
#include "config.h"
#include "fs-identity.h"
#include "path-lookup.h"
#include "spawn.h"
#include "strv.h"

#define TRIM_DELAY_USEC USEC_PER_SEC
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void credentials_done(Credentials *c) {
        c->groups = mfree(c->groups);
        c->n_groups = 0;
}

static int compare_record_id(const void *a, const void *b) {
        return strcmp(((const SessionRecord *) a)->session->id, ((const SessionRecord *) b)->session->id);
}

SessionRecord *manager_find_session(Manager *m, const char *id) {
        Session key_session = { .id = (char *) id };
        SessionRecord key = { .session = &key_session }, **found;

        found = tfind(&key, &m->records_by_id, compare_record_id);
        return found ? *found : NULL;
}

unsigned manager_live_sessions_of(Manager *m, uid_t uid) {
        unsigned n = 0;

        LIST_FOREACH(records, r, m->records)
                if (r->owner.uid == uid && r->session->state != SESSION_FINISHED)
                        n++;
        return n;
}

void manager_foreach_bus(Manager *m, ManagerBusFn f, void *userdata) {
        if (m->bus)
                (void) f(m->bus, userdata);
        LIST_FOREACH(peers, p, m->peers)
                (void) f(p->bus, userdata);
}

int manager_dispatch(SessionRecord *r, const SessionEvent *e) {
        const char *previous = log_set_session(r->session->id);
        int k;

        k = session_dispatch(r->session, e);
        (void) log_set_session(previous);
        return k;
}

static void manager_unregister_session(Manager *m, SessionRecord *r);

/* Out of the scheduler: its place in the queue, its names and its share of the capacity go to the
 * next ones. */
static void session_record_release_job(SessionRecord *r) {
        if (!r->job)
                return;
        if (r->job->state == JOB_QUEUED)
                scheduler_cancel(r->manager->scheduler, r->job);
        else
                scheduler_finished(r->manager->scheduler, r->job);
        r->job = NULL;
}

static SessionRecord *session_record_free(SessionRecord *r) {
        if (!r)
                return NULL;
        /* What is left of it on disk is final before it goes. */
        manager_save_record_flush(r);
        session_record_release_job(r);
        if (r->start_request) {
                /* Nobody will hear about it any more: say so rather than leave the caller waiting. */
                (void) sd_bus_reply_method_errorf(r->start_request, PROFD_ERROR_BAD_STATE,
                                                  "Session %s was removed before it started.", r->session->id);
                sd_bus_message_unref(r->start_request);
        }
        sd_bus_slot_unref(r->caller_match);
        sd_bus_slot_unref(r->caller_check);
        sd_bus_unref(r->caller_peer);
        free(r->caller);
        sd_event_source_disable_unref(r->expire);
        executor_remove_session(r->session);
        credentials_done(&r->owner);
        free(r->output_directory);
        free(r->path);
        free(r);
        return NULL;
}

static int on_trim(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        if (m->n_records == 0 && !(m->backend && scope_backend_busy(m->backend)))
                (void) malloc_trim(0);
        return 0;
}

/* A burst of sessions leaves the heap grown, in pieces glibc keeps for later: once the last session
 * is gone and systemd has answered every call about them (a thousand slice stops take seconds), they
 * go back to the kernel, so that an idle profd is as small as it started. A second later, and so at
 * most once a second: a sequence of sessions would give back, and fault in again, what each one
 * used. */
static void manager_trim_memory_later(Manager *m) {
        int k;

        if (m->trim_source && sd_event_source_get_enabled(m->trim_source, NULL) > 0)
                return; /* due already */
        if (!m->trim_source) {
                k = sd_event_add_time_relative(m->event, &m->trim_source, CLOCK_MONOTONIC, TRIM_DELAY_USEC, 0,
                                               on_trim, m);
                if (k < 0)
                        log_debug_errno(k, "Cannot schedule giving memory back, leaving it: %m");
                return;
        }
        (void) sd_event_source_set_time_relative(m->trim_source, TRIM_DELAY_USEC);
        (void) sd_event_source_set_enabled(m->trim_source, SD_EVENT_ONESHOT);
}

void manager_remove_session(Manager *m, SessionRecord *r) {
        assert(r->session->state == SESSION_FINISHED);
        manager_bus_session_removed(r);
        manager_unregister_session(m, r);
        session_record_free(r);
        if (m->n_records == 0)
                manager_trim_memory_later(m);
}

static int on_expire(sd_event_source *s, uint64_t usec, void *userdata) {
        SessionRecord *r = userdata;

        manager_remove_session(r->manager, r);
        return 0;
}

static void on_backend_idle(void *userdata) {
        Manager *m = userdata;

        if (m->n_records == 0)
                manager_trim_memory_later(m);
        manager_maybe_exit(m);
}

static int on_run_queue(sd_event_source *source, void *userdata) {
        manager_run_queue(userdata);
        return 0;
}

/* Runs the queue from the loop, after what is being done now: a session's end is reported from
 * inside its own callbacks, where others must not be started. */
static void manager_run_queue_later(Manager *m) {
        int k;

        if (!m->queue_source) {
                k = sd_event_add_defer(m->event, &m->queue_source, on_run_queue, m);
                if (k < 0) {
                        log_error_errno(k, "Cannot schedule the queue, running it now: %m");
                        manager_run_queue(m);
                        return;
                }
        }
        (void) sd_event_source_set_enabled(m->queue_source, SD_EVENT_ONESHOT);
}

/* PIDs of the target and of every supporter that ran, as fields of the journal entry of a session's
 * start or end ("PROFD_TARGET_PID=", "PROFD_SUPPORTER_PID="), and PROFD_RESULT= at the end. */
static void log_session_message(SessionRecord *r, const char *message) {
        Session *s = r->session;
        char *fields[SPEC_SUPPORTERS_MAX + 4] = { NULL };
        size_t n = 0;

        for (size_t i = 0; i < s->n_processes && n < ELEMENTSOF(fields) - 2; i++) {
                Process *p = s->processes[i];

                if (p->pid <= 0)
                        continue;
                if (asprintf(&fields[n], "PROFD_%s_PID=%d", p->role == PROCESS_TARGET ? "TARGET" : "SUPPORTER",
                             (int) p->pid) >= 0)
                        n++;
        }
        if (s->state == SESSION_FINISHED && asprintf(&fields[n], "PROFD_RESULT=%s", session_result_to_string(s->result)) >= 0)
                n++;
        {
                const char *previous = log_set_session(s->id);
                (void) log_with_fields(LOG_INFO, fields, "Session %s %s", s->id, message);
                (void) log_set_session(previous);
        }
        for (size_t i = 0; i < n; i++)
                free(fields[i]);
}

static void manager_session_finished(Manager *m, SessionRecord *r) {
        char message[128];
        int k;

        r->finished_seen = true;
        r->caller_match = sd_bus_slot_unref(r->caller_match);
        r->caller_check = sd_bus_slot_unref(r->caller_check);
        r->caller_peer = sd_bus_unref(r->caller_peer);
        if (r->session->result == SESSION_RESULT_DEPENDENCY || session_target(r->session)->pid <= 0)
                snprintf(message, sizeof(message), "finished without running: %s.",
                         session_result_to_string(r->session->result));
        else
                snprintf(message, sizeof(message), "finished: %s, exit status %d.",
                         session_result_to_string(r->session->result), session_exit_status(r->session));
        log_session_message(r, message);

        session_record_release_job(r);
        manager_run_queue_later(m);
        if (++m->finished_since_prune >= MAX(1u, m->config.keep_records / 8)) {
                m->finished_since_prune = 0;
                m->prune_pending = true;
        }

        /* Kept a while so that its owner can read the result; removed from a later event, as the
         * executor asks, never from inside its callback. */
        k = sd_event_add_time_relative(m->event, &r->expire, CLOCK_MONOTONIC, m->config.keep_finished, 0,
                                       on_expire, r);
        if (k < 0)
                log_warning_errno(k, "Session %s: cannot schedule its removal, keeping it: %m", r->session->id);

        manager_maybe_exit(m);
}

static void on_session_changed(Session *s, void *userdata) {
        Manager *m = userdata;
        SessionRecord *r = manager_find_session(m, s->id);

        if (!r)
                return; /* still being set up */
        /* StartSession is answered once the target executes in its scope, or once it is clear that
         * it never will, so that a missing program is the caller's error, not a silent exit. */
        if (r->start_request && (session_target(s)->exec_done || s->state == SESSION_FINISHED))
                manager_bus_reply_start(r);
        if (s->state == SESSION_FINISHED && r->finished_realtime == 0)
                r->finished_realtime = now_usec(CLOCK_REALTIME);
        if (r->announced)
                manager_bus_session_changed(r);
        if (s->state == SESSION_FINISHED && !r->finished_seen)
                manager_session_finished(m, r);
        manager_save_record(r);
        /* Leaving for a restart waits for sessions that are starting. */
        manager_maybe_exit(m);
}

/* "profd-<id>-<name>.scope" or "profd-<id>.slice": systemd wants it stopped. */
static void on_stop_request(const char *unit, void *userdata) {
        Manager *m = userdata;
        _cleanup_free_ char *id = NULL;
        const char *p = startswith(unit, "profd-");
        SessionRecord *r;

        if (!p)
                return;
        id = strndup(p, strcspn(p, "-."));
        if (!id) {
                log_oom();
                return;
        }
        r = manager_find_session(m, id);
        if (!r)
                return;
        log_info("Session %s: stop requested by systemd for %s.", id, unit);
        (void) manager_dispatch(r, &(SessionEvent) { .type = SESSION_EVENT_STOP,
                                                             .cause = STOP_CAUSE_REQUEST });
}

void manager_caller_gone(SessionRecord *r) {
        log_info("Session %s: its caller went away, stopping it.", r->session->id);
        r->caller_match = sd_bus_slot_unref(r->caller_match);
        r->caller_check = sd_bus_slot_unref(r->caller_check);
        (void) manager_dispatch(r, &(SessionEvent) { .type = SESSION_EVENT_STOP,
                                                             .cause = STOP_CAUSE_REQUEST });
}

static int on_caller_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        const char *name, *old_owner, *new_owner;

        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 && new_owner[0] == '\0')
                manager_caller_gone(userdata);
        return 0;
}

/* A match that the bus daemon refused: the caller cannot be watched, so its session does not run
 * unwatched (rather than sd-bus's default of closing our connection). */
static int on_caller_match_installed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        SessionRecord *r = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        if (!e)
                return 0;
        log_warning("Session %s: cannot watch its caller (%s), stopping it.", r->session->id,
                    e->message ? e->message : e->name);
        manager_caller_gone(r);
        return 0;
}

static int on_caller_owner(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        SessionRecord *r = userdata;

        r->caller_check = sd_bus_slot_unref(r->caller_check);
        if (sd_bus_message_is_method_error(reply, NULL))
                manager_caller_gone(r); /* it left before the match was in place */
        return 0;
}

/* BindToCaller on a bus: its unique name losing its owner stops the session. Neither call is waited
 * for, as sd_bus_track would wait for GetNameOwner: StartSession goes on to fork and to ask systemd
 * meanwhile, a round trip to the bus daemon earlier. The bus daemon handles our messages in order,
 * so the match is in place when it answers GetNameOwner: a caller that left before is caught by
 * that answer, one that leaves after by the signal. */
int manager_watch_caller(SessionRecord *r, sd_bus *bus, const char *sender) {
        _cleanup_free_ char *match = NULL;
        int k;

        if (!sender)
                return -EINVAL;
        /* Kept in its record: a restarted profd watches the same name. */
        if (!r->caller || !streq(r->caller, sender)) {
                char *copy = strdup(sender);

                if (!copy)
                        return -ENOMEM;
                free(r->caller);
                r->caller = copy;
        }
        if (asprintf(&match, "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                     "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='%s'", sender) < 0)
                return -ENOMEM;
        k = sd_bus_add_match_async(bus, &r->caller_match, match, on_caller_owner_changed,
                                   on_caller_match_installed, r);
        if (k < 0)
                return k;
        return sd_bus_call_method_async(bus, &r->caller_check, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                        "org.freedesktop.DBus", "GetNameOwner", on_caller_owner, r, "s", sender);
}

static int credentials_copy(const Credentials *c, Credentials *ret) {
        *ret = (Credentials) { .uid = c->uid, .gid = c->gid };
        if (c->n_groups > 0) {
                ret->groups = reallocarray(NULL, c->n_groups, sizeof(gid_t));
                if (!ret->groups)
                        return -ENOMEM;
                memcpy(ret->groups, c->groups, c->n_groups * sizeof(gid_t));
                ret->n_groups = c->n_groups;
        }
        return 0;
}

/* Asks the bus (a round trip to dbus-daemon, during which the loop waits) and the user database. */
static int query_credentials(sd_bus_message *msg, Credentials *ret, sd_bus_error *error) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_(credentials_done) Credentials c = { 0 };
        const gid_t *groups = NULL;
        struct passwd *pw = NULL;
        int r, n;

        r = sd_bus_query_sender_creds(msg, SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID | SD_BUS_CREDS_SUPPLEMENTARY_GIDS,
                                      &creds);
        if (r >= 0)
                r = sd_bus_creds_get_euid(creds, &c.uid);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot tell who is calling: %s", strerror_abs(r));

        /* A peer-to-peer socket tells the gid; the bus daemon does not, so it is the user's own. */
        r = sd_bus_creds_get_egid(creds, &c.gid);
        if (r < 0) {
                pw = getpwuid(c.uid);
                if (!pw)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                                 "uid %u has no user entry: cannot tell its group.", (unsigned) c.uid);
                c.gid = pw->pw_gid;
        }

        n = sd_bus_creds_get_supplementary_gids(creds, &groups);
        if (n > 0) {
                c.groups = reallocarray(NULL, n, sizeof(gid_t));
                if (!c.groups)
                        return sd_bus_error_set_errno(error, -ENOMEM);
                memcpy(c.groups, groups, n * sizeof(gid_t));
                c.n_groups = n;
        } else if (n < 0 && (pw || (pw = getpwuid(c.uid)))) {
                /* No groups from the bus: the user's groups from the user database (pw is still the
                 * entry looked up for the gid, if it was: one read of it, not two, per new caller). */
                int ng = 64;
                c.groups = reallocarray(NULL, ng, sizeof(gid_t));
                if (!c.groups)
                        return sd_bus_error_set_errno(error, -ENOMEM);
                if (getgrouplist(pw->pw_name, c.gid, c.groups, &ng) < 0)
                        ng = 0;
                c.n_groups = ng;
        }
        *ret = c;
        c = (Credentials) { 0 };
        return 0;
}

/* A unique name is never given to another connection, so what it was found to be stays true: a
 * client that starts many sessions costs one query, not one per call. */
int manager_query_credentials(Manager *m, sd_bus_message *msg, Credentials *ret, sd_bus_error *error) {
        const char *sender = sd_bus_message_get_sender(msg);
        CachedCaller *slot;
        int r;

        if (sender)
                for (size_t i = 0; i < ELEMENTSOF(m->callers); i++)
                        if (streq_ptr(m->callers[i].sender, sender)) {
                                r = credentials_copy(&m->callers[i].creds, ret);
                                return r < 0 ? sd_bus_error_set_errno(error, r) : 0;
                        }

        r = query_credentials(msg, ret, error);
        if (r < 0 || !sender)
                return r;

        slot = &m->callers[m->next_caller++ % ELEMENTSOF(m->callers)];
        slot->sender = mfree(slot->sender);
        credentials_done(&slot->creds);
        slot->sender = strdup(sender);
        if (slot->sender && credentials_copy(ret, &slot->creds) < 0)
                slot->sender = mfree(slot->sender);
        return 0;
}

int manager_check_owner(SessionRecord *r, sd_bus_message *msg, sd_bus_error *error) {
        _cleanup_(credentials_done) Credentials caller = { 0 };
        int k;

        k = manager_query_credentials(r->manager, msg, &caller, error);
        if (k < 0)
                return k;
        if (caller.uid != 0 && caller.uid != r->owner.uid)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Session %s belongs to uid %u.", r->session->id, (unsigned) r->owner.uid);
        return 0;
}

/* What a session starts with when the spec brings no environment: a login's basics, never ours. */
int manager_default_environment(uid_t uid, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        struct passwd *pw = getpwuid(uid);
        size_t n = 0;
        int r;

        env = calloc(1, sizeof(char *));
        if (!env)
                return -ENOMEM;
        r = strv_extend(&env, &n, "PATH=" DEFAULT_PATH);
        if (r >= 0 && pw) {
                char *e;
                const char *vars[][2] = {
                        { "HOME", pw->pw_dir }, { "USER", pw->pw_name }, { "LOGNAME", pw->pw_name },
                        { "SHELL", pw->pw_shell },
                };
                for (size_t i = 0; i < ELEMENTSOF(vars) && r >= 0; i++) {
                        if (asprintf(&e, "%s=%s", vars[i][0], vars[i][1]) < 0)
                                return -ENOMEM;
                        r = strv_consume(&env, &n, e);
                }
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(env);
        return 0;
}

/* <state>/sessions/<id>, owned by the session's owner. The target's output files are made before
 * the directory is handed over, so that nothing the owner puts there can redirect our writes. */
static int make_output_directory(Manager *m, const char *id, const Credentials *owner, bool want_output,
                                 char **ret_path, int ret_stdio[3]) {
        _cleanup_free_ char *sessions = NULL, *path = NULL;
        _cleanup_close_ int dfd = -EBADF, out = -EBADF, err = -EBADF;
        bool chown_needed = geteuid() == 0;

        if (asprintf(&sessions, "%s/sessions", m->state_directory) < 0 || asprintf(&path, "%s/%s", sessions, id) < 0)
                return -ENOMEM;
        if (mkdir(m->state_directory, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s: %m", m->state_directory);
        if (mkdir(sessions, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create %s: %m", sessions);
        if (mkdir(path, 0750) < 0)
                return log_error_errno(errno, "Failed to create %s: %m", path);
        dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);

        if (want_output) {
                out = openat(dfd, "target.stdout", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0640);
                err = openat(dfd, "target.stderr", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0640);
                if (out < 0 || err < 0)
                        return log_error_errno(errno, "Failed to create the output files in %s: %m", path);
                if (chown_needed && (fchown(out, owner->uid, owner->gid) < 0 || fchown(err, owner->uid, owner->gid) < 0))
                        return log_error_errno(errno, "Failed to hand the output files in %s over: %m", path);
        }
        if (chown_needed && fchown(dfd, owner->uid, owner->gid) < 0)
                return log_error_errno(errno, "Failed to hand %s over: %m", path);

        *ret_path = TAKE_PTR(path);
        ret_stdio[1] = TAKE_FD(out);
        ret_stdio[2] = TAKE_FD(err);
        return 0;
}

static void remove_output_directory(const char *path) {
        _cleanup_free_ char *out = NULL, *err = NULL;

        if (asprintf(&out, "%s/target.stdout", path) >= 0)
                (void) unlink(out);
        if (asprintf(&err, "%s/target.stderr", path) >= 0)
                (void) unlink(err);
        (void) rmdir(path);
}

/* What a spec holds, in bytes of strings: what SpecBytes= bounds. */
static size_t spec_size(const SessionSpec *spec) {
        size_t n = strv_size(spec->target) + strv_size(spec->environment) + strv_size(spec->claims) +
                   strv_size(spec->uses);

        if (spec->description)
                n += strlen(spec->description) + 1;
        if (spec->working_directory)
                n += strlen(spec->working_directory) + 1;
        for (size_t i = 0; i < spec->n_supporters; i++) {
                const SupporterSpec *s = &spec->supporters[i];

                n += strlen(s->name) + 1 + strv_size(s->argv) + strv_size(s->requires) + strv_size(s->provides);
                if (s->working_directory)
                        n += strlen(s->working_directory) + 1;
        }
        return n;
}

/* Per-uid and per-session bounds from profd.conf. */
static int check_limits(Manager *m, const Credentials *owner, const SessionSpec *spec, sd_bus_error *error) {
        if (manager_live_sessions_of(m, owner->uid) >= m->config.sessions_per_user)
                return sd_bus_error_setf(error, PROFD_ERROR_LIMIT_REACHED,
                                         "uid %u has %u live sessions already (SessionsPerUser=%u).",
                                         (unsigned) owner->uid, m->config.sessions_per_user,
                                         m->config.sessions_per_user);
        if (1 + spec->n_supporters > m->config.processes_per_session)
                return sd_bus_error_setf(error, PROFD_ERROR_LIMIT_REACHED,
                                         "Supporters: %zu processes in one session, at most %u (ProcessesPerSession=).",
                                         1 + spec->n_supporters, m->config.processes_per_session);
        if (strv_size(spec->target) > m->config.argument_bytes)
                return sd_bus_error_setf(error, PROFD_ERROR_LIMIT_REACHED,
                                         "Target: %zu bytes of arguments, at most %zu (ArgumentBytes=).",
                                         strv_size(spec->target), m->config.argument_bytes);
        for (size_t i = 0; i < spec->n_supporters; i++)
                if (strv_size(spec->supporters[i].argv) > m->config.argument_bytes)
                        return sd_bus_error_setf(error, PROFD_ERROR_LIMIT_REACHED,
                                                 "Supporters[%zu].Argv: more than %zu bytes (ArgumentBytes=).",
                                                 i, m->config.argument_bytes);
        if (strv_size(spec->environment) > m->config.environment_bytes)
                return sd_bus_error_setf(error, PROFD_ERROR_LIMIT_REACHED,
                                         "Environment: %zu bytes, at most %zu (EnvironmentBytes=).",
                                         strv_size(spec->environment), m->config.environment_bytes);
        if (spec_size(spec) > m->config.spec_bytes)
                return sd_bus_error_setf(error, PROFD_ERROR_LIMIT_REACHED,
                                         "The spec holds %zu bytes, at most %zu (SpecBytes=).",
                                         spec_size(spec), m->config.spec_bytes);
        return 0;
}

/* `what` (a spec key, for the message) names a directory the owner may enter. */
static int check_working_directory(const Credentials *owner, const char *what, const char *path,
                                   sd_bus_error *error) {
        int r;

        r = fs_check_directory(path);
        if (r == -EACCES)
                return sd_bus_error_setf(error, PROFD_ERROR_INVALID_SPEC, "%s: uid %u may not enter '%.512s'.", what,
                                         (unsigned) owner->uid, path);
        if (r < 0)
                return sd_bus_error_setf(error, PROFD_ERROR_INVALID_SPEC, "%s: '%.512s' is not a directory (%s).", what,
                                         path, strerror_abs(r));
        return 0;
}

static int check_executable(const char *what, const char *name, char * const *env, sd_bus_error *error) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = find_executable(name, env, &path);
        if (r == -ENOENT)
                return sd_bus_error_setf(error, PROFD_ERROR_INVALID_SPEC,
                                         "%s: '%.256s' not found in the PATH of the session's Environment.", what, name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "%s: cannot look up '%.256s': %s", what, name, strerror_abs(r));
        return 0;
}

static int check_supporter_startable(const Credentials *owner, const SupporterSpec *sup, size_t index,
                                     char * const *env, sd_bus_error *error) {
        char what[64];
        int r;

        if (sup->working_directory) {
                snprintf(what, sizeof(what), "Supporters[%zu].WorkingDirectory", index);
                r = check_working_directory(owner, what, sup->working_directory, error);
                if (r < 0)
                        return r;
        }
        snprintf(what, sizeof(what), "Supporters[%zu].Argv", index);
        return check_executable(what, sup->argv[0], env, error);
}

/* The checks below run as `owner` (fs-identity.h); undone by the caller's cleanup of `id`. */
static int enter_owner_identity(FsIdentity *id, const Credentials *owner, sd_bus_error *error) {
        int r;

        r = fs_identity_enter(id, owner->uid, owner->gid, owner->groups, owner->n_groups);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot take on uid %u to check what would start: %s",
                                               (unsigned) owner->uid, strerror_abs(r));
        return 0;
}

/* What can be known before anything starts is checked before anything starts, as the owner:
 * what profd answers must not tell the caller about paths it cannot see (fs-identity.h). */
static int check_runnable(const Credentials *owner, const SessionSpec *spec, sd_bus_error *error) {
        _cleanup_(fs_identity_leave) FsIdentity id = { .switched = false };
        int r;

        r = enter_owner_identity(&id, owner, error);
        if (r < 0)
                return r;
        if (spec->working_directory) {
                r = check_working_directory(owner, "WorkingDirectory", spec->working_directory, error);
                if (r < 0)
                        return r;
        }
        r = check_executable("Target", spec->target[0], spec->environment, error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < spec->n_supporters; i++) {
                r = check_supporter_startable(owner, &spec->supporters[i], i, spec->environment, error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int manager_check_added_supporter(SessionRecord *r, const SupporterSpec *sup, sd_bus_error *error) {
        _cleanup_(fs_identity_leave) FsIdentity id = { .switched = false };
        const Credentials *owner = &r->owner;
        int k;

        k = enter_owner_identity(&id, owner, error);
        if (k < 0)
                return k;
        return check_supporter_startable(owner, sup, r->session->spec->n_supporters, r->session->spec->environment,
                                         error);
}

int manager_new_record(Manager *m, const char *id, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
                       SessionSpec *spec, const char *output_directory, SessionRecord **ret) {
        _cleanup_(session_spec_freep) SessionSpec *owned_spec = spec;
        SessionRecord *r;
        int k;

        r = new0(SessionRecord, 1);
        if (!r)
                return -ENOMEM;
        r->manager = m;
        k = credentials_copy(&(Credentials) { .uid = uid, .gid = gid, .groups = (gid_t *) groups, .n_groups = n_groups },
                             &r->owner);
        if (k >= 0 && asprintf(&r->path, PROFD_BUS_SESSION_PREFIX "/%s", id) < 0)
                k = -ENOMEM;
        if (k >= 0 && output_directory && !(r->output_directory = strdup(output_directory)))
                k = -ENOMEM;
        if (k >= 0)
                k = executor_add_session(m->executor, id, TAKE_PTR(owned_spec), &r->session);
        if (k >= 0 && geteuid() == 0)
                k = executor_session_set_credentials(r->session, uid, gid, groups, n_groups);
        if (k >= 0 && output_directory)
                k = executor_session_set_output_directory(r->session, output_directory);
        if (k < 0) {
                session_record_free(r);
                return k;
        }
        *ret = r;
        return 0;
}

void manager_discard_record(Manager *m, SessionRecord *r) {
        session_record_free(r);
}

int manager_register_session(Manager *m, SessionRecord *r) {
        if (!tsearch(r, &m->records_by_id, compare_record_id))
                return -ENOMEM;
        LIST_PREPEND(records, m->records, r);
        m->n_records++;
        return 0;
}

static void manager_unregister_session(Manager *m, SessionRecord *r) {
        (void) tdelete(r, &m->records_by_id, compare_record_id);
        LIST_REMOVE(records, m->records, r);
        m->n_records--;
}

int manager_submit(Manager *m, SessionRecord *r, bool running) {
        const SessionSpec *spec = r->session->spec;
        _cleanup_(job_freep) Job *j = NULL;
        int k;

        k = job_new(&j, r->session->id, r->owner.uid);
        if (k < 0)
                return k;
        j->priority = spec->priority;
        j->group_exclusive = spec->group_exclusive;
        j->after_success = spec->after_success;
        j->userdata = r;
        k = strv_copy(spec->claims, &j->claims);
        if (k >= 0)
                k = strv_copy(spec->uses, &j->uses);
        if (k >= 0)
                k = strv_copy(spec->after, &j->after);
        if (k >= 0 && spec->group && !(j->group = strdup(spec->group)))
                k = -ENOMEM;
        if (k >= 0)
                k = running ? scheduler_adopt(m->scheduler, j) : scheduler_submit(m->scheduler, j);
        if (k < 0)
                return k;
        r->job = TAKE_PTR(j);
        return 0;
}

void manager_run_queue(Manager *m) {
        _cleanup_free_ Job **start = NULL, **failed = NULL;
        size_t n_start = 0, n_failed = 0;
        int k;

        /* Stopping, every queued session is stopped; leaving, they stay queued for the next profd. */
        if (m->shutdown != MANAGER_SERVING)
                return;
        k = scheduler_dispatch(m->scheduler, &start, &n_start, &failed, &n_failed);
        if (k < 0) {
                log_error_errno(k, "Cannot run the queue: %m");
                return;
        }
        for (size_t i = 0; i < n_failed; i++) {
                SessionRecord *r = failed[i]->userdata;
                char reason[SCHEDULER_EXPLAIN_MAX];

                log_info("Session %s will not run: %s.", r->session->id,
                         scheduler_failure_reason(failed[i], reason, sizeof(reason)));
                r->job = job_free(failed[i]);
                (void) manager_dispatch(r, &(SessionEvent) { .type = SESSION_EVENT_STOP,
                                                             .cause = STOP_CAUSE_DEPENDENCY });
        }
        for (size_t i = 0; i < n_start; i++) {
                SessionRecord *r = start[i]->userdata;

                k = manager_dispatch(r, &(SessionEvent) { .type = SESSION_EVENT_START });
                if (k < 0)
                        log_warning_errno(k, "Session %s: failed to start: %m", r->session->id);
                else if (r->announced)
                        log_session_message(r, "started after waiting in the queue.");
        }
}

/* After and AfterSuccess name sessions that exist, running or finished. */
static int check_after(Manager *m, const SessionSpec *spec, sd_bus_error *error) {
        for (char **id = spec->after; id && *id; id++)
                if (manager_dependency_state(*id, m) == DEPENDENCY_UNKNOWN)
                        return sd_bus_error_setf(error, PROFD_ERROR_INVALID_SPEC, "%s: no session '%.64s'.",
                                                 spec->after_success ? "AfterSuccess" : "After", *id);
        return 0;
}

int manager_start_session(Manager *m, sd_bus_message *request, const Credentials *owner, SessionSpec *spec,
                          int stdio[3], SessionRecord **ret, sd_bus_error *error) {
        _cleanup_(session_spec_freep) SessionSpec *owned_spec = spec;
        _cleanup_free_ char *output = NULL;
        int files[3] = { -EBADF, -EBADF, -EBADF };
        SessionRecord *r = NULL;
        char id[32];
        int k;

        if (m->shutdown != MANAGER_SERVING)
                return sd_bus_error_setf(error, PROFD_ERROR_BAD_STATE, "profd is shutting down.");
        if (m->mode == MANAGER_USER && owner->uid != geteuid())
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "This profd runs sessions for uid %u only.", (unsigned) geteuid());
        k = check_limits(m, owner, spec, error);
        if (k < 0)
                return k;
        if (!spec->environment) {
                k = manager_default_environment(owner->uid, &spec->environment);
                if (k < 0)
                        return sd_bus_error_set_errno(error, k);
        }
        k = check_runnable(owner, spec, error);
        if (k < 0)
                return k;
        k = check_after(m, spec, error);
        if (k < 0)
                return k;

        snprintf(id, sizeof(id), "%llu", m->next_id++);
        k = make_output_directory(m, id, owner, stdio[1] < 0 || stdio[2] < 0, &output, files);
        if (k < 0)
                return sd_bus_error_set_errnof(error, k, "Cannot create the session's output directory: %s", strerror_abs(k));
        for (int i = 1; i < 3; i++)
                if (stdio[i] < 0)
                        stdio[i] = TAKE_FD(files[i]);
                else
                        files[i] = safe_close(files[i]);
        if (stdio[0] < 0) {
                stdio[0] = open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (stdio[0] < 0) {
                        k = -errno;
                        remove_output_directory(output);
                        return sd_bus_error_set_errnof(error, k, "Cannot open /dev/null: %s", strerror_abs(k));
                }
        }

        /* Without a WorkingDirectory the target starts where its output goes, as the supporters do. */
        if (!spec->working_directory && !(spec->working_directory = strdup(output))) {
                remove_output_directory(output);
                return sd_bus_error_set_errno(error, -ENOMEM);
        }

        k = manager_new_record(m, id, owner->uid, owner->gid, owner->groups, owner->n_groups, TAKE_PTR(owned_spec),
                               output, &r);
        if (k < 0) {
                remove_output_directory(output);
                return sd_bus_error_set_errnof(error, k, "Cannot set the session up: %s", strerror_abs(k));
        }
        executor_session_take_stdio(r->session, stdio);
        r->created_realtime = now_usec(CLOCK_REALTIME);
        r->created_monotonic = now_usec(CLOCK_MONOTONIC);

        if (r->session->spec->bind_to_caller) {
                if (m->bus && sd_bus_message_get_bus(request) == m->bus)
                        k = manager_watch_caller(r, m->bus, sd_bus_message_get_sender(request));
                else
                        r->caller_peer = sd_bus_ref(sd_bus_message_get_bus(request));
                if (k < 0) {
                        session_record_free(r);
                        remove_output_directory(output);
                        return sd_bus_error_set_errnof(error, k, "Cannot watch the caller: %s", strerror_abs(k));
                }
        }

        k = manager_register_session(m, r);
        if (k >= 0) {
                k = manager_submit(m, r, false);
                if (k < 0)
                        manager_unregister_session(m, r);
        }
        if (k < 0) {
                session_record_free(r);
                remove_output_directory(output);
                return sd_bus_error_set_errnof(error, k, "Cannot queue the session: %s", strerror_abs(k));
        }
        r->start_request = sd_bus_message_ref(request);

        /* Starting comes first, so that systemd is asked for the scopes before anything else is
         * written anywhere; the session is announced right after, with the state it has reached.
         * A session that has to wait is answered at once: it exists, and says what it waits for. */
        manager_run_queue(m);
        if (r->start_request && r->session->state == SESSION_QUEUED)
                manager_bus_reply_start(r);
        r->announced = true;
        manager_bus_session_new(r);
        /* One that ended at once (an AfterSuccess on a failed session) has said so already. */
        if (r->session->state != SESSION_FINISHED)
                log_session_message(r, r->session->state == SESSION_QUEUED ? "queued." : "started.");
        manager_save_record(r);

        *ret = r;
        return 0;
}

int manager_kill(SessionRecord *r, const char *whom, int sig, sd_bus_error *error) {
        Session *s = r->session;
        bool sent = false, any = false;

        if (sig <= 0 || sig >= _NSIG)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "signal: %d is not a signal number.", sig);
        /* Stopped behind the state machine's back, a session would say "running" while nothing
         * runs, and an ordered Stop would wait out a grace period no process can use. */
        if (IN_SET(sig, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "signal: SIG%s stops or continues processes; use Pause and Resume.",
                                         signal_abbrev(sig));
        if (s->state == SESSION_FINISHED)
                return sd_bus_error_setf(error, PROFD_ERROR_BAD_STATE, "Session %s has finished.", s->id);

        for (size_t i = 0; i < s->n_processes; i++) {
                Process *p = s->processes[i];
                bool match = streq(whom, "all") ||
                             (streq(whom, "target") && p->role == PROCESS_TARGET) ||
                             (streq(whom, "supporters") && p->role == PROCESS_SUPPORTER) ||
                             (p->role == PROCESS_SUPPORTER && streq(whom, p->name));
                if (!match)
                        continue;
                any = true;
                if (manager_dispatch(r, &(SessionEvent) { .type = SESSION_EVENT_KILL, .process = p,
                                                          .signal = sig }) >= 0)
                        sent = true;
        }
        if (!any && !streq(whom, "all") && !streq(whom, "target") && !streq(whom, "supporters"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "whom: '%.64s' is not target, supporters, all or a supporter of session %s.",
                                         whom, s->id);
        if (!sent)
                return sd_bus_error_setf(error, PROFD_ERROR_BAD_STATE, "Session %s: nothing of '%.64s' is running.",
                                         s->id, whom);
        return 0;
}

static void peer_free(Peer *p) {
        Manager *m = p->manager;

        LIST_REMOVE(peers, m->peers, p);
        m->n_peers--;
        /* Sessions bound to this connection lose their caller. */
        LIST_FOREACH(records, r, m->records)
                if (r->caller_peer == p->bus) {
                        r->caller_peer = sd_bus_unref(r->caller_peer);
                        log_info("Session %s: its caller went away, stopping it.", r->session->id);
                        (void) manager_dispatch(r, &(SessionEvent) { .type = SESSION_EVENT_STOP,
                                                                             .cause = STOP_CAUSE_REQUEST });
                }
        sd_event_source_disable_unref(p->defer_free);
        sd_event_source_disable_unref(p->auth_watch);
        sd_bus_flush_close_unref(p->bus);
        free(p);
}

/* sd-bus (252) as a server does not look at what it read together with the client's BEGIN: a client
 * that sends its first call in the same write (GDBus does) gets no answer until it writes again.
 * So once the connection is up, whatever it holds is processed, from an event source of our own
 * that runs after each iteration of the loop until then. */
static int on_peer_authenticated(sd_event_source *s, void *userdata) {
        Peer *p = userdata;
        int r;

        r = sd_bus_is_ready(p->bus);
        if (r == 0)
                return 0;
        p->auth_watch = sd_event_source_disable_unref(p->auth_watch);
        if (r < 0)
                return 0; /* closed: Disconnected frees it */
        while ((r = sd_bus_process(p->bus, NULL)) > 0)
                ;
        if (r < 0)
                log_debug_errno(r, "Failed to process a new connection: %m");
        return 0;
}

static int on_peer_defer_free(sd_event_source *s, void *userdata) {
        peer_free(userdata);
        return 0;
}

static int on_peer_disconnected(sd_bus_message *msg, void *userdata, sd_bus_error *ret_error) {
        Peer *p = userdata;
        int r;

        if (p->defer_free)
                return 0;
        r = sd_event_add_defer(p->manager->event, &p->defer_free, on_peer_defer_free, p);
        if (r < 0)
                log_warning_errno(r, "Failed to schedule the removal of a connection, keeping it: %m");
        return 0;
}

static int on_listen(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_close_ int cfd = -EBADF;
        sd_id128_t id;
        Peer *p;
        int r;

        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : log_warning_errno(errno, "accept() failed, ignoring: %m");
        if (m->n_peers >= 4096) {
                log_warning("Too many connections, refusing one.");
                return 0;
        }

        r = sd_id128_randomize(&id);
        if (r >= 0)
                r = sd_bus_new(&bus);
        if (r >= 0)
                r = sd_bus_set_fd(bus, cfd, cfd);
        if (r >= 0) {
                TAKE_FD(cfd);
                r = sd_bus_set_server(bus, 1, id);
        }
        if (r >= 0)
                r = sd_bus_negotiate_fds(bus, 1);
        if (r >= 0)
                r = sd_bus_negotiate_creds(bus, 1, SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID |
                                           SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_PID);
        if (r >= 0)
                r = manager_bus_add_objects(m, bus);
        if (r >= 0)
                r = sd_bus_attach_event(bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_warning_errno(r, "Failed to set a connection up, dropping it: %m");

        p = new0(Peer, 1);
        if (!p)
                return log_oom();
        r = sd_bus_match_signal(bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_peer_disconnected, p);
        if (r >= 0)
                r = sd_event_add_post(m->event, &p->auth_watch, on_peer_authenticated, p);
        if (r >= 0)
                r = sd_bus_start(bus);
        if (r < 0) {
                sd_event_source_disable_unref(p->auth_watch);
                free(p);
                return log_warning_errno(r, "Failed to start a connection, dropping it: %m");
        }
        p->manager = m;
        p->bus = TAKE_PTR(bus);
        LIST_PREPEND(peers, m->peers, p);
        m->n_peers++;
        return 0;
}

static int manager_listen(Manager *m, const char *address) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *path = startswith(address, "unix:path=");
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (!path || !path[0] || strchr(path, ','))
                return log_error_errno(EINVAL, "--listen: '%s' is not unix:path=/ABSOLUTE/PATH.", address);
        if (path[0] != '/' || strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(EINVAL, "--listen: '%s' must be an absolute path of at most %zu bytes.",
                                       path, sizeof(sa.sun_path) - 1);
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "Failed to create a socket: %m");
        (void) unlink(path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return log_error_errno(errno, "Failed to bind to %s: %m", path);
        /* Anyone may connect: who may do what is decided per call, by the peer's credentials. */
        if (chmod(path, 0666) < 0)
                return log_error_errno(errno, "Failed to make %s accessible: %m", path);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "Failed to listen on %s: %m", path);
        r = sd_event_add_io(m->event, &m->listen_source, fd, EPOLLIN, on_listen, m);
        if (r < 0)
                return r;
        m->listen_path = strdup(path);
        if (!m->listen_path)
                return -ENOMEM;
        m->listen_fd = TAKE_FD(fd);
        return 0;
}

/* The ids go on from the highest one in the state directory, so that a restarted daemon never
 * writes into an earlier session's output. */
static void manager_load_next_id(Manager *m) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_free_ char *sessions = NULL;

        m->next_id = 1;
        if (asprintf(&sessions, "%s/sessions", m->state_directory) < 0)
                return;
        d = opendir(sessions);
        if (!d)
                return;
        for (struct dirent *de; (de = readdir(d));) {
                char *end;
                unsigned long long v;

                errno = 0;
                v = strtoull(de->d_name, &end, 10);
                if (errno == 0 && *end == '\0' && end != de->d_name && v >= m->next_id)
                        m->next_id = v + 1;
        }
}

static int manager_default_state_directory(Manager *m, char **ret) {
        const char *e = getenv("STATE_DIRECTORY"), *home;
        char *p;

        /* systemd's StateDirectory= may list several; the first is ours. */
        if (e && e[0] == '/') {
                p = strndup(e, strcspn(e, ":"));
        } else if (m->mode != MANAGER_USER) {
                p = strdup("/var/lib/profd");
        } else if ((e = getenv("XDG_STATE_HOME")) && e[0] == '/') {
                if (asprintf(&p, "%s/profd", e) < 0)
                        p = NULL;
        } else {
                home = getenv("HOME");
                if (!home || home[0] != '/') {
                        struct passwd *pw = getpwuid(getuid());
                        home = pw ? pw->pw_dir : NULL;
                }
                if (!home)
                        return log_error_errno(ENOENT, "Cannot tell where the user's state directory is: set $XDG_STATE_HOME.");
                if (asprintf(&p, "%s/.local/state/profd", home) < 0)
                        p = NULL;
        }
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

int manager_new(Manager **ret, ManagerMode mode) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = new0(Manager, 1);
        if (!m)
                return -ENOMEM;
        m->mode = mode;
        m->listen_fd = -EBADF;
        config_init(&m->config);

        r = sd_event_default(&m->event);
        if (r < 0)
                return r;
        r = executor_new(&m->executor, m->event, on_session_changed, m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        SessionRecord *r, *next;
        Peer *p, *pnext;

        if (!m)
                return NULL;
        /* Sessions left running (a restart, a lost bus) go on from what their records say. */
        manager_save_records_now(m);
        sd_bus_slot_unref(m->own_job_query);
        LIST_FOREACH_SAFE(records, r, next, m->records) {
                LIST_REMOVE(records, m->records, r);
                session_record_free(r);
        }
        tdestroy(m->records_by_id, free_nothing);
        scheduler_free(m->scheduler);
        sd_event_source_disable_unref(m->queue_source);
        sd_event_source_disable_unref(m->trim_source);
        sd_event_source_disable_unref(m->save_source);
        store_free(m->store);
        free(m->boot_id);
        for (size_t i = 0; i < ELEMENTSOF(m->callers); i++) {
                free(m->callers[i].sender);
                credentials_done(&m->callers[i].creds);
        }
        LIST_FOREACH_SAFE(peers, p, pnext, m->peers)
                peer_free(p);
        executor_free(m->executor);
        scope_backend_free(m->backend);
        for (size_t i = 0; i < ELEMENTSOF(m->signal_sources); i++)
                sd_event_source_disable_unref(m->signal_sources[i]);
        sd_event_source_disable_unref(m->listen_source);
        safe_close(m->listen_fd);
        if (m->listen_path)
                (void) unlink(m->listen_path);
        free(m->listen_path);
        /* Two references when both are the same bus: each is dropped. */
        sd_bus_flush_close_unref(m->systemd_bus);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        free(m->state_directory);
        free(m);
        return NULL;
}

/* dbus-daemon dropped us (it does so to a peer that breaks its limits), or it went away. Nothing can
 * be answered or placed any more: leave, and leave the sessions running. Their records are on disk,
 * and the next profd, which D-Bus activation starts on the next call, adopts them. */
static int on_bus_disconnected(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;

        log_error("Lost the connection to the bus; exiting. The sessions keep running, and profd adopts "
                  "them when it starts again.");
        return sd_event_exit(m->event, -ECONNRESET);
}

static int manager_watch_disconnect(Manager *m, sd_bus *bus) {
        return sd_bus_match_signal(bus, NULL, NULL, "/org/freedesktop/DBus/Local", "org.freedesktop.DBus.Local",
                                   "Disconnected", on_bus_disconnected, m);
}

static int manager_pick_backend(Manager *m, ScopeBackendType type) {
        const char *controller = NULL;
        int r;

        if (type == SCOPE_BACKEND_DIRECT)
                goto direct;

        if (m->bus)
                m->systemd_bus = sd_bus_ref(m->bus);
        else if (m->mode == MANAGER_LISTEN) {
                r = geteuid() == 0 ? sd_bus_open_system(&m->systemd_bus) : sd_bus_open_user(&m->systemd_bus);
                if (r < 0) {
                        if (type == SCOPE_BACKEND_SYSTEMD)
                                return log_error_errno(r, "Failed to connect to the service manager's bus: %m");
                        log_info("No bus to reach systemd on (%s), using the direct backend.", strerror(-r));
                        goto direct;
                }
                r = sd_bus_attach_event(m->systemd_bus, m->event, SD_EVENT_PRIORITY_NORMAL);
                if (r >= 0)
                        r = manager_watch_disconnect(m, m->systemd_bus);
                if (r < 0)
                        return r;
        }

        /* The name we own on that bus gets RequestStop; else our unique name does. */
        if (m->systemd_bus == m->bus)
                controller = PROFD_BUS_NAME;
        else {
                r = sd_bus_get_unique_name(m->systemd_bus, &controller);
                if (r < 0)
                        return r;
        }

        /* Subscribing is the probe for "auto": it also waits for a user manager that is about to
         * connect to a freshly activated session bus, since the bus queues calls to systemd1. */
        r = scope_backend_new_systemd(&m->backend, m->systemd_bus, controller);
        if (r >= 0)
                goto done;
        if (type == SCOPE_BACKEND_SYSTEMD)
                return log_error_errno(r, "Failed to reach systemd on the bus: %m");
        log_info("systemd is not on the bus, using the direct backend.");

direct:
        r = scope_backend_new_direct(&m->backend);
        if (r < 0)
                return r;
done:
        m->backend->tasks_max = m->config.tasks_max;
        scope_backend_set_callbacks(m->backend, on_stop_request, on_backend_idle, m);
        executor_set_scope_backend(m->executor, m->backend);
        return 0;
}

int manager_start(Manager *m, const char *listen_address, ScopeBackendType backend) {
        const char *gate_helper;
        int r;

        if (!m->state_directory) {
                r = manager_default_state_directory(m, &m->state_directory);
                if (r < 0)
                        return r;
        }
        manager_load_next_id(m);

        gate_helper = spawn_find_gate_helper();
        if (gate_helper)
                executor_set_gate_helper(m->executor, gate_helper);
        else
                log_warning("profd-gate not found next to profd nor in " PROFD_LIBEXECDIR ", forking instead.");

        /* Orphans of session processes come to us, not to PID 1: we reap them, and that SIGCHLD is
         * what tells us a scope has emptied. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return log_error_errno(errno, "Failed to become a subreaper: %m");

        r = manager_watch_signals(m);
        if (r < 0)
                return r;

        if (m->mode == MANAGER_LISTEN) {
                r = manager_listen(m, listen_address);
                if (r < 0)
                        return r;
        } else {
                r = m->mode == MANAGER_USER ? sd_bus_open_user(&m->bus) : sd_bus_open_system(&m->bus);
                if (r < 0)
                        return log_error_errno(r, "Failed to connect to the %s bus: %m",
                                               m->mode == MANAGER_USER ? "session" : "system");
                r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
                if (r >= 0)
                        r = manager_watch_disconnect(m, m->bus);
                if (r < 0)
                        return r;
        }

        r = manager_pick_backend(m, backend);
        if (r < 0)
                return r;

        r = scheduler_new(&m->scheduler, m->config.max_parallel_sessions, m->config.max_parallel_sessions_per_user,
                          manager_dependency_state, m);
        if (r < 0)
                return r;
        /* Before the name is taken: callers find the sessions of the previous profd there already. */
        r = manager_load_records(m);
        if (r < 0)
                return r;

        if (m->bus) {
                r = manager_bus_add_objects(m, m->bus);
                if (r < 0)
                        return log_error_errno(r, "Failed to register the bus objects: %m");
                r = sd_bus_request_name(m->bus, PROFD_BUS_NAME, 0);
                if (r < 0)
                        return log_error_errno(r, "Failed to take the name %s: %m", PROFD_BUS_NAME);
        }

        /* Also opens the journal's socket now rather than at the first session's first message. */
        log_info("Serving %s with the %s backend.",
                 m->mode == MANAGER_LISTEN ? m->listen_path : m->mode == MANAGER_USER ? "the session bus" : "the system bus",
                 scope_backend_type_to_string(m->backend->type));
        (void) sd_notify(false, "READY=1\nSTATUS=Ready.");
        return 0;
}

int manager_run(Manager *m) {
        return sd_event_loop(m->event);
}
