/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <sys/socket.h>

#include "bus-errors.h"
#include "log.h"
#include "manager.h"
#include "session-bus.h"
#include "spec-bus.h"
#include "strv.h"

/* org.profd.Profd1.Manager on /org/profd/Profd1, and the ObjectManager there. The session objects
 * are in session-bus.c. Everything here decodes, checks who is asking, and calls the Manager. */

static int find_session(Manager *m, sd_bus_message *msg, SessionRecord **ret, sd_bus_error *error) {
        const char *id;
        SessionRecord *r;
        int k;

        k = sd_bus_message_read(msg, "s", &id);
        if (k < 0)
                return k;
        r = manager_find_session(m, id);
        if (!r)
                return sd_bus_error_setf(error, PROFD_ERROR_NO_SUCH_SESSION, "No session '%.64s'.", id);
        *ret = r;
        return 0;
}

static int method_start_session(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_(credentials_done) Credentials owner = { 0 };
        SessionSpec *spec = NULL;
        SessionRecord *r;
        int stdio[3] = { -EBADF, -EBADF, -EBADF };
        int k;

        k = manager_query_credentials(m, msg, &owner, error);
        if (k < 0)
                return k;
        k = bus_message_read_session_spec(msg, &spec, stdio, error);
        if (k < 0)
                return k;
        k = manager_start_session(m, msg, &owner, spec, stdio, &r, error);
        for (int i = 0; i < 3; i++)
                safe_close(stdio[i]);
        if (k < 0)
                return k;
        /* Answered once the target runs (or could not be run): manager_bus_reply_start(). */
        return 1;
}

static int method_list_sessions(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int k;

        k = sd_bus_message_new_method_return(msg, &reply);
        if (k < 0)
                return k;
        k = sd_bus_message_open_container(reply, 'a', "(ssuuso)");
        if (k < 0)
                return k;
        /* Anyone may list: what runs is no secret (ps shows it), argv and environment are. */
        LIST_FOREACH(records, r, m->records) {
                Session *s = r->session;

                k = sd_bus_message_append(reply, "(ssuuso)", s->id, session_state_to_string(s->state),
                                          (uint32_t) r->owner.uid, (uint32_t) session_target(s)->pid,
                                          s->spec->description ? s->spec->description : "", r->path);
                if (k < 0)
                        return k;
        }
        k = sd_bus_message_close_container(reply);
        if (k < 0)
                return k;
        return sd_bus_send(NULL, reply, NULL);
}

#define DEFINE_SESSION_METHOD(name, call)                                                       \
        static int method_##name(sd_bus_message *msg, void *userdata, sd_bus_error *error) {   \
                SessionRecord *r = NULL;                                                        \
                int k = find_session(userdata, msg, &r, error);                                 \
                if (k < 0)                                                                      \
                        return k;                                                               \
                return call;                                                                    \
        }

DEFINE_SESSION_METHOD(stop, bus_session_stop(r, msg, error))

/* A session on the bus, or else one that is only a record now (after KeepFinishedSec=, or from
 * before a restart of profd): for its owner and root, as for a live one. */
static int method_status(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(stored_session_freep) StoredSession *st = NULL;
        _cleanup_(credentials_done) Credentials caller = { 0 };
        Manager *m = userdata;
        SessionRecord *r;
        const char *id;
        int k;

        k = sd_bus_message_read(msg, "s", &id);
        if (k < 0)
                return k;
        r = manager_find_session(m, id);
        if (r)
                return bus_session_status(r, msg, error);

        k = m->store && store_id_is_valid(id) ? store_load(m->store, id, &st) : -ENOENT;
        if (k == -ENOENT)
                return sd_bus_error_setf(error, PROFD_ERROR_NO_SUCH_SESSION, "No session '%.64s'.", id);
        if (k < 0)
                return sd_bus_error_set_errnof(error, k, "The record of session %s cannot be read: %s", id,
                                               strerror_abs(k));
        k = manager_query_credentials(m, msg, &caller, error);
        if (k < 0)
                return k;
        if (caller.uid != 0 && caller.uid != st->uid)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "Session %s belongs to uid %u.", id,
                                         (unsigned) st->uid);
        k = sd_bus_message_new_method_return(msg, &reply);
        if (k >= 0)
                k = bus_append_status(reply, st, NULL);
        if (k < 0)
                return k;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_forget(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(credentials_done) Credentials caller = { 0 };
        Manager *m = userdata;
        const char *id;
        int k;

        k = sd_bus_message_read(msg, "s", &id);
        if (k < 0)
                return k;
        if (!store_id_is_valid(id))
                return sd_bus_error_setf(error, PROFD_ERROR_NO_SUCH_SESSION, "No session '%.64s'.", id);
        k = manager_query_credentials(m, msg, &caller, error);
        if (k < 0)
                return k;
        k = manager_forget(m, id, caller.uid, error);
        if (k < 0)
                return k;
        return sd_bus_reply_method_return(msg, NULL);
}

/* Every record, finished sessions included: public like ListSessions (no argv, no environment). */
static int method_list_records(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        StoredSession **all = NULL;
        size_t n = 0;
        int k;

        if (m->store) {
                /* Live sessions' records may be behind by a loop iteration: write them first. */
                LIST_FOREACH(records, r, m->records)
                        manager_save_record_flush(r);
                k = store_load_all(m->store, &all, &n);
                if (k < 0)
                        return sd_bus_error_set_errnof(error, k, "Cannot read the session records: %s", strerror_abs(k));
        }
        k = sd_bus_message_new_method_return(msg, &reply);
        if (k >= 0)
                k = sd_bus_message_open_container(reply, 'a', "(sssustt)");
        for (size_t i = 0; k >= 0 && i < n; i++)
                k = sd_bus_message_append(reply, "(sssustt)", all[i]->id, all[i]->state, strempty(all[i]->result),
                                          (uint32_t) all[i]->uid, strempty(all[i]->description),
                                          (uint64_t) all[i]->created_realtime, (uint64_t) all[i]->finished_realtime);
        stored_sessions_free(all, n);
        if (k >= 0)
                k = sd_bus_message_close_container(reply);
        if (k < 0)
                return k;
        return sd_bus_send(NULL, reply, NULL);
}

DEFINE_SESSION_METHOD(kill, bus_session_kill(r, msg, error))
DEFINE_SESSION_METHOD(pause, bus_session_pause(r, msg, true, error))
DEFINE_SESSION_METHOD(resume, bus_session_pause(r, msg, false, error))
DEFINE_SESSION_METHOD(add_supporter, bus_session_add_supporter(r, msg, error))

static int property_get_api_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "u", PROFD_API_VERSION);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("APIVersion", "u", property_get_api_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("StartSession", SD_BUS_ARGS("a{sv}", spec), SD_BUS_RESULT("s", id, "o", session),
                                method_start_session, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Stop", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT, method_stop,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Status", SD_BUS_ARGS("s", id), SD_BUS_RESULT("a{sv}", status), method_status,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListSessions", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ssuuso)", sessions),
                                method_list_sessions, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Kill", SD_BUS_ARGS("s", id, "s", whom, "i", signal), SD_BUS_NO_RESULT,
                                method_kill, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Pause", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT, method_pause,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Resume", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT, method_resume,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddSupporter", SD_BUS_ARGS("s", id, "a{sv}", supporter), SD_BUS_NO_RESULT,
                                method_add_supporter, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Forget", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT, method_forget,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListRecords", SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(sssustt)", records), method_list_records, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("SessionNew", SD_BUS_ARGS("s", id, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("SessionRemoved", SD_BUS_ARGS("s", id, "o", path), 0),
        SD_BUS_VTABLE_END,
};

int manager_bus_add_objects(Manager *m, sd_bus *bus) {
        int r;

        r = sd_bus_add_object_vtable(bus, NULL, PROFD_BUS_PATH, PROFD_BUS_MANAGER_INTERFACE, manager_vtable, m);
        if (r < 0)
                return r;
        r = sd_bus_add_fallback_vtable(bus, NULL, PROFD_BUS_SESSION_PREFIX, PROFD_BUS_SESSION_INTERFACE,
                                       session_vtable, session_bus_find, m);
        if (r < 0)
                return r;
        r = sd_bus_add_node_enumerator(bus, NULL, PROFD_BUS_SESSION_PREFIX, session_bus_enumerate, m);
        if (r < 0)
                return r;
        return sd_bus_add_object_manager(bus, NULL, PROFD_BUS_PATH);
}

typedef struct SignalArgs {
        SessionRecord *record;
        const char *member;
} SignalArgs;

static int emit_session_signal(sd_bus *bus, void *userdata) {
        SignalArgs *a = userdata;
        int r;

        if (streq(a->member, "SessionNew"))
                (void) sd_bus_emit_object_added(bus, a->record->path);
        else
                (void) sd_bus_emit_object_removed(bus, a->record->path);
        r = sd_bus_emit_signal(bus, PROFD_BUS_PATH, PROFD_BUS_MANAGER_INTERFACE, a->member, "so",
                               a->record->session->id, a->record->path);
        if (r < 0)
                log_debug_errno(r, "Failed to emit %s, ignoring: %m", a->member);
        return 0;
}

void manager_bus_session_new(SessionRecord *r) {
        manager_foreach_bus(r->manager, emit_session_signal, &(SignalArgs) { r, "SessionNew" });
}

void manager_bus_session_removed(SessionRecord *r) {
        manager_foreach_bus(r->manager, emit_session_signal, &(SignalArgs) { r, "SessionRemoved" });
}

static int emit_changed(sd_bus *bus, void *userdata) {
        SessionRecord *r = userdata;
        int k;

        k = sd_bus_emit_properties_changed(bus, r->path, PROFD_BUS_SESSION_INTERFACE, "State", "Result",
                                           "TargetPID", "Processes", "FinishedTimestamp", NULL);
        if (k < 0)
                log_debug_errno(k, "Failed to emit PropertiesChanged, ignoring: %m");
        return 0;
}

void manager_bus_session_changed(SessionRecord *r) {
        manager_foreach_bus(r->manager, emit_changed, r);
}

void manager_bus_reply_start(SessionRecord *r) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *request = TAKE_PTR(r->start_request);
        Session *s = r->session;
        int k;

        if (s->state == SESSION_FINISHED && s->result == SESSION_RESULT_EXEC_FAILED) {
                char buf[PROCESS_FORMAT_END_MAX];

                for (size_t i = 0; i < s->n_processes; i++) {
                        Process *p = s->processes[i];
                        /* Which unit systemd refused is what the caller needs to find the clash. */
                        const char *unit = p->start_stage == START_STAGE_SCOPE ? executor_process_unit(p) : NULL;

                        if (p->exec_error == 0)
                                continue;
                        k = sd_bus_reply_method_errorf(request, PROFD_ERROR_EXEC_FAILED, "Session %s: %s%s '%.256s' %s%s%s%s.",
                                                       s->id, p->role == PROCESS_TARGET ? "the target" : "supporter ",
                                                       p->role == PROCESS_TARGET ? "" : p->name, p->argv[0],
                                                       process_format_end(p, buf, sizeof(buf)),
                                                       unit ? " (" : "", strempty(unit), unit ? ")" : "");
                        if (k < 0)
                                log_debug_errno(k, "Failed to answer StartSession, ignoring: %m");
                        return;
                }
        }
        k = sd_bus_reply_method_return(request, "so", s->id, r->path);
        if (k < 0)
                log_debug_errno(k, "Failed to answer StartSession, ignoring: %m");
}

/* Introspection without a bus daemon: the objects on one end of a socket pair, Introspect called
 * from the other, both pumped by hand. What `profd --bus-introspect` prints, and what the
 * committed interface XML is compared with. */
static int introspect_path(sd_bus *server, sd_bus *client, const char *path, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        const char *xml;
        uint64_t cookie;
        int r;

        r = sd_bus_message_new_method_call(client, &call, NULL, path, "org.freedesktop.DBus.Introspectable",
                                           "Introspect");
        if (r < 0)
                return r;
        r = sd_bus_send(client, call, &cookie);
        if (r < 0)
                return r;
        for (int i = 0; i < 1000 && !reply; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;

                while ((r = sd_bus_process(server, NULL)) > 0)
                        ;
                if (r < 0)
                        return r;
                r = sd_bus_process(client, &m);
                if (r < 0)
                        return r;
                if (m && sd_bus_message_get_reply_cookie(m, &cookie) >= 0) {
                        reply = TAKE_PTR(m);
                        break;
                }
                if (r == 0)
                        (void) sd_bus_wait(client, 10000);
        }
        if (!reply)
                return -ETIMEDOUT;
        if (sd_bus_message_is_method_error(reply, NULL))
                return -sd_bus_message_get_errno(reply);
        r = sd_bus_message_read(reply, "s", &xml);
        if (r < 0)
                return r;
        *ret = strdup(xml);
        return *ret ? 0 : -ENOMEM;
}

static void print_interface(FILE *f, const char *xml, const char *interface) {
        _cleanup_free_ char *open_tag = NULL;
        const char *start, *end;

        if (asprintf(&open_tag, " <interface name=\"%s\">", interface) < 0)
                return;
        start = strstr(xml, open_tag);
        if (!start)
                return;
        end = strstr(start, "</interface>");
        if (!end)
                return;
        fprintf(f, "%.*s</interface>\n", (int) (end - start), start);
}

int manager_bus_introspect(FILE *f) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *server = NULL, *client = NULL;
        _cleanup_free_ char *manager_xml = NULL, *session_xml = NULL;
        _cleanup_close_pair_ int pair[2] = { -EBADF, -EBADF };
        Manager m = { .listen_fd = -EBADF };
        sd_id128_t id;
        int r;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
                return negative_errno();
        r = sd_id128_randomize(&id);
        if (r < 0)
                return r;
        r = sd_bus_new(&server);
        if (r >= 0)
                r = sd_bus_set_fd(server, pair[0], pair[0]);
        if (r < 0)
                return r;
        pair[0] = -EBADF;
        r = sd_bus_set_server(server, 1, id);
        if (r >= 0)
                r = manager_bus_add_objects(&m, server);
        if (r >= 0)
                r = sd_bus_add_object_vtable(server, NULL, PROFD_BUS_SESSION_PREFIX "/example",
                                             PROFD_BUS_SESSION_INTERFACE, session_vtable, NULL);
        if (r >= 0)
                r = sd_bus_start(server);
        if (r >= 0)
                r = sd_bus_new(&client);
        if (r >= 0)
                r = sd_bus_set_fd(client, pair[1], pair[1]);
        if (r < 0)
                return r;
        pair[1] = -EBADF;
        r = sd_bus_start(client);
        if (r < 0)
                return r;

        r = introspect_path(server, client, PROFD_BUS_PATH, &manager_xml);
        if (r < 0)
                return r;
        r = introspect_path(server, client, PROFD_BUS_SESSION_PREFIX "/example", &session_xml);
        if (r < 0)
                return r;

        fputs("<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n"
              "\"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n"
              "<node>\n", f);
        print_interface(f, manager_xml, PROFD_BUS_MANAGER_INTERFACE);
        print_interface(f, session_xml, PROFD_BUS_SESSION_INTERFACE);
        fputs("</node>\n", f);
        return 0;
}
