#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Starts a profd session, follows it until it finishes, and prints its result (docs/api.md).

    follow.py [--user] [-s 'NAME=CMD ARGS'] -- TARGET [ARGS...]

GDBus through PyGObject (Debian: python3-gi, gir1.2-glib-2.0). The order is what matters:
subscribe to PropertiesChanged first, then StartSession, then read State once (the session may
already be over by then), then let the main loop deliver the changes."""

import shlex
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

NAME = "org.profd.Profd1"
MANAGER_PATH = "/org/profd/Profd1"
MANAGER = "org.profd.Profd1.Manager"
SESSION = "org.profd.Profd1.Session"


def main(argv):
    bus_type, supporters = Gio.BusType.SYSTEM, []
    while argv and argv[0] != "--":
        if argv[0] == "--user":
            bus_type = Gio.BusType.SESSION
        elif argv[0] == "-s" and len(argv) > 1:
            name, _, cmd = argv[1].partition("=")
            supporters.append({"Name": GLib.Variant("s", name), "Argv": GLib.Variant("as", shlex.split(cmd))})
            argv = argv[1:]
        else:
            print("usage: follow.py [--user] [-s NAME=CMD]... -- TARGET [ARGS...]", file=sys.stderr)
            return 2
        argv = argv[1:]
    target = argv[1:]
    if not target:
        print("usage: follow.py [--user] [-s NAME=CMD]... -- TARGET [ARGS...]", file=sys.stderr)
        return 2

    bus = Gio.bus_get_sync(bus_type, None)
    loop = GLib.MainLoop()
    session = {"path": None, "state": None}

    def show_state(state):
        if state != session["state"]:
            session["state"] = state
            print("state:", state, flush=True)
        if state == "finished":
            loop.quit()

    # 1. Subscribe before starting: to every session object's changes, sorted out by path below.
    def on_properties_changed(conn, sender, path, iface, signal, params):
        interface, changed, _invalidated = params.unpack()
        if path == session["path"] and interface == SESSION and "State" in changed:
            show_state(changed["State"])

    bus.signal_subscribe(NAME, "org.freedesktop.DBus.Properties", "PropertiesChanged", None, None,
                         Gio.DBusSignalFlags.NONE, on_properties_changed)

    # 2. Start. The spec is a{sv}; each value a variant of the documented type.
    spec = {"Target": GLib.Variant("as", target), "Description": GLib.Variant("s", "follow.py")}
    if supporters:
        spec["Supporters"] = GLib.Variant("aa{sv}", supporters)
    try:
        sid, path = bus.call_sync(NAME, MANAGER_PATH, MANAGER, "StartSession",
                                  GLib.Variant("(a{sv})", (spec,)), GLib.VariantType("(so)"),
                                  Gio.DBusCallFlags.NONE, -1, None).unpack()
    except GLib.Error as e:
        print("StartSession failed: %s: %s" % (Gio.DBusError.get_remote_error(e), e.message), file=sys.stderr)
        return 1
    session["path"] = path
    print("session %s at %s" % (sid, path), flush=True)

    # 3. The state now: the signals only tell what changes. Asked asynchronously, so that the reply
    #    is handled in order with the signals (those that came during StartSession are still queued:
    #    GLib runs them from the main loop, before this reply).
    def on_state(conn, result):
        show_state(conn.call_finish(result).unpack()[0])

    bus.call(NAME, path, "org.freedesktop.DBus.Properties", "Get", GLib.Variant("(ss)", (SESSION, "State")),
             GLib.VariantType("(v)"), Gio.DBusCallFlags.NONE, -1, None, on_state)

    # 4. Follow until finished.
    loop.run()

    # 5. The result and every process, from Status (a finished session stays on the bus for a while:
    #    KeepFinishedSec in profd.conf).
    status = bus.call_sync(NAME, path, SESSION, "Status", None, GLib.VariantType("(a{sv})"),
                           Gio.DBusCallFlags.NONE, -1, None).unpack()[0]
    print("result:", status["Result"])
    print("output:", status["OutputDirectory"])
    for p in status["ProcessDetails"]:
        print("  %-10s %-9s pid %-7d %s" % (p["Name"], p["Role"], p["PID"], p["End"]))
    return 0 if status["Result"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
