/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "list.h"
#include "macro.h"

/* Which queued sessions may start (DESIGN.md: Queued ──(claims free, capacity)──▶ Starting). It is
 * pure, like the session state machine: no clock, no I/O, no logging. The owner submits a Job per
 * session, calls scheduler_dispatch() after every change (a submission, a session ending, a
 * cancellation, new limits, a dependency finishing) and starts what it is handed.
 *
 * The rules, in the order a queued job is checked against them:
 *
 *  - After: it waits until every listed session has finished. With after_success, it never starts
 *    if one of them did not succeed: dispatch hands it back as failed (result "dependency"), as
 *    soon as that is known, even while the others are still running. A dependency the owner does
 *    not know (DEPENDENCY_UNKNOWN, e.g. a finished session whose record was dropped) is one whose
 *    success cannot be shown: it fails an after_success job and satisfies a plain After (there is
 *    nothing left to wait for). The daemon rejects unknown ids at submission, so this is rare.
 *  - MaxParallelSessionsPerUser: a uid at its limit has the rest of its jobs wait.
 *  - Exclusive groups: a job with group_exclusive runs alone among the jobs of its group; the
 *    others wait, in order. A group nobody marks exclusive imposes nothing.
 *  - Claims and Uses, a read/write lock per name: a claim waits while another job claims or uses
 *    the name, a use waits while another job claims it.
 *  - MaxParallelSessions: when it is reached nothing more starts.
 *
 * Order and fairness: jobs are considered in scheduling order, lower Priority first and in
 * submission order among equals; the first one that may start starts, so a blocked job does not
 * hold back unrelated ones behind it. A job that waits because of another job's names or group
 * queues for them, so that it cannot be starved: while it waits, a later job may neither claim
 * nor use what it claims, nor claim what it uses (a waiting claimer blocks later users; a waiting
 * user blocks later claimers, for first-come-first-served). Exclusive groups are one name, claimed
 * by exclusive members and used by the others.
 * Some waiting reserves nothing, because it does not depend on other jobs letting go and must not
 * hold them up: waiting for After, waiting for one's own uid's limit (so one user's flood cannot
 * starve the others), and waiting for one's turn in a group (only the place in the group is kept
 * then; the job reserves its names once the group lets it go). */

typedef struct Scheduler Scheduler;
typedef struct Job Job;
typedef struct SchedulerResource SchedulerResource;
typedef struct SchedulerUser SchedulerUser;

typedef enum JobState {
        JOB_QUEUED,
        JOB_RUNNING,
        JOB_DONE,               /* handed back as failed by scheduler_dispatch() */
        _JOB_STATE_MAX,
        _JOB_STATE_INVALID = -EINVAL,
} JobState;

/* What the owner knows of a session named in After. */
typedef enum DependencyState {
        DEPENDENCY_PENDING,     /* exists and has not finished */
        DEPENDENCY_SUCCEEDED,
        DEPENDENCY_FAILED,      /* finished with any result but success */
        DEPENDENCY_UNKNOWN,     /* no such session */
        _DEPENDENCY_STATE_MAX,
        _DEPENDENCY_STATE_INVALID = -EINVAL,
} DependencyState;

struct Job {
        /* The owner's to fill in between job_new() and scheduler_submit(); the job owns the
         * strings and string vectors, and they must not change while it is submitted. */
        char *id;                       /* the session id */
        uid_t uid;
        int priority;                   /* lower first */
        char **claims;                  /* resource names held exclusively; NULL: none */
        char **uses;                    /* resource names shared with other users; NULL: none */
        char *group;                    /* NULL: none */
        bool group_exclusive;
        char **after;                   /* session ids; NULL: none */
        bool after_success;
        void *userdata;                 /* the owner's; never touched */

        /* The scheduler's. */
        JobState state;
        uint64_t seq;                   /* submission order */
        const char *failed_dependency;  /* JOB_DONE: the entry of .after that doomed it */
        DependencyState failed_dependency_state;

        Scheduler *scheduler;
        LIST_FIELDS(Job, jobs);         /* in the queue (in scheduling order) or the running list */
        LIST_FIELDS(Job, dependents);   /* queued with after_success */
        SchedulerUser *user;
        SchedulerResource *group_resource;
        SchedulerResource **claimed, **used;
        size_t n_claimed, n_used;
};

int job_new(Job **ret, const char *id, uid_t uid);
/* Frees the job and what it owns, not .userdata. It must not be in a scheduler. */
Job *job_free(Job *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(Job *, job_free);

/* Answers for the state of a session in After, as the owner knows it (including persisted finished
 * sessions). Called from scheduler_dispatch() and scheduler_explain() only. */
typedef DependencyState (*SchedulerDependencyFn)(const char *id, void *userdata);

/* Limits of 0 mean no limit. `dependency` may be NULL when no job will have After. */
int scheduler_new(Scheduler **ret, unsigned max_parallel, unsigned max_per_uid,
                  SchedulerDependencyFn dependency, void *userdata);
/* Frees the jobs still queued or running too. */
Scheduler *scheduler_free(Scheduler *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Scheduler *, scheduler_free);

/* New limits; running jobs are left alone. Dispatch afterwards. */
void scheduler_set_capacity(Scheduler *s, unsigned max_parallel, unsigned max_per_uid);

/* Queues a job from job_new(), in state JOB_QUEUED. On success the scheduler owns it; on failure
 * (-ENOMEM; -EINVAL for a job naming itself in After, or After without a dependency callback) it
 * is left to the caller as it was. */
int scheduler_submit(Scheduler *s, Job *job);

/* Queues a job that runs already, as a session re-adopted after a restart of the daemon does: it
 * is JOB_RUNNING at once and holds its names and its share of the capacity, whatever the limits say
 * now. Errors as scheduler_submit(). */
int scheduler_adopt(Scheduler *s, Job *job);

/* Decides. *ret_start gets the jobs that may start now, in scheduling order, marked JOB_RUNNING:
 * start them and call scheduler_finished() when each ends. *ret_failed gets the jobs that can never
 * start (an after_success dependency did not succeed), in scheduling order, marked JOB_DONE and
 * taken out of the scheduler: they are the caller's to job_free(), after reading
 * scheduler_failure_reason(). The arrays are the caller's to free(); NULL when empty.
 * Returns -ENOMEM, changing nothing, or 0. Cheap on a long queue: with MaxParallelSessions reached
 * it looks only at the queued jobs with after_success, and otherwise it stops as soon as it is
 * reached. */
int scheduler_dispatch(Scheduler *s, Job ***ret_start, size_t *ret_n_start, Job ***ret_failed, size_t *ret_n_failed);

/* A running job ended: its names, group place and capacity are free again. The job is freed. */
void scheduler_finished(Scheduler *s, Job *job);
/* A queued job was stopped before it ran. The job is freed. */
void scheduler_cancel(Scheduler *s, Job *job);

/* 1-based position of a queued job in scheduling order; 0 when it is not queued. */
unsigned scheduler_position(const Scheduler *s, const Job *job);

/* What a queued job waits for, first reason first, e.g. "claim 'pmu' held by session 3",
 * "'pmu' in use by session 4 and 2 more", "use of 'gpu' waits behind the claim of session 5",
 * "capacity: 4 of 4 sessions running", "uid 1000 has 2 of 2 sessions running",
 * "group 'bench' runs one at a time: session 8" (running) or "…: session 8 goes first" (queued
 * ahead), "after session 7". "running" for a running job, the failure reason for a failed one.
 * Meant for right after a dispatch; before one, a job that nothing holds back reads "ready to
 * start". */
const char *scheduler_explain(Scheduler *s, const Job *job, char *buf, size_t size);
#define SCHEDULER_EXPLAIN_MAX 256

/* Why a JOB_DONE job could not start: "dependency session 7 failed", "dependency session 7 is
 * unknown". */
const char *scheduler_failure_reason(const Job *job, char *buf, size_t size);

unsigned scheduler_n_running(const Scheduler *s) _pure_;
size_t scheduler_n_queued(const Scheduler *s) _pure_;

const char *job_state_to_string(JobState s) _const_;
JobState job_state_from_string(const char *s) _pure_;
const char *dependency_state_to_string(DependencyState s) _const_;
DependencyState dependency_state_from_string(const char *s) _pure_;
