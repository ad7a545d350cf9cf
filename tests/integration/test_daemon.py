#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""profd, the D-Bus service, against a real systemd and a real system bus (tests/sandbox).

Sessions are started by unprivileged users (nobody, daemon) through the bus; the tests look at
them from the outside: /proc, the units systemd has, the files the processes write. Every test
ends with nothing of profd's left: no unit, no process, no fd more than before.

Runs itself under `sandbox run`, then inside the sandbox (`sandbox exec`) with Debian's python3,
whose GLib bindings talk D-Bus (tests/integration/profd_call.py)."""

import json
import os
import pwd
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

sandboxed.enter(__file__, user_manager_for="nobody")

from sandboxed import (LOGGER, PROFD, SYSTEM_PYTHON, as_user, assert_clean_journal, children_of,  # noqa: E402
                       failed_units, open_fds, proc_state, proc_status, profd_pid, profd_units, run,
                       ScratchTestCase, stop_profd, wait_for)
CALL = os.path.join(HERE, "profd_call.py")

import profd_call  # noqa: E402
from profd_call import (call, CallError, find_process, gv_str, gv_strv, gv_supporters, session_status, spec,  # noqa: E402
                        stop_sessions, wait_session_finished)

# Scratch space that every user can reach: the build directory, never /tmp (DESIGN.md).
BASE = os.environ.get("MESON_BUILD_ROOT") or os.path.dirname(PROFD)
WORK = tempfile.mkdtemp(prefix="profd-daemon-test-", dir=BASE)
os.chmod(WORK, 0o755)
STATE = os.path.join(WORK, "state")
CONFIG = os.path.join(WORK, "profd.conf")

NOBODY = pwd.getpwnam("nobody")
OTHER = pwd.getpwnam("daemon")


def call_as(user, method, args=None, path=profd_call.PATH, extra=()):
    """Calls as another user in a child process; returns the reply or raises CallError."""
    argv = as_user(user) + [SYSTEM_PYTHON, CALL, "--path=" + path] + list(extra) + [method]
    if args:
        argv.append(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60, pass_fds=())
    out = p.stdout.strip()
    if p.returncode != 0:
        if out.startswith("ERROR "):
            name, _, message = out[6:].partition(": ")
            raise CallError(name, message)
        raise AssertionError("profd_call failed: %s %s" % (out, p.stderr))
    return json.loads(out)


def start_profd(*extra):
    sandboxed.start_profd(CONFIG, STATE, *extra)


def setUpModule():
    sandboxed.install_policy()
    with open(CONFIG, "w") as f:
        f.write("[Limits]\nSessionsPerUser=4\nProcessesPerSession=4\n[Sessions]\nKeepFinishedSec=30s\n"
                "[Scheduling]\nMaxParallelSessions=64\n")
    start_profd()


def tearDownModule():
    stop_profd()
    assert_clean_journal("-u", "profd.service")
    shutil.rmtree(WORK, ignore_errors=True)


class DaemonTest(ScratchTestCase):
    work_dir = WORK

    def setUp(self):
        super().setUp()
        self.pid = profd_pid()
        self.assertGreater(self.pid, 0, "profd is not running")
        self.fds = open_fds(self.pid)
        self.started = []

    def tearDown(self):
        stop_sessions(self.started)
        for sid in self.started:
            wait_session_finished(sid)
        wait_for("every profd unit to go", lambda: profd_units() == [])
        self.assertEqual(failed_units(), "")
        if profd_pid() == self.pid:
            wait_for("profd's children to go", lambda: children_of(self.pid) == [])
            self.assertEqual(open_fds(self.pid), self.fds, "profd leaked fds")
        super().tearDown()

    # helpers

    def start(self, target, user=NOBODY, **keys):
        sid, path = call_as(user, "StartSession", spec(target, **keys)) if user else \
            call("StartSession", spec(target, **keys))
        self.started.append(sid)
        self.assertEqual(path, "/org/profd/Profd1/session/%s" % sid)
        return sid

    def prop(self, sid, name):
        return call("Get", "('org.profd.Profd1.Session', '%s')" % name, path="/org/profd/Profd1/session/" + sid,
                    interface="org.freedesktop.DBus.Properties")[0]

    def assert_call_error(self, name, user, method, args=None, path=profd_call.PATH, mentions=None):
        with self.assertRaises(CallError) as cm:
            if user:
                call_as(user, method, args, path=path)
            else:
                call(method, args, path=path)
        self.assertEqual(cm.exception.name, name, cm.exception.message)
        if mentions:
            self.assertIn(mentions, cm.exception.message)
        return cm.exception

    def assert_supporters_stopped_first(self, log, supporters=("watch",)):
        terms = {e[0]: float(e[2]) for e in log if e[1] == "TERM"}
        for s in supporters:
            self.assertIn(s, terms, "supporter %s got no SIGTERM: %r" % (s, log))
            if "target" in terms:
                self.assertLess(terms[s], terms["target"], "target stopped before %s: %r" % (s, log))


class CredentialsTest(DaemonTest):
    def test_processes_run_as_the_caller_in_their_scopes(self):
        sid = self.start(self.logger("target"), Supporters=gv_supporters({"Name": "watch", "Argv": self.logger("watch")}))
        self.wait_for_log(2)
        st = session_status(sid)
        self.assertEqual(st["State"], "running")
        self.assertEqual(st["Owner"], NOBODY.pw_uid)
        self.assertEqual(st["Slice"], "profd-%s.slice" % sid)
        for name in ("target", "watch"):
            p = find_process(st, name)
            status = proc_status(p["PID"])
            self.assertEqual(status["Uid"], [str(NOBODY.pw_uid)] * 4, name)
            self.assertEqual(status["Gid"], [str(NOBODY.pw_gid)] * 4, name)
            self.assertEqual(status["Groups"], [str(g) for g in os.getgrouplist("nobody", NOBODY.pw_gid)], name)
            with open("/proc/%d/cgroup" % p["PID"]) as f:
                cgroup = f.read()
            self.assertIn("/profd.slice/profd-%s.slice/profd-%s-%s.scope" % (sid, sid, name), cgroup)
            self.assertEqual(p["Unit"], "profd-%s-%s.scope" % (sid, name))
        self.assertEqual(sorted(profd_units()), sorted(["profd-%s.slice" % sid, "profd-%s-target.scope" % sid,
                                                        "profd-%s-watch.scope" % sid]))
        # Output and working directory: the session's own, owned by the caller.
        out = st["OutputDirectory"]
        self.assertEqual(os.stat(out).st_uid, NOBODY.pw_uid)
        self.assertEqual(os.readlink("/proc/%d/cwd" % find_process(st, "watch")["PID"]), out)
        self.assertEqual(os.stat(os.path.join(out, "watch.log")).st_uid, NOBODY.pw_uid)

    def test_root_caller_runs_as_root(self):
        sid = self.start(["sleep", "30"], user=None)
        pid = session_status(sid)["TargetPID"]
        self.assertEqual(proc_status(pid)["Uid"][0], "0")

    def test_default_output_goes_to_files_and_stdin_is_null(self):
        sid = self.start(["sh", "-c", "echo out; echo err >&2; cat; echo rc=$?"])
        st = wait_session_finished(sid)
        self.assertEqual(st["Result"], "success")
        with open(os.path.join(st["OutputDirectory"], "target.stdout")) as f:
            self.assertEqual(f.read(), "out\nrc=0\n")
        with open(os.path.join(st["OutputDirectory"], "target.stderr")) as f:
            self.assertEqual(f.read(), "err\n")
        self.assertEqual(os.stat(os.path.join(st["OutputDirectory"], "target.stdout")).st_uid, NOBODY.pw_uid)

    def test_fd_passing_delivers_output_to_the_callers_pipe(self):
        r, w = os.pipe()
        try:
            sid, _ = call("StartSession", "({'Target': <['sh', '-c', 'echo hello from $$']>, "
                          "'StdoutFD': <@h 0>, 'StderrFD': <@h 0>},)", fds=[w])
            self.started.append(sid)
            os.close(w)
            w = -1
            data = os.read(r, 4096).decode()
            self.assertTrue(data.startswith("hello from "), data)
            st = wait_session_finished(sid)
            self.assertEqual(data.strip(), "hello from %d" % st["TargetPID"])
            self.assertEqual(os.read(r, 4096), b"", "profd kept the write end open")
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)


class TeardownTest(DaemonTest):
    def start_logged(self, **keys):
        sid = self.start(self.logger("target"), Supporters=gv_supporters({"Name": "watch", "Argv": self.logger("watch")}),
                         **keys)
        self.wait_for_log(2)
        return sid

    def test_stop_is_ordered(self):
        sid = self.start_logged()
        call_as(NOBODY, "Stop", "('%s',)" % sid)
        st = wait_session_finished(sid)
        self.assertEqual((st["Result"], st["StopCause"]), ("stopped", "request"))
        self.assert_supporters_stopped_first(self.read_log())

    def test_stop_through_the_session_object(self):
        sid = self.start_logged()
        call_as(NOBODY, "Stop", path="/org/profd/Profd1/session/" + sid)
        self.assertEqual(wait_session_finished(sid)["Result"], "stopped")
        self.assert_supporters_stopped_first(self.read_log())

    def test_target_exit_stops_the_supporters(self):
        sid = self.start(["sleep", "0.5"], Supporters=gv_supporters({"Name": "watch", "Argv": self.logger("watch")}))
        st = wait_session_finished(sid)
        self.assertEqual((st["Result"], st["StopCause"]), ("success", "target-exited"))
        self.assertEqual([e[:2] for e in self.read_log()], [["watch", "START"], ["watch", "TERM"]])

    def test_systemctl_stop_of_the_slice_is_ordered(self):
        sid = self.start_logged()
        run("systemctl", "stop", "profd-%s.slice" % sid)
        st = wait_session_finished(sid)
        self.assertEqual(st["Result"], "stopped")
        self.assert_supporters_stopped_first(self.read_log())

    def test_systemctl_stop_of_a_scope_is_ordered(self):
        sid = self.start_logged()
        run("systemctl", "stop", "--no-block", "profd-%s-target.scope" % sid)
        self.assertEqual(wait_session_finished(sid)["Result"], "stopped")
        self.assert_supporters_stopped_first(self.read_log())

    def test_systemctl_kill_of_the_target_ends_the_session(self):
        sid = self.start_logged()
        run("systemctl", "kill", "-s", "SIGKILL", "profd-%s-target.scope" % sid)
        st = wait_session_finished(sid)
        self.assertEqual(st["Result"], "target-failed")
        self.assertEqual(find_process(st, "target")["End"], "killed by SIGKILL")
        self.assertEqual(find_process(st, "watch")["End"], "exited 0")

    def test_max_duration_is_a_timeout(self):
        sid = self.start(["sleep", "30"], MaxDurationUSec="@t 300000")
        self.assertEqual(wait_session_finished(sid)["Result"], "timeout")

    def test_stop_timeout_escalates_to_sigkill(self):
        sid = self.start(["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"],
                         StopTimeoutUSec="@t 300000")
        out = os.path.join(session_status(sid)["OutputDirectory"], "target.stdout")
        wait_for("target to run", lambda: os.path.getsize(out) > 0)
        call_as(NOBODY, "Stop", "('%s',)" % sid)
        st = wait_session_finished(sid)
        self.assertEqual(st["Result"], "killed")
        self.assertEqual(find_process(st, "target")["End"], "killed by SIGKILL (escalated)")

    def test_bind_to_caller_stops_when_the_caller_goes(self):
        # The caller is a process of its own (an IDE, say): it starts the session, waits until told
        # to go, and goes without a word.
        caller = subprocess.Popen(as_user(NOBODY) + [SYSTEM_PYTHON, "-c", """
import sys
sys.path.insert(0, %r)
import profd_call
conn = profd_call.connect()
print(profd_call.call("StartSession", sys.argv[1], conn=conn)[0], flush=True)
sys.stdin.read()
""" % HERE, spec(self.logger("target"), BindToCaller="true",
                 Supporters=gv_supporters({"Name": "watch", "Argv": self.logger("watch")}))],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        sid = caller.stdout.readline().strip()
        self.started.append(sid)
        self.wait_for_log(2)
        self.assertEqual(session_status(sid)["State"], "running")
        caller.stdin.close()
        caller.wait()
        caller.stdout.close()
        st = wait_session_finished(sid)
        self.assertEqual(st["Result"], "stopped")
        self.assert_supporters_stopped_first(self.read_log())

    def test_without_bind_to_caller_the_session_outlives_its_caller(self):
        sid = self.start(["sleep", "30"])
        time.sleep(0.3)
        self.assertEqual(session_status(sid)["State"], "running")


class DaemonStopTest(DaemonTest):
    def test_sigterm_to_profd_stops_every_session_in_order(self):
        a = self.start(self.logger("target"), Supporters=gv_supporters({"Name": "watch", "Argv": self.logger("watch")}))
        self.wait_for_log(2)
        b = self.start(["sleep", "30"], user=OTHER)
        self.started = []  # they go with the daemon
        run("systemctl", "stop", "profd.service")
        self.assertEqual(run("systemctl", "is-active", "profd.service", check=False).stdout.strip(), "inactive")
        self.assert_supporters_stopped_first(self.read_log())
        wait_for("sessions %s and %s to leave no units behind" % (a, b), lambda: profd_units() == [])
        self.assertEqual(failed_units(), "")
        assert_clean_journal("-u", "profd.service")
        start_profd()
        self.pid = profd_pid()
        self.fds = open_fds(self.pid)
        # A new daemon does not reuse the ids, so nothing overwrites an earlier session's output.
        c = self.start(["true"])
        self.assertGreater(int(c), int(b))


class AccessTest(DaemonTest):
    def test_another_uid_cannot_touch_it(self):
        sid = self.start(["sleep", "30"])
        path = "/org/profd/Profd1/session/" + sid
        denied = "org.freedesktop.DBus.Error.AccessDenied"
        for method, args in (("Stop", "('%s',)" % sid), ("Kill", "('%s', 'all', 9)" % sid),
                             ("Pause", "('%s',)" % sid), ("Resume", "('%s',)" % sid), ("Status", "('%s',)" % sid),
                             ("AddSupporter", "('%s', {'Argv': <['true']>})" % sid)):
            self.assert_call_error(denied, OTHER, method, args)
        for method, args in (("Stop", None), ("Kill", "('target', 15)"), ("Pause", None), ("Status", None)):
            self.assert_call_error(denied, OTHER, method, args, path=path)
        self.assertEqual(session_status(sid)["State"], "running")
        self.assertEqual(proc_state(session_status(sid)["TargetPID"]), "S")

        # Listing is open, but shows no argv or environment.
        listed = {s[0]: s for s in call_as(OTHER, "ListSessions")[0]}
        self.assertEqual(listed[sid][1:5], ["running", NOBODY.pw_uid, session_status(sid)["TargetPID"], ""])
        self.assertNotIn("sleep", json.dumps(listed[sid]))
        # Properties are as public as ListSessions.
        self.assertEqual(call_as(OTHER, "Get", "('org.profd.Profd1.Session', 'State')", path=path,
                                 extra=["--interface=org.freedesktop.DBus.Properties"])[0], "running")

        # Root may.
        call("Stop", "('%s',)" % sid)
        self.assertEqual(wait_session_finished(sid)["Result"], "stopped")

    def test_unknown_session(self):
        self.assert_call_error("org.profd.Profd1.Error.NoSuchSession", NOBODY, "Stop", "('nope',)")
        self.assert_call_error("org.freedesktop.DBus.Error.UnknownObject", NOBODY, "Stop",
                               path="/org/profd/Profd1/session/nope")

    def test_finished_session_is_bad_state(self):
        sid = self.start(["true"])
        wait_session_finished(sid)
        self.assert_call_error("org.profd.Profd1.Error.BadState", NOBODY, "Stop", "('%s',)" % sid)
        self.assert_call_error("org.profd.Profd1.Error.BadState", NOBODY, "Pause", "('%s',)" % sid)


class BadInputTest(DaemonTest):
    """Every rejected spec: the error names the key, and nothing was started, created or leaked."""

    def assert_rejected(self, name, args, mentions, user=NOBODY, method="StartSession"):
        units, children = profd_units(), children_of(self.pid)
        sessions = os.listdir(os.path.join(STATE, "sessions")) if os.path.isdir(os.path.join(STATE, "sessions")) else []
        self.assert_call_error(name, user, method, args, mentions=mentions)
        self.assertEqual(profd_units(), units)
        self.assertEqual(children_of(self.pid), children)
        self.assertEqual(open_fds(self.pid), self.fds)
        after = os.listdir(os.path.join(STATE, "sessions")) if os.path.isdir(os.path.join(STATE, "sessions")) else []
        self.assertEqual(sorted(after), sorted(sessions), "an output directory was made")

    def test_target(self):
        invalid = "org.profd.Profd1.Error.InvalidSpec"
        self.assert_rejected(invalid, "({'Description': <'x'>},)", "Target")
        self.assert_rejected(invalid, "({'Target': <@as []>},)", "Target")
        self.assert_rejected(invalid, "({'Target': <['']>},)", "Target")
        self.assert_rejected(invalid, spec(["no-such-program-here"]), "Target")
        self.assert_rejected(invalid, spec(["true"], Environment="['PATH=/nonexistent']"), "Target")

    def test_keys_and_types(self):
        self.assert_rejected("org.profd.Profd1.Error.InvalidSpec", spec(["true"], Bogus="'x'"), "Bogus")
        self.assert_rejected("org.freedesktop.DBus.Error.InvalidArgs", "({'Target': <'true'>},)", "Target")
        self.assert_rejected("org.freedesktop.DBus.Error.InvalidArgs", spec(["true"], StopTimeoutUSec="'10s'"),
                             "StopTimeoutUSec")
        self.assert_rejected("org.freedesktop.DBus.Error.InvalidArgs", spec(["true"], BindToCaller="'yes'"),
                             "BindToCaller")

    def test_values(self):
        invalid = "org.profd.Profd1.Error.InvalidSpec"
        self.assert_rejected(invalid, spec(["true"], WorkingDirectory="'relative/dir'"), "WorkingDirectory")
        self.assert_rejected(invalid, spec(["true"], WorkingDirectory="'/nonexistent/dir'"), "WorkingDirectory")
        self.assert_rejected(invalid, spec(["true"], Environment="['NOEQUALS']"), "Environment")
        self.assert_rejected(invalid, spec(["true"], StopTimeoutUSec="@t 0"), "StopTimeoutUSec")
        self.assert_rejected(invalid, spec(["true"], MaxDurationUSec="@t 0"), "MaxDurationUSec")
        self.assert_rejected(invalid, spec(["true"], StopTimeoutUSec="@t 18446744073709551615"), "StopTimeoutUSec")
        self.assert_rejected(invalid, spec(["true"], MaxDurationUSec="@t 18446744073709551614"), "MaxDurationUSec")
        self.assert_rejected(invalid, spec(["true"], Description="'bell\\u0007'"), "Description")

    def test_supporters(self):
        invalid = "org.profd.Profd1.Error.InvalidSpec"
        for bad in ("a-b", "a/b", "a b", "", "x" * 40, "target"):
            self.assert_rejected(invalid, spec(["true"], Supporters=gv_supporters({"Name": bad, "Argv": ["true"]})),
                                 "Name")
        self.assert_rejected(invalid, spec(["true"], Supporters=gv_supporters({"Name": "a", "Argv": ["true"]},
                                                                              {"Name": "a", "Argv": ["true"]})),
                             "duplicate")
        self.assert_rejected(invalid, spec(["true"], Supporters=gv_supporters({"Name": "a"})), "Argv")
        self.assert_rejected(invalid, spec(["true"], Supporters=gv_supporters({"Argv": ["no-such-program-here"]})),
                             "Supporters[0]")
        self.assert_rejected(invalid, spec(["true"], Supporters=gv_supporters({"Argv": ["true"], "Ready": "soon"})),
                             "Ready")
        self.assert_rejected(invalid, spec(["true"], Supporters=gv_supporters({"Argv": ["true"], "Colour": "red"})),
                             "Colour")

    def test_bad_fd(self):
        r, w = os.pipe()
        try:
            units = profd_units()
            with self.assertRaises(CallError) as cm:
                call("StartSession", "({'Target': <['true']>, 'StdoutFD': <@h 0>},)", fds=[r])
            self.assertEqual(cm.exception.name, "org.profd.Profd1.Error.InvalidSpec")
            self.assertIn("StdoutFD", cm.exception.message)
            with self.assertRaises(CallError) as cm:
                call("StartSession", "({'Target': <['true']>, 'StdinFD': <@h 0>},)", fds=[w])
            self.assertIn("StdinFD", cm.exception.message)
            self.assertEqual(profd_units(), units)
            self.assertEqual(open_fds(self.pid), self.fds)
        finally:
            os.close(r)
            os.close(w)

    def test_kill_arguments(self):
        sid = self.start(["sleep", "30"])
        for sig in (0, -1, 65, 1000):
            self.assert_call_error("org.freedesktop.DBus.Error.InvalidArgs", NOBODY, "Kill",
                                   "('%s', 'target', %d)" % (sid, sig), mentions="signal")
        self.assert_call_error("org.freedesktop.DBus.Error.InvalidArgs", NOBODY, "Kill",
                               "('%s', 'nobody-of-it', 15)" % sid, mentions="nobody-of-it")
        self.assertEqual(session_status(sid)["State"], "running")

    def test_limits(self):
        limit = "org.profd.Profd1.Error.LimitReached"
        many = gv_supporters(*({"Argv": ["sleep", "30"]} for _ in range(4)))
        self.assert_rejected(limit, spec(["true"], Supporters=many), "ProcessesPerSession")
        for _ in range(4):
            self.start(["sleep", "30"], user=OTHER)
        self.assert_rejected(limit, spec(["sleep", "30"]), "SessionsPerUser", user=OTHER)
        # Per uid: another user is not affected.
        self.start(["sleep", "30"])

    def test_exec_failure_is_reported_and_cleaned_up(self):
        os.chmod(self.dir, 0o755)
        script = os.path.join(self.dir, "not-executable")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(script, 0o644)
        self.assert_call_error("org.profd.Profd1.Error.ExecFailed", NOBODY, "StartSession", spec([script]),
                               mentions="Permission denied")
        wait_for("units to go", lambda: profd_units() == [])


class ControlTest(DaemonTest):
    def test_pause_and_resume(self):
        sid = self.start(self.logger("target"), Supporters=gv_supporters({"Name": "watch", "Argv": self.logger("watch")}))
        self.wait_for_log(2)
        st = session_status(sid)
        pids = [p["PID"] for p in st["ProcessDetails"]]
        call_as(NOBODY, "Pause", "('%s',)" % sid)
        self.assertEqual(self.prop(sid, "State"), "paused")
        for pid in pids:
            wait_for("pid %d to stop" % pid, lambda: proc_state(pid) == "T")
        call_as(NOBODY, "Resume", "('%s',)" % sid)
        self.assertEqual(self.prop(sid, "State"), "running")
        for pid in pids:
            wait_for("pid %d to continue" % pid, lambda: proc_state(pid) in ("S", "R"))
        self.assert_call_error("org.profd.Profd1.Error.BadState", NOBODY, "Resume", "('%s',)" % sid)

    def test_stop_while_paused_is_ordered(self):
        sid = self.start(self.logger("target"), Supporters=gv_supporters({"Name": "watch", "Argv": self.logger("watch")}))
        self.wait_for_log(2)
        call_as(NOBODY, "Pause", "('%s',)" % sid)
        call_as(NOBODY, "Stop", "('%s',)" % sid)
        self.assertEqual(wait_session_finished(sid)["Result"], "stopped")
        self.assert_supporters_stopped_first(self.read_log())

    def test_kill_whom(self):
        sid = self.start(["sleep", "30"], Supporters=gv_supporters({"Name": "watch", "Argv": ["sleep", "30"]}))
        call_as(NOBODY, "Kill", "('%s', 'watch', 9)" % sid)
        st = wait_session_finished(sid)
        self.assertEqual(st["Result"], "killed")
        self.assertEqual(find_process(st, "watch")["End"], "killed by SIGKILL (requested)")
        self.assertEqual(find_process(st, "target")["End"], "killed by SIGTERM")

    def test_kill_with_another_signal_reaches_the_process(self):
        sid = self.start(["sh", "-c", "trap 'echo got USR1; exit 7' USR1; while :; do sleep 0.1; done"])
        out = os.path.join(session_status(sid)["OutputDirectory"], "target.stdout")
        time.sleep(0.3)
        call_as(NOBODY, "Kill", "('%s', 'target', %d)" % (sid, signal.SIGUSR1))
        st = wait_session_finished(sid)
        self.assertEqual((st["Result"], st["ExitStatus"]), ("target-failed", 7))
        with open(out) as f:
            self.assertEqual(f.read(), "got USR1\n")

    def test_add_supporter(self):
        sid = self.start(self.logger("target"))
        self.wait_for_log(1)
        call_as(NOBODY, "AddSupporter", "('%s', {'Name': <'late'>, 'Argv': <%s>})" % (sid, gv_strv(self.logger("late"))))
        self.wait_for_log(2)
        st = session_status(sid)
        late = find_process(st, "late")
        self.assertEqual(late["Unit"], "profd-%s-late.scope" % sid)
        self.assertEqual(proc_status(late["PID"])["Uid"][0], str(NOBODY.pw_uid))
        self.assert_call_error("org.profd.Profd1.Error.InvalidSpec", NOBODY, "AddSupporter",
                               "('%s', {'Name': <'late'>, 'Argv': <['true']>})" % sid, mentions="late")
        call_as(NOBODY, "Stop", "('%s',)" % sid)
        wait_session_finished(sid)
        self.assert_supporters_stopped_first(self.read_log(), ("late",))

    def test_accounting(self):
        sid = self.start(["sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; exec sleep 30"],
                         Supporters=gv_supporters({"Name": "idle", "Argv": ["sleep", "30"]}))
        wait_for("the target to burn CPU", lambda: find_process(session_status(sid), "target")["CPUUSec"] >= 100000)
        st = session_status(sid)
        target, idle = find_process(st, "target"), find_process(st, "idle")
        self.assertLess(idle["CPUUSec"], target["CPUUSec"])
        self.assertGreater(target["MemoryBytes"], 0)
        self.assertLess(target["MemoryBytes"], 1 << 40)
        # The property carries the same CPU time.
        procs = {p[0]: p for p in self.prop(sid, "Processes")}
        self.assertGreaterEqual(procs["target"][6], 100000)
        self.assertEqual(procs["target"][1:3], ("target", "running") if isinstance(procs["target"], tuple)
                         else ["target", "running"])


class SignalsTest(DaemonTest):
    def test_signals_seen_by_a_listener(self):
        listener = subprocess.Popen(as_user(OTHER) + [SYSTEM_PYTHON, CALL, "--listen"], stdout=subprocess.PIPE,
                                    text=True)
        try:
            self.assertEqual(json.loads(listener.stdout.readline())["member"], "listening")
            sid = self.start(["sleep", "30"])
            call_as(NOBODY, "Stop", "('%s',)" % sid)
            wait_session_finished(sid)
            events = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                e = json.loads(listener.stdout.readline())
                events.append(e)
                if e["member"] == "PropertiesChanged" and e["args"][1].get("State") == "finished":
                    break
        finally:
            listener.terminate()
            listener.wait()
            listener.stdout.close()
        path = "/org/profd/Profd1/session/" + sid
        new = [e for e in events if e["member"] == "SessionNew"]
        self.assertEqual(new[0]["args"], [sid, path])
        states = [e["args"][1]["State"] for e in events
                  if e["member"] == "PropertiesChanged" and e["path"] == path and "State" in e["args"][1]]
        self.assertIn("running", states)
        self.assertEqual(states[-1], "finished")
        self.assertLess(states.index("running"), states.index("stopping-supporters") if "stopping-supporters" in states
                        else states.index("stopping-target"))
        results = [e["args"][1]["Result"] for e in events if e["member"] == "PropertiesChanged" and "Result" in e["args"][1]]
        self.assertEqual(results[-1], "stopped")
        self.assertTrue(any(e["member"] == "InterfacesAdded" and e["args"][0] == path for e in events))

    def test_session_removed_after_keep_finished(self):
        # A daemon of its own with KeepFinishedSec=0 so that the removal comes at once.
        conf = os.path.join(self.dir, "quick.conf")
        with open(conf, "w") as f:
            f.write("[Sessions]\nKeepFinishedSec=0\n")
        sock = os.path.join(self.dir, "p2p")
        daemon = subprocess.Popen([PROFD, "--listen=unix:path=" + sock, "--config=" + conf, "--backend=direct",
                                   "--state-directory=" + os.path.join(self.dir, "state")])
        try:
            wait_for("the socket", lambda: os.path.exists(sock))
            conn = profd_call.connect("unix:path=" + sock)
            seen = []
            conn.signal_subscribe(None, None, None, None, None, 0, lambda *a: seen.append((a[4], a[5].unpack())))
            sid, path = call("StartSession", spec(["true"]), conn=conn, p2p=True)
            ctx = profd_call.GLib.MainContext.default()
            wait_for("SessionRemoved", lambda: (ctx.iteration(False), any(m == "SessionRemoved" for m, _ in seen))[1])
            self.assertIn(("SessionNew", (sid, path)), seen)
            self.assertIn(("SessionRemoved", (sid, path)), seen)
            # Off the bus, its record remains: Status reads it from there.
            status = call("Status", "('%s',)" % sid, conn=conn, p2p=True)[0]
            self.assertEqual((status["State"], status["Result"], status["Persisted"]), ("finished", "success", True))
            self.assertNotIn(sid, [s[0] for s in call("ListSessions", conn=conn, p2p=True)[0]])
            call("Forget", "('%s',)" % sid, conn=conn, p2p=True)
            with self.assertRaises(CallError) as cm:
                call("Status", "('%s',)" % sid, conn=conn, p2p=True)
            self.assertEqual(cm.exception.name, "org.profd.Profd1.Error.NoSuchSession")
        finally:
            daemon.terminate()
            self.assertEqual(daemon.wait(timeout=20), 0)


class ObjectsTest(DaemonTest):
    def test_object_manager_and_introspection(self):
        sid = self.start(["sleep", "30"])
        objects = call("GetManagedObjects", path="/org/profd/Profd1", interface="org.freedesktop.DBus.ObjectManager")[0]
        path = "/org/profd/Profd1/session/" + sid
        self.assertEqual(objects[path]["org.profd.Profd1.Session"]["Id"], sid)
        self.assertEqual(objects[path]["org.profd.Profd1.Session"]["State"], "running")
        xml = run("busctl", "introspect", "--xml-interface", "org.profd.Profd1", "/org/profd/Profd1").stdout
        self.assertIn('<arg type="a{sv}" name="spec" direction="in"/>', xml)
        self.assertIn('<interface name="org.freedesktop.DBus.ObjectManager">', xml)
        self.assertEqual(call("Get", "('org.profd.Profd1.Manager', 'APIVersion')",
                              interface="org.freedesktop.DBus.Properties")[0], 1)
        xml = run("gdbus", "introspect", "--system", "--dest", "org.profd.Profd1", "--object-path", path).stdout
        self.assertIn("Kill(in  s whom,", xml)


class PeerToPeerTest(DaemonTest):
    def test_listen_without_a_bus(self):
        sock = os.path.join(self.dir, "private")
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/bus")
        daemon = subprocess.Popen([PROFD, "--listen=unix:path=" + sock, "--config=" + CONFIG,
                                   "--state-directory=" + os.path.join(self.dir, "state")], env=env,
                                  stderr=subprocess.PIPE, text=True)
        try:
            wait_for("the socket", lambda: os.path.exists(sock))
            # As an unprivileged user over the socket: the session is that user's.
            sid, _ = call_as(NOBODY, "StartSession", spec(["sleep", "30"]), extra=["--address=unix:path=" + sock])
            conn = profd_call.connect("unix:path=" + sock)
            st = call("Status", "('%s',)" % sid, conn=conn, p2p=True)[0]
            self.assertEqual(st["Owner"], NOBODY.pw_uid)
            self.assertEqual(st["Slice"], "")
            self.assertEqual(proc_status(st["TargetPID"])["Uid"][0], str(NOBODY.pw_uid))
            with self.assertRaises(CallError) as cm:
                call_as(OTHER, "Stop", "('%s',)" % sid, extra=["--address=unix:path=" + sock])
            self.assertEqual(cm.exception.name, "org.freedesktop.DBus.Error.AccessDenied")
            call_as(NOBODY, "Stop", "('%s',)" % sid, extra=["--address=unix:path=" + sock])
            wait_for("finished", lambda: call("Status", "('%s',)" % sid, conn=conn, p2p=True)[0]["State"] == "finished")
            self.assertEqual(call("Status", "('%s',)" % sid, conn=conn, p2p=True)[0]["Result"], "stopped")
        finally:
            daemon.terminate()
            _, err = daemon.communicate(timeout=20)
            sys.stderr.write(err)
        self.assertEqual(daemon.returncode, 0, err)
        self.assertIn("direct backend", err)
        self.assertFalse(os.path.exists(sock), "the socket was left behind")

    def test_bind_to_caller_on_a_peer_connection(self):
        sock = os.path.join(self.dir, "private")
        daemon = subprocess.Popen([PROFD, "--listen=unix:path=" + sock, "--config=" + CONFIG, "--backend=direct",
                                   "--state-directory=" + os.path.join(self.dir, "state")])
        try:
            wait_for("the socket", lambda: os.path.exists(sock))
            sid, _ = call_as(NOBODY, "StartSession", spec(["sleep", "30"], BindToCaller="true"),
                             extra=["--address=unix:path=" + sock])
            conn = profd_call.connect("unix:path=" + sock)
            wait_for("finished", lambda: call("Status", "('%s',)" % sid, conn=conn, p2p=True)[0]["State"] == "finished")
        finally:
            daemon.terminate()
            self.assertEqual(daemon.wait(timeout=20), 0)


class UserManagerTest(DaemonTest):
    def test_user_daemon_in_the_user_manager(self):
        uid = NOBODY.pw_uid
        env = ["env", "-i", "PATH=/usr/bin:/bin", "XDG_RUNTIME_DIR=/run/user/%d" % uid,
               "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/%d/bus" % uid]
        state = os.path.join(self.dir, "user-state")
        run(*(as_user(NOBODY) + env + ["systemd-run", "--user", "--unit=profd-user", "-p", "Type=notify",
                                       PROFD, "--user", "--config=" + CONFIG, "--state-directory=" + state]))
        try:
            argv = as_user(NOBODY) + env + [SYSTEM_PYTHON, CALL, "--user", "StartSession", spec(["sleep", "30"])]
            out = run(*argv).stdout
            sid = json.loads(out)[0]
            argv = as_user(NOBODY) + env + [SYSTEM_PYTHON, CALL, "--user", "Status", "('%s',)" % sid]
            st = json.loads(run(*argv).stdout)[0]
            with open("/proc/%d/cgroup" % st["TargetPID"]) as f:
                cgroup = f.read()
            self.assertIn("user-mgr-%d.service/profd.slice/profd-%s.slice/profd-%s-target.scope" % (uid, sid, sid),
                          cgroup)
            self.assertEqual(proc_status(st["TargetPID"])["Uid"][0], str(uid))
            self.assertTrue(st["OutputDirectory"].startswith(state))
            argv = as_user(NOBODY) + env + [SYSTEM_PYTHON, CALL, "--user", "Stop", "('%s',)" % sid]
            run(*argv)
            argv = as_user(NOBODY) + env + [SYSTEM_PYTHON, CALL, "--user", "Status", "('%s',)" % sid]
            wait_for("finished", lambda: json.loads(run(*argv).stdout)[0]["State"] == "finished")
            self.assertEqual(json.loads(run(*argv).stdout)[0]["Result"], "stopped")
        finally:
            run(*(as_user(NOBODY) + env + ["systemctl", "--user", "stop", "profd-user.service"]), check=False)
        units = run(*(as_user(NOBODY) + env + ["systemctl", "--user", "list-units", "--all", "--plain",
                                                "--no-legend", "profd-*"])).stdout
        self.assertEqual(units.strip(), "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
