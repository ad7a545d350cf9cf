/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <inttypes.h>
#include <stddef.h>
#include <time.h>

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define USEC_PER_DAY (86400 * USEC_PER_SEC)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)

usec_t now_usec(clockid_t clock);

/* "10", "1.5", "500ms", "2s", "1min", "infinity"; a bare number is in `default_unit` usec. */
int parse_timespan(const char *s, usec_t default_unit, usec_t *ret);

/* "1.203s", "15ms", "2min 3s": short and human, for summaries. */
const char *format_timespan(char *buf, size_t size, usec_t t);
#define FORMAT_TIMESPAN_MAX 64
