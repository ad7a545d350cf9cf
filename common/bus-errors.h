/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <systemd/sd-bus.h>

/* The D-Bus names of profd, in one place (DESIGN.md, "D-Bus API"). They are part of the contract
 * with IDE plugins and scripts: add, never rename. */

#define PROFD_BUS_NAME                  "org.profd.Profd1"
#define PROFD_BUS_PATH                  "/org/profd/Profd1"
#define PROFD_BUS_SESSION_PREFIX        "/org/profd/Profd1/session"
#define PROFD_BUS_MANAGER_INTERFACE     "org.profd.Profd1.Manager"
#define PROFD_BUS_SESSION_INTERFACE     "org.profd.Profd1.Session"
#define PROFD_API_VERSION               1u

#define PROFD_ERROR_NO_SUCH_SESSION     "org.profd.Profd1.Error.NoSuchSession"
#define PROFD_ERROR_INVALID_SPEC        "org.profd.Profd1.Error.InvalidSpec"
#define PROFD_ERROR_EXEC_FAILED         "org.profd.Profd1.Error.ExecFailed"
#define PROFD_ERROR_NOT_ALLOWED         "org.profd.Profd1.Error.NotAllowed"
#define PROFD_ERROR_LIMIT_REACHED       "org.profd.Profd1.Error.LimitReached"
#define PROFD_ERROR_BAD_STATE           "org.profd.Profd1.Error.BadState"

/* Maps the names to errnos, so that sd_bus_error_get_errno() and "%m" say something sensible on
 * either side. Registered with sd_bus_error_add_map() by bus_error_register_profd(). */
extern const sd_bus_error_map profd_bus_error_map[];

static inline void bus_error_register_profd(void) {
        (void) sd_bus_error_add_map(profd_bus_error_map);
}
