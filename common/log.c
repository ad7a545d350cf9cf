/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static int log_max_level = LOG_INFO;

void log_set_max_level(int level) {
        log_max_level = level;
}

int log_get_max_level(void) {
        return log_max_level;
}

int log_internal(int level, int error, const char *format, ...) {
        char buf[2048];
        va_list ap;

        /* %m expands errno: make it the error we were given. */
        errno = error;
        va_start(ap, format);
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);

        fprintf(stderr, "%s: %s\n", program_invocation_short_name, buf);
        return -error;
}
