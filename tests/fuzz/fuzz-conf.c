/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"
#include "log.h"

/* /etc/profd/profd.conf, as the daemon reads it at start. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Config c;
        char *s;

        if (size > 64 * 1024)
                return 0;
        s = strndup((const char *) data, size);
        if (!s)
                return 0;
        log_set_max_level(LOG_CRIT); /* bad lines are the point: do not print them all */
        config_init(&c);
        (void) config_parse_string(&c, s, "fuzz.conf");
        free(s);
        return 0;
}
