/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "manager.h"

/* The D-Bus face of a session (session-bus.c). The verbs are shared by the session objects and by
 * the Manager's methods that take an id. */

extern const sd_bus_vtable session_vtable[];

int session_bus_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                     sd_bus_error *error);
int session_bus_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);

/* Status's a{sv}, from a record; `live` when the session is still on the bus. */
int bus_append_status(sd_bus_message *reply, const StoredSession *st, SessionRecord *live);

int bus_session_stop(SessionRecord *r, sd_bus_message *m, sd_bus_error *error);
int bus_session_status(SessionRecord *r, sd_bus_message *m, sd_bus_error *error);
int bus_session_kill(SessionRecord *r, sd_bus_message *m, sd_bus_error *error);
int bus_session_pause(SessionRecord *r, sd_bus_message *m, bool pause, sd_bus_error *error);
int bus_session_add_supporter(SessionRecord *r, sd_bus_message *m, sd_bus_error *error);
