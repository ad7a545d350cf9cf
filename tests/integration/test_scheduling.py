#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 5 against the real daemon in the sandbox: the queue (Claims, Uses, Priority, capacity,
Group, After, AfterSuccess), dependencies inside a session (Requires/Provides, AddSupporter), and
what survives a restart of profd: records of finished sessions, ids, and running sessions that are
re-adopted after kill -9, their ordered teardown included."""
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sandboxed  # noqa: E402

sandboxed.enter(__file__)

from sandboxed import (LOGGER, PROFCTL, PROFD, children_of, failed_units, profd_pid, profd_units, run,  # noqa: E402
                       ScratchTestCase, stop_profd, wait_for)
from profd_call import call, CallError, gv_str, gv_strv, gv_supporters, spec, stop_sessions  # noqa: E402

BASE = os.environ.get("MESON_BUILD_ROOT") or os.path.dirname(PROFD)
WORK = tempfile.mkdtemp(prefix="profd-scheduling-test-", dir=BASE)
os.chmod(WORK, 0o755)
STATE = os.path.join(WORK, "state")
CONFIG = os.path.join(WORK, "profd.conf")
NOBODY = pwd.getpwnam("nobody")

# Three at a time: small enough to see the capacity at work, large enough for the restart test.
SETTINGS = "[Scheduling]\nMaxParallelSessions=3\n[Limits]\nSessionsPerUser=64\n[Sessions]\nKeepFinishedSec=1min\n"


def start_profd():
    sandboxed.start_profd(CONFIG, STATE)


def setUpModule():
    sandboxed.install_policy()
    with open(CONFIG, "w") as f:
        f.write(SETTINGS)
    start_profd()


def tearDownModule():
    stop_profd()
    shutil.rmtree(WORK, ignore_errors=True)


def status(sid):
    return call("Status", "('%s',)" % sid)[0]


class SchedulingTest(ScratchTestCase):
    work_dir = WORK

    def setUp(self):
        super().setUp()
        self.started = []

    def tearDown(self):
        stop_sessions(self.started)
        for sid in self.started:
            self.wait_finished(sid)
        wait_for("every profd unit to go", lambda: profd_units() == [], timeout=40)
        self.assertEqual(failed_units(), "")
        wait_for("profd's children to go", lambda: children_of(profd_pid()) == [])
        super().tearDown()

    def start(self, target, **keys):
        sid, _ = call("StartSession", spec(target, **keys))
        self.started.append(sid)
        return sid

    def state(self, sid):
        return status(sid)["State"]

    def wait_state(self, sid, state, timeout=30):
        wait_for("session %s to be %s" % (sid, state), lambda: self.state(sid) == state, timeout)

    def wait_finished(self, sid, timeout=40):
        self.wait_state(sid, "finished", timeout)
        return status(sid)

    def started_names(self):
        return [w[0] for w in self.read_log() if w[1] == "START"]

    # Claims and Uses: read/write locks on names.
    def test_two_claims_run_one_after_the_other(self):
        a = self.start(self.logger("a"), Claims=gv_strv(["pmu"]))
        self.wait_state(a, "running")
        b = self.start(self.logger("b"), Claims=gv_strv(["pmu"]))
        st = status(b)
        self.assertEqual((st["State"], st["QueuePosition"]), ("queued", 1))
        self.assertEqual(st["WaitingFor"], "claim 'pmu' held by session %s" % a)
        self.assertEqual(st["TargetPID"], 0)
        time.sleep(0.5)
        self.assertEqual(self.started_names(), ["a"], "b ran while a held the claim")
        call("Stop", "('%s',)" % a)
        self.wait_state(b, "running")
        wait_for("b to start", lambda: self.started_names() == ["a", "b"])
        self.assertEqual(status(a)["Result"], "stopped")

    def test_two_uses_run_together_and_a_claimer_waits(self):
        a = self.start(self.logger("a"), Uses=gv_strv(["disk"]))
        b = self.start(self.logger("b"), Uses=gv_strv(["disk"]))
        self.wait_state(a, "running")
        self.wait_state(b, "running")
        c = self.start(self.logger("c"), Claims=gv_strv(["disk"]))
        # No starvation: a later user waits behind the waiting claimer.
        d = self.start(self.logger("d"), Uses=gv_strv(["disk"]))
        self.assertEqual(self.state(c), "queued")
        self.assertEqual(self.state(d), "queued")
        self.assertIn("claim of session %s" % c, status(d)["WaitingFor"])
        call("Stop", "('%s',)" % a)
        call("Stop", "('%s',)" % b)
        self.wait_state(c, "running")
        self.assertEqual(self.state(d), "queued")
        call("Stop", "('%s',)" % c)
        self.wait_state(d, "running")

    def test_priority_orders_the_queue(self):
        blockers = [self.start(["sleep", "60"]) for _ in range(3)]
        for sid in blockers:
            self.wait_state(sid, "running")
        late = self.start(self.logger("late"), Priority="int32 5")
        early = self.start(self.logger("early"), Priority="int32 -5")
        same = self.start(self.logger("same"), Priority="int32 5")
        self.assertEqual([status(s)["QueuePosition"] for s in (early, late, same)], [1, 2, 3])
        self.assertIn("capacity: 3 of 3", status(late)["WaitingFor"])
        # One place at a time, so that the order of starts is the queue's.
        for n, sid in enumerate(blockers, 1):
            call("Stop", "('%s',)" % sid)
            wait_for("start %d" % n, lambda: len(self.started_names()) == n)
        self.assertEqual(self.started_names(), ["early", "late", "same"])

    def test_burst_of_50_respects_the_capacity(self):
        sids = [self.start(["sleep", "0.3"]) for _ in range(50)]
        most = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = [s[1] for s in call("ListSessions")[0] if s[0] in sids]
            running = sum(1 for s in states if s in ("starting", "running", "stopping-supporters", "stopping-target"))
            most = max(most, running)
            self.assertLessEqual(running, 3, "more than MaxParallelSessions=3 ran at once")
            if all(s == "finished" for s in states):
                break
            time.sleep(0.05)
        else:
            self.fail("the burst did not finish: %s" % states)
        self.assertEqual(most, 3)
        self.assertEqual({status(s)["Result"] for s in sids}, {"success"})

    def test_stopped_while_queued_never_runs(self):
        a = self.start(["sleep", "60"], Claims=gv_strv(["gpu"]))
        b = self.start(self.logger("b"), Claims=gv_strv(["gpu"]))
        call("Stop", "('%s',)" % b)
        st = self.wait_finished(b)
        self.assertEqual((st["Result"], st["TargetPID"]), ("stopped", 0))
        call("Stop", "('%s',)" % a)
        self.wait_finished(a)
        self.assertEqual(self.read_log(), [])

    # Groups and dependencies between sessions.
    def test_exclusive_group_runs_one_at_a_time(self):
        a = self.start(self.logger("a"), Group=gv_str("bench"), Exclusive="true")
        b = self.start(self.logger("b"), Group=gv_str("bench"), Exclusive="true")
        self.wait_state(a, "running")
        self.assertEqual(self.state(b), "queued")
        self.assertIn("group 'bench'", status(b)["WaitingFor"])
        call("Stop", "('%s',)" % a)
        self.wait_state(b, "running")

    def test_after_and_after_success(self):
        first = self.start(["sh", "-c", "sleep 0.5; exit 3"])
        after = self.start(self.logger("after"), After=gv_strv([first]))
        doomed = self.start(self.logger("doomed"), AfterSuccess=gv_strv([first]))
        self.assertEqual(status(after)["WaitingFor"], "after session %s" % first)
        self.assertEqual(self.wait_finished(first)["Result"], "target-failed")
        self.wait_state(after, "running")
        st = self.wait_finished(doomed)
        self.assertEqual((st["Result"], st["TargetPID"]), ("dependency", 0))
        wait_for("after to start", lambda: self.started_names() == ["after"])

        ok = self.start(["true"])
        self.wait_finished(ok)
        follower = self.start(["true"], AfterSuccess=gv_strv([ok]))
        self.assertEqual(self.wait_finished(follower)["Result"], "success")

    def test_after_rejects_unknown_and_mixed(self):
        for keys, name in [({"After": gv_strv(["999999"])}, "After: no session '999999'"),
                           ({"After": gv_strv(["1"]), "AfterSuccess": gv_strv(["1"])}, "not both"),
                           ({"Exclusive": "true"}, "Exclusive: needs a Group"),
                           ({"Group": gv_str("has space")}, "Group: invalid name")]:
            with self.assertRaises(CallError) as cm:
                call("StartSession", spec(["true"], **keys))
            self.assertEqual(cm.exception.name, "org.profd.Profd1.Error.InvalidSpec")
            self.assertIn(name, cm.exception.message)

    # Dependencies inside a session.
    def test_requires_provides_chain_starts_in_order(self):
        notify = [sys.executable, "-c", "import os, socket, sys, time; "
                  "open(sys.argv[2], 'a').write(sys.argv[1] + ' START %f\\n' % time.monotonic()); "
                  "time.sleep(0.3); s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); "
                  "a = os.environ['NOTIFY_SOCKET']; a = '\\0' + a[1:] if a[0] == '@' else a; "
                  "s.sendto(b'READY=1', a); time.sleep(60)"]
        sid = self.start(self.logger("target"), Supporters=gv_supporters(
            {"Name": "c", "Argv": notify + ["c", self.log], "Ready": "notify", "Requires": ["b-ready"]},
            {"Name": "a", "Argv": notify + ["a", self.log], "Ready": "notify", "Provides": ["a-ready"]},
            {"Name": "b", "Argv": notify + ["b", self.log], "Ready": "notify", "Requires": ["a-ready"],
             "Provides": ["b-ready"]}))
        self.wait_state(sid, "running")
        wait_for("the target", lambda: "target" in self.started_names())
        self.assertEqual(self.started_names(), ["a", "b", "c", "target"])

    def test_cycle_rejected_with_names(self):
        with self.assertRaises(CallError) as cm:
            call("StartSession", spec(["true"], Supporters=gv_supporters(
                {"Name": "x", "Argv": ["true"], "Requires": ["y-out"], "Provides": ["x-out"]},
                {"Name": "y", "Argv": ["true"], "Requires": ["x-out"], "Provides": ["y-out"]})))
        self.assertEqual(cm.exception.name, "org.profd.Profd1.Error.InvalidSpec")
        self.assertIn("cycle", cm.exception.message)
        self.assertIn("x", cm.exception.message)

    def test_add_supporter_to_a_running_session(self):
        sid = self.start(self.logger("target"))
        self.wait_state(sid, "running")
        call("AddSupporter", "('%s', {'Name': <'late'>, 'Argv': <%s>})" % (sid, gv_strv(self.logger("late"))))
        wait_for("the late supporter", lambda: "late" in self.started_names())
        call("Stop", "('%s',)" % sid)
        self.wait_finished(sid)
        terms = [w[0] for w in self.read_log() if w[1] == "TERM"]
        self.assertEqual(terms, ["late", "target"], "supporters first")


class PersistenceTest(unittest.TestCase):
    """Each test restarts profd, so they are kept apart from the queue tests."""

    @staticmethod
    def lines(path):
        with open(path) as f:
            return [line.split() for line in f]

    def tearDown(self):
        if profd_pid() == 0:
            start_profd()
        for s in call("ListSessions")[0]:
            if s[1] != "finished":
                call("Stop", "('%s',)" % s[0])
        wait_for("every profd unit to go", lambda: profd_units() == [], timeout=40)

    def test_records_survive_a_restart_and_ids_go_on(self):
        ok, _ = call("StartSession", spec(["true"], Description=gv_str("kept")))
        failed, _ = call("StartSession", spec(["false"]))
        wait_for("both to finish", lambda: status(ok)["State"] == status(failed)["State"] == "finished")
        call("Forget", "('%s',)" % failed)
        stop_profd()
        start_profd()
        st = status(ok)
        self.assertEqual((st["State"], st["Result"], st["Persisted"], st["Description"]),
                         ("finished", "success", True, "kept"))
        self.assertIn("target.stdout", st["OutputFiles"])
        records = {r[0]: r for r in call("ListRecords")[0]}
        self.assertEqual(records[ok][1:4], ("finished", "success", 0))
        self.assertNotIn(failed, records)
        # The forgotten id was the highest: it is not given again.
        new, _ = call("StartSession", spec(["true"]))
        self.assertGreater(int(new), int(failed))
        with self.assertRaises(CallError) as cm:
            call("Status", "('%s',)" % failed)
        self.assertEqual(cm.exception.name, "org.profd.Profd1.Error.NoSuchSession")

    def test_kill_9_then_readopt_and_stop_in_order(self):
        work = tempfile.mkdtemp(prefix="t-", dir=WORK)
        os.chmod(work, 0o777)
        logs = [os.path.join(work, "log%d" % i) for i in range(3)]
        sids = []
        for log in logs:
            sid, _ = call("StartSession", spec([sys.executable, LOGGER, "target", log], Supporters=gv_supporters(
                {"Name": "perf", "Argv": [sys.executable, LOGGER, "perf", log]})))
            sids.append(sid)
        for log in logs:
            wait_for("both processes", lambda: os.path.exists(log) and len(self.lines(log)) >= 2)
        pids = {sid: status(sid)["TargetPID"] for sid in sids}
        units_before = profd_units()

        os.kill(profd_pid(), signal.SIGKILL)
        wait_for("profd to be gone", lambda: profd_pid() == 0)
        time.sleep(0.3)
        for sid in sids:
            os.kill(pids[sid], 0)  # still running, unwatched
        self.assertEqual(profd_units(), units_before)
        start_profd()

        for sid in sids:
            st = status(sid)
            self.assertEqual((st["State"], st["Adopted"], st["TargetPID"]), ("running", True, pids[sid]))
        call("Stop", "('%s',)" % sids[0])
        wait_for("the first to finish", lambda: status(sids[0])["State"] == "finished")
        lines = self.lines(logs[0])
        terms = [w[0] for w in lines if w[1] == "TERM"]
        self.assertEqual(terms, ["perf", "target"], "supporters first, after the restart too")
        st = status(sids[0])
        self.assertEqual(st["Result"], "stopped")
        for sid in sids[1:]:
            self.assertEqual(status(sid)["State"], "running")
            os.kill(pids[sid], 0)

        # A target that ends by itself now ends unseen: not our child, its status is unknown.
        os.kill(pids[sids[1]], signal.SIGTERM)
        wait_for("the second to finish", lambda: status(sids[1])["State"] == "finished")
        st = status(sids[1])
        self.assertEqual(st["Result"], "unknown")
        target = [p for p in st["ProcessDetails"] if p["Role"] == "target"][0]
        self.assertTrue(target["ExitUnknown"])
        self.assertEqual(status(sids[2])["State"], "running")
        call("Stop", "('%s',)" % sids[2])
        wait_for("the third to finish", lambda: status(sids[2])["State"] == "finished")
        wait_for("every profd unit to go", lambda: profd_units() == [], timeout=40)
        for sid in sids:
            self.assertRaises(ProcessLookupError, os.kill, pids[sid], 0)

    def test_restart_leaves_sessions_running_for_the_next_profd(self):
        """`systemctl restart profd` (what a package upgrade runs) is not a stop: the sessions go on,
        the next profd adopts them, a queued one stays queued, and a client waiting on one goes on
        waiting."""
        work = tempfile.mkdtemp(prefix="t-", dir=WORK)
        os.chmod(work, 0o777)
        logs = [os.path.join(work, "log%d" % i) for i in range(2)]
        sids = []
        for log in logs:
            sid, _ = call("StartSession", spec([sys.executable, LOGGER, "target", log], Claims=gv_strv(["restart"]),
                                               Supporters=gv_supporters({"Name": "perf", "Argv": [
                                                   sys.executable, LOGGER, "perf", log]})))
            sids.append(sid)
        wait_for("both processes", lambda: os.path.exists(logs[0]) and len(self.lines(logs[0])) >= 2)
        self.assertEqual(status(sids[1])["State"], "queued")
        pid = status(sids[0])["TargetPID"]
        old_profd = profd_pid()
        # A session bound to its caller (profctl run, BindToCaller) stays bound across the restart.
        before = {s[0] for s in call("ListSessions")[0]}
        bound = subprocess.Popen([PROFCTL, "run", "-q", "--", "sleep", "300"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(bound.kill)
        bound_sid = wait_for("profctl run's session", lambda: [
            s[0] for s in call("ListSessions")[0] if s[0] not in before and s[1] == "running"])[0]
        waiter = subprocess.Popen([PROFCTL, "wait", sids[0]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        self.addCleanup(waiter.kill)
        wait_for("profctl wait on the bus", lambda: str(waiter.pid) in run(
            "busctl", "list", "--no-legend", "--unique").stdout.split())
        time.sleep(0.5)  # its Status call, after its subscriptions
        since = run("date", "+%Y-%m-%d %H:%M:%S").stdout.strip()

        run("systemctl", "restart", "profd.service")
        self.assertNotIn(profd_pid(), (0, old_profd))
        st = status(sids[0])
        self.assertEqual((st["State"], st["Adopted"], st["TargetPID"]), ("running", True, pid))
        self.assertEqual(self.lines(logs[0])[2:], [], "nothing was signalled")
        self.assertEqual(status(sids[1])["State"], "queued")
        wait_for("the restart in the journal", lambda: "restarting profd: leaving 3 sessions running" in run(
            "journalctl", "-u", "profd.service", "--since", since, "-o", "cat").stdout)
        self.assertIsNone(waiter.poll(), "profctl wait follows the session to the next profd")
        self.assertIsNone(bound.poll(), "profctl run follows its session to the next profd")
        self.assertEqual(status(bound_sid)["State"], "running")
        bound.kill()
        bound.wait()
        wait_for("the session of the killed profctl run to be stopped",
                 lambda: status(bound_sid)["State"] == "finished")
        self.assertEqual(status(bound_sid)["Result"], "stopped")

        call("Stop", "('%s',)" % sids[0])
        _, err = waiter.communicate(timeout=40)
        self.assertEqual([w[0] for w in self.lines(logs[0]) if w[1] == "TERM"], ["perf", "target"])
        st = status(sids[0])
        self.assertEqual(st["Result"], "stopped")
        # Its end was not seen (not profd's child any more): unknown, and profctl says failure.
        self.assertEqual((st["ExitStatus"], waiter.returncode), (-1, 1))
        self.assertIn("waiting for it to come back", err)
        self.assertIn("profd is back", err)
        # The claim is free: the queued session runs under the new profd.
        wait_for("the queued one to run", lambda: status(sids[1])["State"] == "running")
        call("Stop", "('%s',)" % sids[1])
        wait_for("it to finish", lambda: status(sids[1])["State"] == "finished")
        wait_for("every profd unit to go", lambda: profd_units() == [], timeout=40)

    def test_restart_waits_for_a_starting_session(self):
        """A session still starting (its supporter not ready yet, the target not started) when the
        restart comes is let finish its start first, so that the next profd adopts it whole."""
        work = tempfile.mkdtemp(prefix="t-", dir=WORK)
        os.chmod(work, 0o777)
        log = os.path.join(work, "log")
        before = {s[0] for s in call("ListSessions")[0]}
        # StartSession answers once the target runs: asked from a thread, so as to restart meanwhile.
        reply = []

        def start():
            try:
                reply.append(call("StartSession", spec([sys.executable, LOGGER, "target", log], Supporters=gv_supporters(
                    {"Name": "perf", "Argv": [sys.executable, LOGGER, "perf", log], "Ready": "delay:3000"}))))
            except CallError as e:
                reply.append(e)
        starter = threading.Thread(target=start)
        starter.start()
        self.addCleanup(starter.join)
        sid = wait_for("the session", lambda: [s[0] for s in call("ListSessions")[0] if s[0] not in before])[0]
        wait_for("the supporter", lambda: os.path.exists(log) and len(self.lines(log)) >= 1)
        self.assertEqual(status(sid)["State"], "starting")

        run("systemctl", "restart", "profd.service")
        starter.join()
        self.assertNotIsInstance(reply[0], CallError, "StartSession answered by the profd that started it: %s" % (reply[0].args if isinstance(reply[0], CallError) else ""))
        self.assertEqual(reply[0][0], sid)
        st = status(sid)
        self.assertEqual((st["State"], st["Adopted"]), ("running", True))
        # Executed by the old profd; python writes its first line a moment later.
        wait_for("the target's first line", lambda: [w[0] for w in self.lines(log) if w[1] == "START"] == [
            "perf", "target"])
        os.kill(st["TargetPID"], 0)
        call("Stop", "('%s',)" % sid)
        wait_for("it to finish", lambda: status(sid)["State"] == "finished")
        self.assertEqual([w[0] for w in self.lines(log) if w[1] == "TERM"], ["perf", "target"])

    def test_truncated_record_is_skipped_with_a_warning(self):
        sid, _ = call("StartSession", spec(["true"]))
        wait_for("it to finish", lambda: status(sid)["State"] == "finished")
        stop_profd()
        path = os.path.join(STATE, "records", "%s.record" % sid)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:len(data) // 2])
        since = run("date", "+%Y-%m-%d %H:%M:%S").stdout.strip()
        start_profd()
        with self.assertRaises(CallError):
            status(sid)
        def journal():
            return run("journalctl", "-u", "profd.service", "--since", since, "-o", "cat").stdout
        # journald may write it a moment after profd said READY=1.
        wait_for("the warning in the journal", lambda: "%s.record" % sid in journal())
        self.assertRegex(journal(), r"(?i)skip")
        other, _ = call("StartSession", spec(["true"]))
        wait_for("the daemon to go on", lambda: status(other)["State"] == "finished")


if __name__ == "__main__":
    unittest.main(verbosity=2)
