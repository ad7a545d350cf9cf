/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <unistd.h>

#include "list.h"
#include "log.h"
#include "scope.h"

/* Sessions as units of the service manager: one slice per session, one transient scope per
 * process. The slice is not made by a call of its own: naming it in the scope's Slice= makes systemd
 * load it on demand (a dash nests it, "profd-7.slice" under "profd.slice"), which costs systemd
 * far less than a transient unit, whose file it would write; StopUnit unloads it at the end. A scope is made with StartTransientUnit naming the held main pid, and counts as placed
 * once its start job is removed with result "done" (JobRemoved; we Subscribe() so that systemd
 * sends it). Controller= names us, so a `systemctl stop` of a scope or its slice comes here as
 * RequestStop instead of systemd signalling the processes itself.
 *
 * Two limits of the system bus shape this. dbus-daemon lets a connection have 128 calls awaiting
 * replies (max_replies_per_connection): beyond that it answers LimitsExceeded, so at most
 * SYSTEMD_CALLS_MAX calls are in flight and the rest wait their turn here, in order. And it lets a
 * connection have 512 match rules (max_match_rules_per_connection): systemd adds one to its own
 * connection for every unit with a Controller=, and loses its bus altogether past the limit. So
 * only CONTROLLED_SCOPES_MAX live scopes name us; the scopes of sessions beyond that are stopped
 * by systemd itself on `systemctl stop`, which profd sees as their processes ending. */

#define SYSTEMD_SERVICE "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"

/* A session's slice is stopped this long after it finished, not at once. systemd drops an emptied
 * scope by itself, but only once the kernel tells it that the cgroup emptied, which it does at most
 * every 10 ms per cgroup: the scope of a short-lived target lingers that long. A slice stopped
 * before that makes systemd stop the scope too (a stop job, RequestStop to us and back, lines in
 * the journal), and all of it, with the slice's own teardown and the signals that follow, lands on
 * the bus and the CPUs just as whoever waited for the session (profctl run) reads its result. */
#define SLICE_STOP_DELAY_USEC (50 * USEC_PER_MSEC)

/* Calls to systemd in flight, a call that makes a job counting until the job is removed. dbus-daemon
 * allows a connection 128 replies pending, and systemd adds a match rule to its own connection for
 * the sender of every job until the job is gone (besides one per Controller= scope, below): a
 * burst of StopUnit calls answered at once, each leaving a job behind, pushed systemd past its 512
 * rules and off the bus. */
#define SYSTEMD_CALLS_MAX 64u
#define CONTROLLED_SCOPES_MAX 256u

typedef struct SystemdBackend SystemdBackend;

/* A call to systemd: waiting for its turn (message set), then in flight (slot set), then, for one
 * that made a job, waiting for the job to be removed (job set). */
typedef struct SystemdCall SystemdCall;
struct SystemdCall {
        SystemdBackend *backend;
        sd_bus_message *message;
        sd_bus_slot *slot;
        bool makes_job;                 /* the reply is the path of a job */
        char *job;
        sd_bus_message_handler_t callback;
        void *userdata;
        Scope *scope;                   /* the call is about it: cancelled when it goes */
        LIST_FIELDS(SystemdCall, calls);
        SystemdCall *waiting_next;
};

typedef struct DelayedSliceStop DelayedSliceStop;
struct DelayedSliceStop {
        SystemdBackend *backend;
        char *slice;
        sd_event_source *timer;
        LIST_FIELDS(DelayedSliceStop, delayed);
};

struct SystemdBackend {
        ScopeBackend base;
        sd_bus *bus;
        char *controller;
        sd_bus_slot *job_removed_slot;
        sd_bus_slot *request_stop_slot;
        sd_bus_slot *owner_changed_slot;
        bool freezer;                   /* the unified cgroup freezer exists: FreezeUnit works */
        Scope **placing;                /* scopes whose start job is not removed yet */
        size_t n_placing;
        Scope **controlled;             /* live scopes made with Controller= */
        size_t n_controlled;
        LIST_HEAD(SystemdCall, calls);  /* all of them */
        SystemdCall *waiting_head, *waiting_tail;
        unsigned n_in_flight;
        LIST_HEAD(DelayedSliceStop, delayed); /* counted in n_outstanding */
};

static const char *bus_error_text(const sd_bus_error *e) {
        return e->message ? e->message : e->name;
}

static int bus_error_negative_errno(sd_bus_message *reply) {
        int r = sd_bus_message_get_errno(reply);
        return r > 0 ? -r : -EIO;
}

static SystemdBackend *backend_of(ScopeBackend *b) {
        assert(b->type == SCOPE_BACKEND_SYSTEMD);
        return (SystemdBackend *) b;
}

static void scope_array_remove(Scope **array, size_t *n, Scope *scope) {
        for (size_t i = 0; i < *n; i++)
                if (array[i] == scope) {
                        array[i] = array[--*n];
                        return;
                }
}

static void placing_remove(SystemdBackend *sb, Scope *scope) {
        scope_array_remove(sb->placing, &sb->n_placing, scope);
}

static void systemd_calls_dispatch(SystemdBackend *sb);

/* Forgets `c`: a waiting call is never sent, one in flight has its reply ignored. */
static void systemd_call_unlink(SystemdCall *c) {
        SystemdBackend *sb = c->backend;

        LIST_REMOVE(calls, sb->calls, c);
        if (c->message) {
                SystemdCall **w = &sb->waiting_head, *prev = NULL;

                while (*w && *w != c)
                        prev = *w, w = &(*w)->waiting_next;
                if (*w) {
                        *w = c->waiting_next;
                        if (sb->waiting_tail == c)
                                sb->waiting_tail = prev;
                }
                sd_bus_message_unref(c->message);
        }
        if (c->slot || c->job) {
                sd_bus_slot_unref(c->slot);
                assert(sb->n_in_flight > 0);
                sb->n_in_flight--;
        }
        free(c->job);
        free(c);
}

static SystemdCall *systemd_call_find_job(SystemdBackend *sb, const char *job) {
        LIST_FOREACH(calls, c, sb->calls)
                if (c->job && streq(c->job, job))
                        return c;
        return NULL;
}

static int on_call_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        SystemdCall *c = userdata;
        SystemdBackend *sb = c->backend;
        sd_bus_message_handler_t callback = c->callback;
        void *callback_userdata = c->userdata;
        int r;

        /* A job keeps its place until JobRemoved. If its path cannot be kept, the place goes now:
         * a bound passed for a while, rather than a place never given back. */
        if (c->makes_job && !sd_bus_message_is_method_error(reply, NULL)) {
                const char *job;

                if (sd_bus_message_read(reply, "o", &job) >= 0 && (c->job = strdup(job))) {
                        c->slot = sd_bus_slot_unref(c->slot);
                        c->scope = NULL; /* the job outlives a scope that goes */
                        (void) sd_bus_message_rewind(reply, true);
                        return callback(reply, callback_userdata, ret_error);
                }
                (void) sd_bus_message_rewind(reply, true);
        }
        /* Gone before the callback runs, which may end the scope the call was about. */
        systemd_call_unlink(c);
        r = callback(reply, callback_userdata, ret_error);
        systemd_calls_dispatch(sb);
        return r;
}

static int systemd_call_send(SystemdCall *c) {
        int r;

        r = sd_bus_call_async(c->backend->bus, &c->slot, c->message, on_call_reply, c, 0);
        if (r < 0)
                return r;
        c->message = sd_bus_message_unref(c->message);
        c->backend->n_in_flight++;
        return 0;
}

/* Sends what waits, while there is room. A call that cannot be sent gets its error as its reply. */
static void systemd_calls_dispatch(SystemdBackend *sb) {
        while (sb->waiting_head && sb->n_in_flight < SYSTEMD_CALLS_MAX) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *error = NULL;
                SystemdCall *c = sb->waiting_head;
                sd_bus_message_handler_t callback;
                void *callback_userdata;
                int r;

                sb->waiting_head = c->waiting_next;
                if (!sb->waiting_head)
                        sb->waiting_tail = NULL;
                c->waiting_next = NULL;
                r = systemd_call_send(c);
                if (r >= 0)
                        continue;
                log_warning_errno(r, "Failed to call systemd: %m");
                callback = c->callback;
                callback_userdata = c->userdata;
                (void) sd_bus_message_new_method_errno(c->message, &error, r, NULL);
                c->message = sd_bus_message_unref(c->message); /* off the queue already */
                systemd_call_unlink(c);
                if (error)
                        (void) callback(error, callback_userdata, NULL);
        }
}

/* Calls `member` of the manager object, now or when there is room; `callback` gets the reply. */
static int systemd_call(SystemdBackend *sb, Scope *scope, sd_bus_message *m, sd_bus_message_handler_t callback,
                        void *userdata) {
        const char *member = sd_bus_message_get_member(m);
        SystemdCall *c;

        c = new0(SystemdCall, 1);
        if (!c)
                return -ENOMEM;
        *c = (SystemdCall) { .backend = sb, .message = sd_bus_message_ref(m), .callback = callback,
                             .userdata = userdata, .scope = scope,
                             .makes_job = member && (streq(member, "StartTransientUnit") || streq(member, "StopUnit")) };
        LIST_PREPEND(calls, sb->calls, c);
        if (sb->n_in_flight < SYSTEMD_CALLS_MAX && !sb->waiting_head) {
                int r = systemd_call_send(c);
                if (r < 0) {
                        c->message = sd_bus_message_unref(c->message); /* never queued */
                        systemd_call_unlink(c);
                        return r;
                }
                return 0;
        }
        if (sb->waiting_tail)
                sb->waiting_tail->waiting_next = c;
        else
                sb->waiting_head = c;
        sb->waiting_tail = c;
        return 0;
}

static int systemd_call_method(SystemdBackend *sb, Scope *scope, const char *member, sd_bus_message_handler_t callback,
                               void *userdata, const char *types, const char *arg1, const char *arg2) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(sb->bus, &m, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, member);
        if (r < 0)
                return r;
        r = arg2 ? sd_bus_message_append(m, types, arg1, arg2) : sd_bus_message_append(m, types, arg1);
        if (r < 0)
                return r;
        return systemd_call(sb, scope, m, callback, userdata);
}

/* The scopes of `slice` stop naming us once it is stopped: systemd drops them, and their match. */
static void controlled_forget_slice(SystemdBackend *sb, const char *slice) {
        for (size_t i = 0; i < sb->n_controlled;)
                if (streq(sb->controlled[i]->slice, slice))
                        sb->controlled[i] = sb->controlled[--sb->n_controlled];
                else
                        i++;
}

static Scope *placing_find(SystemdBackend *sb, const char *unit) {
        for (size_t i = 0; i < sb->n_placing; i++)
                if (streq(sb->placing[i]->unit, unit))
                        return sb->placing[i];
        return NULL;
}

static void scope_placement_done(SystemdBackend *sb, Scope *scope, int error) {
        int r;

        placing_remove(sb, scope);
        if (error == 0) {
                r = scope_discover_cgroup(scope);
                if (r < 0)
                        log_debug_errno(r, "Cannot find the cgroup of %s, going by its process group: %m",
                                        scope->unit);
                scope->placed = true;
        }
        scope->placed_cb(scope, error, scope->userdata);
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        SystemdBackend *sb = userdata;
        const char *job, *unit, *result;
        SystemdCall *call;
        uint32_t id;
        Scope *scope;
        int r;

        r = sd_bus_message_read(m, "uoss", &id, &job, &unit, &result);
        if (r < 0) {
                log_debug_errno(r, "Malformed JobRemoved signal, ignoring: %m");
                return 0;
        }
        /* Every call that got this job (systemd merges a job asked for twice into one). */
        while ((call = systemd_call_find_job(sb, job)))
                systemd_call_unlink(call);
        systemd_calls_dispatch(sb);
        scope = placing_find(sb, unit);
        if (!scope)
                return 0;
        if (!streq(result, "done")) {
                log_error("Failed to start %s: its job ended with result '%s'.", unit, result);
                scope_placement_done(sb, scope, -EIO);
        } else
                scope_placement_done(sb, scope, 0);
        return 0;
}

/* systemd left the bus or came back on a new connection (it does so when it loses its own): the
 * jobs of its old connection are never reported to us as removed. Their places are given back. */
static int on_systemd_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        SystemdBackend *sb = userdata;
        SystemdCall *c, *next;

        log_debug("systemd's connection to the bus changed, no longer waiting for its earlier jobs.");
        LIST_FOREACH_SAFE(calls, c, next, sb->calls)
                if (c->job)
                        systemd_call_unlink(c);
        systemd_calls_dispatch(sb);
        return 0;
}

static int on_request_stop(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        SystemdBackend *sb = userdata;
        _cleanup_free_ char *unit = NULL;
        int r;

        r = sd_bus_path_decode(sd_bus_message_get_path(m), SYSTEMD_PATH "/unit", &unit);
        if (r <= 0)
                return 0;
        log_debug("systemd asks to stop %s.", unit);
        if (sb->base.stop_request)
                sb->base.stop_request(unit, sb->base.userdata);
        return 0;
}

static int on_start_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Scope *scope = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (!e)
                return 0; /* JobRemoved follows */
        log_error("Failed to create %s: %s", scope->unit, bus_error_text(e));
        scope_placement_done(backend_of(scope->backend), scope, bus_error_negative_errno(reply));
        return 0;
}

static int on_slice_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        ScopeBackend *b = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        /* A slice that is gone already (stopped with `systemctl stop`) is fine. */
        if (e && !sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit"))
                log_warning("Slice operation failed, ignoring: %s", bus_error_text(e));
        assert(b->n_outstanding > 0);
        if (--b->n_outstanding == 0 && b->idle)
                b->idle(b->userdata);
        return 0;
}

static void slice_stop(SystemdBackend *sb, const char *slice) {
        ScopeBackend *b = &sb->base;
        int r;

        controlled_forget_slice(sb, slice);
        /* Once stopped, the transient slice is garbage-collected: nothing is left behind. */
        r = systemd_call_method(sb, NULL, "StopUnit", on_slice_reply, b, "ss", slice, "replace");
        if (r < 0)
                log_warning_errno(r, "Failed to stop %s, ignoring: %m", slice);
        else
                b->n_outstanding++;
}

/* Stops the slice now; the delay's share of n_outstanding passes to the StopUnit call. */
static void delayed_slice_stop_run(DelayedSliceStop *d) {
        SystemdBackend *sb = d->backend;
        ScopeBackend *b = &sb->base;

        LIST_REMOVE(delayed, sb->delayed, d);
        slice_stop(sb, d->slice);
        sd_event_source_disable_unref(d->timer);
        free(d->slice);
        free(d);
        assert(b->n_outstanding > 0);
        if (--b->n_outstanding == 0 && b->idle)
                b->idle(b->userdata);
}

static bool placing_in_slice(SystemdBackend *sb, const char *slice) {
        for (size_t i = 0; i < sb->n_placing; i++)
                if (streq(sb->placing[i]->slice, slice))
                        return true;
        return false;
}

static int on_delayed_slice_stop(sd_event_source *source, uint64_t usec, void *userdata) {
        DelayedSliceStop *d = userdata;

        /* A scope of the slice whose start job is still pending (its process died at the gate,
         * killed by someone else, before systemd got to it) would be started after the slice's
         * stop and may keep both loaded: let systemd settle it first. */
        if (placing_in_slice(d->backend, d->slice) &&
            sd_event_source_set_time_relative(source, SLICE_STOP_DELAY_USEC) >= 0 &&
            sd_event_source_set_enabled(source, SD_EVENT_ONESHOT) >= 0)
                return 0;
        delayed_slice_stop_run(d);
        return 0;
}

static void systemd_slice_free(ScopeBackend *b, const char *slice) {
        SystemdBackend *sb = backend_of(b);
        sd_event *event = sd_bus_get_event(sb->bus);
        DelayedSliceStop *d = NULL;
        int r = -ENOMEM;

        if (event)
                d = new0(DelayedSliceStop, 1);
        if (d) {
                *d = (DelayedSliceStop) { .backend = sb, .slice = strdup(slice) };
                if (d->slice)
                        r = sd_event_add_time_relative(event, &d->timer, CLOCK_MONOTONIC, SLICE_STOP_DELAY_USEC,
                                                       SLICE_STOP_DELAY_USEC / 5, on_delayed_slice_stop, d);
        }
        if (r < 0) {
                /* No loop to wait on, or nothing to wait with: at once. */
                if (d)
                        free(d->slice);
                free(d);
                slice_stop(sb, slice);
                return;
        }
        LIST_PREPEND(delayed, sb->delayed, d);
        b->n_outstanding++;
}

static void systemd_flush(ScopeBackend *b) {
        SystemdBackend *sb = backend_of(b);

        while (sb->delayed)
                delayed_slice_stop_run(sb->delayed);
}

static int systemd_place(ScopeBackend *b, Scope *scope, const char *description, usec_t stop_timeout) {
        SystemdBackend *sb = backend_of(b);
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        Scope **grown;
        usec_t unit_stop_timeout;
        bool controlled;
        int r;

        assert(scope->unit);
        assert(scope->slice);

        /* systemd must not SIGKILL a scope while our ordered teardown is still in its grace
         * periods: two stages, and some slack. */
        unit_stop_timeout = stop_timeout >= USEC_INFINITY / 3 ? USEC_INFINITY : 2 * stop_timeout + 5 * USEC_PER_SEC;

        r = sd_bus_message_new_method_call(sb->bus, &m, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", scope->unit, "fail");
        if (r < 0)
                return r;
        controlled = sb->n_controlled < CONTROLLED_SCOPES_MAX;
        r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)(sv)(sv)",
                                          "Description", "s", description,
                                          "Slice", "s", scope->slice,
                                          "PIDs", "au", 1, (uint32_t) scope->pid,
                                          "TimeoutStopUSec", "t", (uint64_t) unit_stop_timeout,
                                          "CollectMode", "s", "inactive-or-failed",
                                          "CPUAccounting", "b", 1,
                                          "MemoryAccounting", "b", 1);
        if (r >= 0 && controlled)
                r = sd_bus_message_append(m, "(sv)", "Controller", "s", sb->controller);
        if (r >= 0 && b->tasks_max > 0)
                r = sd_bus_message_append(m, "(sv)", "TasksMax", "t", b->tasks_max);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return r;

        grown = reallocarray(sb->placing, sb->n_placing + 1, sizeof(Scope *));
        if (!grown)
                return -ENOMEM;
        sb->placing = grown;
        if (controlled) {
                grown = reallocarray(sb->controlled, sb->n_controlled + 1, sizeof(Scope *));
                if (!grown)
                        return -ENOMEM;
                sb->controlled = grown;
        }

        r = systemd_call(sb, scope, m, on_start_reply, scope);
        if (r < 0)
                return r;
        sb->placing[sb->n_placing++] = scope;
        if (controlled)
                sb->controlled[sb->n_controlled++] = scope;
        return 0;
}

static void systemd_done(ScopeBackend *b, Scope *scope) {
        SystemdBackend *sb = backend_of(b);
        SystemdCall *c, *next;

        placing_remove(sb, scope);
        scope_array_remove(sb->controlled, &sb->n_controlled, scope);
        LIST_FOREACH_SAFE(calls, c, next, sb->calls)
                if (c->scope == scope)
                        systemd_call_unlink(c);
        systemd_calls_dispatch(sb);
}

static int on_freeze_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Scope *scope = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (!e)
                return 0;
        /* The freezer said no after all: stop it the classic way. */
        log_debug("Freezing %s failed (%s), using SIGSTOP/SIGCONT.", scope->unit, bus_error_text(e));
        (void) scope_kill(scope, scope->freezing ? SIGSTOP : SIGCONT);
        return 0;
}

static int systemd_freeze(ScopeBackend *b, Scope *scope, bool freeze) {
        SystemdBackend *sb = backend_of(b);
        int r;

        if (!sb->freezer)
                return -EOPNOTSUPP;
        scope->freezing = freeze;
        r = systemd_call_method(sb, scope, freeze ? "FreezeUnit" : "ThawUnit", on_freeze_reply, scope, "s",
                                scope->unit, NULL);
        return r < 0 ? -EOPNOTSUPP : 0;
}

static void systemd_free(ScopeBackend *b) {
        SystemdBackend *sb = backend_of(b);

        /* Sent, if not answered: better than a slice left behind. Nobody is told of idleness now,
         * and what still waits for its turn goes without asking for a reply. */
        b->idle = NULL;
        systemd_flush(b);
        while (sb->calls) {
                SystemdCall *c = sb->calls;

                if (c->message && sd_bus_message_set_expect_reply(c->message, false) >= 0)
                        (void) sd_bus_send(sb->bus, c->message, NULL);
                systemd_call_unlink(c);
        }
        sd_bus_slot_unref(sb->job_removed_slot);
        sd_bus_slot_unref(sb->request_stop_slot);
        sd_bus_slot_unref(sb->owner_changed_slot);
        sd_bus_unref(sb->bus);
        free(sb->controller);
        free(sb->placing);
        free(sb->controlled);
        free(sb);
}

static const ScopeBackendVTable systemd_vtable = {
        .slice_free = systemd_slice_free,
        .flush = systemd_flush,
        .place = systemd_place,
        .done = systemd_done,
        .freeze = systemd_freeze,
        .free = systemd_free,
};

int scope_backend_new_systemd(ScopeBackend **ret, sd_bus *bus, const char *controller) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        SystemdBackend *sb;
        int r;

        assert(bus);
        assert(controller);

        sb = new0(SystemdBackend, 1);
        if (!sb)
                return -ENOMEM;
        sb->base = (ScopeBackend) { .vtable = &systemd_vtable, .type = SCOPE_BACKEND_SYSTEMD };
        sb->bus = sd_bus_ref(bus);
        sb->controller = strdup(controller);
        /* FreezeUnit needs the unified cgroup freezer; hybrid and legacy hierarchies say "does not
         * support freezing", so do not even ask there. */
        sb->freezer = access("/sys/fs/cgroup/cgroup.controllers", F_OK) >= 0;
        if (!sb->controller) {
                systemd_free(&sb->base);
                return -ENOMEM;
        }

        /* Matches before Subscribe(), so that no JobRemoved can slip through. */
        r = sd_bus_match_signal(bus, &sb->job_removed_slot, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                "JobRemoved", on_job_removed, sb);
        if (r >= 0)
                r = sd_bus_match_signal(bus, &sb->request_stop_slot, SYSTEMD_SERVICE, NULL,
                                        "org.freedesktop.systemd1.Scope", "RequestStop", on_request_stop, sb);
        if (r >= 0)
                r = sd_bus_add_match(bus, &sb->owner_changed_slot,
                                     "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                     "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
                                     "arg0='" SYSTEMD_SERVICE "'", on_systemd_owner_changed, sb);
        if (r >= 0)
                r = sd_bus_call_method(bus, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "Subscribe", &error,
                                       NULL, NULL);
        if (r < 0) {
                systemd_free(&sb->base);
                if (sd_bus_error_is_set(&error))
                        log_debug("Cannot subscribe to systemd: %s", error.message);
                return r;
        }

        *ret = &sb->base;
        return 0;
}
