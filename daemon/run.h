/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* profd's own exit statuses; everything else `profd run` returns is the target's. */
#define PROFD_EXIT_USAGE 2        /* bad command line: nothing was started */
#define PROFD_EXIT_FAILURE 125    /* profd itself failed, as `podman run` and `docker run` say it */

int verb_run(int argc, char *argv[]);
