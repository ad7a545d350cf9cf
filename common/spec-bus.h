/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "spec.h"

/* The spec of StartSession and AddSupporter on the wire (DESIGN.md, "D-Bus API"): a{sv} to
 * SessionSpec and back. Every rejection names the key, so a client can point at its mistake. */

/* Longest StopTimeoutUSec and MaxDurationUSec (other than infinity): keeps now + duration far from
 * overflowing. */
#define SPEC_DURATION_MAX (30 * 24 * 3600 * USEC_PER_SEC)

/* Reads the a{sv} spec of StartSession from `m` (positioned before the array). On success
 * *ret_spec is a validated spec, ret_stdio[0..2] are the StdinFD/StdoutFD/StderrFD fds dup'ed
 * with F_DUPFD_CLOEXEC (or -EBADF when not given; ret_stdio may be NULL, and then given fds are
 * checked and closed). On failure sets `error` to
 * org.profd.Profd1.Error.InvalidSpec (or org.freedesktop.DBus.Error.InvalidArgs for a wrong
 * variant type) with a message that names the key, and returns a negative errno; nothing is
 * left open. Failures that are not the spec's fault (ENOMEM, a malformed message) set `error`
 * from their errno. */
int bus_message_read_session_spec(sd_bus_message *m, SessionSpec **ret_spec, int ret_stdio[3],
                                  sd_bus_error *error);

/* One supporter's a{sv} (Name s, Argv as, Ready s, Requires as, Provides as, WorkingDirectory s),
 * as AddSupporter takes it: the supporter that would become spec->supporters[spec->n_supporters],
 * and messages call it so. Without a Name, the name is derived from Argv[0], unique within `spec`.
 * A Name already in `spec`, or a spec that has SPEC_SUPPORTERS_MAX already, is an error. On
 * success *ret is a validated supporter for session_spec_add_supporter_spec(); errors as above. */
int bus_message_read_supporter_spec(sd_bus_message *m, const SessionSpec *spec, SupporterSpec *ret,
                                    sd_bus_error *error);

/* The inverse, for clients and tests: appends the a{sv} of `spec`. Unset fields are left out, and
 * so are fds given as -1; `stdio` may be NULL. */
int bus_message_append_session_spec(sd_bus_message *m, const SessionSpec *spec, const int stdio[3]);
/* One supporter's a{sv}, for AddSupporter. */
int bus_message_append_supporter_spec(sd_bus_message *m, const SupporterSpec *s);
