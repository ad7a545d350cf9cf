#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A minimal D-Bus client of org.profd.Profd1 for the integration tests, on GLib's Gio (Debian's
python3-gi): unlike busctl it reports the error *name*, and it passes fds.

As a module:   call(method, "(args as GVariant text)", fds=[...]) -> unpacked reply
As a command:  profd_call.py [--address=A | --user] [--path=P] [--interface=I] [--fd=N]...
                             METHOD [GVARIANT-ARGS]
               prints the reply as JSON, or "ERROR <name>: <message>" and exits 1.
               profd_call.py --listen [--address=A | --user]   prints one JSON line per signal.
Runs as whoever runs it, which is the point: tests run it as other users with setpriv."""

import json
import sys

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

NAME = "org.profd.Profd1"
PATH = "/org/profd/Profd1"
MANAGER = "org.profd.Profd1.Manager"
SESSION = "org.profd.Profd1.Session"


class CallError(Exception):
    def __init__(self, name, message):
        super().__init__("%s: %s" % (name, message))
        self.name = name
        self.message = message


# Specs in GVariant text, as the tests write them.
def spec(target, **keys):
    """A StartSession spec in GVariant text."""
    items = ["'Target': <%s>" % gv_strv(target)]
    for k, v in keys.items():
        items.append("'%s': <%s>" % (k, v))
    return "({%s},)" % ", ".join(items)


def gv_str(s):
    return "'%s'" % s.replace("\\", "\\\\").replace("'", "\\'")


def gv_strv(words):
    return "[%s]" % ", ".join(gv_str(w) for w in words)


def gv_supporters(*supporters):
    """Supporters as aa{sv}: each a dict of Name/Argv/Ready."""
    out = []
    for s in supporters:
        fields = []
        for k, v in s.items():
            fields.append("'%s': <%s>" % (k, gv_strv(v) if isinstance(v, list) else gv_str(v)))
        out.append("{%s}" % ", ".join(fields))
    return "@aa{sv} [%s]" % ", ".join(out)


def connect(address=None, user=False):
    if address:
        return Gio.DBusConnection.new_for_address_sync(
            address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT, None, None)
    return Gio.bus_get_sync(Gio.BusType.SESSION if user else Gio.BusType.SYSTEM, None)


def call(method, args=None, fds=(), conn=None, path=PATH, interface=MANAGER, timeout_ms=25000, p2p=False):
    """Calls and unpacks the reply; raises CallError with the D-Bus error name."""
    conn = conn or connect()
    params = GLib.Variant.parse(None, args, None, None) if args else None
    fdlist = Gio.UnixFDList.new()
    for fd in fds:
        fdlist.append(fd)
    try:
        reply, _ = conn.call_with_unix_fd_list_sync(
            None if p2p else NAME, path, interface, method, params, None,
            Gio.DBusCallFlags.NONE, timeout_ms, fdlist if fds else None, None)
    except GLib.Error as e:
        name = Gio.DBusError.get_remote_error(e) or "local"
        Gio.DBusError.strip_remote_error(e)
        raise CallError(name, e.message) from None
    return reply.unpack() if reply is not None else None


def stop_sessions(sids):
    """Stop(id) of each; one that has finished or gone already is no error."""
    for sid in sids:
        try:
            call("Stop", "('%s',)" % sid)
        except CallError:
            pass


def session_status(sid, **kw):
    """Status(sid): the session's status as a dict."""
    return call("Status", "('%s',)" % sid, **kw)[0]


def wait_session_finished(sid, timeout=60):
    """Waits until session `sid` has finished or left the bus; returns its status, None if it left."""
    from sandboxed import wait_for

    def finished():
        try:
            return session_status(sid)["State"] == "finished"
        except CallError as e:
            return e.name == "org.profd.Profd1.Error.NoSuchSession"
    wait_for("session %s to finish" % sid, finished, timeout)
    try:
        return session_status(sid)
    except CallError:
        return None


def find_process(st, name):
    """The entry of ProcessDetails in status `st` named `name`."""
    for p in st["ProcessDetails"]:
        if p["Name"] == name:
            return p
    raise AssertionError("no process %s in %r" % (name, st["ProcessDetails"]))


def main(argv):
    address, user, path, interface, fds, listen = None, False, PATH, None, [], False
    rest = []
    for a in argv:
        if a.startswith("--address="):
            address = a.split("=", 1)[1]
        elif a == "--user":
            user = True
        elif a.startswith("--path="):
            path = a.split("=", 1)[1]
        elif a.startswith("--interface="):
            interface = a.split("=", 1)[1]
        elif a.startswith("--fd="):
            fds.append(int(a.split("=", 1)[1]))
        elif a == "--listen":
            listen = True
        else:
            rest.append(a)
    conn = connect(address, user)
    if listen:
        def on_signal(c, sender, obj, iface, member, params):
            print(json.dumps({"path": obj, "interface": iface, "member": member,
                              "args": params.unpack()}, default=str), flush=True)
        conn.signal_subscribe(None if address else NAME, None, None, None, None,
                              Gio.DBusSignalFlags.NONE, on_signal)
        print(json.dumps({"member": "listening"}), flush=True)
        GLib.MainLoop().run()
        return 0
    if interface is None:
        interface = MANAGER if path == PATH else SESSION
    method, args = rest[0], (rest[1] if len(rest) > 1 else None)
    try:
        reply = call(method, args, fds=fds, conn=conn, path=path, interface=interface, p2p=bool(address))
    except CallError as e:
        print("ERROR %s: %s" % (e.name, e.message))
        return 1
    print(json.dumps(reply, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
