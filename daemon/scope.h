/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "macro.h"
#include "time-util.h"

/* Where a session's processes live (DESIGN.md, "systemd integration"). A Scope holds one process
 * (its main pid, forked held by spawn.c) and whatever it forks. Two backends sit behind this:
 *
 *   systemd: a slice per session, a transient scope per process made with StartTransientUnit;
 *            placed once the start job is done. The slice is stopped a little after the session
 *            ends. systemd's RequestStop for a scope comes back as a stop request for its session.
 *   direct:  no service manager; the process group made at fork is the scope, placed at once.
 *
 * Both signal and judge emptiness from the kernel's view (the scope's cgroup, or the process
 * group), never through a bus round trip, so teardown does not wait on systemd. */

typedef struct ScopeBackend ScopeBackend;
typedef struct Scope Scope;

typedef enum ScopeBackendType {
        SCOPE_BACKEND_AUTO,
        SCOPE_BACKEND_SYSTEMD,
        SCOPE_BACKEND_DIRECT,
        _SCOPE_BACKEND_TYPE_MAX,
        _SCOPE_BACKEND_TYPE_INVALID = -EINVAL,
} ScopeBackendType;

const char *scope_backend_type_to_string(ScopeBackendType t) _const_;
ScopeBackendType scope_backend_type_from_string(const char *s) _pure_;

/* The placement finished: error is 0, or a negative errno when the scope could not be made. */
typedef void (*ScopePlacedFn)(Scope *scope, int error, void *userdata);
/* systemd asked to stop the unit `unit` (a scope of ours, or a session's slice). */
typedef void (*ScopeStopRequestFn)(const char *unit, void *userdata);

typedef struct ScopeBackendVTable {
        /* Stops the slice, now or a little later (counted as outstanding meanwhile). */
        void (*slice_free)(ScopeBackend *b, const char *slice);
        void (*flush)(ScopeBackend *b);
        /* Returns 1 when placed already, 0 when placed() follows. */
        int (*place)(ScopeBackend *b, Scope *scope, const char *description, usec_t stop_timeout);
        void (*done)(ScopeBackend *b, Scope *scope);
        /* -EOPNOTSUPP: no freezer, signals do it. */
        int (*freeze)(ScopeBackend *b, Scope *scope, bool freeze);
        void (*free)(ScopeBackend *b);
} ScopeBackendVTable;

struct ScopeBackend {
        const ScopeBackendVTable *vtable;
        ScopeBackendType type;
        ScopeStopRequestFn stop_request;
        void (*idle)(void *userdata);   /* the last outstanding call was answered */
        void *userdata;
        unsigned n_outstanding;         /* calls to the service manager not answered yet */
        uint64_t tasks_max;             /* TasksMax= of each scope; 0: not set (systemd only) */
};

struct Scope {
        ScopeBackend *backend;
        char *unit;                     /* "profd-<id>-<name>.scope"; NULL for direct */
        char *slice;
        pid_t pid;                      /* main pid, also its process group */
        char *cgroup_procs;             /* ".../cgroup.procs" once placed, when known */
        char *memory_file;              /* memory.current or memory.usage_in_bytes, when known */
        bool placed;
        bool freezing;                  /* FreezeUnit in flight or done */
        bool foreign;                   /* re-adopted: not our children, so not reaped by us */

        ScopePlacedFn placed_cb;
        void *userdata;
};

/* `bus` is a connection to the service manager, used for type systemd; NULL for direct. */
int scope_backend_new_systemd(ScopeBackend **ret, sd_bus *bus, const char *controller);
int scope_backend_new_direct(ScopeBackend **ret);
ScopeBackend *scope_backend_free(ScopeBackend *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(ScopeBackend *, scope_backend_free);

void scope_backend_set_callbacks(ScopeBackend *b, ScopeStopRequestFn stop_request, void (*idle)(void *userdata),
                                 void *userdata);

/* Whether calls are still on their way. A daemon about to exit waits for them: systemd checks who
 * sent a request by asking the bus, which cannot tell once the sender is gone, and then refuses it. */
static inline bool scope_backend_busy(const ScopeBackend *b) {
        return b->n_outstanding > 0;
}

static inline void scope_backend_slice_free(ScopeBackend *b, const char *slice) {
        if (b->vtable->slice_free)
                b->vtable->slice_free(b, slice);
}

/* Whatever the backend put off for later goes now: for a daemon that is leaving. */
static inline void scope_backend_flush(ScopeBackend *b) {
        if (b->vtable->flush)
                b->vtable->flush(b);
}

/* A scope for `pid`, held and not running yet. `unit` may be NULL for the direct backend. */
int scope_new(Scope **ret, ScopeBackend *b, const char *unit, const char *slice, pid_t pid,
              ScopePlacedFn placed, void *userdata);
Scope *scope_free(Scope *scope);
DEFINE_TRIVIAL_CLEANUP_FUNC(Scope *, scope_free);

/* Starts placing; 1 when placed at once, 0 when `placed` will be called, or a negative errno. */
int scope_place(Scope *scope, const char *description, usec_t stop_timeout);

/* Sends `sig` to every process of the scope. -ESRCH when there was none. */
int scope_kill(Scope *scope, int sig);
/* Nothing is left in the scope. */
bool scope_is_empty(Scope *scope);
/* Stops or continues the scope: the cgroup freezer where the backend has one, else SIGSTOP/SIGCONT. */
int scope_freeze(Scope *scope, bool freeze);
/* Reads the pids in a file such as cgroup.procs or /proc/PID/task/TID/children; -ENOENT when it is
 * not there (a cgroup that is gone). */
int read_pid_list(const char *path, pid_t **ret, size_t *ret_n);

/* Finds the scope's cgroup from its main pid, so that kill, emptiness and accounting see every
 * process in it. Without a cgroup (direct) they go by the process group. */
int scope_discover_cgroup(Scope *scope);
/* CPU time (user+system) of what is in the scope now, and its memory; UINT64_MAX when unknown. */
void scope_accounting(Scope *scope, uint64_t *ret_cpu_usec, uint64_t *ret_memory_bytes);
