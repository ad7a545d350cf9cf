#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile input over D-Bus from an unprivileged user, against the real daemon in the sandbox
(tests/sandbox): wrong signatures on every method, wrong types of every key, huge strings and
arrays, odd file descriptors, other users' sessions, path games in names, {pid} games, bad signals,
bad supporters.

Every bad input must get an error reply that names what was wrong (and is short enough to read),
start nothing and leave nothing behind, while a well-behaved client of another user starts and
finishes sessions all along: each of its sessions must succeed.

The hostile user (nobody) talks through a client process of its own (this file with --client):
the test builds each message here as a GVariant of any type, and the client sends it as it is
(Gio's low-level message API), with file descriptors it makes itself.

At the end it prints, for tools/test:
    PROOF: faults survived=0 bad inputs tried=N sessions run=N leaks found=N
and fails when a leak was found."""

import base64
import json
import os
import select
import socket
import sys
import time

NAME = "org.profd.Profd1"
PATH = "/org/profd/Profd1"
MANAGER = "org.profd.Profd1.Manager"
SESSION = "org.profd.Profd1.Session"
SESSION_PREFIX = PATH + "/session/"


# The clients: run as other users, by the test, with Debian's python3 and its GLib.

def client_connect():
    import gi
    gi.require_version("Gio", "2.0")
    from gi.repository import Gio
    address = Gio.dbus_address_get_for_bus_sync(Gio.BusType.SYSTEM, None)
    return Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)


def client_make_fd(kind, keep):
    """A file descriptor of a kind the test asks for; what must stay open meanwhile goes in keep."""
    if kind == "dir":
        return os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    if kind == "opath":
        return os.open("/dev/null", os.O_PATH)
    if kind == "socket-peer-closed":
        a, b = socket.socketpair()
        b.close()
        return a.detach()
    if kind == "socket-unconnected":
        return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).detach()
    if kind == "pipe-read":
        r, w = os.pipe()
        keep.append(w)
        return r
    if kind == "pipe-write":
        r, w = os.pipe()
        keep.append(r)
        return w
    if kind == "devnull":
        return os.open("/dev/null", os.O_RDWR)
    raise ValueError(kind)


def client_call(conn, req):
    from gi.repository import Gio, GLib
    msg = Gio.DBusMessage.new_method_call(NAME, req.get("path", PATH), req.get("interface", MANAGER), req["method"])
    if "type" in req:
        # Trusted: the test serialized it with GLib itself (and GDBus would take minutes to check
        # an untrusted array of a million strings).
        body = GLib.Variant.new_from_bytes(GLib.VariantType.new(req["type"]),
                                           GLib.Bytes.new(base64.b64decode(req["data"])), True)
        msg.set_body(body)
    keep, fds = [], []
    try:
        for kind in req.get("fds", []):
            fds.append(client_make_fd(kind, keep))
        if fds:
            fdlist = Gio.UnixFDList.new()
            for fd in fds:
                fdlist.append(fd)
            msg.set_unix_fd_list(fdlist)
        try:
            reply, _ = conn.send_message_with_reply_sync(msg, Gio.DBusSendMessageFlags.NONE,
                                                         req.get("timeout", 25000), None)
        except GLib.Error as e:
            return {"error": "local", "message": e.message, "message_len": len(e.message)}
    finally:
        for fd in fds + keep:
            os.close(fd)
    body = reply.get_body()
    if reply.get_message_type() == Gio.DBusMessageType.ERROR:
        message = body.unpack()[0] if body is not None and body.get_type_string().startswith("(s") else ""
        return {"error": reply.get_error_name(), "message": message[:4000], "message_len": len(message)}
    value = body.unpack() if body is not None else None
    if req.get("summary"):
        return {"ok_len": len(json.dumps(value, default=str))}
    return {"ok": value}


def client_serve():
    """One JSON request per line on stdin, one JSON answer per line on stdout."""
    conn = client_connect()
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if conn.is_closed():
                conn = client_connect()
            if req["op"] == "call":
                out = client_call(conn, req)
            elif req["op"] == "listdir":
                try:
                    out = {"ok": os.listdir(req["path"])}
                except OSError as e:
                    out = {"errno": e.errno}
            elif req["op"] == "read":
                try:
                    with open(req["path"]) as f:
                        out = {"ok": f.read(4096)}
                except OSError as e:
                    out = {"errno": e.errno}
            else:
                out = {"exception": "unknown op"}
        except Exception as e:  # noqa: BLE001 - everything goes back to the test
            out = {"exception": repr(e)}
        print(json.dumps(out, default=str), flush=True)
    return 0


def client_good():
    """A well-behaved user: starts a session (a target that prints a marker, a supporter), waits for
    it to finish, checks its result and output, and again a moment later, until told to pause (it
    then reports what it did since the last report) or to quit."""
    from gi.repository import Gio, GLib
    conn = client_connect()
    results, buf, paused, n = [], b"", False, 0

    def call(method, value, path=PATH, interface=MANAGER):
        return conn.call_sync(NAME, path, interface, method, value, None, Gio.DBusCallFlags.NONE, 30000,
                              None).unpack()

    def one(n):
        marker = "good-%d" % n
        spec = {"Target": GLib.Variant("as", ["sh", "-c", 'echo "$0"', marker]),
                "Supporters": GLib.Variant("aa{sv}", [{"Name": GLib.Variant("s", "watch"),
                                                       "Argv": GLib.Variant("as", ["sleep", "30"])}])}
        sid = None
        try:
            sid, _ = call("StartSession", GLib.Variant("(a{sv})", (spec,)))
            deadline = time.monotonic() + 60
            while True:
                st = call("Status", GLib.Variant("(s)", (sid,)))[0]
                if st["State"] == "finished":
                    break
                if time.monotonic() > deadline:
                    return {"id": sid, "ok": False, "detail": "still %s after 60 s" % st["State"]}
                time.sleep(0.05)
            with open(os.path.join(st["OutputDirectory"], "target.stdout")) as f:
                out = f.read()
            return {"id": sid, "ok": st["Result"] == "success" and out == marker + "\n",
                    "detail": "%s, output %r" % (st["Result"], out)}
        except GLib.Error as e:
            time.sleep(0.2)
            return {"id": sid, "ok": False, "detail": e.message}

    while True:
        readable, _, _ = select.select([0], [], [], None if paused and b"\n" not in buf else 0)
        if readable:
            chunk = os.read(0, 4096)
            if not chunk:
                return 0
            buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            cmd = line.decode().strip()
            if cmd in ("pause", "quit"):
                paused = True
                print(json.dumps({"results": results}), flush=True)
                results = []
                if cmd == "quit":
                    return 0
            elif cmd == "resume":
                paused = False
        if paused:
            continue
        n += 1
        if conn.is_closed():
            conn = client_connect()
        results.append(one(n))
        time.sleep(0.2)  # steadily, not as fast as it can: the machine is shared


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] in ("--client", "--good-client"):
    sys.exit(client_serve() if sys.argv[1] == "--client" else client_good())


# The test, as root in the sandbox.

import pwd  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import unittest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sandboxed  # noqa: E402

sandboxed.enter(__file__)

from sandboxed import (SYSTEM_PYTHON, as_user, assert_clean_journal, children_of, describe, failed_units,  # noqa: E402
                       Leaks, open_fds, proc_state, processes_of, profd_pid, profd_units, run, stop_profd,
                       wait_for, zombies)
from profd_call import call, CallError, session_status, stop_sessions, wait_session_finished  # noqa: E402
from gi.repository import GLib  # noqa: E402

V = GLib.Variant

BASE = os.environ.get("MESON_BUILD_ROOT") or os.path.dirname(sandboxed.PROFD)
WORK = tempfile.mkdtemp(prefix="profd-hostile-test-", dir=BASE)
os.chmod(WORK, 0o755)
STATE = os.path.join(WORK, "state")
CONFIG = os.path.join(WORK, "profd.conf")

NOBODY = pwd.getpwnam("nobody")
OTHER = pwd.getpwnam("daemon")

INVALID_SPEC = "org.profd.Profd1.Error.InvalidSpec"
LIMIT = "org.profd.Profd1.Error.LimitReached"
NO_SUCH = "org.profd.Profd1.Error.NoSuchSession"
EXEC_FAILED = "org.profd.Profd1.Error.ExecFailed"
BAD_STATE = "org.profd.Profd1.Error.BadState"
DENIED = ("org.freedesktop.DBus.Error.AccessDenied", "org.profd.Profd1.Error.NotAllowed")
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"

MESSAGE_MAX = 4096      # an error message longer than this is an echo of the input, not an explanation
BIG = 10 * 1000 * 1000  # "10 MB strings"
CPU_MAX = 10            # seconds of profd's CPU time that one refused request may cost, at most

PROOF = {"bad": 0, "sessions": 0, "leaks": 0}


class Client:
    """One of the client processes above, run as `user`."""

    def __init__(self, user, mode="--client"):
        self.user = user
        self.mode = mode
        self.start()

    def start(self):
        self.proc = subprocess.Popen(as_user(self.user) + [SYSTEM_PYTHON, os.path.abspath(__file__), self.mode],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid

    def restart(self):
        """A fresh one, when an answer is owed that will not come in time: requests and answers
        must pair up again."""
        self.proc.kill()
        self.proc.wait(timeout=60)
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.start()

    def send(self, req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()

    def ready(self, timeout):
        return bool(select.select([self.proc.stdout], [], [], timeout)[0])

    def receive(self, timeout=120):
        if not self.ready(timeout):
            raise AssertionError("no answer from the client of %s in %d s" % (self.user.pw_name, timeout))
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("the client of %s died" % self.user.pw_name)
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()


def call_request(method, value=None, path=PATH, interface=MANAGER, fds=(), timeout_ms=25000, summary=False):
    req = {"op": "call", "method": method, "path": path, "interface": interface, "fds": list(fds),
           "timeout": timeout_ms, "summary": summary}
    if value is not None:
        req["type"] = value.get_type_string()
        req["data"] = base64.b64encode(value.get_data_as_bytes().get_data()).decode()
    return req


def value(v):
    """Python values to the variants of a spec: str → s, list → as; variants as they are."""
    if isinstance(v, GLib.Variant):
        return v
    if isinstance(v, list):
        return V("as", v)
    return V("s", v)


def spec(target=("true",), **keys):
    d = {"Target": V("as", list(target))}
    d.update({k: value(v) for k, v in keys.items()})
    return V("(a{sv})", (d,))


def supporters(*sups):
    return V("aa{sv}", [{k: value(v) for k, v in s.items()} for s in sups])


def supporter(sid, **keys):
    return V("(sa{sv})", (sid, {k: value(v) for k, v in keys.items()}))


def sid_arg(sid):
    return V("(s)", (sid,))


def raw_dict(entries):
    """An a{sv} as given, duplicates and all (a Python dict cannot hold those)."""
    return V.new_tuple(V.new_array(GLib.VariantType.new("{sv}"),
                                   [V.new_dict_entry(V("s", k), V("v", v)) for k, v in entries]))


def profd_cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _name_has_owner():
    from profd_call import connect
    return connect().call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", V("(s)", (NAME,)), None, 0, 5000, None).unpack()[0]


class Daemon:
    """The profd under test, and what it looked like when nothing ran (its fds: measured once it is
    idle, None until then)."""
    pid = 0
    fds = None

    @classmethod
    def start(cls):
        sandboxed.start_profd(CONFIG, STATE)
        cls.pid = profd_pid()
        # Once, so that whatever profd opens at its first session is open before the baseline.
        sid, _ = call("StartSession", "({'Target': <['true']>},)")
        wait_for("the first session", lambda: call("Status", "('%s',)" % sid)[0]["State"] == "finished")
        wait_for("its units to go", lambda: profd_units() == [])
        cls.fds = None

    @classmethod
    def recover(cls, stuck=False):
        """profd is stuck, dead or off the bus: stop or kill it, clean up after it, start a fresh one."""
        if stuck:
            run("systemctl", "kill", "-s", "SIGKILL", "profd.service", check=False)
        try:
            subprocess.run(["systemctl", "stop", "profd.service"], capture_output=True, timeout=40)
        except subprocess.TimeoutExpired:
            run("systemctl", "kill", "-s", "SIGKILL", "profd.service", check=False)
            wait_for("profd to go", lambda: profd_pid() == 0, 30)
        run("systemctl", "reset-failed", "profd.service", check=False)
        run("systemctl", "kill", "-s", "SIGKILL", "profd-*.scope", check=False)
        run("systemctl", "stop", "profd-*.scope", "profd-*.slice", check=False)
        run("systemctl", "reset-failed", check=False)
        cls.start()


HOSTILE = GOOD = BYSTANDER = None


def setUpModule():
    global HOSTILE, GOOD, BYSTANDER
    sandboxed.install_policy()
    with open(CONFIG, "w") as f:
        f.write("[Limits]\nSessionsPerUser=16\nProcessesPerSession=8\n[Sessions]\nKeepFinishedSec=10s\n"
                "[Scheduling]\nMaxParallelSessions=64\n")
    Daemon.start()
    Daemon.fds = open_fds(Daemon.pid)
    HOSTILE = Client(NOBODY)
    BYSTANDER = Client(OTHER)
    GOOD = Client(OTHER, "--good-client")


def tearDownModule():
    GOOD.proc.stdin.write("quit\n")
    GOOD.proc.stdin.flush()
    results = GOOD.receive()["results"]
    PROOF["sessions"] += len(results)
    for c in (GOOD, HOSTILE, BYSTANDER):
        c.close()
    stop_profd()
    print("PROOF: faults survived=0 bad inputs tried=%d sessions run=%d leaks found=%d"
          % (PROOF["bad"], PROOF["sessions"], PROOF["leaks"]), flush=True)
    shutil.rmtree(WORK, ignore_errors=True)
    assert_clean_journal("-u", "profd.service")
    failed = [r for r in results if not r["ok"]]
    if failed:
        raise AssertionError("the well-behaved client's last sessions failed: %s" % failed[:5])
    if PROOF["leaks"] > 0:
        raise AssertionError("%d leaks found" % PROOF["leaks"])


def find_leaks():
    leaks = Leaks()
    if profd_pid() != Daemon.pid:
        leaks.append("profd is not the process it was (%d, was %d): %s" % (
            profd_pid(), Daemon.pid, run("journalctl", "--no-pager", "-o", "cat", "-n", "3", "-u",
                                         "profd.service").stdout))
    elif not _name_has_owner():
        leaks.append("profd (pid %d) runs but no longer owns %s on the bus" % (Daemon.pid, NAME))
    if leaks:
        units = profd_units()
        if units:
            leaks.append("units of the sessions it had: %s" % units)
        return leaks

    check = leaks.check
    pid = Daemon.pid
    ours = {NOBODY.pw_uid: {HOSTILE.pid}, OTHER.pw_uid: {GOOD.pid, BYSTANDER.pid}}
    check("no profd units", lambda: profd_units() == [], lambda: "units: %s" % profd_units())
    check("no failed units", lambda: failed_units() == "", lambda: "failed units: %s" % failed_units())
    check("no children of profd", lambda: children_of(pid) == [],
          lambda: "children of profd: %s" % [describe(int(c)) for c in children_of(pid)])
    for uid, allowed in ours.items():
        check("no session process of uid %d" % uid, lambda: set(processes_of(uid)) <= allowed,
              lambda: "processes of uid %d: %s" % (uid, [describe(p) for p in set(processes_of(uid)) - allowed]))
    check("no zombies", lambda: zombies() == [], lambda: "zombies: %s" % zombies(), timeout=5)
    if Daemon.fds is None:
        if not leaks:
            Daemon.fds = open_fds(pid)
    else:
        check("profd's fds as before", lambda: open_fds(pid) == Daemon.fds,
              lambda: "profd's fds: %s, were %s" % (open_fds(pid), Daemon.fds))
    return leaks


class HostileTest(unittest.TestCase):
    def setUp(self):
        self.started = []
        self.live_before = self.live_sessions_of(NOBODY)

    def tearDown(self):
        stop_sessions(self.started)
        for sid in self.started:
            try:
                wait_session_finished(sid)
            except (AssertionError, CallError):
                pass
        GOOD.proc.stdin.write("pause\n")
        GOOD.proc.stdin.flush()
        results = GOOD.receive(timeout=180)["results"]
        PROOF["sessions"] += len(results)
        problems = ["the well-behaved client's sessions failed meanwhile: %s"
                    % [r for r in results if not r["ok"]][:5]] if any(not r["ok"] for r in results) else []
        leaks = find_leaks()
        if leaks:
            PROOF["leaks"] += len(leaks)
            sys.stderr.write("profd's journal:\n" + run("journalctl", "--no-pager", "-n", "40", "-o", "short-monotonic",
                                                          "-u", "profd.service").stdout)
            Daemon.recover()
        GOOD.proc.stdin.write("resume\n")
        GOOD.proc.stdin.flush()
        if problems or leaks:
            self.fail("\n  ".join(["after this test:"] + problems + ["left behind: " + x for x in leaks]))

    # helpers

    def hostile(self, method, v=None, **kw):
        return self.exchange(HOSTILE, call_request(method, v, **kw))

    def exchange(self, client, req):
        """Sends a request through `client` and waits for its answer while profd's CPU time grows by
        at most CPU_MAX seconds (no wall-clock limit: a busy machine only makes it slower). A
        request that costs more has stalled the daemon for everyone: profd is killed and started
        again, and the test fails."""
        started = time.monotonic()
        client.send(req)
        pid, cpu = Daemon.pid, profd_cpu_seconds(Daemon.pid)
        while not client.ready(0.2):
            used = profd_cpu_seconds(pid) - cpu
            if used > CPU_MAX:
                Daemon.recover(stuck=True)
                for c in (HOSTILE, BYSTANDER):
                    c.restart()
                raise self.failureException(
                    "profd spent %.1f s of CPU on one %s (%s) without answering anyone; killed and restarted"
                    % (used, req.get("method"), req.get("type", "")[:40]))
        reply = client.receive()
        if time.monotonic() - started > 5:
            sys.stderr.write("(%s took %.1f s, %.1f s of profd's CPU)\n" % (req.get("method") or req.get("op"),
                                                                          time.monotonic() - started,
                                                                          profd_cpu_seconds(pid) - cpu))
        return reply

    def live_sessions_of(self, user):
        try:
            return {s[0] for s in call("ListSessions")[0] if s[2] == user.pw_uid and s[1] != "finished"}
        except CallError:
            return set()

    def assert_refused(self, reply, names, mentions=()):
        """An error named one of `names`, whose message names one of `mentions`, is not an echo of
        the input, and nothing of the hostile user was started."""
        PROOF["bad"] += 1
        if isinstance(names, str):
            names = (names,)
        self.assertIn("error", reply, "accepted: %r" % reply)
        self.assertIn(reply["error"], names, reply)
        if mentions:
            self.assertTrue(any(m in reply["message"] for m in mentions),
                            "%r does not name %s" % (reply["message"][:300], " or ".join(mentions)))
        self.assertLessEqual(reply["message_len"], MESSAGE_MAX,
                             "an error message of %d bytes: %r..." % (reply["message_len"], reply["message"][:100]))
        self.assertEqual(self.live_sessions_of(NOBODY) - self.live_before - set(self.started), set(),
                         "a session was started")

    def start_own(self, target=("sleep", "300"), **keys):
        reply = self.hostile("StartSession", spec(target, **keys))
        self.assertIn("ok", reply, reply)
        sid = reply["ok"][0]
        self.started.append(sid)
        PROOF["sessions"] += 1
        return sid


class SignatureTest(HostileTest):
    def test_wrong_signatures_on_the_manager(self):
        calls = [
            ("StartSession", V("(s)", ("true",))), ("StartSession", V("()", ())),
            ("StartSession", V("(a{ss})", ({"Target": "true"},))),
            ("StartSession", V("(a{sv}s)", ({"Target": V("as", ["true"])}, "more"))),
            ("StartSession", V("(as)", (["true"],))), ("StartSession", V("(v)", (V("a{sv}", {}),))),
            ("Stop", V("(i)", (1,))), ("Stop", V("()", ())), ("Stop", V("(ss)", ("1", "2"))),
            ("Stop", V("(o)", ("/",))), ("Status", V("(u)", (1,))), ("Status", V("(as)", (["1"],))),
            ("ListSessions", V("(s)", ("x",))), ("Kill", V("(ssu)", ("1", "target", 15))),
            ("Kill", V("(ss)", ("1", "target"))), ("Kill", V("(sis)", ("1", 15, "target"))),
            ("Kill", V("(ssis)", ("1", "target", 15, "x"))), ("Pause", V("(o)", ("/",))), ("Pause", V("()", ())),
            ("Resume", V("(as)", ([],))), ("Resume", V("(b)", (True,))), ("AddSupporter", V("(s)", ("1",))),
            ("AddSupporter", V("(sa{ss})", ("1", {"Argv": "true"}))), ("AddSupporter", V("(a{sv})", ({},))),
            ("AddSupporter", V("(sa{sv}a{sv})", ("1", {}, {}))), ("AddSupporter", V("(saa{sv})", ("1", []))),
        ]
        for method, v in calls:
            with self.subTest(method=method, signature=v.get_type_string()):
                reply = self.hostile(method, v)
                self.assert_refused(reply, INVALID_ARGS, ("expecting",))
                self.assertIn(method, reply["message"])

    def test_wrong_signatures_on_a_session(self):
        sid = self.start_own()
        path = SESSION_PREFIX + sid
        calls = [("Stop", V("(s)", (sid,))), ("Status", V("(s)", (sid,))), ("Kill", V("(i)", (15,))),
                 ("Kill", V("(ss)", ("target", "15"))), ("Kill", V("(sis)", (sid, 15, "x"))),
                 ("Pause", V("(s)", (sid,))), ("Resume", V("(b)", (True,))), ("AddSupporter", V("(s)", (sid,))),
                 ("AddSupporter", V("(sa{sv})", (sid, {"Argv": V("as", ["true"])})))]
        for method, v in calls:
            with self.subTest(method=method, signature=v.get_type_string()):
                self.assert_refused(self.hostile(method, v, path=path, interface=SESSION), INVALID_ARGS,
                                    ("expecting",))
        props = "org.freedesktop.DBus.Properties"
        for v, names in ((V("(ssv)", (SESSION, "State", V("s", "finished"))),
                          ("org.freedesktop.DBus.Error.PropertyReadOnly", "org.freedesktop.DBus.Error.AccessDenied")),
                         (V("(ssv)", (SESSION, "Owner", V("u", 0))),
                          ("org.freedesktop.DBus.Error.PropertyReadOnly", "org.freedesktop.DBus.Error.AccessDenied")),
                         (V("(ss)", (SESSION, "NoSuchProperty")),
                          ("org.freedesktop.DBus.Error.UnknownProperty", INVALID_ARGS)),
                         (V("(ss)", ("org.example.Nothing", "State")),
                          ("org.freedesktop.DBus.Error.UnknownInterface", "org.freedesktop.DBus.Error.UnknownProperty",
                           INVALID_ARGS))):
            with self.subTest(property_call=v.print_(False)):
                method = "Set" if v.get_type_string() == "(ssv)" else "Get"
                self.assert_refused(self.hostile(method, v, path=path, interface=props), names)
        self.assertEqual(session_status(sid)["State"], "running")
        self.assertEqual(session_status(sid)["Owner"], NOBODY.pw_uid)

    def test_unknown_methods_and_objects(self):
        self.assert_refused(self.hostile("Explode", V("()", ())), "org.freedesktop.DBus.Error.UnknownMethod",
                            ("Explode",))
        self.assert_refused(self.hostile("Stop", V("()", ()), path=SESSION_PREFIX + "999999", interface=SESSION),
                            ("org.freedesktop.DBus.Error.UnknownObject", "org.freedesktop.DBus.Error.UnknownMethod",
                             NO_SUCH))


SESSION_KEY_WRONG = {
    "Target": V("s", "true"), "WorkingDirectory": V("as", ["/"]), "Environment": V("s", "A=1"),
    "Supporters": V("as", ["true"]), "StdinFD": V("i", 0), "StdoutFD": V("u", 1), "StderrFD": V("s", "2"),
    "Description": V("i", 1), "MaxDurationUSec": V("s", "1s"), "StopTimeoutUSec": V("i", 5),
    "Claims": V("s", "gpu"), "Uses": V("ay", b"gpu"), "Priority": V("s", "high"), "BindToCaller": V("i", 1),
}
SUPPORTER_KEY_WRONG = {
    "Name": V("i", 1), "Argv": V("s", "true"), "Ready": V("b", True), "Requires": V("s", "x"),
    "Provides": V("a{ss}", {}), "WorkingDirectory": V("as", ["/"]),
}


class SpecTypesTest(HostileTest):
    def test_wrong_type_of_every_key(self):
        for key, wrong in SESSION_KEY_WRONG.items():
            with self.subTest(key=key):
                d = {"Target": V("as", ["true"])}
                d[key] = wrong
                self.assert_refused(self.hostile("StartSession", V("(a{sv})", (d,))), INVALID_ARGS, (key,))

    def test_wrong_type_of_every_supporter_key(self):
        sid = self.start_own()
        for key, wrong in SUPPORTER_KEY_WRONG.items():
            with self.subTest(key=key):
                sup = {"Argv": V("as", ["true"])}
                sup[key] = wrong
                self.assert_refused(self.hostile("StartSession", spec(Supporters=V("aa{sv}", [sup]))),
                                    INVALID_ARGS, (key,))
                self.assert_refused(self.hostile("AddSupporter", V("(sa{sv})", (sid, sup))), INVALID_ARGS, (key,))
        self.assertEqual(session_status(sid)["State"], "running")
        self.assertEqual(len(session_status(sid)["ProcessDetails"]), 1)

    def test_unknown_and_duplicate_keys(self):
        for key in ("Bogus", "target", "", "Target ", "T\u00e4rget", "k" * BIG):
            with self.subTest(key=key[:20]):
                d = {"Target": V("as", ["true"]), key: V("s", "x")}
                self.assert_refused(self.hostile("StartSession", V("(a{sv})", (d,))), INVALID_SPEC,
                                    ("key",))
        self.assert_refused(self.hostile("StartSession", raw_dict([("Target", V("as", ["true"])),
                                                                     ("Target", V("as", ["sleep", "300"]))])),
                            INVALID_SPEC, ("Target",))
        self.assert_refused(self.hostile("StartSession", spec(Supporters=supporters({"Argv": ["true"], "Colour": "red"}))),
                            INVALID_SPEC, ("Colour",))

    def test_variants_in_variants(self):
        for key in ("Target", "Description", "StopTimeoutUSec"):
            with self.subTest(key=key):
                d = {"Target": V("as", ["true"])}
                d[key] = V("v", V("v", V("s", "x")))
                self.assert_refused(self.hostile("StartSession", V("(a{sv})", (d,))), INVALID_ARGS, (key,))


class HugeInputTest(HostileTest):
    def test_10mb_strings(self):
        big = "x" * BIG
        path = "/" + big
        cases = [
            ("Description", spec(Description=big), (LIMIT, INVALID_SPEC), ("Description", "SpecBytes")),
            ("Target[0]", spec([big]), (LIMIT, INVALID_SPEC), ("Target",)),
            ("Target[1]", spec(["true", big]), (LIMIT, INVALID_SPEC), ("Target",)),
            ("WorkingDirectory", spec(WorkingDirectory=path), (LIMIT, INVALID_SPEC), ("WorkingDirectory", "SpecBytes")),
            ("Environment", spec(Environment=["A=" + big]), (LIMIT, INVALID_SPEC), ("Environment",)),
            ("Claims", spec(Claims=[big]), (LIMIT, INVALID_SPEC), ("Claims",)),
            ("Uses", spec(Uses=[big]), (LIMIT, INVALID_SPEC), ("Uses",)),
            ("Supporters.Name", spec(Supporters=supporters({"Name": big, "Argv": ["true"]})), INVALID_SPEC, ("Name",)),
            ("Supporters.Argv", spec(Supporters=supporters({"Argv": ["true", big]})), (LIMIT, INVALID_SPEC),
             ("Supporters", "Argv")),
            ("Supporters.Ready", spec(Supporters=supporters({"Argv": ["true"], "Ready": big})), INVALID_SPEC, ("Ready",)),
            ("Supporters.Requires", spec(Supporters=supporters({"Argv": ["true"], "Requires": [big]})), INVALID_SPEC,
             ("Requires",)),
            ("Supporters.WorkingDirectory", spec(Supporters=supporters({"Argv": ["true"], "WorkingDirectory": path})),
             (LIMIT, INVALID_SPEC), ("WorkingDirectory", "SpecBytes")),
        ]
        for what, v, names, mentions in cases:
            with self.subTest(key=what):
                self.assert_refused(self.hostile("StartSession", v), names, mentions)

    def test_10mb_ids_and_names_in_calls(self):
        big = "1" * BIG
        own = self.start_own()
        for method, v in (("Stop", sid_arg(big)), ("Status", sid_arg(big)), ("Pause", sid_arg(big)),
                          ("Resume", sid_arg(big)), ("Kill", V("(ssi)", (big, "target", 15))),
                          ("AddSupporter", supporter(big, Argv=["true"]))):
            with self.subTest(method=method):
                self.assert_refused(self.hostile(method, v), NO_SUCH, ("session",))
        with self.subTest(method="Kill", whom="10 MB"):
            self.assert_refused(self.hostile("Kill", V("(ssi)", (own, big, 15))), INVALID_ARGS, ("whom",))
        with self.subTest(method="Session.Kill", whom="10 MB"):
            self.assert_refused(self.hostile("Kill", V("(si)", (big, 15)), path=SESSION_PREFIX + own,
                                             interface=SESSION), INVALID_ARGS, ("whom",))
        self.assertEqual(session_status(own)["State"], "running")

    def test_huge_arrays(self):
        cases = [
            ("Target of 100,000 words", spec(["true"] + ["a"] * 100000), (LIMIT, INVALID_SPEC), ("Target",)),
            ("Environment of 300,000 entries", spec(Environment=["A%d=1" % i for i in range(300000)]),
             (LIMIT, INVALID_SPEC), ("Environment",)),
            ("10,000 supporters", spec(Supporters=supporters(*({"Argv": ["true"]} for _ in range(10000)))),
             (LIMIT, INVALID_SPEC), ("Supporters",)),
            ("a supporter Argv of 100,000 words", spec(Supporters=supporters({"Argv": ["true"] + ["a"] * 100000})),
             (LIMIT, INVALID_SPEC), ("Supporters", "Argv")),
            ("Claims of 1,000,000 names", spec(Claims=["c%d" % i for i in range(1000000)]), (LIMIT, INVALID_SPEC),
             ("Claims", "SpecBytes")),
        ]
        for what, v, names, mentions in cases:
            with self.subTest(what=what):
                self.assert_refused(self.hostile("StartSession", v), names, mentions)

    def test_requirements_cost_bounded_work(self):
        # Requires against Provides is checked pairwise: 300,000 names each way are a spec over
        # SpecBytes= (4 MB) that profd must refuse, but it only checks the size after matching
        # every requirement against every provision. Bounded in profd's CPU time, not in wall-clock
        # time: a refused request may cost CPU_MAX seconds of it at most.
        names = ["r%06d" % i for i in range(300000)]
        v = spec(Supporters=V("aa{sv}", [
            {"Name": V("s", "a"), "Argv": V("as", ["true"]), "Provides": V("as", names)},
            {"Name": V("s", "b"), "Argv": V("as", ["true"]), "Requires": V("as", names)}]))
        PROOF["bad"] += 1
        reply = self.exchange(HOSTILE, call_request("StartSession", v, timeout_ms=600000))
        PROOF["bad"] -= 1
        self.assert_refused(reply, (LIMIT, INVALID_SPEC), ("SpecBytes", "Requires", "Provides"))

    def test_large_descriptions_do_not_cut_profd_off_the_bus(self):
        # Each Description is within SpecBytes= (4 MB); ListSessions and GetManagedObjects carry
        # every session's. Nine of them are more than the bus takes in one message (32 MB).
        desc = "d" * 3900000
        for i in range(9):
            reply = self.hostile("StartSession", spec(["sleep", "300"], Description=desc))
            if "error" in reply:
                self.assert_refused(reply, (LIMIT, INVALID_SPEC), ("Description", "SpecBytes"))
                break
            self.started.append(reply["ok"][0])
            PROOF["sessions"] += 1
            PROOF["bad"] += 1
        listed = self.exchange(BYSTANDER, call_request("ListSessions", summary=True))
        managed = self.exchange(BYSTANDER, call_request("GetManagedObjects", path=PATH,
                                                        interface="org.freedesktop.DBus.ObjectManager", summary=True))
        self.assertTrue(_name_has_owner(), "profd dropped off the bus (ListSessions: %s)" % listed)
        self.assertIn("ok_len", listed, listed)
        self.assertIn("ok_len", managed, managed)


class FdTest(HostileTest):
    def test_fds_that_cannot_serve_as_stdio(self):
        for key in ("StdinFD", "StdoutFD", "StderrFD"):
            for kind in ("dir", "opath"):
                with self.subTest(key=key, fd=kind):
                    reply = self.hostile("StartSession", spec(**{key: V("h", 0)}), fds=[kind])
                    self.assert_refused(reply, INVALID_SPEC, (key,))
            wrong_end = "pipe-write" if key == "StdinFD" else "pipe-read"
            with self.subTest(key=key, fd=wrong_end):
                reply = self.hostile("StartSession", spec(**{key: V("h", 0)}), fds=[wrong_end])
                self.assert_refused(reply, INVALID_SPEC, (key,))

    def test_fd_indices_out_of_range(self):
        for key in ("StdinFD", "StdoutFD", "StderrFD"):
            for index, fds in ((0, []), (1, ["devnull"]), (-1, ["devnull"]), (2 ** 31 - 1, ["devnull"])):
                with self.subTest(key=key, index=index, fds=len(fds)):
                    reply = self.hostile("StartSession", spec(**{key: V("h", index)}), fds=fds)
                    self.assert_refused(reply, (INVALID_ARGS, INVALID_SPEC), (key,))

    def test_sockets_as_stdio_end_cleanly(self):
        # Usable as stdio (a socket is a fine stdout), but the peer is gone or never was: refused
        # with the key named, or the session ends on its own.
        for key in ("StdinFD", "StdoutFD"):
            for kind in ("socket-peer-closed", "socket-unconnected"):
                with self.subTest(key=key, fd=kind):
                    PROOF["bad"] += 1
                    reply = self.hostile("StartSession", spec(["sh", "-c", "cat; echo out"], **{key: V("h", 0)}),
                                         fds=[kind])
                    if "error" in reply:
                        self.assertIn(key, reply["message"], reply)
                        continue
                    sid = reply["ok"][0]
                    self.started.append(sid)
                    PROOF["sessions"] += 1
                    self.assertIn(wait_session_finished(sid)["Result"], ("success", "target-failed"))

    def test_extra_fds_are_not_kept(self):
        reply = self.hostile("StartSession", spec(["true"]), fds=["devnull"] * 8 + ["dir", "opath"])
        self.assertIn("ok", reply, reply)
        self.started.append(reply["ok"][0])
        PROOF["sessions"] += 1
        PROOF["bad"] += 1
        self.assertEqual(wait_session_finished(reply["ok"][0])["Result"], "success")


class OtherUsersTest(HostileTest):
    SECRET = "secret-marker-4711"

    def setUp(self):
        super().setUp()
        reply = self.exchange(BYSTANDER, call_request("StartSession", spec(
            ["sh", "-c", "sleep 300", self.SECRET], Environment=["PATH=/usr/bin:/bin", "TOKEN=" + self.SECRET],
            Description="victim")))
        self.assertIn("ok", reply, reply)
        self.victim = reply["ok"][0]
        self.started.append(self.victim)
        PROOF["sessions"] += 1
        self.victim_status = session_status(self.victim)

    def assert_not_leaking(self, reply):
        self.assertNotIn(self.SECRET, json.dumps(reply))
        self.assertNotIn(self.victim_status["OutputDirectory"] + "/", json.dumps(reply))

    def test_cannot_act_on_another_users_session(self):
        sid, path = self.victim, SESSION_PREFIX + self.victim
        calls = [("Stop", sid_arg(sid), PATH, MANAGER), ("Status", sid_arg(sid), PATH, MANAGER),
                 ("Kill", V("(ssi)", (sid, "all", 9)), PATH, MANAGER),
                 ("Kill", V("(ssi)", (sid, "target", 0)), PATH, MANAGER),
                 ("Kill", V("(ssi)", (sid, "no-such", 15)), PATH, MANAGER),
                 ("Pause", sid_arg(sid), PATH, MANAGER), ("Resume", sid_arg(sid), PATH, MANAGER),
                 ("AddSupporter", supporter(sid, Argv=["true"]), PATH, MANAGER),
                 ("AddSupporter", supporter(sid, Name="../x", Argv=["no-such-program"]), PATH, MANAGER),
                 ("Stop", None, path, SESSION), ("Status", None, path, SESSION),
                 ("Kill", V("(si)", ("all", 9)), path, SESSION), ("Pause", None, path, SESSION),
                 ("Resume", None, path, SESSION), ("AddSupporter", V("(a{sv})", ({"Argv": V("as", ["true"])},)),
                                                   path, SESSION)]
        # The same object by another spelling of its path: the id escaped as sd_bus_path_encode() would.
        escaped = SESSION_PREFIX + "".join("_%02x" % ord(c) if not c.isalpha() else c for c in sid)
        calls.append(("Stop", None, escaped, SESSION))
        for method, v, p, iface in calls:
            with self.subTest(method=method, path=p, args=v.print_(False) if v else ""):
                reply = self.hostile(method, v, path=p, interface=iface)
                if p == escaped and reply.get("error") == "org.freedesktop.DBus.Error.UnknownObject":
                    PROOF["bad"] += 1
                    continue
                self.assert_refused(reply, DENIED)
                self.assert_not_leaking(reply)
        st = session_status(self.victim)
        self.assertEqual(st["State"], "running")
        self.assertEqual(len(st["ProcessDetails"]), 1)
        self.assertEqual(proc_state(st["TargetPID"]), "S")

    def test_public_views_carry_no_secrets(self):
        path = SESSION_PREFIX + self.victim
        for method, v, p, iface in (
                ("ListSessions", None, PATH, MANAGER),
                ("GetAll", V("(s)", (SESSION,)), path, "org.freedesktop.DBus.Properties"),
                ("GetManagedObjects", None, PATH, "org.freedesktop.DBus.ObjectManager"),
                ("Introspect", None, path, "org.freedesktop.DBus.Introspectable")):
            with self.subTest(method=method):
                reply = self.hostile(method, v, path=p, interface=iface)
                self.assertIn("ok", reply, reply)
                self.assertNotIn(self.SECRET, json.dumps(reply))
        # The output directory is the owner's.
        out = self.victim_status["OutputDirectory"]
        for op, p in (("listdir", out), ("read", os.path.join(out, "target.stdout"))):
            with self.subTest(op=op):
                reply = self.exchange(HOSTILE, {"op": op, "path": p})
                self.assertIn("errno", reply, reply)

    def test_made_up_ids(self):
        for sid in ("../" + self.victim, self.victim + "/../" + self.victim, " " + self.victim, "0" + self.victim,
                    "+" + self.victim, self.victim + "\n", "", "-1", "18446744073709551617", "%s" % ("9" * 64)):
            with self.subTest(id=sid):
                self.assert_refused(self.hostile("Stop", sid_arg(sid)), NO_SUCH, ("session",))
        self.assertEqual(session_status(self.victim)["State"], "running")


class NamesTest(HostileTest):
    def test_supporter_names_that_are_not_names(self):
        sid = self.start_own()
        for name in ("../x", "..", ".", "/", "a/b", "x\\y", "a b", "\u00e4", "x\u202e", "\u2024\u2024", "target",
                     "-x", "x-y", "a" * 33, "", "x\ty", "_x"):
            with self.subTest(name=name):
                self.assert_refused(self.hostile("StartSession", spec(Supporters=supporters({"Name": name,
                                                                                          "Argv": ["true"]}))),
                                    INVALID_SPEC, ("Name",))
                self.assert_refused(self.hostile("AddSupporter", supporter(sid, Name=name, Argv=["true"])),
                                    INVALID_SPEC, ("Name",))
        self.assertEqual(len(session_status(sid)["ProcessDetails"]), 1)

    def test_odd_but_valid_supporter_names_stay_inside(self):
        names = ["a..b", "x.scope", "target.stdout", "A9_.", "z" * 32]
        sid = self.start_own(Supporters=supporters(*({"Name": n, "Argv": ["sleep", "300"]} for n in names)))
        st = session_status(sid)
        out = st["OutputDirectory"]
        self.assertEqual(os.path.dirname(out), os.path.join(STATE, "sessions"))
        for n in names:
            with self.subTest(name=n):
                p = [x for x in st["ProcessDetails"] if x["Name"] == n][0]
                self.assertEqual(p["Unit"], "profd-%s-%s.scope" % (sid, n))
                self.assertTrue(os.path.exists(os.path.join(out, n + ".log")))
        self.assertEqual(os.path.realpath(os.path.join(out, "target.stdout")), os.path.join(out, "target.stdout"))

    def test_descriptions(self):
        for desc in ("a\nb", "\t", "\x1b[2J", "\u0085", "bell\x07", "\x7f"):
            with self.subTest(description=desc):
                self.assert_refused(self.hostile("StartSession", spec(Description=desc)), INVALID_SPEC,
                                    ("Description",))
        # Only shown, never used as a path.
        for desc in ("../../../../etc/passwd", "/", "\u202eevil", "%s%n%x"):
            with self.subTest(description=desc):
                sid = self.start_own(Description=desc)
                self.assertIn([sid, desc], [[s[0], s[4]] for s in call("ListSessions")[0]])
                self.assertEqual(os.path.dirname(session_status(sid)["OutputDirectory"]), os.path.join(STATE, "sessions"))

    def test_working_directories(self):
        cases = [("relative", "relative/dir"), ("dot-dot", "../../"), ("empty", ""), ("a file", "/etc/passwd"),
                 ("missing", "/nonexistent/dir"), ("a file's child", "/etc/passwd/x")]
        for what, wd in cases:
            with self.subTest(what=what):
                self.assert_refused(self.hostile("StartSession", spec(WorkingDirectory=wd)), INVALID_SPEC,
                                    ("WorkingDirectory",))
        # One the caller may not enter: refused, and saying why (not "the target failed to start").
        with self.subTest(what="not the caller's"):
            self.assert_refused(self.hostile("StartSession", spec(WorkingDirectory="/root")),
                                (INVALID_SPEC, EXEC_FAILED), ("WorkingDirectory", "working directory"))

    def test_working_directory_is_no_oracle_for_hidden_paths(self):
        # profd checks the directory as root: what it answers must not tell the caller whether a
        # path it cannot see exists.
        hidden = os.path.join(WORK, "hidden")
        os.makedirs(os.path.join(hidden, "exists"), exist_ok=True)
        os.chmod(hidden, 0o700)
        exists = self.hostile("StartSession", spec(WorkingDirectory=os.path.join(hidden, "exists")))
        missing = self.hostile("StartSession", spec(WorkingDirectory=os.path.join(hidden, "missing")))
        PROOF["bad"] += 2
        for reply in (exists, missing):
            self.assertIn(reply.get("error"), (INVALID_SPEC, EXEC_FAILED) + DENIED, reply)
        self.assertEqual(exists["error"], missing["error"], "exists: %s\nmissing: %s" % (exists, missing))

    def test_supporter_working_directories(self):
        for what, wd in (("missing", "/nonexistent/dir"), ("a file", "/etc/passwd"), ("not the caller's", "/root")):
            with self.subTest(what=what, call="StartSession"):
                reply = self.hostile("StartSession", spec(Supporters=supporters({"Argv": ["sleep", "300"],
                                                                                 "WorkingDirectory": wd})))
                self.assert_refused(reply, (INVALID_SPEC, EXEC_FAILED), ("WorkingDirectory", "working directory"))
        for what, wd in (("relative", "relative"), ("missing", "/nonexistent/dir"), ("a file", "/etc/passwd"),
                         ("not the caller's", "/root")):
            with self.subTest(what=what, call="AddSupporter"):
                sid = self.start_own()
                reply = self.hostile("AddSupporter", supporter(sid, Argv=["sleep", "300"], WorkingDirectory=wd))
                self.assert_refused(reply, (INVALID_SPEC, EXEC_FAILED), ("WorkingDirectory", "working directory"))
                time.sleep(0.3)
                self.assertEqual(session_status(sid)["State"], "running",
                                 "a supporter refused, or failing, took the running session down with it")


class PidTest(HostileTest):
    def test_pid_placeholders(self):
        # {pid}, exactly so, becomes the target's pid in a supporter's argv; nothing else is touched.
        words = ["{pid}", "{pid}{pid}", "{{pid}}", "{pi", "{PID}", "pid}", "{pid", "x{pid}y", "{ pid}", "{pid}}", "%d"]
        sid = self.start_own(Supporters=supporters({"Name": "args",
                                                    "Argv": ["sh", "-c", 'printf "%s\\n" "$@" > args.txt; exec sleep 300',
                                                             "sh"] + words}))
        st = session_status(sid)
        path = os.path.join(st["OutputDirectory"], "args.txt")
        wait_for("the supporter's arguments", lambda: os.path.exists(path) and os.path.getsize(path) > 0)
        time.sleep(0.1)
        p = str(st["TargetPID"])
        with open(path) as f:
            got = f.read().splitlines()
        self.assertEqual(got, [p, p + p, "{" + p + "}", "{pi", "{PID}", "pid}", "{pid", "x" + p + "y", "{ pid}",
                               p + "}", "%d"])


class KillTest(HostileTest):
    def test_signals_that_are_not_signals(self):
        sid = self.start_own()
        for sig in (0, -1, 65, 1000, -2 ** 31, 2 ** 31 - 1):
            with self.subTest(signal=sig):
                self.assert_refused(self.hostile("Kill", V("(ssi)", (sid, "target", sig))), INVALID_ARGS, ("signal",))
                self.assert_refused(self.hostile("Kill", V("(si)", ("target", sig)), path=SESSION_PREFIX + sid,
                                                 interface=SESSION), INVALID_ARGS, ("signal",))
        for whom in ("", "../target", "target ", "TARGET", "all\n", "watch"):
            with self.subTest(whom=whom):
                self.assert_refused(self.hostile("Kill", V("(ssi)", (sid, whom, 15))), INVALID_ARGS, ("whom",))
        st = session_status(sid)
        self.assertEqual(st["State"], "running")
        self.assertEqual(proc_state(st["TargetPID"]), "S")

    def test_sigstop_does_not_wedge_the_session(self):
        # SIGSTOP behind the state machine's back: the session says "running" while nothing runs,
        # and an ordered Stop then sends SIGTERM to a stopped process, which cannot act on it
        # until the grace period is over and SIGKILL comes. Either Kill refuses it (Pause is the
        # way) or the session knows it is paused.
        sid = self.start_own(StopTimeoutUSec=V("t", 2000000))
        reply = self.hostile("Kill", V("(ssi)", (sid, "target", 19)))
        PROOF["bad"] += 1
        state = session_status(sid)["State"]
        call("Stop", "('%s',)" % sid)
        st = wait_session_finished(sid)
        what = "Kill(target, SIGSTOP) answered %s, the session then said %r, and Stop ended it as %r (%s)" % (
            reply, state, st["Result"], ", ".join("%s: %s" % (p["Name"], p["End"]) for p in st["ProcessDetails"]))
        if "error" in reply:
            self.assertTrue(any(w in reply["message"] for w in ("Pause", "SIGSTOP", "signal")), what)
        else:
            self.assertEqual(state, "paused", what)
        self.assertEqual(st["Result"], "stopped", what)


class AddSupporterTest(HostileTest):
    def test_bad_supporters(self):
        sid = self.start_own(Supporters=supporters({"Name": "watch", "Argv": ["sleep", "300"]}))
        cases = [
            ("no Argv", {}, INVALID_SPEC, ("Argv",)),
            ("empty Argv", {"Argv": []}, INVALID_SPEC, ("Argv",)),
            ("empty command", {"Argv": [""]}, INVALID_SPEC, ("Argv",)),
            ("unknown key", {"Argv": ["true"], "Bogus": "x"}, INVALID_SPEC, ("Bogus",)),
            ("duplicate name", {"Name": "watch", "Argv": ["true"]}, INVALID_SPEC, ("watch",)),
            ("name target", {"Name": "target", "Argv": ["true"]}, INVALID_SPEC, ("Name",)),
            ("unknown requirement", {"Argv": ["true"], "Requires": ["nothing"]}, INVALID_SPEC, ("nothing",)),
            ("bad requirement", {"Argv": ["true"], "Requires": ["a b"]}, INVALID_SPEC, ("Requires",)),
            ("missing program", {"Argv": ["no-such-program-here"]}, INVALID_SPEC, ("no-such-program-here",)),
            ("Ready soon", {"Argv": ["true"], "Ready": "soon"}, INVALID_SPEC, ("Ready",)),
            ("Ready delay:", {"Argv": ["true"], "Ready": "delay:"}, INVALID_SPEC, ("Ready",)),
            ("Ready delay:-1", {"Argv": ["true"], "Ready": "delay:-1"}, INVALID_SPEC, ("Ready",)),
            ("Ready delay:huge", {"Argv": ["true"], "Ready": "delay:99999999999999999999"}, INVALID_SPEC, ("Ready",)),
            ("relative WorkingDirectory", {"Argv": ["true"], "WorkingDirectory": "x"}, INVALID_SPEC,
             ("WorkingDirectory",)),
            ("10 MB Argv", {"Argv": ["true", "x" * BIG]}, (INVALID_SPEC, LIMIT), ("Argv", "Supporters")),
        ]
        for what, sup, names, mentions in cases:
            with self.subTest(what=what):
                self.assert_refused(self.hostile("AddSupporter", supporter(sid, **sup)), names, mentions)
        self.assertEqual(self.hostile("AddSupporter", supporter("no-such-session", Argv=["true"]))["error"], NO_SUCH)
        st = session_status(sid)
        self.assertEqual(st["State"], "running")
        self.assertEqual([p["Name"] for p in st["ProcessDetails"]], ["target", "watch"])

    def test_more_supporters_than_allowed(self):
        # ProcessesPerSession=8 here: the target and 7 supporters.
        sid = self.start_own()
        added = 0
        for i in range(12):
            reply = self.hostile("AddSupporter", supporter(sid, Name="s%d" % i, Argv=["sleep", "300"]))
            if "error" in reply:
                self.assert_refused(reply, LIMIT, ("ProcessesPerSession",))
                continue
            added += 1
        self.assertEqual(added, 7)
        self.assertEqual(len(session_status(sid)["ProcessDetails"]), 8)

    def test_added_to_a_finished_session(self):
        sid = self.start_own(["true"])
        wait_session_finished(sid)
        self.assert_refused(self.hostile("AddSupporter", supporter(sid, Argv=["sleep", "300"])), BAD_STATE,
                            ("finished", sid))


if __name__ == "__main__":
    unittest.main(verbosity=2)
