/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "bench-util.h"
#include "macro.h"

nsec_t now_nsec(void) {
        struct timespec ts;

        if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
                abort();
        return (nsec_t) ts.tv_sec * NSEC_PER_SEC + (nsec_t) ts.tv_nsec;
}

int nsec_sleep(nsec_t t) {
        struct timespec ts = { .tv_sec = t / NSEC_PER_SEC, .tv_nsec = t % NSEC_PER_SEC };

        if (nanosleep(&ts, NULL) < 0 && errno != EINTR)
                return negative_errno();
        return 0;
}

static int cmp_nsec(const void *a, const void *b) {
        nsec_t x = *(const nsec_t *) a, y = *(const nsec_t *) b;

        return x < y ? -1 : x > y;
}

void samples_sort(nsec_t *samples, size_t n) {
        qsort(samples, n, sizeof(nsec_t), cmp_nsec);
}

double samples_median(const nsec_t *samples, size_t n) {
        if (n == 0)
                return 0;
        if (n % 2 == 1)
                return (double) samples[n / 2];
        return ((double) samples[n / 2 - 1] + (double) samples[n / 2]) / 2;
}

double samples_percentile(const nsec_t *samples, size_t n, unsigned pct) {
        size_t rank;

        if (n == 0)
                return 0;
        rank = (n * pct + 99) / 100;
        return (double) samples[MAX(rank, (size_t) 1) - 1];
}
