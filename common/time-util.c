/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "time-util.h"

usec_t now_usec(clockid_t clock) {
        struct timespec ts;

        if (clock_gettime(clock, &ts) < 0)
                abort(); /* Only fails for invalid clocks: a programming error. */
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / NSEC_PER_USEC;
}

static const struct {
        const char *suffix;
        usec_t usec;
} time_units[] = {
        { "us",      1 },
        { "usec",    1 },
        { "ms",      USEC_PER_MSEC },
        { "msec",    USEC_PER_MSEC },
        { "s",       USEC_PER_SEC },
        { "sec",     USEC_PER_SEC },
        { "m",       60 * USEC_PER_SEC },
        { "min",     60 * USEC_PER_SEC },
        { "h",       3600 * USEC_PER_SEC },
        { "hr",      3600 * USEC_PER_SEC },
        { "d",       USEC_PER_DAY },
        { "day",     USEC_PER_DAY },
        { "days",    USEC_PER_DAY },
};

int parse_timespan(const char *s, usec_t default_unit, usec_t *ret) {
        const char *p = s;
        char *end;
        usec_t unit = default_unit;
        double v;

        if (!s || !*s)
                return -EINVAL;
        if (streq(s, "infinity")) {
                *ret = USEC_INFINITY;
                return 0;
        }
        /* strtod() accepts "inf", "nan", hex and leading blanks: allow only digits and one dot. */
        if (!isdigit((unsigned char) *p) && *p != '.')
                return -EINVAL;
        for (; isdigit((unsigned char) *p) || *p == '.'; p++)
                ;
        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end != p || !isfinite(v) || v < 0)
                return -EINVAL;
        if (*p) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(time_units); i++)
                        if (streq(p, time_units[i].suffix))
                                break;
                if (i >= ELEMENTSOF(time_units))
                        return -EINVAL;
                unit = time_units[i].usec;
        }
        if (v * (double) unit >= (double) (USEC_INFINITY - 1))
                return -ERANGE;
        *ret = (usec_t) llround(v * (double) unit);
        return 0;
}

const char *format_timespan(char *buf, size_t size, usec_t t) {
        if (t == USEC_INFINITY)
                snprintf(buf, size, "infinity");
        else if (t >= 60 * USEC_PER_SEC)
                snprintf(buf, size, "%" PRIu64 "min %" PRIu64 "s",
                         t / (60 * USEC_PER_SEC), (t / USEC_PER_SEC) % 60);
        else if (t >= USEC_PER_SEC)
                snprintf(buf, size, "%.3fs", (double) t / (double) USEC_PER_SEC);
        else if (t >= USEC_PER_MSEC)
                snprintf(buf, size, "%" PRIu64 "ms", t / USEC_PER_MSEC);
        else
                snprintf(buf, size, "%" PRIu64 "us", t);
        return buf;
}
