/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>

#include "scheduler.h"
#include "strv.h"

/* One name of Claims/Uses, or one group, as long as some job names it. Groups live in a tree of
 * their own: a group and a resource may share a name without meeting. */
struct SchedulerResource {
        char *name;
        unsigned n_refs;                /* jobs naming it, queued or running */
        Job *claimer;                   /* running */
        unsigned n_users;               /* running */

        /* The first queued claimer and user that wait for it in the current scan. Valid only while
         * .scan is the scheduler's, so that a scan starts with none and needs no clean-up pass. */
        uint64_t scan;
        Job *waiting_claimer, *waiting_user;
};

struct SchedulerUser {
        uid_t uid;
        unsigned n_refs;
        unsigned n_running;
};

struct Scheduler {
        unsigned max_parallel, max_per_uid;     /* UINT_MAX: no limit */
        SchedulerDependencyFn dependency;
        void *userdata;

        LIST_HEAD(Job, queue);                  /* in scheduling order */
        Job *queue_tail;
        size_t n_queued;
        LIST_HEAD(Job, running);
        unsigned n_running;
        LIST_HEAD(Job, dependents);
        size_t n_dependents;

        void *resources;                        /* tsearch() trees of SchedulerResource */
        void *groups;
        void *users;                            /* ... of SchedulerUser */

        uint64_t next_seq;
        uint64_t scan;
};

/* Why a queued job does not start: the first obstacle found, in the order of scheduler.h. */
typedef enum WaitReason {
        WAIT_NONE,
        WAIT_DEPENDENCY,                /* .dependency has not finished */
        WAIT_DEPENDENCY_FAILED,         /* .dependency did not succeed: it will never start */
        WAIT_USER_LIMIT,
        WAIT_HELD,                      /* .resource is claimed by the running .holder */
        WAIT_IN_USE,                    /* .resource, which we claim, is used by running jobs */
        WAIT_BEHIND,                    /* .resource is wanted first by the queued .holder */
        WAIT_CAPACITY,
        _WAIT_REASON_MAX,
        _WAIT_REASON_INVALID = -EINVAL,
} WaitReason;

typedef struct Obstacle {
        WaitReason reason;
        const char *dependency;
        DependencyState dependency_state;
        SchedulerResource *resource;
        bool group;                     /* .resource is our group */
        bool claim;                     /* ours is a claim, not a use */
        const Job *holder;              /* WAIT_HELD, WAIT_BEHIND */
        bool holder_claims;             /* WAIT_BEHIND: the holder's is a claim */
} Obstacle;

static const char * const job_state_table[_JOB_STATE_MAX] = {
        [JOB_QUEUED] = "queued",
        [JOB_RUNNING] = "running",
        [JOB_DONE] = "done",
};
DEFINE_STRING_TABLE_LOOKUP(job_state, JobState, _JOB_STATE_MAX);

static const char * const dependency_state_table[_DEPENDENCY_STATE_MAX] = {
        [DEPENDENCY_PENDING] = "pending",
        [DEPENDENCY_SUCCEEDED] = "succeeded",
        [DEPENDENCY_FAILED] = "failed",
        [DEPENDENCY_UNKNOWN] = "unknown",
};
DEFINE_STRING_TABLE_LOOKUP(dependency_state, DependencyState, _DEPENDENCY_STATE_MAX);

static int compare_resource(const void *a, const void *b) {
        return strcmp(((const SchedulerResource *) a)->name, ((const SchedulerResource *) b)->name);
}

static void resource_free(void *p) {
        SchedulerResource *r = p;

        free(r->name);
        free(r);
}

static int resource_ref(void **tree, const char *name, SchedulerResource **ret) {
        SchedulerResource key = { .name = (char *) name }, **found, *r;

        found = tfind(&key, tree, compare_resource);
        if (found) {
                (*found)->n_refs++;
                *ret = *found;
                return 0;
        }

        r = new0(SchedulerResource, 1);
        if (!r)
                return -ENOMEM;
        r->name = strdup(name);
        if (!r->name || !tsearch(r, tree, compare_resource)) {
                resource_free(r);
                return -ENOMEM;
        }
        r->n_refs = 1;
        *ret = r;
        return 0;
}

static void resource_unref(void **tree, SchedulerResource *r) {
        if (!r)
                return;
        assert(r->n_refs > 0);
        if (--r->n_refs > 0)
                return;
        (void) tdelete(r, tree, compare_resource);
        resource_free(r);
}

static int compare_user(const void *a, const void *b) {
        uid_t x = ((const SchedulerUser *) a)->uid, y = ((const SchedulerUser *) b)->uid;

        return (x > y) - (x < y);
}

static int user_ref(void **tree, uid_t uid, SchedulerUser **ret) {
        SchedulerUser key = { .uid = uid }, **found, *u;

        found = tfind(&key, tree, compare_user);
        if (found) {
                (*found)->n_refs++;
                *ret = *found;
                return 0;
        }

        u = new0(SchedulerUser, 1);
        if (!u)
                return -ENOMEM;
        u->uid = uid;
        if (!tsearch(u, tree, compare_user)) {
                free(u);
                return -ENOMEM;
        }
        u->n_refs = 1;
        *ret = u;
        return 0;
}

static void user_unref(void **tree, SchedulerUser *u) {
        if (!u)
                return;
        assert(u->n_refs > 0);
        if (--u->n_refs > 0)
                return;
        (void) tdelete(u, tree, compare_user);
        free(u);
}

int job_new(Job **ret, const char *id, uid_t uid) {
        _cleanup_(job_freep) Job *j = NULL;

        assert(ret);
        assert(id);

        j = new0(Job, 1);
        if (!j)
                return -ENOMEM;
        j->id = strdup(id);
        if (!j->id)
                return -ENOMEM;
        j->uid = uid;
        *ret = TAKE_PTR(j);
        return 0;
}

Job *job_free(Job *j) {
        if (!j)
                return NULL;
        assert(!j->scheduler);
        free(j->id);
        strv_free(j->claims);
        strv_free(j->uses);
        free(j->group);
        strv_free(j->after);
        free(j->claimed);
        free(j->used);
        free(j);
        return NULL;
}

static bool job_has_dependents_entry(const Job *j) {
        return j->after_success && strv_length(j->after) > 0;
}

/* Lower priority first, then submission order. */
static bool job_goes_before(const Job *a, const Job *b) {
        if (a->priority != b->priority)
                return a->priority < b->priority;
        return a->seq < b->seq;
}

static int compare_job_order(const void *a, const void *b) {
        const Job *x = *(Job * const *) a, *y = *(Job * const *) b;

        if (job_goes_before(x, y))
                return -1;
        if (job_goes_before(y, x))
                return 1;
        return 0;
}

static void queue_insert(Scheduler *s, Job *j) {
        Job *prev = s->queue_tail;

        /* From the tail: a new job usually goes last, so that a burst costs O(1) per job. */
        while (prev && job_goes_before(j, prev))
                prev = prev->jobs_prev;

        j->jobs_prev = prev;
        j->jobs_next = prev ? prev->jobs_next : s->queue;
        if (j->jobs_next)
                j->jobs_next->jobs_prev = j;
        else
                s->queue_tail = j;
        if (prev)
                prev->jobs_next = j;
        else
                s->queue = j;
        s->n_queued++;

        if (job_has_dependents_entry(j)) {
                LIST_PREPEND(dependents, s->dependents, j);
                s->n_dependents++;
        }
}

static void queue_remove(Scheduler *s, Job *j) {
        if (s->queue_tail == j)
                s->queue_tail = j->jobs_prev;
        LIST_REMOVE(jobs, s->queue, j);
        s->n_queued--;

        if (job_has_dependents_entry(j)) {
                LIST_REMOVE(dependents, s->dependents, j);
                s->n_dependents--;
        }
}

/* Takes a reference on everything the job names, so that dispatch never allocates or looks up a
 * name: its checks are pointer reads. On failure job_detach() undoes what was done. */
static int job_attach(Scheduler *s, Job *j) {
        size_t n_claims = strv_length(j->claims), n_uses = strv_length(j->uses);
        int r;

        r = user_ref(&s->users, j->uid, &j->user);
        if (r < 0)
                return r;
        if (j->group) {
                r = resource_ref(&s->groups, j->group, &j->group_resource);
                if (r < 0)
                        return r;
        }
        if (n_claims > 0) {
                j->claimed = new0(SchedulerResource *, n_claims);
                if (!j->claimed)
                        return -ENOMEM;
                for (; j->n_claimed < n_claims; j->n_claimed++) {
                        r = resource_ref(&s->resources, j->claims[j->n_claimed], &j->claimed[j->n_claimed]);
                        if (r < 0)
                                return r;
                }
        }
        if (n_uses > 0) {
                j->used = new0(SchedulerResource *, n_uses);
                if (!j->used)
                        return -ENOMEM;
                for (; j->n_used < n_uses; j->n_used++) {
                        r = resource_ref(&s->resources, j->uses[j->n_used], &j->used[j->n_used]);
                        if (r < 0)
                                return r;
                }
        }
        j->scheduler = s;
        return 0;
}

static void job_detach(Scheduler *s, Job *j) {
        for (size_t i = 0; i < j->n_claimed; i++)
                resource_unref(&s->resources, j->claimed[i]);
        j->claimed = mfree(j->claimed);
        j->n_claimed = 0;
        for (size_t i = 0; i < j->n_used; i++)
                resource_unref(&s->resources, j->used[i]);
        j->used = mfree(j->used);
        j->n_used = 0;
        resource_unref(&s->groups, j->group_resource);
        j->group_resource = NULL;
        user_unref(&s->users, j->user);
        j->user = NULL;
        j->scheduler = NULL;
}

int scheduler_new(Scheduler **ret, unsigned max_parallel, unsigned max_per_uid,
                  SchedulerDependencyFn dependency, void *userdata) {
        Scheduler *s;

        assert(ret);

        s = new0(Scheduler, 1);
        if (!s)
                return -ENOMEM;
        s->dependency = dependency;
        s->userdata = userdata;
        scheduler_set_capacity(s, max_parallel, max_per_uid);
        *ret = s;
        return 0;
}

Scheduler *scheduler_free(Scheduler *s) {
        Job *j, *n;

        if (!s)
                return NULL;
        LIST_FOREACH_SAFE(jobs, j, n, s->queue) {
                job_detach(s, j);
                job_free(j);
        }
        LIST_FOREACH_SAFE(jobs, j, n, s->running) {
                job_detach(s, j);
                job_free(j);
        }
        /* Every reference went with its job; the trees are empty by now. */
        assert(!s->resources && !s->groups && !s->users);
        free(s);
        return NULL;
}

void scheduler_set_capacity(Scheduler *s, unsigned max_parallel, unsigned max_per_uid) {
        assert(s);
        s->max_parallel = max_parallel > 0 ? max_parallel : UINT_MAX;
        s->max_per_uid = max_per_uid > 0 ? max_per_uid : UINT_MAX;
}

unsigned scheduler_n_running(const Scheduler *s) {
        return s->n_running;
}

size_t scheduler_n_queued(const Scheduler *s) {
        return s->n_queued;
}

int scheduler_submit(Scheduler *s, Job *j) {
        int r;

        assert(s);
        assert(j);
        assert(!j->scheduler);

        /* The new session cannot be finished yet, so waiting for it would be waiting forever. */
        for (char **i = j->after; i && *i; i++)
                if (!s->dependency || streq(*i, j->id))
                        return -EINVAL;

        r = job_attach(s, j);
        if (r < 0) {
                job_detach(s, j);
                return r;
        }
        j->state = JOB_QUEUED;
        j->seq = s->next_seq++;
        queue_insert(s, j);
        return 0;
}

static void job_start(Scheduler *s, Job *j);

int scheduler_adopt(Scheduler *s, Job *j) {
        int r;

        r = scheduler_submit(s, j);
        if (r < 0)
                return r;
        job_start(s, j);
        return 0;
}

/* SUCCEEDED when nothing in After holds the job back; PENDING with the first unfinished one; for
 * after_success, the first one that did not succeed, even if earlier ones are still pending. */
static DependencyState job_dependencies(const Scheduler *s, const Job *j, const char **ret_id) {
        const char *pending = NULL;

        for (char **i = j->after; i && *i; i++) {
                DependencyState d = s->dependency(*i, s->userdata);

                if (d == DEPENDENCY_PENDING) {
                        if (!j->after_success) {
                                *ret_id = *i;
                                return d;
                        }
                        if (!pending)
                                pending = *i;
                } else if (j->after_success && d != DEPENDENCY_SUCCEEDED) {
                        *ret_id = *i;
                        return d == DEPENDENCY_UNKNOWN ? d : DEPENDENCY_FAILED;
                }
        }
        if (pending) {
                *ret_id = pending;
                return DEPENDENCY_PENDING;
        }
        return DEPENDENCY_SUCCEEDED;
}

/* The other jobs standing between `r` and a claim (or a use) of it: running ones first, then those
 * that queue for it ahead of us in this scan. */
static bool resource_conflict(const Scheduler *s, SchedulerResource *r, bool claim, Obstacle *o) {
        const Job *waiting_claimer = NULL, *waiting_user = NULL;

        if (r->scan == s->scan) {
                waiting_claimer = r->waiting_claimer;
                waiting_user = r->waiting_user;
        }

        if (r->claimer)
                *o = (Obstacle) { .reason = WAIT_HELD, .holder = r->claimer };
        else if (claim && r->n_users > 0)
                *o = (Obstacle) { .reason = WAIT_IN_USE };
        else if (waiting_claimer)
                *o = (Obstacle) { .reason = WAIT_BEHIND, .holder = waiting_claimer, .holder_claims = true };
        else if (claim && waiting_user)
                *o = (Obstacle) { .reason = WAIT_BEHIND, .holder = waiting_user };
        else
                return false;
        o->resource = r;
        o->claim = claim;
        return true;
}

static bool job_find_obstacle(const Scheduler *s, const Job *j, Obstacle *ret) {
        const char *id = NULL;
        DependencyState d;

        d = job_dependencies(s, j, &id);
        if (d != DEPENDENCY_SUCCEEDED) {
                *ret = (Obstacle) {
                        .reason = d == DEPENDENCY_PENDING ? WAIT_DEPENDENCY : WAIT_DEPENDENCY_FAILED,
                        .dependency = id,
                        .dependency_state = d,
                };
                return true;
        }
        if (j->user->n_running >= s->max_per_uid) {
                *ret = (Obstacle) { .reason = WAIT_USER_LIMIT };
                return true;
        }
        /* An exclusive member claims its group, the others use it: so it runs alone in its group,
         * and a group with no exclusive member imposes nothing. */
        if (j->group_resource && resource_conflict(s, j->group_resource, j->group_exclusive, ret)) {
                ret->group = true;
                return true;
        }
        for (size_t i = 0; i < j->n_claimed; i++)
                if (resource_conflict(s, j->claimed[i], true, ret))
                        return true;
        for (size_t i = 0; i < j->n_used; i++)
                if (resource_conflict(s, j->used[i], false, ret))
                        return true;

        *ret = (Obstacle) { .reason = WAIT_NONE };
        return false;
}

static void resource_reserve(const Scheduler *s, SchedulerResource *r, Job *j, bool claim) {
        if (r->scan != s->scan) {
                r->scan = s->scan;
                r->waiting_claimer = r->waiting_user = NULL;
        }
        if (claim && !r->waiting_claimer)
                r->waiting_claimer = j;
        else if (!claim && !r->waiting_user)
                r->waiting_user = j;
}

/* `j` waits for `o`: it queues for what it names, so that later jobs cannot overtake it forever. */
static void job_reserve(const Scheduler *s, Job *j, const Obstacle *o) {
        /* Waiting that does not depend on other jobs letting go holds nobody up (see scheduler.h). */
        if (IN_SET(o->reason, WAIT_DEPENDENCY, WAIT_DEPENDENCY_FAILED, WAIT_USER_LIMIT))
                return;

        if (j->group_resource)
                resource_reserve(s, j->group_resource, j, j->group_exclusive);
        /* Waiting for its turn in the group keeps only its place there: the group's queue is
         * expected to be long, and the names are reserved once the group lets the job go. */
        if (o->group)
                return;
        for (size_t i = 0; i < j->n_claimed; i++)
                resource_reserve(s, j->claimed[i], j, true);
        for (size_t i = 0; i < j->n_used; i++)
                resource_reserve(s, j->used[i], j, false);
}

static void job_start(Scheduler *s, Job *j) {
        queue_remove(s, j);
        LIST_PREPEND(jobs, s->running, j);
        s->n_running++;
        j->user->n_running++;
        if (j->group_resource) {
                if (j->group_exclusive)
                        j->group_resource->claimer = j;
                else
                        j->group_resource->n_users++;
        }
        for (size_t i = 0; i < j->n_claimed; i++)
                j->claimed[i]->claimer = j;
        for (size_t i = 0; i < j->n_used; i++)
                j->used[i]->n_users++;
        j->state = JOB_RUNNING;
}

static void job_stop(Scheduler *s, Job *j) {
        LIST_REMOVE(jobs, s->running, j);
        s->n_running--;
        j->user->n_running--;
        if (j->group_resource) {
                if (j->group_exclusive)
                        j->group_resource->claimer = NULL;
                else
                        j->group_resource->n_users--;
        }
        for (size_t i = 0; i < j->n_claimed; i++)
                j->claimed[i]->claimer = NULL;
        for (size_t i = 0; i < j->n_used; i++)
                j->used[i]->n_users--;
}

int scheduler_dispatch(Scheduler *s, Job ***ret_start, size_t *ret_n_start, Job ***ret_failed, size_t *ret_n_failed) {
        _cleanup_free_ Job **start = NULL, **failed = NULL;
        size_t n_start = 0, n_failed = 0, max_start = 0;
        Job *j, *n;

        assert(s);
        assert(ret_start && ret_n_start && ret_failed && ret_n_failed);

        /* Room for as many as there can be, up front: then nothing changes unless all of it can. */
        if (s->n_running < s->max_parallel)
                max_start = MIN((size_t) (s->max_parallel - s->n_running), s->n_queued);
        if (max_start > 0) {
                start = new0(Job *, max_start);
                if (!start)
                        return -ENOMEM;
        }
        if (s->n_dependents > 0) {
                failed = new0(Job *, s->n_dependents);
                if (!failed)
                        return -ENOMEM;
        }

        /* The doomed first, wherever they are in the queue, so that they end at once and hold
         * nothing up on their way out. */
        LIST_FOREACH_SAFE(dependents, j, n, s->dependents) {
                const char *id = NULL;
                DependencyState d;

                d = job_dependencies(s, j, &id);
                if (IN_SET(d, DEPENDENCY_PENDING, DEPENDENCY_SUCCEEDED))
                        continue;
                queue_remove(s, j);
                job_detach(s, j);
                j->state = JOB_DONE;
                j->failed_dependency = id;
                j->failed_dependency_state = d;
                failed[n_failed++] = j;
        }
        if (n_failed > 1)
                qsort(failed, n_failed, sizeof(Job *), compare_job_order);

        /* With the capacity reached nothing more can start, whatever is further down the queue:
         * that is what keeps a long queue cheap. */
        s->scan++;
        for (j = s->queue; j && s->n_running < s->max_parallel; j = n) {
                Obstacle o;

                n = j->jobs_next;
                if (job_find_obstacle(s, j, &o)) {
                        job_reserve(s, j, &o);
                        continue;
                }
                assert(n_start < max_start);
                job_start(s, j);
                start[n_start++] = j;
        }

        if (n_start == 0)
                start = mfree(start);
        if (n_failed == 0)
                failed = mfree(failed);
        *ret_start = TAKE_PTR(start);
        *ret_n_start = n_start;
        *ret_failed = TAKE_PTR(failed);
        *ret_n_failed = n_failed;
        return 0;
}

void scheduler_finished(Scheduler *s, Job *j) {
        assert(s);
        assert(j && j->scheduler == s && j->state == JOB_RUNNING);

        job_stop(s, j);
        job_detach(s, j);
        job_free(j);
}

void scheduler_cancel(Scheduler *s, Job *j) {
        assert(s);
        assert(j && j->scheduler == s && j->state == JOB_QUEUED);

        queue_remove(s, j);
        job_detach(s, j);
        job_free(j);
}

unsigned scheduler_position(const Scheduler *s, const Job *job) {
        unsigned position = 1;

        if (job->scheduler != s || job->state != JOB_QUEUED)
                return 0;
        LIST_FOREACH(jobs, j, s->queue) {
                if (j == job)
                        return position;
                position++;
        }
        assert(false);
        return 0;
}

const char *scheduler_failure_reason(const Job *job, char *buf, size_t size) {
        snprintf(buf, size, "dependency session %s %s", strempty(job->failed_dependency),
                 job->failed_dependency_state == DEPENDENCY_UNKNOWN ? "is unknown" : "failed");
        return buf;
}

/* Some running job that uses `r` (a group it is a non-exclusive member of, or a name in Uses). */
static const Job *resource_find_running_user(const Scheduler *s, const SchedulerResource *r) {
        LIST_FOREACH(jobs, j, s->running) {
                if (j->group_resource == r)
                        return j;
                for (size_t i = 0; i < j->n_used; i++)
                        if (j->used[i] == r)
                                return j;
        }
        return NULL;
}

static const char *obstacle_format(const Scheduler *s, const Job *j, const Obstacle *o, char *buf, size_t size) {
        const Job *holder = o->reason == WAIT_IN_USE ? resource_find_running_user(s, o->resource) : o->holder;
        const char *holder_id = holder ? holder->id : "?";

        switch (o->reason) {
        case WAIT_NONE:
                snprintf(buf, size, "ready to start");
                break;
        case WAIT_DEPENDENCY:
                snprintf(buf, size, "after session %s", o->dependency);
                break;
        case WAIT_DEPENDENCY_FAILED:
                snprintf(buf, size, "dependency session %s %s", o->dependency,
                         o->dependency_state == DEPENDENCY_UNKNOWN ? "is unknown" : "failed");
                break;
        case WAIT_USER_LIMIT:
                snprintf(buf, size, "uid %u has %u of %u sessions running", (unsigned) j->uid,
                         j->user->n_running, s->max_per_uid);
                break;
        case WAIT_CAPACITY:
                snprintf(buf, size, "capacity: %u of %u sessions running", s->n_running, s->max_parallel);
                break;
        case WAIT_HELD:
        case WAIT_IN_USE:
        case WAIT_BEHIND:
                if (o->group)
                        snprintf(buf, size, "group '%s' runs one at a time: session %s%s", o->resource->name,
                                 holder_id, o->reason == WAIT_BEHIND ? " goes first" : "");
                else if (o->reason == WAIT_HELD)
                        snprintf(buf, size, "claim '%s' held by session %s", o->resource->name, holder_id);
                else if (o->reason == WAIT_IN_USE && o->resource->n_users > 1)
                        snprintf(buf, size, "'%s' in use by session %s and %u more", o->resource->name,
                                 holder_id, o->resource->n_users - 1);
                else if (o->reason == WAIT_IN_USE)
                        snprintf(buf, size, "'%s' in use by session %s", o->resource->name, holder_id);
                else
                        snprintf(buf, size, "%s of '%s' waits behind the %s of session %s",
                                 o->claim ? "claim" : "use", o->resource->name,
                                 o->holder_claims ? "claim" : "use", holder_id);
                break;
        default:
                assert(false);
        }
        return buf;
}

const char *scheduler_explain(Scheduler *s, const Job *job, char *buf, size_t size) {
        Obstacle o = { .reason = WAIT_NONE };
        bool found = false;

        assert(s);
        assert(job);

        if (job->state == JOB_DONE)
                return scheduler_failure_reason(job, buf, size);
        if (job->state == JOB_RUNNING) {
                snprintf(buf, size, "running");
                return buf;
        }
        assert(job->scheduler == s);

        /* The scan of scheduler_dispatch() again, up to the job and starting nothing. It does not
         * stop at the capacity: what a job waits for besides it is the more useful answer. */
        s->scan++;
        LIST_FOREACH(jobs, j, s->queue) {
                found = job_find_obstacle(s, j, &o);
                if (j == job)
                        break;
                if (found)
                        job_reserve(s, j, &o);
        }
        if (!found && s->n_running >= s->max_parallel)
                o = (Obstacle) { .reason = WAIT_CAPACITY };
        return obstacle_format(s, job, &o, buf, size);
}
