/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-errors.h"
#include "log.h"
#include "manager.h"
#include "path-lookup.h"
#include "session-bus.h"
#include "spec-bus.h"
#include "strv.h"

/* org.profd.Profd1.Session: one object per session under /org/profd/Profd1/session/<id>, served by
 * a fallback vtable. Reading properties is open to everyone, as ListSessions is; acting on a
 * session, and Status with its argv and environment, is for its owner and root. */

int session_bus_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                     sd_bus_error *error) {
        _cleanup_free_ char *id = NULL;
        SessionRecord *r;
        int k;

        k = sd_bus_path_decode(path, PROFD_BUS_SESSION_PREFIX, &id);
        if (k <= 0)
                return k;
        r = manager_find_session(userdata, id);
        if (!r)
                return 0;
        *found = r;
        return 1;
}

int session_bus_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int k;

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        LIST_FOREACH(records, r, m->records) {
                k = strv_extend(&l, &n, r->path);
                if (k < 0)
                        return k;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

/* exit-code is the exit status when the process exited (-1 otherwise), signal the signal that
 * ended it (0 otherwise); cpu-usec is UINT64_MAX where unknown. */
static int append_processes(sd_bus_message *reply, SessionRecord *r) {
        Session *s = r->session;
        int k;

        k = sd_bus_message_open_container(reply, 'a', "(sssuiit)");
        if (k < 0)
                return k;
        for (size_t i = 0; i < s->n_processes; i++) {
                Process *p = s->processes[i];
                uint64_t cpu, memory;

                executor_process_accounting(p, &cpu, &memory);
                k = sd_bus_message_append(reply, "(sssuiit)", p->name, process_role_to_string(p->role),
                                          process_state_to_string(p->state), (uint32_t) p->pid,
                                          p->exit_code == CLD_EXITED && !p->exit_unknown ? p->exit_status : -1,
                                          IN_SET(p->exit_code, CLD_KILLED, CLD_DUMPED) ? p->exit_status : 0, cpu);
                if (k < 0)
                        return k;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_processes(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return append_processes(reply, userdata);
}

static int property_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        SessionRecord *r = userdata;
        Session *s = r->session;
        const char *v = "";

        if (streq(property, "Id"))
                v = s->id;
        else if (streq(property, "State"))
                v = session_state_to_string(s->state);
        else if (streq(property, "Result"))
                v = s->result == SESSION_RESULT_NONE ? "" : session_result_to_string(s->result);
        else if (streq(property, "Description"))
                v = s->spec->description ? s->spec->description : "";
        else if (streq(property, "Slice"))
                v = executor_session_slice(s) ? executor_session_slice(s) : "";
        else if (streq(property, "OutputDirectory"))
                v = r->output_directory;
        return sd_bus_message_append(reply, "s", v);
}

static int property_get_u32(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        SessionRecord *r = userdata;

        if (streq(property, "Owner"))
                return sd_bus_message_append(reply, "u", (uint32_t) r->owner.uid);
        return sd_bus_message_append(reply, "u", (uint32_t) session_target(r->session)->pid);
}

static int property_get_timestamp(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        SessionRecord *r = userdata;

        return sd_bus_message_append(reply, "t", (uint64_t) (streq(property, "CreatedTimestamp") ?
                                                             r->created_realtime : r->finished_realtime));
}

static int append_string_entry(sd_bus_message *m, const char *key, const char *value) {
        return sd_bus_message_append(m, "{sv}", key, "s", value ? value : "");
}

/* {key: <…>} of an a{sv}: opened with this signature, filled by the caller, closed by close_entry(). */
static int open_entry(sd_bus_message *m, const char *key, const char *signature) {
        int k;

        k = sd_bus_message_open_container(m, 'e', "sv");
        if (k >= 0)
                k = sd_bus_message_append(m, "s", key);
        if (k >= 0)
                k = sd_bus_message_open_container(m, 'v', signature);
        return k;
}

static int close_entry(sd_bus_message *m) {
        int k;

        k = sd_bus_message_close_container(m);
        if (k >= 0)
                k = sd_bus_message_close_container(m);
        return k;
}

static int append_strv_entry(sd_bus_message *m, const char *key, char * const *l) {
        int k;

        k = open_entry(m, key, "as");
        if (k >= 0)
                k = sd_bus_message_append_strv(m, (char **) (l ? l : (char * const[]) { NULL }));
        if (k >= 0)
                k = close_entry(m);
        return k;
}

static int append_stored_processes(sd_bus_message *reply, const StoredSession *st) {
        int k;

        k = sd_bus_message_open_container(reply, 'a', "(sssuiit)");
        for (size_t i = 0; k >= 0 && i < st->n_processes; i++) {
                const StoredProcess *p = &st->processes[i];

                k = sd_bus_message_append(reply, "(sssuiit)", p->name, p->role, p->state, (uint32_t) p->pid,
                                          p->exit_code == CLD_EXITED ? p->exit_status : -1,
                                          IN_SET(p->exit_code, CLD_KILLED, CLD_DUMPED) ? p->exit_status : 0,
                                          p->cpu_usec);
        }
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        return k;
}

/* Everything `profctl status` shows, from a record: the properties, the spec but for its
 * environment, and per process its unit, how it ended, CPU time and memory. `live` is the session
 * when it is still on the bus: then its environment and its place in the queue are added. */
int bus_append_status(sd_bus_message *reply, const StoredSession *st, SessionRecord *live) {
        uint32_t position = 0;
        char waiting[SCHEDULER_EXPLAIN_MAX] = "";
        int k;

        if (live && live->job && live->job->state == JOB_QUEUED) {
                position = scheduler_position(live->manager->scheduler, live->job);
                (void) scheduler_explain(live->manager->scheduler, live->job, waiting, sizeof(waiting));
        }

        k = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (k < 0)
                return k;
        k = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}",
                                  "Id", "s", st->id,
                                  "State", "s", st->state,
                                  "Result", "s", strempty(st->result),
                                  "StopCause", "s", strempty(st->stop_cause),
                                  "Owner", "u", (uint32_t) st->uid,
                                  "TargetPID", "u", (uint32_t) (st->n_processes > 0 ? st->processes[0].pid : 0),
                                  "CreatedTimestamp", "t", (uint64_t) st->created_realtime,
                                  "FinishedTimestamp", "t", (uint64_t) st->finished_realtime,
                                  "ExitStatus", "i", (int32_t) (streq(st->state, "finished") ? st->exit_status : -1));
        if (k >= 0)
                k = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}",
                                          "Priority", "i", (int32_t) st->priority,
                                          "Exclusive", "b", (int) st->group_exclusive,
                                          "QueuePosition", "u", position,
                                          "Persisted", "b", (int) !live,
                                          "Adopted", "b", (int) st->adopted,
                                          "StopTimeoutUSec", "t", (uint64_t) st->stop_timeout,
                                          "MaxDurationUSec", "t", (uint64_t) st->max_duration,
                                          "BindToCaller", "b", (int) st->bind_to_caller);
        if (k >= 0)
                k = append_string_entry(reply, "WaitingFor", waiting);
        if (k >= 0)
                k = append_string_entry(reply, "Description", st->description);
        if (k >= 0)
                k = append_string_entry(reply, "Group", st->session_group);
        if (k >= 0)
                k = append_string_entry(reply, "Slice", st->slice);
        if (k >= 0)
                k = append_string_entry(reply, "OutputDirectory", st->output_directory);
        if (k >= 0)
                k = append_string_entry(reply, "WorkingDirectory", st->working_directory);
        if (k >= 0)
                k = append_strv_entry(reply, "Target", st->target);
        if (k >= 0)
                k = append_strv_entry(reply, "Environment", live ? live->session->spec->environment : NULL);
        if (k >= 0)
                k = append_strv_entry(reply, "Claims", st->claims);
        if (k >= 0)
                k = append_strv_entry(reply, "Uses", st->uses);
        if (k >= 0)
                k = append_strv_entry(reply, st->after_success ? "AfterSuccess" : "After", st->after);
        if (k >= 0)
                k = append_strv_entry(reply, "OutputFiles", st->output_files);
        if (k < 0)
                return k;

        k = open_entry(reply, "Processes", "a(sssuiit)");
        if (k >= 0)
                k = append_stored_processes(reply, st);
        if (k >= 0)
                k = close_entry(reply);
        if (k < 0)
                return k;

        /* ProcessDetails: aa{sv}, one dictionary per process, in the order of Processes. */
        k = open_entry(reply, "ProcessDetails", "aa{sv}");
        if (k >= 0)
                k = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (size_t i = 0; k >= 0 && i < st->n_processes; i++) {
                const StoredProcess *p = &st->processes[i];

                k = sd_bus_message_open_container(reply, 'a', "{sv}");
                if (k >= 0)
                        k = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}",
                                                  "Name", "s", p->name,
                                                  "Role", "s", p->role,
                                                  "State", "s", p->state,
                                                  "PID", "u", (uint32_t) p->pid,
                                                  "End", "s", strempty(p->end),
                                                  "CPUUSec", "t", p->cpu_usec,
                                                  "MemoryBytes", "t", p->memory_bytes,
                                                  "ExitUnknown", "b", (int) p->exit_unknown);
                if (k >= 0)
                        k = append_string_entry(reply, "Unit", p->unit);
                if (k >= 0)
                        k = append_strv_entry(reply, "Argv", p->argv);
                if (k >= 0)
                        k = sd_bus_message_close_container(reply);
        }
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        if (k >= 0)
                k = close_entry(reply);
        if (k < 0)
                return k;
        return sd_bus_message_close_container(reply);
}

int bus_session_status(SessionRecord *r, sd_bus_message *m, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(stored_session_freep) StoredSession *st = NULL;
        int k;

        k = manager_check_owner(r, m, error);
        if (k < 0)
                return k;
        k = manager_record_to_stored(r, &st);
        if (k < 0)
                return k;
        k = sd_bus_message_new_method_return(m, &reply);
        if (k < 0)
                return k;
        k = bus_append_status(reply, st, r);
        if (k < 0)
                return k;
        return sd_bus_send(NULL, reply, NULL);
}

int bus_session_stop(SessionRecord *r, sd_bus_message *m, sd_bus_error *error) {
        int k;

        k = manager_check_owner(r, m, error);
        if (k < 0)
                return k;
        if (r->session->state == SESSION_FINISHED)
                return sd_bus_error_setf(error, PROFD_ERROR_BAD_STATE, "Session %s has finished already.",
                                         r->session->id);
        k = manager_dispatch(r, &(SessionEvent) { .type = SESSION_EVENT_STOP, .cause = STOP_CAUSE_REQUEST });
        if (k < 0)
                return sd_bus_error_set_errnof(error, k, "Session %s: cannot stop: %s", r->session->id, strerror_abs(k));
        return sd_bus_reply_method_return(m, NULL);
}

int bus_session_kill(SessionRecord *r, sd_bus_message *m, sd_bus_error *error) {
        const char *whom;
        int32_t sig;
        int k;

        k = sd_bus_message_read(m, "si", &whom, &sig);
        if (k < 0)
                return k;
        k = manager_check_owner(r, m, error);
        if (k < 0)
                return k;
        k = manager_kill(r, whom, sig, error);
        if (k < 0)
                return k;
        return sd_bus_reply_method_return(m, NULL);
}

int bus_session_pause(SessionRecord *r, sd_bus_message *m, bool pause, sd_bus_error *error) {
        int k;

        k = manager_check_owner(r, m, error);
        if (k < 0)
                return k;
        k = manager_dispatch(r, &(SessionEvent) { .type = pause ? SESSION_EVENT_PAUSE : SESSION_EVENT_RESUME });
        if (k == -EBUSY)
                return sd_bus_error_setf(error, PROFD_ERROR_BAD_STATE, "Session %s is %s, not %s.", r->session->id,
                                         session_state_to_string(r->session->state), pause ? "running" : "paused");
        if (k < 0)
                return sd_bus_error_set_errnof(error, k, "Session %s: %s", r->session->id, strerror_abs(k));
        return sd_bus_reply_method_return(m, NULL);
}

int bus_session_add_supporter(SessionRecord *r, sd_bus_message *m, sd_bus_error *error) {
        _cleanup_(supporter_spec_done) SupporterSpec sup = { 0 };
        Session *s = r->session;
        int k;

        k = manager_check_owner(r, m, error);
        if (k < 0)
                return k;
        if (r->manager->shutdown != MANAGER_SERVING)
                return sd_bus_error_setf(error, PROFD_ERROR_BAD_STATE, "profd is shutting down.");
        k = bus_message_read_supporter_spec(m, s->spec, &sup, error);
        if (k < 0)
                return k;
        if (s->n_processes + 1 > r->manager->config.processes_per_session)
                return sd_bus_error_setf(error, PROFD_ERROR_LIMIT_REACHED,
                                         "Session %s has %zu processes, at most %u (ProcessesPerSession=).",
                                         s->id, s->n_processes, r->manager->config.processes_per_session);
        for (char * const *req = sup.requires; req && *req; req++) {
                bool provided = false;

                for (size_t i = 0; i < s->spec->n_supporters && !provided; i++)
                        provided = strv_contains(s->spec->supporters[i].provides, *req);
                if (!provided)
                        return sd_bus_error_setf(error, PROFD_ERROR_INVALID_SPEC,
                                                 "Requires: no supporter of session %s provides '%s'.", s->id, *req);
        }
        k = manager_check_added_supporter(r, &sup, error);
        if (k < 0)
                return k;
        k = session_add_supporter(s, &sup);
        if (k == -EBUSY)
                return sd_bus_error_setf(error, PROFD_ERROR_BAD_STATE, "Session %s is %s: supporters join "
                                         "starting or running sessions only.", s->id, session_state_to_string(s->state));
        if (k < 0)
                return sd_bus_error_set_errnof(error, k, "Session %s: cannot add the supporter: %s", s->id, strerror_abs(k));
        return sd_bus_reply_method_return(m, NULL);
}

#define DEFINE_OBJECT_METHOD(name, call)                                                        \
        static int method_##name(sd_bus_message *msg, void *userdata, sd_bus_error *error) {   \
                SessionRecord *r = userdata;                                                    \
                return call;                                                                    \
        }

DEFINE_OBJECT_METHOD(stop, bus_session_stop(r, msg, error))
DEFINE_OBJECT_METHOD(status, bus_session_status(r, msg, error))
DEFINE_OBJECT_METHOD(kill, bus_session_kill(r, msg, error))
DEFINE_OBJECT_METHOD(pause, bus_session_pause(r, msg, true, error))
DEFINE_OBJECT_METHOD(resume, bus_session_pause(r, msg, false, error))
DEFINE_OBJECT_METHOD(add_supporter, bus_session_add_supporter(r, msg, error))

const sd_bus_vtable session_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Result", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Owner", "u", property_get_u32, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Description", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("TargetPID", "u", property_get_u32, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        /* Invalidated, not sent: its CPU times change all the time and cost /proc reads to compute. */
        SD_BUS_PROPERTY("Processes", "a(sssuiit)", property_get_processes, 0, SD_BUS_VTABLE_PROPERTY_EMITS_INVALIDATION),
        SD_BUS_PROPERTY("Slice", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("CreatedTimestamp", "t", property_get_timestamp, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("FinishedTimestamp", "t", property_get_timestamp, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("OutputDirectory", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_stop, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Status", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", status), method_status,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Kill", SD_BUS_ARGS("s", whom, "i", signal), SD_BUS_NO_RESULT, method_kill,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Pause", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_pause, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Resume", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_resume, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddSupporter", SD_BUS_ARGS("a{sv}", supporter), SD_BUS_NO_RESULT,
                                method_add_supporter, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};
