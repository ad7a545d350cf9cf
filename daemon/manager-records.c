/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus-errors.h"
#include "log.h"
#include "manager.h"
#include "strv.h"

/* Sessions on disk (store.c): each session's record is rewritten as it changes and once more,
 * synced, when it finishes. When profd starts it reads them back: sessions still running are
 * re-adopted, queued ones are queued again, and finished ones stay on disk, where Status,
 * ListRecords and Forget find them. */

static int dup_string(char **dst, const char *src) {
        if (!src) {
                *dst = NULL;
                return 0;
        }
        *dst = strdup(src);
        return *dst ? 0 : -ENOMEM;
}

static const char *ready_format(const SupporterSpec *sup, char *buf, size_t size) {
        if (sup->ready != READY_DELAY)
                return ready_mode_to_string(sup->ready);
        snprintf(buf, size, "delay:%llu", (unsigned long long) (sup->ready_delay / USEC_PER_MSEC));
        return buf;
}

/* The names of the files in the output directory, for the record of a finished session. */
static int list_output_files(const char *path, char ***ret) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int k;

        d = opendir(path);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        for (struct dirent *de; (de = readdir(d)) && n < 1024;) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                k = strv_extend(&l, &n, de->d_name);
                if (k < 0)
                        return k;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int stored_supporters_from_spec(StoredSession *st, const SessionSpec *spec) {
        for (size_t i = 0; i < spec->n_supporters; i++) {
                const SupporterSpec *sup = &spec->supporters[i];
                StoredSupporter *ss;
                char buf[64];
                int k;

                k = stored_session_add_supporter(st, &ss);
                if (k >= 0)
                        k = dup_string(&ss->name, sup->name);
                if (k >= 0)
                        k = strv_copy(sup->argv, &ss->argv);
                if (k >= 0)
                        k = dup_string(&ss->ready, ready_format(sup, buf, sizeof(buf)));
                if (k >= 0)
                        k = strv_copy(sup->requires, &ss->requires);
                if (k >= 0)
                        k = strv_copy(sup->provides, &ss->provides);
                if (k >= 0)
                        k = dup_string(&ss->working_directory, sup->working_directory);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int stored_process_from(StoredProcess *sp, Process *p) {
        const char *cgroup_procs = executor_process_cgroup(p);
        char end[PROCESS_FORMAT_END_MAX];
        int k;

        if (p->pid > 0 && p->pid_start_time == 0 && p->state != PROCESS_EXITED)
                (void) pid_get_start_time(p->pid, &p->pid_start_time);

        k = dup_string(&sp->name, p->name);
        if (k >= 0)
                k = dup_string(&sp->role, process_role_to_string(p->role));
        if (k >= 0)
                k = strv_copy(p->argv, &sp->argv);
        if (k >= 0)
                k = dup_string(&sp->state, process_state_to_string(p->state));
        if (k >= 0)
                k = dup_string(&sp->unit, executor_process_unit(p));
        if (k >= 0 && cgroup_procs) {
                const char *slash = strrchr(cgroup_procs, '/');

                sp->cgroup = strndup(cgroup_procs, slash ? (size_t) (slash - cgroup_procs) : strlen(cgroup_procs));
                if (!sp->cgroup)
                        k = -ENOMEM;
        }
        if (k >= 0)
                k = dup_string(&sp->end, process_format_end(p, end, sizeof(end)));
        if (k < 0)
                return k;
        sp->pid = p->pid;
        sp->start_time = p->pid_start_time;
        sp->released = p->released;
        if (p->state == PROCESS_EXITED && !p->exit_unknown) {
                sp->exit_code = p->exit_code;
                sp->exit_status = p->exit_status;
        }
        sp->exit_unknown = p->state == PROCESS_EXITED && p->exit_unknown;
        executor_process_accounting(p, &sp->cpu_usec, &sp->memory_bytes);
        return 0;
}

int manager_record_to_stored(SessionRecord *r, StoredSession **ret) {
        _cleanup_(stored_session_freep) StoredSession *st = NULL;
        Session *s = r->session;
        const SessionSpec *spec = s->spec;
        int k;

        k = stored_session_new(&st);
        if (k < 0)
                return k;
        k = dup_string(&st->id, s->id);
        if (k >= 0)
                k = dup_string(&st->boot_id, r->manager->boot_id);
        if (k >= 0)
                k = dup_string(&st->state, session_state_to_string(s->state));
        if (k >= 0 && s->result != SESSION_RESULT_NONE)
                k = dup_string(&st->result, session_result_to_string(s->result));
        if (k >= 0 && s->stop_cause != STOP_CAUSE_NONE)
                k = dup_string(&st->stop_cause, stop_cause_to_string(s->stop_cause));
        if (k >= 0)
                k = dup_string(&st->description, spec->description);
        if (k >= 0)
                k = strv_copy(spec->target, &st->target);
        if (k >= 0)
                k = dup_string(&st->working_directory, spec->working_directory);
        if (k >= 0)
                k = stored_supporters_from_spec(st, spec);
        if (k >= 0)
                k = strv_copy(spec->claims, &st->claims);
        if (k >= 0)
                k = strv_copy(spec->uses, &st->uses);
        if (k >= 0)
                k = dup_string(&st->session_group, spec->group);
        if (k >= 0)
                k = strv_copy(spec->after, &st->after);
        if (k >= 0)
                k = dup_string(&st->slice, executor_session_slice(s));
        if (k >= 0)
                k = dup_string(&st->output_directory, r->output_directory);
        if (k >= 0 && s->state == SESSION_FINISHED && r->output_directory)
                k = list_output_files(r->output_directory, &st->output_files);
        if (k >= 0 && r->owner.n_groups > 0) {
                st->groups = reallocarray(NULL, r->owner.n_groups, sizeof(gid_t));
                if (!st->groups)
                        k = -ENOMEM;
                else {
                        memcpy(st->groups, r->owner.groups, r->owner.n_groups * sizeof(gid_t));
                        st->n_groups = r->owner.n_groups;
                }
        }
        for (size_t i = 0; k >= 0 && i < s->n_processes; i++) {
                StoredProcess *sp;

                k = stored_session_add_process(st, &sp);
                if (k >= 0)
                        k = stored_process_from(sp, s->processes[i]);
        }
        if (k < 0)
                return k;

        st->exit_status = s->state == SESSION_FINISHED ? session_exit_status(s) : -1;
        st->uid = r->owner.uid;
        st->gid = r->owner.gid;
        st->priority = spec->priority;
        st->bind_to_caller = spec->bind_to_caller;
        k = dup_string(&st->caller, r->caller);
        if (k < 0)
                return k;
        st->group_exclusive = spec->group_exclusive;
        st->after_success = spec->after_success;
        st->adopted = r->adopted;
        st->stop_timeout = spec->stop_timeout;
        st->max_duration = spec->max_duration;
        st->created_realtime = r->created_realtime;
        st->created_monotonic = r->created_monotonic;
        st->finished_realtime = r->finished_realtime;
        *ret = TAKE_PTR(st);
        return 0;
}

/* Writes the record now. A finished session's is synced: it is what is left of it. */
static int manager_save_record_now(SessionRecord *r) {
        _cleanup_(stored_session_freep) StoredSession *st = NULL;
        bool finished = r->session->state == SESSION_FINISHED;
        int k;

        if (!r->manager->store)
                return 0;
        k = manager_record_to_stored(r, &st);
        if (k >= 0)
                k = store_save(r->manager->store, st, finished ? 0 : STORE_SAVE_NO_SYNC);
        if (k < 0) {
                /* A full disk costs the record, never the session. Said once per session. */
                if (!r->save_failed)
                        log_warning_errno(k, "Session %s: cannot write its record: %m", r->session->id);
                r->save_failed = true;
                return k;
        }
        r->save_failed = false;
        return 0;
}

void manager_save_records_now(Manager *m) {
        SessionRecord *r;

        while ((r = m->save_queue)) {
                LIST_REMOVE(save_queue, m->save_queue, r);
                r->save_queued = false;
                (void) manager_save_record_now(r);
        }
}

static int on_save(sd_event_source *source, void *userdata) {
        Manager *m = userdata;

        manager_save_records_now(m);
        if (m->prune_pending) {
                m->prune_pending = false;
                manager_prune_records(m);
        }
        return 0;
}

void manager_save_record(SessionRecord *r) {
        Manager *m = r->manager;
        int k;

        if (!m->store || r->save_queued)
                return;
        /* Written after the loop has answered what is waiting: a record is never on the way of a
         * reply, and many changes in one iteration make one write. */
        if (!m->save_source) {
                k = sd_event_add_defer(m->event, &m->save_source, on_save, m);
                if (k >= 0)
                        k = sd_event_source_set_priority(m->save_source, SD_EVENT_PRIORITY_IDLE);
                if (k < 0) {
                        m->save_source = sd_event_source_disable_unref(m->save_source);
                        (void) manager_save_record_now(r);
                        return;
                }
        }
        LIST_PREPEND(save_queue, m->save_queue, r);
        r->save_queued = true;
        (void) sd_event_source_set_enabled(m->save_source, SD_EVENT_ONESHOT);
}

void manager_save_record_flush(SessionRecord *r) {
        Manager *m = r->manager;

        if (r->save_queued) {
                LIST_REMOVE(save_queue, m->save_queue, r);
                r->save_queued = false;
                (void) manager_save_record_now(r);
        }
}

/* rm -r of <state>/sessions/<name>, which its owner could write to: nothing is followed, and it
 * does not go deeper than a profiler's output would. */
static int remove_tree_at(int parent_fd, const char *name, unsigned depth) {
        _cleanup_(closedirp) DIR *d = NULL;
        int fd;

        if (unlinkat(parent_fd, name, 0) >= 0 || errno == ENOENT)
                return 0;
        if (!IN_SET(errno, EISDIR, EPERM) || depth > 16)
                return -errno;
        fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return -errno;
        }
        for (struct dirent *de; (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                (void) remove_tree_at(dirfd(d), de->d_name, depth + 1);
        }
        return unlinkat(parent_fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static void manager_remove_output(Manager *m, const char *id) {
        _cleanup_free_ char *sessions = NULL;
        _cleanup_close_ int fd = -EBADF;
        int k;

        if (asprintf(&sessions, "%s/sessions", m->state_directory) < 0)
                return;
        fd = open(sessions, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return;
        k = remove_tree_at(fd, id, 0);
        if (k < 0)
                log_warning_errno(k, "Cannot remove %s/%s: %m", sessions, id);
}

/* KeepRecords= and KeepRecordsSec=: the oldest finished records go, with their output. */
void manager_prune_records(Manager *m) {
        _cleanup_strv_free_ char **removed = NULL;
        int k;

        if (!m->store)
                return;
        k = store_prune(m->store, m->config.keep_records,
                        m->config.keep_records_age == 0 ? USEC_INFINITY : m->config.keep_records_age,
                        now_usec(CLOCK_REALTIME), &removed);
        if (k < 0) {
                log_warning_errno(k, "Cannot prune the session records: %m");
                return;
        }
        for (char **id = removed; id && *id; id++) {
                /* Still on the bus (KeepFinishedSec=): its output goes when it does. */
                if (manager_find_session(m, *id))
                        continue;
                manager_remove_output(m, *id);
                log_debug("Session %s: record and output removed (KeepRecords=, KeepRecordsSec=).", *id);
        }
}

int manager_forget(Manager *m, const char *id, uid_t caller, sd_bus_error *error) {
        _cleanup_(stored_session_freep) StoredSession *st = NULL;
        SessionRecord *r = manager_find_session(m, id);
        int k;

        if (r) {
                if (caller != 0 && caller != r->owner.uid)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Session %s belongs to uid %u.",
                                                 id, (unsigned) r->owner.uid);
                if (r->session->state != SESSION_FINISHED)
                        return sd_bus_error_setf(error, PROFD_ERROR_BAD_STATE,
                                                 "Session %s is %s: stop it first, then forget it.", id,
                                                 session_state_to_string(r->session->state));
                manager_remove_session(m, r);
        } else {
                k = m->store ? store_load(m->store, id, &st) : -ENOENT;
                if (k == -ENOENT || k == -EINVAL)
                        return sd_bus_error_setf(error, PROFD_ERROR_NO_SUCH_SESSION, "No session '%s'.", id);
                if (k >= 0 && caller != 0 && caller != st->uid)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Session %s belongs to uid %u.",
                                                 id, (unsigned) st->uid);
                if (k < 0 && caller != 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                                 "The record of session %s cannot be read: only root may forget it.", id);
        }
        if (m->store) {
                k = store_forget(m->store, id);
                if (k < 0 && k != -ENOENT)
                        return sd_bus_error_set_errnof(error, k, "Cannot remove the record of session %s: %s", id,
                                                       strerror_abs(k));
        }
        manager_remove_output(m, id);
        log_info("Session %s forgotten by uid %u.", id, (unsigned) caller);
        return 0;
}

DependencyState manager_dependency_state(const char *id, void *userdata) {
        Manager *m = userdata;
        _cleanup_(stored_session_freep) StoredSession *st = NULL;
        SessionRecord *r = manager_find_session(m, id);

        if (r) {
                if (r->session->state != SESSION_FINISHED)
                        return DEPENDENCY_PENDING;
                return r->session->result == SESSION_RESULT_SUCCESS ? DEPENDENCY_SUCCEEDED : DEPENDENCY_FAILED;
        }
        if (!m->store || store_load(m->store, id, &st) < 0)
                return DEPENDENCY_UNKNOWN;
        if (!streq(st->state, "finished"))
                return DEPENDENCY_UNKNOWN; /* a live record with no session: of another boot */
        return streq_ptr(st->result, "success") ? DEPENDENCY_SUCCEEDED : DEPENDENCY_FAILED;
}

/* The spec back from a record: what an adopted or requeued session needs to go on. The environment
 * is not kept (secrets): what a supporter added later gets is the login basics. */
static int spec_from_stored(const StoredSession *st, SessionSpec **ret) {
        _cleanup_(session_spec_freep) SessionSpec *spec = NULL;
        int k;

        k = session_spec_new(&spec);
        if (k < 0)
                return k;
        k = dup_string(&spec->description, st->description);
        if (k >= 0)
                k = strv_copy(st->target, &spec->target);
        if (k >= 0)
                k = dup_string(&spec->working_directory, st->working_directory);
        if (k >= 0)
                k = strv_copy(st->claims, &spec->claims);
        if (k >= 0)
                k = strv_copy(st->uses, &spec->uses);
        if (k >= 0)
                k = dup_string(&spec->group, st->session_group);
        if (k >= 0)
                k = strv_copy(st->after, &spec->after);
        if (k < 0)
                return k;
        if (!spec->target || !spec->target[0])
                return -EBADMSG;
        spec->priority = st->priority;
        spec->bind_to_caller = st->bind_to_caller;
        spec->group_exclusive = st->group_exclusive;
        spec->after_success = st->after_success;
        if (st->stop_timeout != USEC_INFINITY)
                spec->stop_timeout = st->stop_timeout;
        spec->max_duration = st->max_duration;

        for (size_t i = 0; i < st->n_supporters; i++) {
                const StoredSupporter *ss = &st->supporters[i];
                _cleanup_(supporter_spec_done) SupporterSpec sup = { .ready = READY_EXEC };

                k = dup_string(&sup.name, ss->name);
                if (k >= 0)
                        k = strv_copy(ss->argv, &sup.argv);
                if (k >= 0)
                        k = strv_copy(ss->requires, &sup.requires);
                if (k >= 0)
                        k = strv_copy(ss->provides, &sup.provides);
                if (k >= 0)
                        k = dup_string(&sup.working_directory, ss->working_directory);
                if (k >= 0 && ss->ready)
                        k = ready_parse(ss->ready, &sup.ready, &sup.ready_delay);
                if (k >= 0)
                        k = session_spec_add_supporter_spec(spec, &sup);
                if (k < 0)
                        return k == -ENOMEM ? k : -EBADMSG;
        }
        *ret = TAKE_PTR(spec);
        return 0;
}

/* The state a process had, from its record. */
static int process_restore(Process *p, const StoredProcess *sp) {
        ProcessState state = process_state_from_string(sp->state);

        if (state < 0 || state == PROCESS_HELD || (state != PROCESS_PENDING && sp->pid <= 0))
                return -EBADMSG;
        p->state = state == PROCESS_STARTING ? PROCESS_RUNNING : state;
        p->pid = sp->pid;
        p->pid_start_time = sp->start_time;
        p->released = sp->released;
        p->exec_done = sp->released && state != PROCESS_PENDING;
        p->ready = p->exec_done;
        if (state == PROCESS_STOPPING)
                p->sent_signal = SIGTERM;
        if (state == PROCESS_EXITED) {
                p->exit_unknown = sp->exit_unknown || sp->exit_code == 0;
                p->exit_code = sp->exit_code != 0 ? sp->exit_code : CLD_EXITED;
                p->exit_status = sp->exit_status;
        }
        if (p->role == PROCESS_SUPPORTER && !p->argv && sp->argv) {
                int k = strv_copy(sp->argv, &p->argv);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* BindToCaller across a restart: a caller on the bus we serve is watched again by its unique name,
 * which the bus never gives twice (so one that went meanwhile is caught at once). A peer-to-peer
 * caller's connection ended with the previous profd, and a record without the name cannot say whom
 * to watch: such a session is stopped, as for any caller gone. */
static void manager_adopt_caller(Manager *m, SessionRecord *r, const char *caller) {
        int k = -ENOTCONN;

        if (caller && m->bus)
                k = manager_watch_caller(r, m->bus, caller);
        if (k < 0) {
                log_info("Session %s: cannot watch its caller after the restart (%s).", r->session->id,
                         strerror_abs(k));
                manager_caller_gone(r);
        }
}

/* A session that ran when the previous profd went: it gets its Session back, with its processes
 * watched through pidfds and its scopes, and goes on from the state it was in. What ended while
 * nobody watched is reported as exited with an unknown status. */
static int manager_adopt(Manager *m, const StoredSession *st) {
        _cleanup_(session_spec_freep) SessionSpec *spec = NULL;
        SessionState state = session_state_from_string(st->state);
        StopCause cause = st->stop_cause ? stop_cause_from_string(st->stop_cause) : STOP_CAUSE_NONE;
        usec_t max_left = USEC_INFINITY;
        SessionRecord *r = NULL;
        Session *s;
        bool *gone = NULL;
        int k;

        if (state < 0 || state == SESSION_FINISHED || cause < 0)
                return -EBADMSG;
        k = spec_from_stored(st, &spec);
        if (k < 0)
                return k;
        k = manager_default_environment(st->uid, &spec->environment);
        if (k < 0)
                return k;

        k = manager_new_record(m, st->id, st->uid, st->gid, st->groups, st->n_groups, TAKE_PTR(spec),
                               st->output_directory, &r);
        if (k < 0)
                return k;
        s = r->session;
        r->adopted = state != SESSION_QUEUED;
        r->created_realtime = st->created_realtime;
        r->created_monotonic = st->created_monotonic;

        gone = new0(bool, s->n_processes);
        if (!gone) {
                k = -ENOMEM;
                goto fail;
        }
        /* Processes the record does not name never started: they stay pending. */
        for (size_t i = 0; state != SESSION_QUEUED && i < st->n_processes; i++) {
                const StoredProcess *sp = &st->processes[i];
                Process *p = session_find_process_by_name(s, sp->name);

                if (!p || p->driver_data) { /* unknown, or named twice */
                        k = -EBADMSG;
                        goto fail;
                }
                k = process_restore(p, sp);
                if (k < 0)
                        goto fail;
                if (p->state == PROCESS_PENDING)
                        continue;
                k = executor_adopt_process(p, sp->cgroup, p->pid_start_time);
                if (k < 0)
                        goto fail;
                /* Its main pid is gone, or it had exited and its scope may not be empty yet. */
                gone[session_process_index(s, p)] = p->state == PROCESS_EXITED ? !process_is_gone(p) : k == 0;
        }

        if (s->spec->max_duration != USEC_INFINITY && st->created_monotonic != 0) {
                usec_t now = now_usec(CLOCK_MONOTONIC), end = st->created_monotonic + s->spec->max_duration;
                max_left = end > now ? end - now : 0;
        }

        k = manager_register_session(m, r);
        if (k < 0)
                goto fail;

        if (state == SESSION_QUEUED) {
                log_info("Session %s: queued again after a restart of profd.", s->id);
                k = manager_submit(m, r, false);
        } else {
                log_info("Session %s: re-adopted (%s).", s->id, st->state);
                k = manager_submit(m, r, true);
                if (k >= 0) {
                        const char *previous = log_set_session(s->id);
                        k = session_adopt(s, state, cause, max_left);
                        (void) log_set_session(previous);
                }
                for (size_t i = 0; k >= 0 && i < s->n_processes; i++) {
                        Process *p = s->processes[i];

                        if (!gone[i] || s->state == SESSION_FINISHED)
                                continue;
                        if (p->state != PROCESS_EXITED)
                                log_info("Session %s: %s (pid %d) ended while profd was away.", s->id, p->name,
                                         (int) p->pid);
                        /* For one that had exited before: is what it left behind gone too? */
                        (void) executor_adopted_gone(p);
                }
        }
        free(gone);
        if (k >= 0 && s->spec->bind_to_caller && s->state != SESSION_FINISHED)
                manager_adopt_caller(m, r, st->caller);
        manager_save_record(r);
        r->announced = true;
        manager_bus_session_new(r);
        return 0;

fail:
        free(gone);
        manager_discard_record(m, r);
        return k;
}

/* A session that cannot be adopted must not run on unwatched: what its record says is in its
 * scopes gets SIGKILL. */
static void kill_leftovers(const StoredSession *st) {
        for (size_t i = 0; i < st->n_processes; i++) {
                _cleanup_free_ char *procs = NULL;
                _cleanup_free_ pid_t *pids = NULL;
                size_t n = 0;

                if (!st->processes[i].cgroup ||
                    asprintf(&procs, "%s/cgroup.procs", st->processes[i].cgroup) < 0 ||
                    read_pid_list(procs, &pids, &n) < 0)
                        continue;
                for (size_t j = 0; j < n; j++)
                        (void) kill(pids[j], SIGKILL);
        }
}

/* A live record of an earlier boot, or one that could not be adopted: it is over, how is unknown. */
static int manager_bury(Manager *m, StoredSession *st) {
        st->state = mfree(st->state);
        st->result = mfree(st->result);
        st->state = strdup("finished");
        st->result = strdup("unknown");
        if (!st->state || !st->result)
                return -ENOMEM;
        for (size_t i = 0; i < st->n_processes; i++) {
                StoredProcess *sp = &st->processes[i];

                if (streq(sp->state, "exited") || streq(sp->state, "pending"))
                        continue;
                free(sp->state);
                free(sp->end);
                sp->state = strdup("exited");
                sp->end = strdup("exited, status unknown (the machine was restarted)");
                if (!sp->state || !sp->end)
                        return -ENOMEM;
                sp->exit_unknown = true;
        }
        st->finished_realtime = now_usec(CLOCK_REALTIME);
        log_info("Session %s is over, unseen: finished, result unknown.", st->id);
        return store_save(m->store, st, 0);
}

int manager_load_records(Manager *m) {
        StoredSession **all = NULL;
        unsigned long long highest = 0;
        size_t n = 0;
        int k;

        k = read_boot_id(&m->boot_id);
        if (k < 0)
                log_warning_errno(k, "Cannot read the boot id, records will not tell boots apart: %m");
        k = store_open(&m->store, m->state_directory);
        if (k < 0)
                return log_error_errno(k, "Cannot open the session records in %s: %m", m->state_directory);

        k = store_highest_id(m->store, &highest);
        if (k < 0)
                log_warning_errno(k, "Cannot tell the highest session id recorded, ignoring: %m");
        if (highest + 1 > m->next_id)
                m->next_id = highest + 1;

        k = store_load_all(m->store, &all, &n);
        if (k < 0)
                return log_error_errno(k, "Cannot read the session records: %m");
        for (size_t i = 0; i < n; i++) {
                StoredSession *st = all[i];

                if (streq(st->state, "finished"))
                        continue;
                if (!m->boot_id || !st->boot_id || !streq(st->boot_id, m->boot_id)) {
                        k = manager_bury(m, st);
                        if (k < 0)
                                log_warning_errno(k, "Session %s: cannot update its record: %m", st->id);
                        continue;
                }
                k = manager_adopt(m, st);
                if (k < 0) {
                        log_error_errno(k, "Session %s: cannot re-adopt it, killing what is left of it: %m", st->id);
                        kill_leftovers(st);
                        k = manager_bury(m, st);
                        if (k < 0)
                                log_warning_errno(k, "Session %s: cannot update its record: %m", st->id);
                }
        }
        stored_sessions_free(all, n);
        manager_run_queue(m);
        manager_prune_records(m);
        return 0;
}
