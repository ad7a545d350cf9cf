#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""profd under load, in the sandbox (tests/sandbox), against its real systemd and system bus.

One daemon, started as profd.service with its limits raised ([Limits] SessionsPerUser=,
[Scheduling] MaxParallelSessions=) and finished sessions dropped at once (KeepFinishedSec=0), then:

  warm-up   LOAD_WARMUP (50) sessions of /bin/true back to back, so that the baseline is the
            daemon's steady state rather than its first allocations;
  live      LOAD_LIVE (1,000) sessions of `sleep 1000` started at once as nobody (pipelined,
            LOAD_WINDOW (32) calls in flight: as fast as the daemon answers); all must be running:
            in ListSessions, as units (systemctl), as processes of nobody; then all stopped the
            same way, and finished. LOAD_LIVE_ROUNDS (2) times;
  sequence  LOAD_SESSIONS (1,000; tools/test --load: 10,000) sessions of /bin/true started and
            finished back to back as nobody, while LOAD_POLLERS (8) clients, half root and half
            nobody, call ListSessions and Status every LOAD_POLL_INTERVAL (0.05) s throughout.

Asserted, never how long anything takes (the times are printed, for people):
  - every StartSession and Stop answered without error, each with a new id (unique over the run);
  - each id announced once (SessionNew), finished once (State=finished once, never left), removed
    once (SessionRemoved), with the right result (stopped, resp. success), as its caller saw it and
    as a root monitor saw it independently; no session that no caller started;
  - every ListSessions and Status call of the pollers answered (NoSuchSession is an answer);
  - after each phase: no session, no profd unit, no child of profd left; the daemon's open fds
    exactly those of the baseline; its RSS (VmRSS) within LOAD_RSS_SLACK_KB (2,048 KiB) of the
    baseline after the first live round, within the same slack of that after the second round (a
    leak grows with every round, memory the allocator kept is used again), and after the sequence
    within the slack of the baseline again (an idle profd gives its heap back).
At the end a PROOF line (sessions run, leaks found) that tools/test adds to its summary.
What is left over is reported, then stopped, so that the next phase starts clean; on failure the
daemon's, systemd's and the bus's journals are summarized (each kind of message, how often).

Runs itself under `sandbox run`, then inside the sandbox with Debian's python3 and its GLib
bindings (tests/integration/sandboxed.py); its clients are this script again (`--worker ...`), as
nobody or root, each with its own bus connection."""

import collections
import json
import os
import pwd
import random
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

NAME = "org.profd.Profd1"
PATH = "/org/profd/Profd1"
MANAGER = "org.profd.Profd1.Manager"
SESSION = "org.profd.Profd1.Session"
SESSION_PREFIX = PATH + "/session/"


def env_int(name, default):
    return int(os.environ.get(name) or default)


# --- Workers: each its own process and bus connection, JSON on stdout. -------------------------

def worker_connect():
    import gi
    gi.require_version("Gio", "2.0")
    from gi.repository import Gio
    return Gio.bus_get_sync(Gio.BusType.SYSTEM, None)


class SessionWatcher:
    """Follows every session's State and Result through the signals, from before the first call."""

    def __init__(self, conn):
        from gi.repository import Gio
        self.states = {}            # id -> last State seen
        self.results = {}           # id -> Result when it went to finished
        self.finished = {}          # id -> how often it went to finished
        self.left_finished = {}     # id -> states seen after finished
        self.new = {}               # id -> SessionNew count
        self.removed = {}           # id -> SessionRemoved count
        self.changed_signals = 0
        self.on_finished = None
        conn.signal_subscribe(NAME, "org.freedesktop.DBus.Properties", "PropertiesChanged", None, SESSION,
                              Gio.DBusSignalFlags.NONE, self._changed)
        conn.signal_subscribe(NAME, MANAGER, None, PATH, None, Gio.DBusSignalFlags.NONE, self._manager)

    def _changed(self, conn, sender, path, iface, member, params):
        if not path.startswith(SESSION_PREFIX):
            return
        self.changed_signals += 1
        sid = path[len(SESSION_PREFIX):]
        changed = params.unpack()[1]
        if "State" not in changed:
            return
        state = changed["State"]
        before = self.states.get(sid)
        self.states[sid] = state
        if before == "finished" and state != "finished":
            self.left_finished.setdefault(sid, []).append(state)
        if state == "finished" and before != "finished":
            self.finished[sid] = self.finished.get(sid, 0) + 1
            self.results[sid] = changed.get("Result")
            if self.on_finished:
                self.on_finished(sid)

    def _manager(self, conn, sender, path, iface, member, params):
        if member == "SessionNew":
            sid = params.unpack()[0]
            self.new[sid] = self.new.get(sid, 0) + 1
        elif member == "SessionRemoved":
            sid = params.unpack()[0]
            self.removed[sid] = self.removed.get(sid, 0) + 1

    def summary(self):
        return {"states": self.states, "results": self.results, "finished": self.finished,
                "left_finished": self.left_finished, "new": self.new, "removed": self.removed,
                "changed_signals": self.changed_signals}


def flush_signals(conn):
    """Processes every signal the daemon sent before now: a round trip to it comes back after them."""
    from gi.repository import GLib
    conn.call_sync(NAME, PATH, "org.freedesktop.DBus.Peer", "Ping", None, None, 0, 25000, None)
    ctx = GLib.MainContext.default()
    while ctx.pending():
        ctx.iteration(False)


def spec(argv):
    from gi.repository import GLib
    return GLib.Variant("(a{sv})", ({"Target": GLib.Variant("as", argv)},))


def error_name(e):
    from gi.repository import Gio
    return Gio.DBusError.get_remote_error(e) or ("local: " + e.message)


def wait_stdin_line():
    line = sys.stdin.readline()
    if not line:
        sys.exit("worker: stdin closed")
    return line.strip()


def worker_live(n, window):
    """Starts n sessions of `sleep 1000`, at most `window` calls in flight; prints the ids; on
    "stop" from stdin stops them all the same way and prints how they finished."""
    from gi.repository import Gio, GLib
    conn = worker_connect()
    watcher = SessionWatcher(conn)
    loop = GLib.MainLoop()
    ids, errors = [], []
    state = {"next": 0, "inflight": 0}

    def pump(issue, count, done):
        while state["inflight"] < window and state["next"] < count:
            i = state["next"]
            state["next"] += 1
            state["inflight"] += 1
            issue(i, lambda c, res, i=i: answered(c, res, i, done))
        if state["inflight"] == 0 and state["next"] >= count:
            loop.quit()

    def answered(c, res, i, done):
        state["inflight"] -= 1
        try:
            done(i, c.call_finish(res))
        except GLib.Error as e:
            errors.append(error_name(e))
        current[0]()

    def start(i, cb):
        conn.call(NAME, PATH, MANAGER, "StartSession", spec(["sleep", "1000"]), GLib.VariantType("(so)"),
                  Gio.DBusCallFlags.NONE, 30000, None, cb)

    last_ok = [0.0]

    def started(i, reply):
        ids.append(reply.unpack()[0])
        last_ok[0] = time.monotonic() - t0

    current = [lambda: pump(start, n, started)]
    t0 = time.monotonic()
    current[0]()
    loop.run()
    start_seconds = time.monotonic() - t0
    print(json.dumps({"ids": ids, "errors": errors, "seconds": start_seconds, "last_ok": last_ok[0]}), flush=True)

    if wait_stdin_line() != "stop":
        sys.exit("worker: expected 'stop'")
    stop_errors = []
    state.update(next=0, inflight=0)
    errors_before = len(errors)

    def stop(i, cb):
        conn.call(NAME, PATH, MANAGER, "Stop", GLib.Variant("(s)", (ids[i],)), None,
                  Gio.DBusCallFlags.NONE, 60000, None, cb)

    t0 = time.monotonic()
    current[0] = lambda: pump(stop, len(ids), lambda i, reply: None)
    current[0]()
    loop.run()
    stop_errors = errors[errors_before:]

    # Then until every one of them has finished, or a minute without progress.
    progress = {"left": None, "when": time.monotonic()}

    def check_progress():
        left = sum(1 for s in ids if watcher.states.get(s) != "finished")
        if left != progress["left"]:
            progress.update(left=left, when=time.monotonic())
        if left == 0 or time.monotonic() - progress["when"] > 60:
            loop.quit()
            return False
        return True

    watcher.on_finished = lambda sid: check_progress()
    if check_progress():
        GLib.timeout_add(1000, check_progress)
        loop.run()
    stop_seconds = time.monotonic() - t0
    flush_signals(conn)
    print(json.dumps({"stop_errors": stop_errors, "seconds": stop_seconds, "watcher": watcher.summary()}),
          flush=True)


def worker_sequence(n, argv):
    """Starts n sessions of argv one after the other, each once the previous one has finished."""
    from gi.repository import Gio, GLib
    conn = worker_connect()
    watcher = SessionWatcher(conn)
    loop = GLib.MainLoop()
    ids, errors = [], []
    waiting = {"id": None}

    def next_one():
        if len(ids) + len(errors) >= n:
            loop.quit()
            return
        conn.call(NAME, PATH, MANAGER, "StartSession", spec(argv), GLib.VariantType("(so)"),
                  Gio.DBusCallFlags.NONE, 60000, None, answered)

    def answered(c, res):
        try:
            sid = c.call_finish(res).unpack()[0]
        except GLib.Error as e:
            errors.append(error_name(e))
            next_one()
            return
        ids.append(sid)
        if len(ids) == n // 2:
            print(json.dumps({"halfway": len(ids)}), flush=True)
        if watcher.states.get(sid) == "finished":
            next_one()
        else:
            waiting["id"] = sid

    def finished(sid):
        if sid == waiting["id"]:
            waiting["id"] = None
            next_one()

    watcher.on_finished = finished
    t0 = time.monotonic()
    next_one()
    loop.run()
    seconds = time.monotonic() - t0
    flush_signals(conn)
    print(json.dumps({"ids": ids, "errors": errors, "seconds": seconds, "watcher": watcher.summary()}), flush=True)


def worker_monitor():
    """Records every session signal until stdin closes, then prints what it saw."""
    from gi.repository import GLib
    conn = worker_connect()
    watcher = SessionWatcher(conn)
    loop = GLib.MainLoop()
    flush_signals(conn)
    print(json.dumps({"ready": True}), flush=True)
    GLib.io_add_watch(0, GLib.PRIORITY_LOW, GLib.IO_IN | GLib.IO_HUP, lambda *a: loop.quit() or False)
    loop.run()
    flush_signals(conn)
    print(json.dumps(watcher.summary()), flush=True)


def worker_poll(interval):
    """ListSessions, then Status of one of the sessions listed, again and again until stdin closes."""
    from gi.repository import GLib
    conn = worker_connect()
    counts = {"calls": 0, "answered": 0, "list": 0, "status": 0, "errors": {}}
    rng = random.Random(os.getpid())
    print(json.dumps({"ready": True}), flush=True)

    def count_call(method, args):
        counts["calls"] += 1
        try:
            reply = conn.call_sync(NAME, PATH, MANAGER, method, args, None, 0, 25000, None)
            counts["answered"] += 1
            return reply.unpack()
        except GLib.Error as e:
            name = error_name(e)
            counts["errors"][name] = counts["errors"].get(name, 0) + 1
            # An error *reply* is an answer; a timeout or a lost connection is not.
            if not name.startswith("local") and "NoReply" not in name:
                counts["answered"] += 1
            return None

    while not select.select([0], [], [], 0)[0]:
        listed = count_call("ListSessions", None)
        counts["list"] += 1
        if listed and listed[0]:
            sid = rng.choice(listed[0])[0]
            count_call("Status", GLib.Variant("(s)", (sid,)))
            counts["status"] += 1
        time.sleep(interval)
    print(json.dumps(counts), flush=True)


def worker_main(argv):
    mode = argv[0]
    if mode == "live":
        worker_live(int(argv[1]), int(argv[2]))
    elif mode == "sequence":
        worker_sequence(int(argv[1]), argv[2:])
    elif mode == "monitor":
        worker_monitor()
    elif mode == "poll":
        worker_poll(float(argv[1]))
    else:
        sys.exit("unknown worker mode " + mode)


if len(sys.argv) > 1 and sys.argv[1] == "--worker":
    worker_main(sys.argv[2:])
    sys.exit(0)


# --- The test: inside the sandbox, as root. --------------------------------------------------------

import sandboxed  # noqa: E402

sandboxed.enter(__file__)

from sandboxed import (PROFD, SYSTEM_PYTHON, as_user, assert_clean_journal, failed_units, open_fds,  # noqa: E402
                       proc_status, profd_pid, profd_units, run, stop_profd, wait_for)

LIVE = env_int("LOAD_LIVE", 1000)
LIVE_ROUNDS = env_int("LOAD_LIVE_ROUNDS", 2)
SESSIONS = env_int("LOAD_SESSIONS", 1000)
WARMUP = env_int("LOAD_WARMUP", 50)
POLLERS = env_int("LOAD_POLLERS", 8)
POLL_INTERVAL = float(os.environ.get("LOAD_POLL_INTERVAL") or 0.05)
WINDOW = env_int("LOAD_WINDOW", 32)
RSS_SLACK_KB = env_int("LOAD_RSS_SLACK_KB", 2048)

NOBODY = pwd.getpwnam("nobody")
BASE = os.environ.get("MESON_BUILD_ROOT") or os.path.dirname(os.path.dirname(PROFD))
WORK = tempfile.mkdtemp(prefix="profd-load-test-", dir=BASE)
os.chmod(WORK, 0o755)
STATE = os.path.join(WORK, "state")
CONFIG = os.path.join(WORK, "profd.conf")
failures = []
leaks = []


def check(ok, what, leak=False):
    """`leak`: what failed is something left behind (a session, unit, child, fd, memory)."""
    print("  %-4s %s" % ("ok" if ok else "FAIL", what), flush=True)
    if not ok:
        failures.append(what)
        if leak:
            leaks.append(what)


def worker(user, *args):
    argv = [SYSTEM_PYTHON, os.path.abspath(__file__), "--worker", *map(str, args)]
    if user is not None:
        argv = as_user(user) + argv
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def read_json(p, timeout=3600):
    ready = select.select([p.stdout], [], [], timeout)[0]
    line = p.stdout.readline() if ready else ""
    if not line:
        p.kill()
        raise AssertionError("worker %r gave no answer (exit %s)" % (p.args[-4:], p.wait()))
    return json.loads(line)


def finish(p):
    p.stdin.close()
    out = read_json(p)
    if p.wait(timeout=120) != 0:
        raise AssertionError("worker %r failed" % (p.args[-4:],))
    return out


def rss_parts(pid):
    """VmRSS in KiB by where it is: the malloc heap, other anonymous memory, files (code, data)."""
    parts = collections.Counter()
    name = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            fields = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                name = fields[5] if len(fields) > 5 else ""
            elif fields[0] == "Rss:":
                parts["heap" if name == "[heap]" else "file" if name.startswith("/") else "anon"] += int(fields[1])
    return parts


# An idle profd gives its heap back a second after its last session went (TRIM_DELAY_USEC in
# daemon/manager.c): what the idle snapshots wait before they measure.
TRIM_WAIT = 2


def snapshot(what, idle=True):
    if idle:
        time.sleep(TRIM_WAIT)
    pid = profd_pid()
    st = proc_status(pid)
    snap = {"rss_kb": int(st["VmRSS"][0]), "fds": open_fds(pid), "units": profd_units(), "pid": pid}
    parts = rss_parts(pid)
    print("%-34s RSS %6d KiB (heap %d, other anonymous %d, files %d), %4d fds, %4d profd units" % (
        what + ":", snap["rss_kb"], parts["heap"], parts["anon"], parts["file"], len(snap["fds"]),
        len(snap["units"])), flush=True)
    return snap


def settle(what):
    """Waits until profd has no session and no child left, and systemd no unit of profd's; what
    is still there after 30 s fails the check, and is stopped so that the next phase starts
    clean."""
    def leftovers():
        sessions = [s for s in profd_call.call("ListSessions")[0]]
        return sessions, profd_units(), sandboxed.children_of(profd_pid())

    try:
        wait_for("profd to settle", lambda: leftovers() == ([], [], []), timeout=30)
    except AssertionError:
        pass
    sessions, units, children = leftovers()
    check(not sessions, "%s: no session left in profd (%d: %s)" % (
        what, len(sessions), collections.Counter(s[1] for s in sessions).most_common()), leak=True)
    check(not units, "%s: no profd unit left in systemd (%d, e.g. %s)" % (what, len(units), units[:3]), leak=True)
    check(not children, "%s: no child of profd left (%d)" % (what, len(children)), leak=True)
    if sessions or units:
        for s in sessions:
            try:
                profd_call.call("Stop", "('%s',)" % s[0])
            except profd_call.CallError:
                pass
        if units:
            run("systemctl", "stop", "--no-block", *units, check=False)
        try:
            wait_for("profd to settle after the clean-up", lambda: leftovers() == ([], [], []), timeout=30)
        except AssertionError:
            sessions, units, _ = leftovers()
            print("  (clean-up left %d sessions and %d units)" % (len(sessions), len(units)), flush=True)


def write_config(scheduling):
    with open(CONFIG, "w") as f:
        f.write("[Limits]\nSessionsPerUser=%d\n[Sessions]\nKeepFinishedSec=0\n" % max(2000, LIVE + 10))
        if scheduling:
            f.write("[Scheduling]\nMaxParallelSessions=%d\n" % max(2000, LIVE + 10))


def start_daemon():
    write_config(True)
    try:
        sandboxed.start_profd(CONFIG, STATE)
        return
    except subprocess.CalledProcessError:
        pass
    # A daemon before [Scheduling] (issue 7): without it, then; it has no global limit either.
    print("note: profd refused [Scheduling] MaxParallelSessions=; running without it", flush=True)
    stop_profd()
    write_config(False)
    sandboxed.start_profd(CONFIG, STATE)


def check_watcher(what, w, expected, result, monitor=False):
    """`w` (a SessionWatcher summary) saw each of `expected` finish exactly once with `result`."""
    ids = set(expected)
    check(all(w["finished"].get(s) == 1 for s in ids),
          "%s: each of the %d sessions finished exactly once (%d not, %d more than once)" % (
              what, len(ids), sum(1 for s in ids if s not in w["finished"]),
              sum(1 for s in ids if w["finished"].get(s, 0) > 1)))
    wrong = {s: w["results"].get(s) for s in ids if w["results"].get(s) != result}
    check(not wrong, "%s: every result is %s%s" % (what, result, "" if not wrong else
                                                      " (not: %r)" % dict(list(wrong.items())[:5])))
    check(not any(s in w["left_finished"] for s in ids), "%s: no session left the finished state" % what)
    if monitor:
        check(all(w["new"].get(s) == 1 for s in ids), "%s: SessionNew exactly once for each" % what)
        check(all(w["removed"].get(s) == 1 for s in ids), "%s: SessionRemoved exactly once for each" % what)


def live_round(k, base):
    """LIVE sessions of `sleep 1000` at once as nobody, all checked running, then all stopped."""
    what = "live %d/%d" % (k, LIVE_ROUNDS)
    print("%s: %d sessions of `sleep 1000` as nobody, %d calls in flight" % (what, LIVE, WINDOW), flush=True)
    live = worker(NOBODY, "live", LIVE, WINDOW)
    started = read_json(live)
    ids = started["ids"]
    print("  started %d in %.1f s (%.0f/s), the last one answered after %.1f s" % (
        len(ids), started["seconds"], len(ids) / max(started["seconds"], 1e-9), started["last_ok"]), flush=True)
    check(not started["errors"], "%s: every StartSession succeeded%s" % (what, (
        "" if not started["errors"] else " (%d errors, e.g. %s)" % (len(started["errors"]), started["errors"][0]))))
    check(len(ids) == LIVE and len(set(ids)) == LIVE, "%s: %d unique ids" % (what, LIVE))
    listed = profd_call.call("ListSessions")[0]
    running = {s[0] for s in listed if s[1] == "running" and s[2] == NOBODY.pw_uid}
    check(len(running & set(ids)) == LIVE, "%s: ListSessions shows all %d running (%d are; all sessions: %s)" % (
        what, LIVE, len(running & set(ids)), collections.Counter(s[1] for s in listed).most_common()))
    units = [u.split() for u in run("systemctl", "list-units", "--all", "--plain", "--no-legend",
                                    "profd-*").stdout.splitlines()]
    scopes = {u[0] for u in units if u[0].endswith("-target.scope") and u[3] == "running"}
    slices = {u[0] for u in units if u[0].endswith(".slice")}
    check(scopes >= {"profd-%s-target.scope" % s for s in ids} and len(scopes) == LIVE,
          "%s: systemctl shows %d running target scopes (%d)" % (what, LIVE, len(scopes)))
    check(len(slices) == LIVE, "%s: systemctl shows %d session slices (%d)" % (what, LIVE, len(slices)))
    as_nobody = 0
    for pid in [s[3] for s in listed if s[0] in set(ids)]:
        try:
            as_nobody += proc_status(pid)["Uid"][0] == str(NOBODY.pw_uid)
        except FileNotFoundError:
            pass
    check(as_nobody == LIVE, "%s: %d target processes alive as nobody (%d)" % (what, LIVE, as_nobody))
    peak = snapshot("%s, all running" % what, idle=False)
    print("  %.1f KiB RSS per live session" % ((peak["rss_kb"] - base["rss_kb"]) / max(LIVE, 1)), flush=True)

    live.stdin.write("stop\n")
    live.stdin.flush()
    stopped = read_json(live)
    live.wait()
    print("  stopped all in %.1f s" % stopped["seconds"], flush=True)
    check(not stopped["stop_errors"], "%s: every Stop succeeded%s" % (what, (
        "" if not stopped["stop_errors"] else " (%d errors, e.g. %s)" % (len(stopped["stop_errors"]),
                                                                       stopped["stop_errors"][0]))))
    check_watcher("%s (caller)" % what, stopped["watcher"], ids, "stopped")
    settle(what)
    return ids, peak, snapshot("after %s" % what)


def main():
    sandboxed.install_policy()
    start_daemon()
    t_all = time.monotonic()
    print("profd %s, pid %d; %d live, %d in sequence, %d pollers" % (PROFD, profd_pid(), LIVE, SESSIONS, POLLERS),
          flush=True)
    monitor = worker(None, "monitor")
    read_json(monitor)
    all_ids = []

    # Warm-up, then the baseline.
    seq = worker(NOBODY, "sequence", WARMUP, "/bin/true")
    warm = read_json(seq)
    while "halfway" in warm:
        warm = read_json(seq)
    seq.wait()
    check(not warm["errors"] and len(warm["ids"]) == WARMUP, "warm-up: %d sessions started" % WARMUP)
    all_ids += warm["ids"]
    settle("warm-up")
    base = snapshot("baseline (after warm-up)")

    # Live: LIVE sessions at once, LIVE_ROUNDS times.
    rounds = []
    for k in range(1, LIVE_ROUNDS + 1):
        rounds.append(live_round(k, base))
        all_ids += rounds[-1][0]

    # Sequence: SESSIONS back to back, with pollers.
    print("sequence: %d sessions of /bin/true as nobody, back to back; %d pollers every %g s" % (
        SESSIONS, POLLERS, POLL_INTERVAL), flush=True)
    pollers = [worker(None if i % 2 == 0 else NOBODY, "poll", POLL_INTERVAL) for i in range(POLLERS)]
    for p in pollers:
        read_json(p)
    seq = worker(NOBODY, "sequence", SESSIONS, "/bin/true")
    done = read_json(seq)
    halfway = None
    if "halfway" in done:
        # For people: does memory grow with every session, or level off?
        halfway = snapshot("sequence, after %d" % done["halfway"], idle=False)
        done = read_json(seq)
    seq.wait()
    polled = [finish(p) for p in pollers]
    sids = done["ids"]
    all_ids += sids
    print("  %d sessions in %.1f s (%.1f/s, %.1f ms each)" % (len(sids), done["seconds"],
                                                            len(sids) / max(done["seconds"], 1e-9),
                                                            1000 * done["seconds"] / max(len(sids), 1)), flush=True)
    check(not done["errors"], "sequence: every StartSession succeeded%s" % (
        "" if not done["errors"] else " (%d errors, e.g. %s)" % (len(done["errors"]), done["errors"][0])))
    check(len(sids) == SESSIONS and len(set(sids)) == SESSIONS, "sequence: %d unique ids" % SESSIONS)
    check_watcher("sequence (caller)", done["watcher"], sids, "success")
    calls = sum(p["calls"] for p in polled)
    answered = sum(p["answered"] for p in polled)
    errors = {}
    for p in polled:
        for k, v in p["errors"].items():
            errors[k] = errors.get(k, 0) + v
    print("  pollers: %d calls (%d ListSessions, %d Status), %d answered; error replies: %s" % (
        calls, sum(p["list"] for p in polled), sum(p["status"] for p in polled), answered, errors or "none"),
        flush=True)
    check(all(p["calls"] > 0 for p in polled), "pollers: each of the %d made calls throughout" % POLLERS)
    check(answered == calls, "pollers: every call answered (%d of %d)" % (answered, calls))
    unexpected = {k: v for k, v in errors.items() if k not in ("org.profd.Profd1.Error.NoSuchSession",
                                                                 "org.freedesktop.DBus.Error.AccessDenied")}
    check(not unexpected, "pollers: no error but NoSuchSession/AccessDenied%s" % (
        "" if not unexpected else " (%r)" % unexpected))
    settle("sequence")
    after = snapshot("after sequence")

    # What the root monitor saw, all along.
    seen = finish(monitor)
    check(len(all_ids) == len(set(all_ids)), "ids unique over the whole run (%d)" % len(all_ids))
    check(set(seen["new"]) == set(all_ids), "monitor: no session but those started (%d seen, %d started)" % (
        len(seen["new"]), len(all_ids)))
    for k, (ids, _, _) in enumerate(rounds, 1):
        check_watcher("live %d/%d (monitor)" % (k, LIVE_ROUNDS), seen, ids, "stopped", monitor=True)
    check_watcher("sequence (monitor)", seen, sids, "success", monitor=True)

    # Back where it was: units and fds exactly, memory within the slack.
    check(all(r[2]["units"] == [] for r in rounds) and after["units"] == [], "no profd unit left", leak=True)
    for what, snap in [("live %d/%d" % (k, LIVE_ROUNDS), r[2]) for k, r in enumerate(rounds, 1)] + \
            [("sequence", after)]:
        check(snap["fds"] == base["fds"], "fds after %s == baseline (%d, %d)" % (what, len(snap["fds"]),
                                                                               len(base["fds"])), leak=True)
    first = rounds[0][2]
    check(first["rss_kb"] <= base["rss_kb"] + RSS_SLACK_KB,
          "RSS after live 1 within %d KiB of the baseline (%+d KiB)" % (RSS_SLACK_KB,
                                                                       first["rss_kb"] - base["rss_kb"]), leak=True)
    # A leak grows with every round; memory kept by the allocator is used again.
    for k in range(1, len(rounds)):
        check(rounds[k][2]["rss_kb"] <= first["rss_kb"] + RSS_SLACK_KB,
              "RSS after live %d within %d KiB of after live 1 (%+d KiB)" % (
                  k + 1, RSS_SLACK_KB, rounds[k][2]["rss_kb"] - first["rss_kb"]), leak=True)
    check(after["rss_kb"] <= base["rss_kb"] + RSS_SLACK_KB,
          "RSS after the sequence within %d KiB of the baseline (%+d KiB)" % (
              RSS_SLACK_KB, after["rss_kb"] - base["rss_kb"]), leak=True)
    check(failed_units() == "", "no failed unit")
    check(profd_pid() == base["pid"], "the same daemon all along")
    # The line tools/test adds up with those of the fault and hostile-input tests.
    print("PROOF: faults survived=0 bad inputs tried=0 sessions run=%d leaks found=%d" % (len(all_ids), len(leaks)),
          flush=True)

    print("\nsummary: %d sessions in %.0f s; RSS (KiB) baseline %d, %s, sequence halfway %s, after %d; "
          "fds %d -> %d; units %d -> %d; %d poller calls; %s" % (
              len(all_ids), time.monotonic() - t_all, base["rss_kb"],
              ", ".join("live %d peak %d after %d" % (k, r[1]["rss_kb"], r[2]["rss_kb"])
                        for k, r in enumerate(rounds, 1)),
              halfway["rss_kb"] if halfway else "-", after["rss_kb"], len(base["fds"]), len(after["fds"]), len(base["units"]), len(after["units"]), calls,
              "FAILED: %d checks" % len(failures) if failures else "all checks passed"), flush=True)

import profd_call  # noqa: E402

def dump_journal():
    """What the daemon and systemd said, to see why: each kind of message (numbers masked) with
    how often, then the last lines."""
    for title, args in (("profd.service", ["-u", "profd.service"]), ("systemd", ["_PID=1"]),
                        ("dbus", ["-u", "dbus.service"])):
        lines = run("journalctl", "--no-pager", "-o", "cat", *args, check=False).stdout.splitlines()
        kinds = collections.Counter(re.sub(r"\d+", "N", line) for line in lines)
        print("\n--- the journal of %s: %d lines, the most frequent kinds ---" % (title, len(lines)))
        for kind, n in kinds.most_common(25):
            print("%7d  %s" % (n, kind[:200]))
        print("--- its last lines ---")
        print("\n".join(lines[-15:]))


try:
    main()
except BaseException:
    dump_journal()
    raise
else:
    if failures:
        dump_journal()
finally:
    try:
        stop_profd()
    except subprocess.TimeoutExpired as e:
        failures.append("profd did not stop: %s" % e)
        print("FAIL profd did not stop:", e, flush=True)
    try:
        assert_clean_journal("-u", "profd.service")
    except AssertionError as e:
        failures.append(str(e)[:2000])
        print(e)
    shutil.rmtree(WORK, ignore_errors=True)
sys.exit(1 if failures else 0)
