/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bus-errors.h"

const sd_bus_error_map profd_bus_error_map[] = {
        SD_BUS_ERROR_MAP(PROFD_ERROR_NO_SUCH_SESSION,   ENOENT),
        SD_BUS_ERROR_MAP(PROFD_ERROR_INVALID_SPEC,      EINVAL),
        SD_BUS_ERROR_MAP(PROFD_ERROR_EXEC_FAILED,       ENOEXEC),
        SD_BUS_ERROR_MAP(PROFD_ERROR_NOT_ALLOWED,       EPERM),
        SD_BUS_ERROR_MAP(PROFD_ERROR_LIMIT_REACHED,     EUSERS),
        SD_BUS_ERROR_MAP(PROFD_ERROR_BAD_STATE,         EBUSY),
        SD_BUS_ERROR_MAP_END,
};
