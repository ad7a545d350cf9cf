/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "scope.h"

static const char * const scope_backend_type_table[_SCOPE_BACKEND_TYPE_MAX] = {
        [SCOPE_BACKEND_AUTO] = "auto",
        [SCOPE_BACKEND_SYSTEMD] = "systemd",
        [SCOPE_BACKEND_DIRECT] = "direct",
};
DEFINE_STRING_TABLE_LOOKUP(scope_backend_type, ScopeBackendType, _SCOPE_BACKEND_TYPE_MAX);

ScopeBackend *scope_backend_free(ScopeBackend *b) {
        if (!b)
                return NULL;
        if (b->vtable->free)
                b->vtable->free(b);
        else
                free(b);
        return NULL;
}

void scope_backend_set_callbacks(ScopeBackend *b, ScopeStopRequestFn stop_request, void (*idle)(void *userdata),
                                 void *userdata) {
        b->stop_request = stop_request;
        b->idle = idle;
        b->userdata = userdata;
}

int scope_new(Scope **ret, ScopeBackend *b, const char *unit, const char *slice, pid_t pid,
              ScopePlacedFn placed, void *userdata) {
        _cleanup_(scope_freep) Scope *scope = NULL;

        assert(ret);
        assert(b);
        assert(pid > 0);

        scope = new0(Scope, 1);
        if (!scope)
                return -ENOMEM;
        *scope = (Scope) { .backend = b, .pid = pid, .placed_cb = placed, .userdata = userdata };
        if (unit) {
                scope->unit = strdup(unit);
                if (!scope->unit)
                        return -ENOMEM;
        }
        if (slice) {
                scope->slice = strdup(slice);
                if (!scope->slice)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(scope);
        return 0;
}

Scope *scope_free(Scope *scope) {
        if (!scope)
                return NULL;
        if (scope->backend->vtable->done)
                scope->backend->vtable->done(scope->backend, scope);
        free(scope->unit);
        free(scope->slice);
        free(scope->cgroup_procs);
        free(scope->memory_file);
        free(scope);
        return NULL;
}

int scope_place(Scope *scope, const char *description, usec_t stop_timeout) {
        int r;

        r = scope->backend->vtable->place(scope->backend, scope, description, stop_timeout);
        if (r > 0)
                scope->placed = true;
        return r;
}

int read_pid_list(const char *path, pid_t **ret, size_t *ret_n) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0, allocated = 0;
        int pid;

        f = fopen(path, "re");
        if (!f)
                return negative_errno();
        while (fscanf(f, "%d", &pid) == 1) {
                if (n >= allocated) {
                        pid_t *grown = reallocarray(pids, MAX(allocated * 2, 16u), sizeof(pid_t));
                        if (!grown)
                                return -ENOMEM;
                        pids = grown;
                        allocated = MAX(allocated * 2, 16u);
                }
                pids[n++] = pid;
        }
        *ret = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

int scope_kill(Scope *scope, int sig) {
        _cleanup_free_ pid_t *pids = NULL;
        bool sent = false, group_sent = false;
        size_t n = 0;

        /* The process group first: it exists from the fork on, before any cgroup does. */
        if (kill(-scope->pid, sig) >= 0)
                sent = group_sent = true;
        else if (errno != ESRCH)
                return negative_errno();

        /* Then whatever left the group but not the scope (setsid(), daemonizing tracers), once: a
         * second SIGTERM means "skip the cleanup" to many programs. Never ourselves. */
        if (scope->cgroup_procs && read_pid_list(scope->cgroup_procs, &pids, &n) >= 0)
                for (size_t i = 0; i < n; i++) {
                        if (pids[i] == getpid() || (group_sent && getpgid(pids[i]) == scope->pid))
                                continue;
                        if (kill(pids[i], sig) >= 0)
                                sent = true;
                }
        return sent ? 0 : -ESRCH;
}

bool scope_is_empty(Scope *scope) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r;

        /* A foreign group's exited members may wait a while for whoever reaps them; its cgroup,
         * which they leave as they exit, tells the truth. */
        if (!(scope->foreign && scope->cgroup_procs) && (kill(-scope->pid, 0) >= 0 || errno != ESRCH))
                return false;
        if (!scope->cgroup_procs)
                return true;
        r = read_pid_list(scope->cgroup_procs, &pids, &n);
        return r < 0 || n == 0;
}

int scope_freeze(Scope *scope, bool freeze) {
        if (scope->backend->vtable->freeze && scope->placed) {
                int r = scope->backend->vtable->freeze(scope->backend, scope, freeze);
                if (r != -EOPNOTSUPP)
                        return r;
        }
        return scope_kill(scope, freeze ? SIGSTOP : SIGCONT);
}

/* utime+stime (and, with `children`, cutime+cstime) of /proc/PID/stat, in microseconds. */
static int proc_cpu_usec(pid_t pid, bool children, uint64_t *ret) {
        _cleanup_(fclosep) FILE *f = NULL;
        unsigned long long utime, stime, cutime, cstime;
        char path[64], buf[1024], *p;
        long ticks;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return negative_errno();
        if (!fgets(buf, sizeof(buf), f))
                return -EIO;
        /* comm may hold spaces and parentheses: fields resume after the last ')'. */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
                         &utime, &stime, &cutime, &cstime) != 4)
                return -EBADMSG;
        ticks = sysconf(_SC_CLK_TCK);
        if (ticks <= 0)
                return -EINVAL;
        *ret = (utime + stime + (children ? cutime + cstime : 0)) * USEC_PER_SEC / (uint64_t) ticks;
        return 0;
}

int scope_discover_cgroup(Scope *scope) {
        _cleanup_(fclosep) FILE *f = NULL;
        _cleanup_free_ char *unified = NULL, *named = NULL, *memory = NULL;
        char path[64], line[4096];
        bool v2;

        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int) scope->pid);
        f = fopen(path, "re");
        if (!f)
                return negative_errno();
        while (fgets(line, sizeof(line), f)) {
                char *controllers, *cgroup;

                line[strcspn(line, "\n")] = '\0';
                controllers = strchr(line, ':');
                if (!controllers)
                        continue;
                cgroup = strchr(++controllers, ':');
                if (!cgroup)
                        continue;
                *cgroup++ = '\0';
                if (startswith(line, "0:") && controllers[0] == '\0')
                        unified = strdup(cgroup);
                else if (streq(controllers, "name=systemd"))
                        named = strdup(cgroup);
                else if (streq(controllers, "memory"))
                        memory = strdup(cgroup);
        }

        /* A process that died before systemd moved it (killed while held) still names where it was:
         * our own service's cgroup. Taking that for its scope would make scope_kill() signal us. */
        if (scope->unit) {
                const char *where = unified ? unified : named;
                const char *slash = where ? strrchr(where, '/') : NULL;

                if (!slash || !streq(slash + 1, scope->unit))
                        return -ESRCH;
        }

        /* Pure v2: everything in one tree. Hybrid: systemd's own tree is the unified one, memory
         * is a v1 controller. Legacy: name=systemd. */
        v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) >= 0;
        free(scope->cgroup_procs);
        free(scope->memory_file);
        scope->cgroup_procs = scope->memory_file = NULL;
        if (v2 && unified) {
                if (asprintf(&scope->cgroup_procs, "/sys/fs/cgroup%s/cgroup.procs", unified) < 0 ||
                    asprintf(&scope->memory_file, "/sys/fs/cgroup%s/memory.current", unified) < 0)
                        return -ENOMEM;
        } else {
                if (unified && access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) >= 0) {
                        if (asprintf(&scope->cgroup_procs, "/sys/fs/cgroup/unified%s/cgroup.procs", unified) < 0)
                                return -ENOMEM;
                } else if (named) {
                        if (asprintf(&scope->cgroup_procs, "/sys/fs/cgroup/systemd%s/cgroup.procs", named) < 0)
                                return -ENOMEM;
                }
                if (memory && !streq(memory, "/") &&
                    asprintf(&scope->memory_file, "/sys/fs/cgroup/memory%s/memory.usage_in_bytes", memory) < 0)
                        return -ENOMEM;
        }
        /* A file that is not there (no memory accounting) means "unknown", not zero. */
        if (scope->memory_file && access(scope->memory_file, F_OK) < 0)
                scope->memory_file = mfree(scope->memory_file);
        return 0;
}

static uint64_t read_u64_file(const char *path) {
        _cleanup_(fclosep) FILE *f = NULL;
        unsigned long long v;

        f = fopen(path, "re");
        if (!f || fscanf(f, "%llu", &v) != 1)
                return UINT64_MAX;
        return v;
}

void scope_accounting(Scope *scope, uint64_t *ret_cpu_usec, uint64_t *ret_memory_bytes) {
        _cleanup_free_ pid_t *pids = NULL;
        uint64_t cpu = 0, rss = 0, v;
        bool any = false;
        size_t n = 0;

        if (scope->cgroup_procs && read_pid_list(scope->cgroup_procs, &pids, &n) >= 0) {
                for (size_t i = 0; i < n; i++)
                        if (proc_cpu_usec(pids[i], pids[i] == scope->pid, &v) >= 0) {
                                cpu += v;
                                any = true;
                        }
        } else if (proc_cpu_usec(scope->pid, true, &v) >= 0) {
                cpu = v;
                any = true;
        }
        *ret_cpu_usec = any ? cpu : UINT64_MAX;

        if (scope->memory_file) {
                *ret_memory_bytes = read_u64_file(scope->memory_file);
                return;
        }
        /* No memory cgroup: the resident set of the main process is the best there is. */
        {
                _cleanup_(fclosep) FILE *f = NULL;
                char path[64];
                unsigned long long size, resident;

                snprintf(path, sizeof(path), "/proc/%d/statm", (int) scope->pid);
                f = fopen(path, "re");
                if (f && fscanf(f, "%llu %llu", &size, &resident) == 2)
                        rss = resident * (uint64_t) sysconf(_SC_PAGESIZE);
                *ret_memory_bytes = f ? rss : UINT64_MAX;
        }
}
