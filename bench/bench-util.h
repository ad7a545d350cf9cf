/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* What the benchmarks share: a monotonic clock in nanoseconds, and statistics over samples. */

typedef uint64_t nsec_t;

#define NSEC_PER_MSEC ((nsec_t) 1000000ULL)
#define NSEC_PER_SEC ((nsec_t) 1000000000ULL)

nsec_t now_nsec(void);
/* Sleeps `t`; an interrupting signal ends it early without an error. */
int nsec_sleep(nsec_t t);

void samples_sort(nsec_t *samples, size_t n);
/* On sorted samples; 0 when there are none. */
double samples_median(const nsec_t *samples, size_t n);
/* Nearest rank, on sorted samples; 0 when there are none. */
double samples_percentile(const nsec_t *samples, size_t n, unsigned pct);
