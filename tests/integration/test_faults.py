#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Faults against the real daemon in the sandbox (tests/sandbox): processes that misbehave
(ignore SIGTERM, fork 200 children and leave, fork-bomb, close their stdout), a client that goes
away in the middle of StartSession, systemd refusing a unit, and a full state directory.

Each test checks the outcome a user would see, and then that nothing is left behind: no profd unit,
no process of the session's user, no zombie, the daemon's fds back to what they were, and the
daemon still running a fresh session to success.

At the end it prints, for tools/test:
    PROOF: faults survived=N bad inputs tried=0 sessions run=N leaks found=N
and fails when a leak was found.

Runs itself under `sandbox run`, then inside the sandbox with Debian's python3 and its GLib."""

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sandboxed  # noqa: E402

sandboxed.enter(__file__)

from sandboxed import (LOGGER, SYSTEM_PYTHON, as_user, assert_clean_journal, children_of, describe,  # noqa: E402
                       failed_units, Leaks, open_fds, proc_status, processes_of, profd_pid, profd_units, run,
                       ScratchTestCase, stop_profd, wait_for, zombies)
import profd_call  # noqa: E402
from profd_call import call, CallError, find_process, session_status, stop_sessions, wait_session_finished  # noqa: E402

CALL = os.path.join(HERE, "profd_call.py")

# Scratch space every user can reach: the build directory, never /tmp (DESIGN.md).
BASE = os.environ.get("MESON_BUILD_ROOT") or os.path.dirname(sandboxed.PROFD)
WORK = tempfile.mkdtemp(prefix="profd-faults-test-", dir=BASE)
os.chmod(WORK, 0o755)
STATE = os.path.join(WORK, "state")
CONFIG = os.path.join(WORK, "profd.conf")

NOBODY = pwd.getpwnam("nobody")
OTHER = pwd.getpwnam("daemon")

PROOF = {"faults": 0, "sessions": 0, "leaks": 0}

# Logs START and every SIGTERM it gets, but does not go: a supporter that ignores SIGTERM.
STUBBORN = """
import signal, sys, time
name, log = sys.argv[1], sys.argv[2]
def say(what):
    with open(log, "a") as f:
        f.write("%s %s %.6f\\n" % (name, what, time.monotonic()))
signal.signal(signal.SIGTERM, lambda *_: say("TERM"))
say("START")
while True:
    time.sleep(1)
"""

# A fork bomb that stops by itself at a depth: 2^(depth+1)-1 processes when nothing holds it.
BOMB = "f(){ [ $1 -ge %d ] && exec sleep 120; f $(($1+1)) & f $(($1+1)) & wait; }; f 0"


def user_call(user, method, args=None, path=profd_call.PATH, extra=(), fds=()):
    """Calls as another user in a child process; returns the reply or raises CallError."""
    argv = as_user(user) + [SYSTEM_PYTHON, CALL, "--path=" + path] + list(extra)
    argv += ["--fd=%d" % fd for fd in fds] + [method]
    if args:
        argv.append(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=90, pass_fds=tuple(fds))
    out = p.stdout.strip()
    if p.returncode != 0:
        if out.startswith("ERROR "):
            name, _, message = out[6:].partition(": ")
            raise CallError(name, message)
        raise AssertionError("profd_call failed: %s %s" % (out, p.stderr))
    return json.loads(out)


def gv_str(s):
    return "'%s'" % s.replace("\\", "\\\\").replace("'", "\\'")


def gv_strv(words):
    return "[%s]" % ", ".join(gv_str(w) for w in words)


def spec(target, **keys):
    items = ["'Target': <%s>" % gv_strv(target)]
    items += ["'%s': <%s>" % (k, v) for k, v in keys.items()]
    return "({%s},)" % ", ".join(items)


def gv_supporters(*supporters):
    out = []
    for s in supporters:
        fields = ["'%s': <%s>" % (k, gv_strv(v) if isinstance(v, list) else gv_str(v)) for k, v in s.items()]
        out.append("{%s}" % ", ".join(fields))
    return "@aa{sv} [%s]" % ", ".join(out)


def start_profd(state=STATE):
    sandboxed.start_profd(CONFIG, state)


def pids_file(slice_path, name):
    """A pids-controller file of a cgroup, in the v1 hierarchy (hybrid) or the unified one."""
    for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        path = os.path.join(root, slice_path, name)
        if os.path.exists(path):
            return path
    return None


def read_int(path, default=0):
    try:
        with open(path) as f:
            v = f.read().strip()
        return int(v) if v.isdigit() else default
    except (FileNotFoundError, TypeError):
        return default


def recover_profd():
    stop_profd()
    run("systemctl", "kill", "-s", "SIGKILL", "profd-*.scope", check=False)
    run("systemctl", "stop", "profd-*.scope", "profd-*.slice", check=False)
    run("systemctl", "reset-failed", check=False)
    for pid in processes_of(NOBODY.pw_uid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    start_profd()


def setUpModule():
    sandboxed.install_policy()
    with open(CONFIG, "w") as f:
        f.write("[Limits]\nSessionsPerUser=8\nTasksMax=256\n[Sessions]\nKeepFinishedSec=60s\n[Scheduling]\nMaxParallelSessions=64\n")
    start_profd()


def tearDownModule():
    stop_profd()
    print("PROOF: faults survived=%d bad inputs tried=0 sessions run=%d leaks found=%d"
          % (PROOF["faults"], PROOF["sessions"], PROOF["leaks"]), flush=True)
    shutil.rmtree(WORK, ignore_errors=True)
    assert_clean_journal("-u", "profd.service")
    if PROOF["leaks"] > 0:
        raise AssertionError("%d leaks found" % PROOF["leaks"])


class FaultTest(ScratchTestCase):
    work_dir = WORK

    def setUp(self):
        super().setUp()
        self.pid = profd_pid()
        self.assertGreater(self.pid, 0, "profd is not running")
        self.fds = open_fds(self.pid)
        self.started = []
        self.survived = False

    def tearDown(self):
        stop_sessions(self.started)
        for sid in self.started:
            try:
                wait_session_finished(sid, timeout=40)
            except AssertionError:
                pass
        leaks = self.find_leaks()
        if profd_pid() != self.pid:
            # Dead or replaced: what it left is counted above; clean up and go on with a new one.
            recover_profd()
        elif not leaks:
            # Still serving: a fresh session, start to finish.
            try:
                sid = self.start(["sh", "-c", "echo fresh"])
                st = wait_session_finished(sid)
                if st["Result"] != "success":
                    leaks.append("a fresh session afterwards ended with %r" % st["Result"])
                leaks += self.find_leaks()
            except (CallError, AssertionError) as e:
                leaks.append("no fresh session afterwards: %s" % e)
        super().tearDown()
        if leaks:
            PROOF["leaks"] += len(leaks)
            self.fail("left behind:\n  " + "\n  ".join(leaks))
        if self.survived:
            PROOF["faults"] += 1

    def find_leaks(self):
        """What is left of profd's sessions, as a list of findings; waits a little for each."""
        leaks = Leaks()
        pid = profd_pid()
        alive = pid == self.pid
        if not alive:
            leaks.append("profd is not the same process any more (%d, was %d): %s" % (
                pid, self.pid, run("journalctl", "--no-pager", "-o", "cat", "-n", "3", "-u", "profd.service").stdout))

        def check(what, predicate, describe_left, timeout=20 if alive else 3):
            leaks.check(what, predicate, describe_left, timeout)

        def units_left():
            units = profd_units()
            # How they are is what tells why they stayed.
            return "units: %s\n%s" % (units, run("systemctl", "status", "--no-pager", "-n", "5", *units,
                                                  check=False).stdout if units else "")
        check("no profd units", lambda: profd_units() == [], units_left)
        if alive:
            check("no failed units", lambda: failed_units() == "", lambda: "failed units: %s" % failed_units())
            check("no children of profd", lambda: children_of(pid) == [],
                  lambda: "children of profd: %s" % [describe(int(c)) for c in children_of(pid)])
        check("no process of the session user", lambda: processes_of(NOBODY.pw_uid) == [],
              lambda: "processes of nobody: %s" % [describe(p) for p in processes_of(NOBODY.pw_uid)])
        check("no zombies", lambda: zombies() == [], lambda: "zombies: %s" % zombies(), timeout=5)
        if alive:
            check("profd's fds as before", lambda: open_fds(pid) == self.fds,
                  lambda: "profd's fds: %s, were %s" % (self.fd_targets(pid), self.fds))
        return leaks

    def fd_targets(self, pid):
        out = []
        for fd in open_fds(pid):
            try:
                out.append("%s->%s" % (fd, os.readlink("/proc/%d/fd/%s" % (pid, fd))))
            except OSError:
                pass
        return out

    # helpers

    def start(self, target, user=NOBODY, fds=(), **keys):
        sid, path = user_call(user, "StartSession", spec(target, **keys), fds=fds)
        self.started.append(sid)
        PROOF["sessions"] += 1
        self.assertEqual(path, "/org/profd/Profd1/session/%s" % sid)
        return sid

    def sessions_of(self, uid):
        return [s for s in call("ListSessions")[0] if s[2] == uid]

    def output(self, st, name):
        with open(os.path.join(st["OutputDirectory"], name)) as f:
            return f.read()


class StubbornProcessTest(FaultTest):
    def test_supporter_ignoring_sigterm_gets_sigkill_after_the_stop_timeout(self):
        sid = self.start(self.logger("target"), StopTimeoutUSec="@t 500000",
                         Supporters=gv_supporters({"Name": "stubborn",
                                                   "Argv": [SYSTEM_PYTHON, "-c", STUBBORN, "stubborn", self.log]}))
        self.wait_for_log(2)
        user_call(NOBODY, "Stop", "('%s',)" % sid)
        st = wait_session_finished(sid)
        self.assertEqual((st["Result"], st["StopCause"]), ("killed", "request"))
        self.assertEqual(find_process(st, "stubborn")["End"], "killed by SIGKILL (escalated)")
        self.assertEqual(find_process(st, "target")["End"], "exited 0")
        terms = {e[0]: float(e[2]) for e in self.read_log() if e[1] == "TERM"}
        self.assertIn("stubborn", terms, self.read_log())
        self.assertIn("target", terms, self.read_log())
        # Supporters first: the target's SIGTERM only once the stubborn one was gone, which took
        # its whole grace period (a lower bound, so no race with a slow machine).
        self.assertGreaterEqual(terms["target"] - terms["stubborn"], 0.45, self.read_log())
        self.survived = True

    def test_each_process_gets_one_sigterm(self):
        # A second SIGTERM is what many programs take for "quit now, skip the cleanup" (and a
        # Python program exiting from its SIGTERM handler dies of it): the ordered teardown must
        # send one. Seen from outside, with strace on profd's kill() calls; a kill of the process
        # group counts for its leader.
        strace = shutil.which("strace")
        if not strace:
            self.skipTest("no strace")
        sid = self.start(self.logger("target"), Supporters=gv_supporters({"Name": "watch", "Argv": self.logger("watch")}))
        self.wait_for_log(2)
        pids = {p["Name"]: p["PID"] for p in session_status(sid)["ProcessDetails"]}
        out = os.path.join(self.dir, "strace")
        tracer = subprocess.Popen([strace, "-qq", "-e", "trace=kill", "-e", "signal=none", "-p", str(self.pid),
                                   "-o", out])
        try:
            wait_for("strace to attach", lambda: proc_status(self.pid)["TracerPid"] != ["0"])
            user_call(NOBODY, "Stop", "('%s',)" % sid)
            st = wait_session_finished(sid)
        finally:
            tracer.terminate()
            tracer.wait(timeout=30)
        with open(out) as f:
            calls = re.findall(r"kill\((-?\d+), SIGTERM\)", f.read())
        got = {name: sum(1 for c in calls if abs(int(c)) == pid) for name, pid in pids.items()}
        self.assertEqual(got, {"target": 1, "watch": 1}, "SIGTERMs sent: %s" % calls)
        self.assertEqual(st["Result"], "stopped")
        self.survived = True

    def test_target_forking_200_children_and_exiting(self):
        pids = os.path.join(self.dir, "pids")
        sid = self.start(["sh", "-c", "for i in $(seq 200); do sleep 300 & echo $! >> %s; done; exit 0" % pids],
                         Supporters=gv_supporters({"Name": "watch", "Argv": self.logger("watch")}))
        st = wait_session_finished(sid)
        self.assertEqual((st["Result"], st["StopCause"]), ("success", "target-exited"))
        self.assertEqual(find_process(st, "target")["End"], "exited 0")
        with open(pids) as f:
            children = [int(p) for p in f.read().split()]
        self.assertEqual(len(children), 200)

        def alive():
            left = []
            for p in children:
                try:
                    with open("/proc/%d/cmdline" % p, "rb") as f:
                        if f.read().startswith(b"sleep\0300"):
                            left.append(p)
                except (FileNotFoundError, ProcessLookupError):
                    pass
            return left
        wait_for("the 200 children to be gone", lambda: alive() == [])
        self.assertEqual([e[:2] for e in self.read_log()], [["watch", "START"], ["watch", "TERM"]])
        self.survived = True


class FailingSupporterTest(FaultTest):
    def test_supporters_failing_to_start_while_the_target_is_placed(self):
        # A supporter that cannot start (its program is a file that is not executable, which only
        # execve() finds out) ends its session while the target, still held at its gate, is being
        # moved into its scope. Each attempt must fail cleanly, and profd must live through all
        # of them.
        for i in range(30):
            with self.assertRaises(CallError) as cm:
                self.start(["true"], Supporters=gv_supporters({"Argv": ["/etc/passwd"]}))
            PROOF["sessions"] += 1
            self.assertEqual(profd_pid(), self.pid, "profd died after %d sessions whose supporter failed to start:\n%s"
                             % (i + 1, run("journalctl", "--no-pager", "-n", "8", "-o", "cat", "UNIT=profd.service",
                                           "+", "_SYSTEMD_UNIT=profd.service").stdout))
            self.assertEqual(cm.exception.name, "org.profd.Profd1.Error.ExecFailed", cm.exception.message)
        self.survived = True


class ForkBombTest(FaultTest):
    DROPIN = "/run/systemd/system/profd.slice.d"

    def run_bomb(self, depth):
        sid = self.start(["sh", "-c", BOMB % depth], StopTimeoutUSec="@t 1000000")
        st = session_status(sid)
        stderr = os.path.join(st["OutputDirectory"], "target.stderr")
        current = pids_file("profd.slice/profd-%s.slice" % sid, "pids.current")
        peak = [0]

        def done():
            peak[0] = max(peak[0], read_int(current))
            with open(stderr) as f:
                held = "fork" in f.read()
            return held or peak[0] >= 2 ** (depth + 1) - 1
        try:
            wait_for("the bomb to be held or complete", done, timeout=60)
        except AssertionError:
            pass
        peak[0] = max(peak[0], read_int(pids_file("profd.slice/profd-%s.slice" % sid, "pids.peak")))
        limits = {u: run("systemctl", "show", "-p", "TasksMax", "--value", u).stdout.strip()
                  for u in ("profd-%s-target.scope" % sid, "profd-%s.slice" % sid, "profd.slice")}
        if session_status(sid)["State"] != "finished":  # a bomb that ran its course ends the session
            try:
                user_call(NOBODY, "Stop", "('%s',)" % sid)
            except CallError as e:
                self.assertIn("has finished already", e.message)
        st = wait_session_finished(sid, timeout=60)
        with open(stderr) as f:
            held = "fork" in f.read()
        return sid, st, held, peak[0], limits

    def test_fork_bomb_held_by_tasks_max_on_profd_slice(self):
        # What an administrator can do today: a TasksMax on profd.slice, which every session's
        # slice is nested in, holds all of them (here 48; the bomb wants 511).
        os.makedirs(self.DROPIN, exist_ok=True)
        with open(os.path.join(self.DROPIN, "50-faults-test.conf"), "w") as f:
            f.write("[Slice]\nTasksMax=48\n")
        run("systemctl", "daemon-reload")
        try:
            sid, st, held, peak, limits = self.run_bomb(8)
        finally:
            shutil.rmtree(self.DROPIN, ignore_errors=True)
            run("systemctl", "daemon-reload")
        self.assertEqual(limits["profd.slice"], "48")
        self.assertTrue(held, "the bomb never failed to fork")
        # pids.max holds forks; a process moved into the cgroup (the target, forked by profd
        # outside of it) is not held, so the count may pass the limit by that one.
        self.assertLessEqual(peak, 48 + 2)
        # Stopped, or over by itself: the shells whose forks failed may give up first.
        self.assertEqual(st["State"], "finished")
        self.survived = True

    def test_fork_bomb_held_by_a_limit_profd_sets(self):
        # profd.conf's [Limits] TasksMax=256 (this test's configuration) on each scope of the
        # session: the bomb wants 511 processes and is held at 256.
        sid, st, held, peak, limits = self.run_bomb(8)
        self.assertEqual(st["State"], "finished")
        self.assertEqual(limits["profd-%s-target.scope" % sid], "256", "TasksMax: %s" % limits)
        self.assertTrue(held, "the bomb was not held: %d tasks" % peak)
        self.assertLessEqual(peak, 256 + 2)
        self.survived = True


class StdoutTest(FaultTest):
    def test_processes_closing_their_stdout_early(self):
        sid = self.start(["sh", "-c", "exec >&-; sleep 0.5; echo still here >&2"],
                         Supporters=gv_supporters({"Name": "quiet",
                                                   "Argv": ["sh", "-c", "exec >&- 2>&-; while :; do sleep 0.1; done"]}))
        st = wait_session_finished(sid)
        self.assertEqual((st["Result"], st["StopCause"]), ("success", "target-exited"))
        self.assertEqual(find_process(st, "target")["End"], "exited 0")
        self.assertEqual(find_process(st, "quiet")["End"], "killed by SIGTERM")
        self.assertEqual(self.output(st, "target.stderr"), "still here\n")
        self.assertEqual(self.output(st, "target.stdout"), "")
        self.survived = True

    def test_supporter_closing_its_stdout_keeps_running_until_stopped(self):
        sid = self.start(self.logger("target"),
                         Supporters=gv_supporters({"Name": "quiet",
                                                   "Argv": ["sh", "-c", "exec >&- 2>&-; echo START >> %s; "
                                                            "while :; do sleep 0.1; done" % self.log]}))
        self.wait_for_log(2)
        time.sleep(0.3)
        self.assertEqual(session_status(sid)["State"], "running")
        user_call(NOBODY, "Stop", "('%s',)" % sid)
        st = wait_session_finished(sid)
        self.assertEqual(st["Result"], "stopped")
        self.assertEqual(find_process(st, "quiet")["End"], "killed by SIGTERM")
        self.survived = True

    def test_reader_of_the_targets_stdout_going_away(self):
        r, w = os.pipe()
        try:
            sid = self.start(["sh", "-c", "sleep 0.3; echo lost; echo after >&2"], fds=[w],
                             StdoutFD="@h 0")
            os.close(w)
            w = -1
            os.close(r)
            r = -1
            st = wait_session_finished(sid)
        finally:
            for fd in (r, w):
                if fd >= 0:
                    os.close(fd)
        self.assertEqual(st["Result"], "target-failed")
        self.assertEqual(find_process(st, "target")["End"], "killed by SIGPIPE")
        self.survived = True


# Runs as the caller: sends StartSession on a connection of its own and goes away before the answer,
# when told to on stdin (or at once with "now").
DISCONNECTING_CALLER = """
import sys
sys.path.insert(0, %r)
import profd_call
from profd_call import Gio, GLib
conn = profd_call.connect()
msg = Gio.DBusMessage.new_method_call(profd_call.NAME, profd_call.PATH, profd_call.MANAGER, "StartSession")
msg.set_body(GLib.Variant.parse(None, sys.argv[1], None, None))
conn.send_message(msg, Gio.DBusSendMessageFlags.NONE)
conn.flush_sync(None)
print(conn.get_unique_name(), flush=True)
if sys.argv[2] != "now":
    sys.stdin.readline()
conn.close_sync(None)
""" % HERE


class DisconnectTest(FaultTest):
    def disconnecting_caller(self, args, when):
        return subprocess.Popen(as_user(NOBODY) + [SYSTEM_PYTHON, "-c", DISCONNECTING_CALLER, args, when],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def new_session_of_nobody(self, before):
        found = wait_for("the session to appear", lambda: [s for s in self.sessions_of(NOBODY.pw_uid)
                                                           if s[0] not in before])
        sid = found[0][0]
        self.started.append(sid)
        PROOF["sessions"] += 1
        return sid

    def start_and_go(self, bind):
        # The supporter is ready only after 5 s: StartSession is answered no earlier, so the caller
        # goes away in the middle of it, once the session exists.
        before = {s[0] for s in self.sessions_of(NOBODY.pw_uid)}
        args = spec(self.logger("target"), BindToCaller="true" if bind else "false",
                    Supporters=gv_supporters({"Name": "watch", "Argv": self.logger("watch"), "Ready": "delay:5000"}))
        caller = self.disconnecting_caller(args, "later")
        caller.stdout.readline()
        sid = self.new_session_of_nobody(before)
        self.wait_for_log(1)
        self.assertEqual(session_status(sid)["State"], "starting")
        caller.stdin.write("go\n")
        caller.stdin.close()
        self.assertEqual(caller.wait(timeout=30), 0)
        caller.stdout.close()
        return sid

    def test_caller_disconnects_during_start_without_bind_to_caller(self):
        sid = self.start_and_go(bind=False)
        # The answer goes nowhere; the session goes on and runs.
        wait_for("the session to run", lambda: session_status(sid)["State"] == "running", timeout=30)
        self.wait_for_log(2)
        user_call(NOBODY, "Stop", "('%s',)" % sid)
        st = wait_session_finished(sid)
        self.assertEqual(st["Result"], "stopped")
        self.survived = True

    def test_caller_disconnects_during_start_with_bind_to_caller(self):
        sid = self.start_and_go(bind=True)
        st = wait_session_finished(sid)
        self.assertEqual((st["Result"], st["StopCause"]), ("stopped", "request"))
        # Stopped while the supporter was not ready yet: the target never ran.
        self.assertEqual([e[:2] for e in self.read_log()], [["watch", "START"], ["watch", "TERM"]])
        self.survived = True

    def test_caller_gone_before_the_request_is_handled(self):
        # Sent and gone at once: profd gets the request of a peer that no longer exists. It may
        # refuse it (the caller's credentials cannot be had any more) or start the session; a
        # session bound to its caller must then stop by itself, an unbound one may run on.
        before = {s[0] for s in self.sessions_of(NOBODY.pw_uid)}
        for bind, seconds in (("true", "300"), ("false", "301")):
            caller = self.disconnecting_caller(spec(["sleep", seconds], BindToCaller=bind), "now")
            caller.stdout.read()
            self.assertEqual(caller.wait(timeout=30), 0)
            caller.stdout.close()
            caller.stdin.close()
        # Both requests are handled once a later call of ours is (the bus keeps the order per
        # sender, not across senders): wait for the daemon to have seen them.
        time.sleep(0.5)
        for s in self.sessions_of(NOBODY.pw_uid):
            if s[0] in before:
                continue
            self.started.append(s[0])
            PROOF["sessions"] += 1
            if session_status(s[0])["Target"] == ["sleep", "300"]:
                st = wait_session_finished(s[0])
                self.assertEqual(st["Result"], "stopped")
        self.survived = True


class UnitClashTest(FaultTest):
    def next_id(self):
        sid = self.start(["true"])
        wait_session_finished(sid)
        return int(sid) + 1

    def clash(self, unit, target, **keys):
        blocker = subprocess.Popen(["systemd-run", "--scope", "--unit=" + unit, "-q", "sleep", "300"])
        try:
            wait_for(unit + " to run", lambda: run("systemctl", "is-active", unit, check=False).stdout.strip()
                     == "active")
            error = None
            try:
                self.start(target, **keys)
            except CallError as e:
                error = e
            sid = self.sessions_of(NOBODY.pw_uid)
            sid = max((s[0] for s in sid), key=int)
            if sid not in self.started:
                self.started.append(sid)
            try:
                st = wait_session_finished(sid, timeout=15)
            except AssertionError:
                st = session_status(sid)
                held = [describe(int(c)) for c in children_of(self.pid)]
                # Let the daemon go on: kill what it holds at the gate.
                for c in children_of(self.pid):
                    os.kill(int(c), signal.SIGKILL)
                self.fail("session %s stuck in %s (%s), StartSession: %s; held: %s"
                          % (sid, st["State"], [p["End"] for p in st["ProcessDetails"]], error, held))
            return error, st
        finally:
            run("systemctl", "stop", unit, check=False)
            blocker.wait(timeout=30)

    def test_target_scope_name_taken(self):
        n = self.next_id()
        unit = "profd-%d-target.scope" % n
        error, st = self.clash(unit, ["sleep", "300"])
        self.assertEqual(st["Id"], str(n))
        self.assertIsNotNone(error, "StartSession succeeded although %s could not be made: %r" % (unit, st))
        self.assertEqual(error.name, "org.profd.Profd1.Error.ExecFailed", error.message)
        self.assertIn(unit, error.message)
        self.assertEqual(st["Result"], "exec-failed")
        self.survived = True

    def test_supporter_scope_name_taken(self):
        n = self.next_id()
        unit = "profd-%d-watch.scope" % n
        error, st = self.clash(unit, ["sleep", "300"],
                               Supporters=gv_supporters({"Name": "watch", "Argv": ["sleep", "300"]}))
        self.assertIsNotNone(error, "StartSession succeeded although %s could not be made: %r" % (unit, st))
        self.assertEqual(error.name, "org.profd.Profd1.Error.ExecFailed", error.message)
        self.assertIn(unit, error.message)
        self.assertEqual(st["Result"], "exec-failed")
        self.survived = True


class StateDirectoryFullTest(FaultTest):
    def test_state_directory_full(self):
        full = os.path.join(WORK, "full-state")
        os.makedirs(full)
        # profd on a small tmpfs of its own as its state directory, inside the sandbox's mount namespace.
        stop_profd()
        run("mount", "-t", "tmpfs", "-o", "size=256k,nr_inodes=64,mode=755", "tmpfs", full)
        try:
            start_profd(full)
            self.pid = profd_pid()
            sid = self.start(["true"])
            wait_session_finished(sid)
            wait_for("the slice to go", lambda: profd_units() == [])
            self.fds = open_fds(self.pid)
            self.started = []

            # No block and no inode left.
            fill = os.path.join(full, "fill")
            os.mkdir(fill)
            try:
                with open(os.path.join(fill, "big"), "wb") as f:
                    while True:
                        f.write(b"\0" * 4096)
                        f.flush()
            except OSError:
                pass
            i = 0
            while True:
                try:
                    open(os.path.join(fill, "%d" % i), "w").close()
                except OSError:
                    break
                i += 1

            with self.assertRaises(CallError) as cm:
                self.start(["sh", "-c", "echo hello"])
            self.assertIn("No space left on device", cm.exception.message)
            self.assertIn("output directory", cm.exception.message)
            log = run("journalctl", "-o", "cat", "_PID=%d" % self.pid).stdout
            self.assertIn("No space left on device", log)
            # Still there for others.
            user_call(OTHER, "ListSessions")
            self.assertEqual(self.find_leaks(), [])

            # Inodes again, but no block: what is written fails, the daemon goes on.
            for name in os.listdir(fill):
                if name != "big":
                    os.unlink(os.path.join(fill, name))
            try:
                sid = self.start(["sh", "-c", "echo hello"])
                st = wait_session_finished(sid)
                self.assertEqual(st["State"], "finished")
            except CallError as e:
                self.assertIn("No space left on device", e.message)
            self.assertEqual(profd_pid(), self.pid)

            # Space again: sessions work again.
            shutil.rmtree(fill)
            sid = self.start(["sh", "-c", "echo hello"])
            st = wait_session_finished(sid)
            self.assertEqual(st["Result"], "success")
            self.assertEqual(self.output(st, "target.stdout"), "hello\n")
            self.started = []
            self.assertEqual(self.find_leaks(), [])
        finally:
            stop_profd()
            run("umount", full, check=False)
            start_profd()
            self.pid = profd_pid()
            self.fds = open_fds(self.pid)
            self.started = []
        self.survived = True


if __name__ == "__main__":
    unittest.main(verbosity=2)
