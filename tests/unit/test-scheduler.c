/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The scheduler's decisions, as the daemon sees them: submit, dispatch after every change, start
 * what is handed out, report the end of it. Jobs are named by numeric ids so that a test can write
 * down which ones start as a string ("1 3"). */
#include <check.h>
#include <stdio.h>

#include "scheduler.h"
#include "strv.h"

#define MAX_JOBS 1100

typedef struct JobArgs {
        const char *id;
        uid_t uid;
        int priority;
        const char *claims, *uses, *after;      /* space-separated */
        const char *group;
        bool exclusive, after_success;
} JobArgs;

static Job *jobs[MAX_JOBS];
static char failures[1024];             /* "ID: reason;" of every job dispatch failed */

static struct {
        char id[16];
        DependencyState state;
} deps[16];
static size_t n_deps;
static unsigned n_dependency_calls;

static DependencyState dependency(const char *id, void *userdata) {
        ck_assert_ptr_eq(userdata, deps);
        n_dependency_calls++;
        for (size_t i = 0; i < n_deps; i++)
                if (streq(deps[i].id, id))
                        return deps[i].state;
        return DEPENDENCY_UNKNOWN;
}

static void set_dependency(const char *id, DependencyState state) {
        for (size_t i = 0; i < n_deps; i++)
                if (streq(deps[i].id, id)) {
                        deps[i].state = state;
                        return;
                }
        ck_assert_uint_lt(n_deps, ELEMENTSOF(deps));
        snprintf(deps[n_deps].id, sizeof(deps[n_deps].id), "%s", id);
        deps[n_deps++].state = state;
}

static Scheduler *new_scheduler(unsigned max_parallel, unsigned max_per_uid) {
        Scheduler *s;

        memset(jobs, 0, sizeof(jobs));
        failures[0] = '\0';
        n_deps = 0;
        n_dependency_calls = 0;
        ck_assert_int_eq(scheduler_new(&s, max_parallel, max_per_uid, dependency, deps), 0);
        return s;
}

static char **split(const char *words) {
        _cleanup_free_ char *copy = NULL;
        char **l = NULL, *state = NULL;
        size_t n = 0;

        if (!words)
                return NULL;
        copy = strdup(words);
        ck_assert_ptr_nonnull(copy);
        for (char *w = strtok_r(copy, " ", &state); w; w = strtok_r(NULL, " ", &state))
                ck_assert_int_eq(strv_extend(&l, &n, w), 0);
        return l;
}

static Job *make_job(const JobArgs *a) {
        Job *j;

        ck_assert_int_eq(job_new(&j, a->id, a->uid), 0);
        j->priority = a->priority;
        j->claims = split(a->claims);
        j->uses = split(a->uses);
        j->after = split(a->after);
        j->after_success = a->after_success;
        j->group = a->group ? strdup(a->group) : NULL;
        j->group_exclusive = a->exclusive;
        return j;
}

static Job *submit_job(Scheduler *s, const JobArgs *a) {
        Job *j = make_job(a);
        int i = atoi(a->id);

        ck_assert_int_eq(scheduler_submit(s, j), 0);
        ck_assert_int_eq(j->state, JOB_QUEUED);
        ck_assert(i > 0 && i < MAX_JOBS && !jobs[i]);
        jobs[i] = j;
        return j;
}
#define SUBMIT(s, ...) submit_job(s, &(JobArgs) { __VA_ARGS__ })

#define J(id) (jobs[atoi(id)])

/* Dispatches and returns the ids that may start now, in order: "1 3", or "" for none. Jobs that
 * failed are written down in `failures` and freed, as the daemon would after reporting them. */
static const char *dispatch(Scheduler *s) {
        static char started[8192];
        Job **start, **failed;
        size_t n_start, n_failed;

        ck_assert_int_eq(scheduler_dispatch(s, &start, &n_start, &failed, &n_failed), 0);
        ck_assert(n_start > 0 || !start);
        ck_assert(n_failed > 0 || !failed);

        started[0] = '\0';
        for (size_t i = 0; i < n_start; i++) {
                ck_assert_int_eq(start[i]->state, JOB_RUNNING);
                ck_assert_uint_eq(scheduler_position(s, start[i]), 0);
                snprintf(started + strlen(started), sizeof(started) - strlen(started), "%s%s",
                         i > 0 ? " " : "", start[i]->id);
        }
        for (size_t i = 0; i < n_failed; i++) {
                char buf[SCHEDULER_EXPLAIN_MAX];

                ck_assert_int_eq(failed[i]->state, JOB_DONE);
                snprintf(failures + strlen(failures), sizeof(failures) - strlen(failures), "%s: %s;",
                         failed[i]->id, scheduler_failure_reason(failed[i], buf, sizeof(buf)));
                jobs[atoi(failed[i]->id)] = NULL;
                job_free(failed[i]);
        }
        free(start);
        free(failed);
        return started;
}

static void finish(Scheduler *s, const char *id) {
        ck_assert_ptr_nonnull(J(id));
        ck_assert_int_eq(J(id)->state, JOB_RUNNING);
        scheduler_finished(s, J(id));
        J(id) = NULL;
}

static void cancel(Scheduler *s, const char *id) {
        ck_assert_ptr_nonnull(J(id));
        scheduler_cancel(s, J(id));
        J(id) = NULL;
}

static const char *explain(Scheduler *s, const char *id) {
        static char buf[SCHEDULER_EXPLAIN_MAX];

        return scheduler_explain(s, J(id), buf, sizeof(buf));
}

static unsigned position(Scheduler *s, const char *id) {
        return scheduler_position(s, J(id));
}

START_TEST(test_claimers_run_one_after_the_other) {
        Scheduler *s = new_scheduler(0, 0);

        SUBMIT(s, .id = "1", .claims = "pmu");
        SUBMIT(s, .id = "2", .claims = "pmu");
        ck_assert_str_eq(dispatch(s), "1");
        ck_assert_str_eq(explain(s, "2"), "claim 'pmu' held by session 1");
        ck_assert_uint_eq(position(s, "2"), 1);
        /* Nothing changed, nothing new starts. */
        ck_assert_str_eq(dispatch(s), "");
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "2");
        ck_assert_str_eq(explain(s, "2"), "running");
        ck_assert_uint_eq(scheduler_n_queued(s), 0);
        scheduler_free(s);
}
END_TEST

START_TEST(test_users_run_together) {
        Scheduler *s = new_scheduler(0, 0);

        SUBMIT(s, .id = "1", .uses = "gpu");
        SUBMIT(s, .id = "2", .uses = "gpu cpu:3");
        SUBMIT(s, .id = "3", .uses = "gpu");
        ck_assert_str_eq(dispatch(s), "1 2 3");
        ck_assert_uint_eq(scheduler_n_running(s), 3);
        /* Claims of different names do not meet either. */
        SUBMIT(s, .id = "4", .claims = "cpu:2");
        SUBMIT(s, .id = "5", .claims = "cpu:4");
        ck_assert_str_eq(dispatch(s), "4 5");
        scheduler_free(s);
}
END_TEST

START_TEST(test_claimer_waits_for_users_and_blocks_later_users) {
        Scheduler *s = new_scheduler(0, 0);

        SUBMIT(s, .id = "1", .uses = "pmu");
        ck_assert_str_eq(dispatch(s), "1");
        SUBMIT(s, .id = "2", .claims = "pmu");
        SUBMIT(s, .id = "3", .uses = "pmu");
        SUBMIT(s, .id = "4", .uses = "gpu");
        /* 3 could share pmu with 1, but that would starve 2; 4 wants nothing of theirs. */
        ck_assert_str_eq(dispatch(s), "4");
        ck_assert_str_eq(explain(s, "2"), "'pmu' in use by session 1");
        ck_assert_str_eq(explain(s, "3"), "use of 'pmu' waits behind the claim of session 2");
        SUBMIT(s, .id = "5", .uses = "pmu");
        ck_assert_str_eq(dispatch(s), "");
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "2");
        ck_assert_str_eq(explain(s, "3"), "claim 'pmu' held by session 2");
        finish(s, "2");
        ck_assert_str_eq(dispatch(s), "3 5");
        scheduler_free(s);
}
END_TEST

START_TEST(test_waiting_user_blocks_later_claimer) {
        Scheduler *s = new_scheduler(0, 0);

        SUBMIT(s, .id = "1", .claims = "a");
        ck_assert_str_eq(dispatch(s), "1");
        /* 2 waits for a, and keeps its place for pmu: 3 may not claim pmu before 2 used it. */
        SUBMIT(s, .id = "2", .uses = "a pmu");
        SUBMIT(s, .id = "3", .claims = "pmu");
        SUBMIT(s, .id = "4", .uses = "pmu");
        ck_assert_str_eq(dispatch(s), "");
        ck_assert_str_eq(explain(s, "2"), "claim 'a' held by session 1");
        ck_assert_str_eq(explain(s, "3"), "claim of 'pmu' waits behind the use of session 2");
        ck_assert_str_eq(explain(s, "4"), "use of 'pmu' waits behind the claim of session 3");
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "2");
        ck_assert_str_eq(explain(s, "3"), "'pmu' in use by session 2");
        finish(s, "2");
        ck_assert_str_eq(dispatch(s), "3");
        finish(s, "3");
        ck_assert_str_eq(dispatch(s), "4");
        scheduler_free(s);
}
END_TEST

START_TEST(test_waiting_claimer_reserves_all_its_names) {
        Scheduler *s = new_scheduler(0, 0);

        SUBMIT(s, .id = "1", .uses = "a");
        ck_assert_str_eq(dispatch(s), "1");
        /* 2 waits for a only, yet b is kept for it: otherwise users of a and b taking turns could
         * keep it waiting forever. */
        SUBMIT(s, .id = "2", .claims = "a b");
        SUBMIT(s, .id = "3", .uses = "b");
        ck_assert_str_eq(dispatch(s), "");
        ck_assert_str_eq(explain(s, "3"), "use of 'b' waits behind the claim of session 2");
        SUBMIT(s, .id = "4", .uses = "a");
        SUBMIT(s, .id = "5", .uses = "a");
        ck_assert_str_eq(dispatch(s), "");
        ck_assert_uint_eq(position(s, "5"), 4);
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "2");
        finish(s, "2");
        ck_assert_str_eq(dispatch(s), "3 4 5");
        scheduler_free(s);
}
END_TEST

START_TEST(test_users_of_a_name_with_many_holders) {
        Scheduler *s = new_scheduler(0, 0);

        SUBMIT(s, .id = "1", .uses = "pmu");
        SUBMIT(s, .id = "2", .uses = "pmu");
        SUBMIT(s, .id = "3", .uses = "pmu");
        ck_assert_str_eq(dispatch(s), "1 2 3");
        SUBMIT(s, .id = "4", .claims = "pmu");
        ck_assert_str_eq(dispatch(s), "");
        ck_assert_str_eq(explain(s, "4"), "'pmu' in use by session 3 and 2 more");
        finish(s, "3");
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "");
        ck_assert_str_eq(explain(s, "4"), "'pmu' in use by session 2");
        finish(s, "2");
        ck_assert_str_eq(dispatch(s), "4");
        scheduler_free(s);
}
END_TEST

START_TEST(test_priority_lower_first_fifo_among_equals) {
        Scheduler *s = new_scheduler(1, 0);

        SUBMIT(s, .id = "1");
        ck_assert_str_eq(dispatch(s), "1");
        SUBMIT(s, .id = "2", .priority = 5);
        SUBMIT(s, .id = "3");
        SUBMIT(s, .id = "4", .priority = -5);
        SUBMIT(s, .id = "5");
        SUBMIT(s, .id = "6", .priority = 5);
        ck_assert_str_eq(dispatch(s), "");
        ck_assert_uint_eq(position(s, "4"), 1);
        ck_assert_uint_eq(position(s, "3"), 2);
        ck_assert_uint_eq(position(s, "5"), 3);
        ck_assert_uint_eq(position(s, "2"), 4);
        ck_assert_uint_eq(position(s, "6"), 5);
        ck_assert_uint_eq(position(s, "1"), 0);

        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "4");
        finish(s, "4");
        ck_assert_str_eq(dispatch(s), "3");
        finish(s, "3");
        ck_assert_str_eq(dispatch(s), "5");
        finish(s, "5");
        ck_assert_str_eq(dispatch(s), "2");
        finish(s, "2");
        ck_assert_str_eq(dispatch(s), "6");
        scheduler_free(s);
}
END_TEST

START_TEST(test_priority_among_claimers) {
        Scheduler *s = new_scheduler(0, 0);

        SUBMIT(s, .id = "1", .claims = "pmu");
        ck_assert_str_eq(dispatch(s), "1");
        SUBMIT(s, .id = "2", .claims = "pmu");
        SUBMIT(s, .id = "3", .claims = "pmu", .priority = -1);
        ck_assert_str_eq(dispatch(s), "");
        ck_assert_str_eq(explain(s, "2"), "claim 'pmu' held by session 1");
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "3");
        ck_assert_str_eq(explain(s, "2"), "claim 'pmu' held by session 3");
        scheduler_free(s);
}
END_TEST

START_TEST(test_capacity_under_burst) {
        Scheduler *s = new_scheduler(3, 0);
        char id[16];

        /* As the daemon does it: a dispatch after every submission. */
        for (int i = 1; i <= 50; i++) {
                snprintf(id, sizeof(id), "%d", i);
                SUBMIT(s, .id = id, .uid = 1000 + i % 4);
                ck_assert_str_eq(dispatch(s), i <= 3 ? id : "");
        }
        ck_assert_uint_eq(scheduler_n_running(s), 3);
        ck_assert_uint_eq(scheduler_n_queued(s), 47);
        for (int i = 4; i <= 50; i++) {
                snprintf(id, sizeof(id), "%d", i);
                ck_assert_int_eq(J(id)->state, JOB_QUEUED);
                ck_assert_uint_eq(position(s, id), (unsigned) i - 3);
        }
        ck_assert_str_eq(explain(s, "50"), "capacity: 3 of 3 sessions running");

        /* Each end lets exactly the next one in. */
        for (int i = 1; i <= 47; i++) {
                char next[16];

                snprintf(id, sizeof(id), "%d", i);
                snprintf(next, sizeof(next), "%d", i + 3);
                finish(s, id);
                ck_assert_str_eq(dispatch(s), next);
                ck_assert_uint_eq(scheduler_n_running(s), 3);
        }
        ck_assert_uint_eq(scheduler_n_queued(s), 0);
        scheduler_free(s);
}
END_TEST

/* Sessions re-adopted after a restart run already: they hold their names and capacity, even over a
 * limit that was lowered meanwhile, and what is queued behind them waits. */
START_TEST(test_adopt_running) {
        Scheduler *s = new_scheduler(1, 0);
        Job *a = make_job(&(JobArgs) { .id = "1", .claims = "pmu" });
        Job *b = make_job(&(JobArgs) { .id = "2", .uses = "disk" });

        ck_assert_int_eq(scheduler_adopt(s, a), 0);
        jobs[1] = a;
        ck_assert_int_eq(scheduler_adopt(s, b), 0);
        jobs[2] = b;
        ck_assert_int_eq(a->state, JOB_RUNNING);
        ck_assert_int_eq(b->state, JOB_RUNNING);
        ck_assert_uint_eq(scheduler_n_running(s), 2);

        SUBMIT(s, .id = "3", .claims = "disk");
        ck_assert_str_eq(dispatch(s), "");
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "");
        ck_assert_str_eq(explain(s, "3"), "'disk' in use by session 2");
        finish(s, "2");
        ck_assert_str_eq(dispatch(s), "3");
        finish(s, "3");
        scheduler_free(s);
}
END_TEST

START_TEST(test_burst_does_not_rescan_the_queue) {
        /* A thousand jobs with capacity 2 and a dispatch after each: with the capacity reached a
         * dispatch must not look at the queue. Each look at a job asks about its After, so the
         * number of questions shows how much was looked at. */
        Scheduler *s = new_scheduler(2, 0);
        char id[16];

        set_dependency("1099", DEPENDENCY_SUCCEEDED);
        for (int i = 1; i <= 1000; i++) {
                snprintf(id, sizeof(id), "%d", i);
                SUBMIT(s, .id = id, .after = "1099");
                (void) dispatch(s);
        }
        ck_assert_uint_eq(scheduler_n_running(s), 2);
        ck_assert_uint_le(n_dependency_calls, 2);

        for (int i = 1; i <= 998; i++) {
                snprintf(id, sizeof(id), "%d", i);
                finish(s, id);
                snprintf(id, sizeof(id), "%d", i + 2);
                ck_assert_str_eq(dispatch(s), id);
        }
        ck_assert_uint_le(n_dependency_calls, 1000);
        scheduler_free(s);
}
END_TEST

START_TEST(test_user_capacity) {
        Scheduler *s = new_scheduler(0, 2);

        SUBMIT(s, .id = "1", .uid = 1000);
        SUBMIT(s, .id = "2", .uid = 1000);
        SUBMIT(s, .id = "3", .uid = 1000);
        SUBMIT(s, .id = "4", .uid = 1000);
        SUBMIT(s, .id = "5", .uid = 2000);
        /* uid 1000's flood does not keep uid 2000 out. */
        ck_assert_str_eq(dispatch(s), "1 2 5");
        ck_assert_str_eq(explain(s, "3"), "uid 1000 has 2 of 2 sessions running");
        ck_assert_uint_eq(position(s, "3"), 1);
        finish(s, "5");
        ck_assert_str_eq(dispatch(s), "");
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "3");
        ck_assert_str_eq(explain(s, "4"), "uid 1000 has 2 of 2 sessions running");
        scheduler_free(s);
}
END_TEST

START_TEST(test_user_capacity_reserves_nothing) {
        Scheduler *s = new_scheduler(0, 1);

        SUBMIT(s, .id = "1", .uid = 1000);
        SUBMIT(s, .id = "2", .uid = 1000, .claims = "pmu");
        SUBMIT(s, .id = "3", .uid = 2000, .claims = "pmu");
        SUBMIT(s, .id = "4", .uid = 3000, .uses = "pmu");
        /* 2 is held back by its own uid only: pmu is not kept for it. */
        ck_assert_str_eq(dispatch(s), "1 3");
        ck_assert_str_eq(explain(s, "2"), "uid 1000 has 1 of 1 sessions running");
        ck_assert_str_eq(explain(s, "4"), "claim 'pmu' held by session 3");
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "");
        /* Now 2 waits for pmu, and is ahead of 4 for it. */
        ck_assert_str_eq(explain(s, "2"), "claim 'pmu' held by session 3");
        finish(s, "3");
        ck_assert_str_eq(dispatch(s), "2");
        ck_assert_str_eq(explain(s, "4"), "claim 'pmu' held by session 2");
        scheduler_free(s);
}
END_TEST

START_TEST(test_exclusive_group) {
        Scheduler *s = new_scheduler(0, 0);

        SUBMIT(s, .id = "1", .group = "bench", .exclusive = true);
        SUBMIT(s, .id = "2", .group = "bench", .exclusive = true);
        SUBMIT(s, .id = "3", .group = "bench", .exclusive = true);
        SUBMIT(s, .id = "4", .group = "free");
        SUBMIT(s, .id = "5", .group = "free");
        /* A group is not a resource: the same name in Claims does not meet it. */
        SUBMIT(s, .id = "6", .claims = "bench");
        ck_assert_str_eq(dispatch(s), "1 4 5 6");
        ck_assert_str_eq(explain(s, "2"), "group 'bench' runs one at a time: session 1");
        ck_assert_str_eq(explain(s, "3"), "group 'bench' runs one at a time: session 1");
        ck_assert_uint_eq(position(s, "3"), 2);
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "2");
        finish(s, "2");
        ck_assert_str_eq(dispatch(s), "3");
        scheduler_free(s);
}
END_TEST

START_TEST(test_group_turn_reserves_only_the_group) {
        Scheduler *s = new_scheduler(0, 0);

        SUBMIT(s, .id = "1", .group = "bench", .exclusive = true);
        ck_assert_str_eq(dispatch(s), "1");
        SUBMIT(s, .id = "2", .group = "bench", .exclusive = true, .claims = "pmu");
        SUBMIT(s, .id = "3", .uses = "pmu");
        SUBMIT(s, .id = "4", .group = "bench", .exclusive = true);
        /* 2 waits for its turn in the group, which pmu would not shorten: 3 goes on. */
        ck_assert_str_eq(dispatch(s), "3");
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "");
        /* Its turn has come: now it waits for pmu, and keeps the group in order. */
        ck_assert_str_eq(explain(s, "2"), "'pmu' in use by session 3");
        ck_assert_str_eq(explain(s, "4"), "group 'bench' runs one at a time: session 2 goes first");
        finish(s, "3");
        ck_assert_str_eq(dispatch(s), "2");
        finish(s, "2");
        ck_assert_str_eq(dispatch(s), "4");
        scheduler_free(s);
}
END_TEST

START_TEST(test_mixed_group) {
        /* An exclusive member runs alone in its group; the others may run together. */
        Scheduler *s = new_scheduler(0, 0);

        SUBMIT(s, .id = "1", .group = "g");
        SUBMIT(s, .id = "2", .group = "g", .exclusive = true);
        SUBMIT(s, .id = "3", .group = "g");
        ck_assert_str_eq(dispatch(s), "1");
        ck_assert_str_eq(explain(s, "2"), "group 'g' runs one at a time: session 1");
        ck_assert_str_eq(explain(s, "3"), "group 'g' runs one at a time: session 2 goes first");
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "2");
        finish(s, "2");
        ck_assert_str_eq(dispatch(s), "3");
        scheduler_free(s);
}
END_TEST

START_TEST(test_after_waits_until_finished) {
        Scheduler *s = new_scheduler(0, 0);

        set_dependency("10", DEPENDENCY_PENDING);
        set_dependency("11", DEPENDENCY_SUCCEEDED);
        SUBMIT(s, .id = "1", .after = "11 10", .claims = "pmu");
        SUBMIT(s, .id = "2", .claims = "pmu");
        /* Waiting for 10 holds nothing: 2 takes pmu meanwhile. */
        ck_assert_str_eq(dispatch(s), "2");
        ck_assert_str_eq(explain(s, "1"), "after session 10");
        finish(s, "2");
        ck_assert_str_eq(dispatch(s), "");
        /* Finished, even unsuccessfully, is enough without after_success. */
        set_dependency("10", DEPENDENCY_FAILED);
        ck_assert_str_eq(dispatch(s), "1");
        ck_assert_str_eq(failures, "");
        /* So is a session nobody knows: there is nothing to wait for. */
        SUBMIT(s, .id = "3", .after = "99");
        ck_assert_str_eq(dispatch(s), "3");
        scheduler_free(s);
}
END_TEST

START_TEST(test_after_success) {
        Scheduler *s = new_scheduler(1, 0);

        set_dependency("10", DEPENDENCY_PENDING);
        set_dependency("11", DEPENDENCY_PENDING);
        SUBMIT(s, .id = "1");
        SUBMIT(s, .id = "2", .after = "10 11", .after_success = true);
        SUBMIT(s, .id = "3", .after = "10", .after_success = true);
        SUBMIT(s, .id = "4", .after = "10 11", .after_success = true);
        ck_assert_str_eq(dispatch(s), "1");
        ck_assert_str_eq(explain(s, "2"), "after session 10");

        /* One failure dooms it at once, with 10 still running and the capacity reached. */
        set_dependency("11", DEPENDENCY_FAILED);
        ck_assert_str_eq(dispatch(s), "");
        ck_assert_str_eq(failures, "2: dependency session 11 failed;4: dependency session 11 failed;");
        ck_assert_uint_eq(scheduler_n_queued(s), 1);
        ck_assert_uint_eq(position(s, "3"), 1);

        set_dependency("10", DEPENDENCY_SUCCEEDED);
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "3");

        failures[0] = '\0';
        SUBMIT(s, .id = "5", .after = "77", .after_success = true);
        ck_assert_str_eq(dispatch(s), "");
        ck_assert_str_eq(failures, "5: dependency session 77 is unknown;");
        ck_assert_uint_eq(scheduler_n_queued(s), 0);
        scheduler_free(s);
}
END_TEST

START_TEST(test_failed_job_explains_itself) {
        Scheduler *s = new_scheduler(0, 0);
        Job **start, **failed;
        size_t n_start, n_failed;
        char buf[SCHEDULER_EXPLAIN_MAX];

        set_dependency("10", DEPENDENCY_FAILED);
        SUBMIT(s, .id = "1", .after = "10", .after_success = true, .claims = "pmu");
        ck_assert_str_eq(explain(s, "1"), "dependency session 10 failed");
        ck_assert_int_eq(scheduler_dispatch(s, &start, &n_start, &failed, &n_failed), 0);
        ck_assert_uint_eq(n_start, 0);
        ck_assert_uint_eq(n_failed, 1);
        ck_assert_ptr_eq(failed[0], J("1"));
        ck_assert_int_eq(failed[0]->state, JOB_DONE);
        ck_assert_str_eq(failed[0]->failed_dependency, "10");
        ck_assert_str_eq(scheduler_explain(s, failed[0], buf, sizeof(buf)), "dependency session 10 failed");
        ck_assert_uint_eq(scheduler_position(s, failed[0]), 0);
        job_free(failed[0]);
        free(failed);
        J("1") = NULL;

        /* It let go of what it named. */
        SUBMIT(s, .id = "2", .claims = "pmu");
        ck_assert_str_eq(dispatch(s), "2");
        scheduler_free(s);
}
END_TEST

START_TEST(test_explain_and_positions) {
        Scheduler *s = new_scheduler(2, 0);

        SUBMIT(s, .id = "1", .claims = "pmu");
        ck_assert_str_eq(explain(s, "1"), "ready to start");
        ck_assert_uint_eq(position(s, "1"), 1);
        ck_assert_str_eq(dispatch(s), "1");
        ck_assert_str_eq(explain(s, "1"), "running");
        ck_assert_uint_eq(position(s, "1"), 0);

        SUBMIT(s, .id = "2");
        SUBMIT(s, .id = "3", .claims = "pmu");
        SUBMIT(s, .id = "4", .priority = 1);
        SUBMIT(s, .id = "5", .priority = -1);
        ck_assert_str_eq(dispatch(s), "5");
        /* The reason of its own comes before the capacity, which nothing further down escapes. */
        ck_assert_str_eq(explain(s, "3"), "claim 'pmu' held by session 1");
        ck_assert_str_eq(explain(s, "2"), "capacity: 2 of 2 sessions running");
        ck_assert_str_eq(explain(s, "4"), "capacity: 2 of 2 sessions running");
        ck_assert_uint_eq(position(s, "2"), 1);
        ck_assert_uint_eq(position(s, "3"), 2);
        ck_assert_uint_eq(position(s, "4"), 3);
        scheduler_free(s);
}
END_TEST

START_TEST(test_cancel_unblocks) {
        Scheduler *s = new_scheduler(0, 0);

        SUBMIT(s, .id = "1", .uses = "pmu");
        ck_assert_str_eq(dispatch(s), "1");
        SUBMIT(s, .id = "2", .claims = "pmu");
        SUBMIT(s, .id = "3", .uses = "pmu");
        ck_assert_str_eq(dispatch(s), "");
        ck_assert_uint_eq(position(s, "3"), 2);
        cancel(s, "2");
        ck_assert_uint_eq(position(s, "3"), 1);
        ck_assert_str_eq(dispatch(s), "3");
        ck_assert_uint_eq(scheduler_n_queued(s), 0);

        /* The same for a place in a group. */
        SUBMIT(s, .id = "4", .group = "bench", .exclusive = true, .claims = "pmu");
        SUBMIT(s, .id = "5", .group = "bench", .exclusive = true);
        ck_assert_str_eq(dispatch(s), "");
        ck_assert_str_eq(explain(s, "5"), "group 'bench' runs one at a time: session 4 goes first");
        cancel(s, "4");
        ck_assert_str_eq(dispatch(s), "5");
        scheduler_free(s);
}
END_TEST

START_TEST(test_set_capacity) {
        Scheduler *s = new_scheduler(1, 0);

        SUBMIT(s, .id = "1");
        SUBMIT(s, .id = "2");
        SUBMIT(s, .id = "3");
        SUBMIT(s, .id = "4");
        ck_assert_str_eq(dispatch(s), "1");
        scheduler_set_capacity(s, 3, 0);
        ck_assert_str_eq(dispatch(s), "2 3");
        /* Lowered: what runs keeps running, nothing more starts until it is below again. */
        scheduler_set_capacity(s, 2, 0);
        ck_assert_str_eq(explain(s, "4"), "capacity: 3 of 2 sessions running");
        finish(s, "1");
        ck_assert_str_eq(dispatch(s), "");
        finish(s, "2");
        ck_assert_str_eq(dispatch(s), "4");
        scheduler_set_capacity(s, 0, 1);
        SUBMIT(s, .id = "5", .uid = 7);
        SUBMIT(s, .id = "6", .uid = 7);
        ck_assert_str_eq(dispatch(s), "5");
        ck_assert_str_eq(explain(s, "6"), "uid 7 has 1 of 1 sessions running");
        scheduler_free(s);
}
END_TEST

START_TEST(test_submit_errors) {
        Scheduler *s = new_scheduler(0, 0), *no_deps;
        Job *j;

        /* Waiting for itself would be waiting forever. */
        j = make_job(&(JobArgs) { .id = "1", .after = "2 1" });
        ck_assert_int_eq(scheduler_submit(s, j), -EINVAL);
        ck_assert_ptr_null(j->scheduler);
        ck_assert_uint_eq(scheduler_n_queued(s), 0);
        job_free(j);

        ck_assert_int_eq(scheduler_new(&no_deps, 0, 0, NULL, NULL), 0);
        j = make_job(&(JobArgs) { .id = "1", .after = "2" });
        ck_assert_int_eq(scheduler_submit(no_deps, j), -EINVAL);
        job_free(j);
        j = make_job(&(JobArgs) { .id = "1", .claims = "pmu" });
        ck_assert_int_eq(scheduler_submit(no_deps, j), 0);
        scheduler_free(no_deps);
        scheduler_free(s);
}
END_TEST

START_TEST(test_free_with_jobs_left) {
        /* Queued and running jobs go with the scheduler (ASan sees any leak). */
        Scheduler *s = new_scheduler(1, 0);

        SUBMIT(s, .id = "1", .claims = "pmu", .group = "g", .exclusive = true);
        SUBMIT(s, .id = "2", .uses = "pmu gpu", .after = "1");
        set_dependency("1", DEPENDENCY_PENDING);
        ck_assert_str_eq(dispatch(s), "1");
        ck_assert_uint_eq(scheduler_n_queued(s), 1);
        ck_assert_ptr_null(scheduler_free(s));
}
END_TEST

START_TEST(test_string_tables) {
        for (JobState i = 0; i < _JOB_STATE_MAX; i++)
                ck_assert_int_eq(job_state_from_string(job_state_to_string(i)), i);
        for (DependencyState i = 0; i < _DEPENDENCY_STATE_MAX; i++)
                ck_assert_int_eq(dependency_state_from_string(dependency_state_to_string(i)), i);
        ck_assert_str_eq(job_state_to_string(JOB_QUEUED), "queued");
        ck_assert_str_eq(dependency_state_to_string(DEPENDENCY_UNKNOWN), "unknown");
        ck_assert_int_eq(job_state_from_string("waiting"), _JOB_STATE_INVALID);
        ck_assert_ptr_null(dependency_state_to_string(_DEPENDENCY_STATE_MAX));
}
END_TEST

static Suite *scheduler_suite(void) {
        Suite *s = suite_create("scheduler");
        TCase *tc;

        tc = tcase_create("resources");
        tcase_add_test(tc, test_claimers_run_one_after_the_other);
        tcase_add_test(tc, test_users_run_together);
        tcase_add_test(tc, test_claimer_waits_for_users_and_blocks_later_users);
        tcase_add_test(tc, test_waiting_user_blocks_later_claimer);
        tcase_add_test(tc, test_waiting_claimer_reserves_all_its_names);
        tcase_add_test(tc, test_users_of_a_name_with_many_holders);
        suite_add_tcase(s, tc);

        tc = tcase_create("order");
        tcase_add_test(tc, test_priority_lower_first_fifo_among_equals);
        tcase_add_test(tc, test_priority_among_claimers);
        tcase_add_test(tc, test_explain_and_positions);
        tcase_add_test(tc, test_cancel_unblocks);
        suite_add_tcase(s, tc);

        tc = tcase_create("capacity");
        tcase_add_test(tc, test_capacity_under_burst);
        tcase_add_test(tc, test_adopt_running);
        tcase_add_test(tc, test_burst_does_not_rescan_the_queue);
        tcase_add_test(tc, test_user_capacity);
        tcase_add_test(tc, test_user_capacity_reserves_nothing);
        tcase_add_test(tc, test_set_capacity);
        suite_add_tcase(s, tc);

        tc = tcase_create("groups");
        tcase_add_test(tc, test_exclusive_group);
        tcase_add_test(tc, test_group_turn_reserves_only_the_group);
        tcase_add_test(tc, test_mixed_group);
        suite_add_tcase(s, tc);

        tc = tcase_create("after");
        tcase_add_test(tc, test_after_waits_until_finished);
        tcase_add_test(tc, test_after_success);
        tcase_add_test(tc, test_failed_job_explains_itself);
        suite_add_tcase(s, tc);

        tc = tcase_create("api");
        tcase_add_test(tc, test_submit_errors);
        tcase_add_test(tc, test_free_with_jobs_left);
        tcase_add_test(tc, test_string_tables);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(scheduler_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
