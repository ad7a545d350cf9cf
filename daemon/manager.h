/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "conf.h"
#include "executor.h"
#include "list.h"
#include "scheduler.h"
#include "scope.h"
#include "store.h"

/* The daemon: sessions owned by the users who asked for them, on one event loop. Data flows one way
 * (STYLE.md): the bus code decodes a request and calls in here; the Manager owns the Sessions (via
 * the Executor) and what it knows of them beyond their state machine (a SessionRecord); the bus
 * code learns of changes through manager_session_changed(). */

typedef struct Manager Manager;
typedef struct SessionRecord SessionRecord;
typedef struct Peer Peer;

typedef struct Credentials {
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        size_t n_groups;
} Credentials;

void credentials_done(Credentials *c);

typedef struct CachedCaller {
        char *sender;                   /* unique bus name */
        Credentials creds;
} CachedCaller;

struct SessionRecord {
        Manager *manager;
        Session *session;
        char *path;                     /* its D-Bus object */
        Credentials owner;
        char *output_directory;
        usec_t created_realtime, finished_realtime;
        usec_t created_monotonic;
        bool finished_seen;             /* counted out of the live sessions */
        bool announced;                 /* SessionNew sent: changes are signalled from now on */
        bool adopted;                   /* started by an earlier profd */
        Job *job;                       /* in the scheduler while queued or running; owned by it */

        bool save_queued;               /* its record is to be written (manager_save_record()) */
        bool save_failed;               /* the last write failed (said once) */
        LIST_FIELDS(SessionRecord, save_queue);

        sd_bus_message *start_request;  /* StartSession, answered once the target runs */
        sd_bus_slot *caller_match;      /* BindToCaller on a bus: its unique name losing its owner */
        sd_bus_slot *caller_check;      /* ... and whether it had one still (GetNameOwner) */
        sd_bus *caller_peer;            /* BindToCaller on a peer-to-peer connection */
        char *caller;                   /* BindToCaller on the bus: the caller's unique name */
        sd_event_source *expire;        /* removes the finished session after KeepFinishedSec */

        LIST_FIELDS(SessionRecord, records);
};

struct Peer {
        Manager *manager;
        sd_bus *bus;
        sd_event_source *defer_free;    /* a connection is freed outside of its own callbacks */
        sd_event_source *auth_watch;    /* until it is authenticated: see on_peer_authenticated() */
        LIST_FIELDS(Peer, peers);
};

typedef enum ManagerShutdown {
        MANAGER_SERVING,
        MANAGER_ASKING,                 /* SIGTERM: asking systemd whether it restarts us */
        MANAGER_STOPPING,               /* tearing every session down, then exit */
        MANAGER_LEAVING,                /* restarted: exit once no session is mid-start, leaving them */
} ManagerShutdown;

typedef enum ManagerMode {
        MANAGER_SYSTEM,                 /* system bus, sessions as their callers */
        MANAGER_USER,                   /* session bus, the user's own sessions */
        MANAGER_LISTEN,                 /* peer-to-peer on a socket of our own */
} ManagerMode;

struct Manager {
        sd_event *event;
        ManagerMode mode;
        Config config;
        char *state_directory;          /* sessions go in <this>/sessions/<id> */

        Scheduler *scheduler;           /* who runs when: Claims, Uses, Group, After, the limits */
        sd_event_source *queue_source;  /* runs the queue after a session ended */
        sd_event_source *trim_source;   /* gives the heap back once the last session went */
        Store *store;                   /* <state>/records */
        char *boot_id;
        sd_event_source *save_source;   /* writes the records of save_queue */
        unsigned finished_since_prune;  /* KeepRecords= is enforced every KeepRecords/8 ends */
        bool prune_pending;
        LIST_HEAD(SessionRecord, save_queue);

        sd_bus *bus;                    /* the bus we serve on (not in listen mode) */
        sd_bus *systemd_bus;            /* where the service manager is, for the systemd backend */
        ScopeBackend *backend;
        Executor *executor;

        int listen_fd;
        sd_event_source *listen_source;
        char *listen_path;
        LIST_HEAD(Peer, peers);
        unsigned n_peers;

        LIST_HEAD(SessionRecord, records);
        unsigned n_records;
        void *records_by_id;            /* tsearch() tree */
        unsigned long long next_id;

        CachedCaller callers[64];       /* recent callers' credentials, by unique name */
        unsigned next_caller;

        sd_event_source *signal_sources[3];
        ManagerShutdown shutdown;
        sd_bus_slot *own_job_query;     /* SIGTERM: the job systemd runs on our unit */
};

int manager_new(Manager **ret, ManagerMode mode);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Connects (or listens), picks the backend, registers the objects and takes the bus name. */
int manager_start(Manager *m, const char *listen_address, ScopeBackendType backend);
int manager_run(Manager *m);

SessionRecord *manager_find_session(Manager *m, const char *id);
unsigned manager_live_sessions_of(Manager *m, uid_t uid);

/* Takes `spec` and the fds. On failure sets `error` and returns a negative errno; nothing is left
 * behind. On success the session exists and is starting. */
/* Checks, as the session's owner, that a supporter AddSupporter was given could start: its
 * working directory and its executable. */
int manager_check_added_supporter(SessionRecord *r, const SupporterSpec *sup, sd_bus_error *error);
int manager_start_session(Manager *m, sd_bus_message *request, const Credentials *owner, SessionSpec *spec,
                          int stdio[3], SessionRecord **ret, sd_bus_error *error);

/* session_dispatch() with the session's id on every message logged meanwhile. */
int manager_dispatch(SessionRecord *r, const SessionEvent *e);

/* from manager-shutdown.c */
int manager_watch_signals(Manager *m);
/* Once shutting down: exits the loop when what is left to do is done. */
void manager_maybe_exit(Manager *m);

/* from manager-records.c */
int manager_record_to_stored(SessionRecord *r, StoredSession **ret);
/* Writes the record of `r` soon (now, with _flush()). */
void manager_save_record(SessionRecord *r);
void manager_save_record_flush(SessionRecord *r);
/* Writes every record that waits to be written. */
void manager_save_records_now(Manager *m);
int manager_load_records(Manager *m);
void manager_prune_records(Manager *m);
/* Forget(): a finished session's record and output go. */
int manager_forget(Manager *m, const char *id, uid_t caller, sd_bus_error *error);
DependencyState manager_dependency_state(const char *id, void *userdata);

/* Building blocks shared by StartSession and re-adoption. */
int manager_default_environment(uid_t uid, char ***ret);
/* A SessionRecord with its Session (state queued, taking `spec` also on failure), not registered. */
int manager_new_record(Manager *m, const char *id, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups,
                       SessionSpec *spec, const char *output_directory, SessionRecord **ret);
/* Frees a record that was never registered. */
void manager_discard_record(Manager *m, SessionRecord *r);
int manager_register_session(Manager *m, SessionRecord *r);
/* Drops a finished session: off the bus, out of the registry. */
void manager_remove_session(Manager *m, SessionRecord *r);
/* Queues `r` in the scheduler; `running`: it runs already (re-adopted). */
int manager_submit(Manager *m, SessionRecord *r, bool running);
/* Starts what the scheduler lets start, and ends what can never start. */
void manager_run_queue(Manager *m);

/* BindToCaller: stops `r` once `sender`, a unique name on `bus`, has no owner (any more). */
int manager_watch_caller(SessionRecord *r, sd_bus *bus, const char *sender);
void manager_caller_gone(SessionRecord *r);

/* Sends `sig` to `whom` (target, supporters, all, or a supporter's name). */
int manager_kill(SessionRecord *r, const char *whom, int sig, sd_bus_error *error);

/* Whether the credentials of `m`'s sender may act on `r`; sets AccessDenied otherwise. */
int manager_check_owner(SessionRecord *r, sd_bus_message *m, sd_bus_error *error);
/* The sender's uid, gid and groups, from the bus (never from what it says). */
int manager_query_credentials(Manager *m, sd_bus_message *msg, Credentials *ret, sd_bus_error *error);

/* Calls `f` for every connection we serve on (the bus, and every peer). */
typedef int (*ManagerBusFn)(sd_bus *bus, void *userdata);
void manager_foreach_bus(Manager *m, ManagerBusFn f, void *userdata);

/* from manager-bus.c */
int manager_bus_add_objects(Manager *m, sd_bus *bus);
int manager_bus_introspect(FILE *f);
void manager_bus_session_new(SessionRecord *r);
void manager_bus_session_removed(SessionRecord *r);
void manager_bus_session_changed(SessionRecord *r);
/* Answers a StartSession that waited for the target to run. */
void manager_bus_reply_start(SessionRecord *r);
