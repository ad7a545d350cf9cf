#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""profctl against the real daemon in the sandbox, as a user would drive it: in a real terminal
(tmux: send-keys, capture-pane) with bash's job control, in pipes, and from scripts (--json).

Runs itself under `sandbox run`, then inside the sandbox with Debian's python3 (sandboxed.py)."""

import json
import os
import pwd
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sandboxed  # noqa: E402

sandboxed.enter(__file__)

from sandboxed import (LOGGER, PROFCTL, PROFD, as_user, assert_clean_journal, failed_units,  # noqa: E402
                       profd_pid, profd_units, run, ScratchTestCase, stop_profd, wait_for)

BASE = os.environ.get("MESON_BUILD_ROOT") or os.path.dirname(PROFD)
WORK = tempfile.mkdtemp(prefix="profctl-test-", dir=BASE)
os.chmod(WORK, 0o755)
STATE = os.path.join(WORK, "state")
CONFIG = os.path.join(WORK, "profd.conf")

NOBODY = pwd.getpwnam("nobody")
OTHER = pwd.getpwnam("daemon")


def setUpModule():
    sandboxed.install_policy()
    with open(CONFIG, "w") as f:
        f.write("[Sessions]\nKeepFinishedSec=5min\n[Scheduling]\nMaxParallelSessions=64\n")
    sandboxed.start_profd(CONFIG, STATE)


def tearDownModule():
    stop_profd()
    assert_clean_journal("-u", "profd.service")
    shutil.rmtree(WORK, ignore_errors=True)


def read_file(path):
    with open(path) as f:
        return f.read()


def profctl(*args, user=NOBODY, input=None, check=None, timeout=60):
    """Runs profctl as `user` in a pipe; returns the CompletedProcess."""
    argv = (as_user(user) if user else []) + ["env", "-i", "PATH=/usr/bin:/bin", "HOME=/", PROFCTL] + list(args)
    p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    if check is not None and p.returncode != check:
        raise AssertionError("profctl %s exited %d, not %d:\n%s%s" % (" ".join(args), p.returncode, check,
                                                                        p.stdout, p.stderr))
    return p


class Terminal:
    """bash in a tmux pane, run by `user`: keys in, screen out."""

    def __init__(self, user, directory):
        self.socket = os.path.join(directory, "tmux.socket")
        self.user = user
        self.tmux("new-session", "-d", "-x", "160", "-y", "50", "env", "-i", "PATH=/usr/bin:/bin", "HOME=/",
                  "TERM=xterm", "PS1=$ ", "bash", "--norc", "--noprofile")
        wait_for("the shell's prompt", lambda: "$" in self.screen())

    def tmux(self, *args):
        return subprocess.run(as_user(self.user) + ["tmux", "-S", self.socket] + list(args), check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def type(self, line):
        self.tmux("send-keys", "-t", "0", "-l", line)
        self.tmux("send-keys", "-t", "0", "Enter")

    def key(self, key):
        self.tmux("send-keys", "-t", "0", key)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "0", "-S", "-200")

    def wait_for_text(self, pattern, timeout=20):
        return wait_for("%r on the screen" % pattern, lambda: re.search(pattern, self.screen()), timeout).group(0)

    def close(self):
        subprocess.run(as_user(self.user) + ["tmux", "-S", self.socket, "kill-server"], capture_output=True)


class ProfctlTest(ScratchTestCase):
    work_dir = WORK

    def setUp(self):
        super().setUp()
        self.terminal = None

    def tearDown(self):
        if self.terminal:
            self.terminal.close()
        # Whatever a failed test left running goes, in order.
        for line in profctl("list", "--no-legend", user=None).stdout.splitlines():
            profctl("stop", line.split()[0], user=None)
        wait_for("every profd unit to go", lambda: profd_units() == [])
        self.assertEqual(failed_units(), "")
        super().tearDown()

    def logger(self, name):
        """As a command line, for -s and the shell."""
        return " ".join(super().logger(name))

    def assert_supporters_stopped_first(self):
        terms = {e[0]: float(e[2]) for e in self.read_log() if e[1] == "TERM"}
        self.assertIn("watch", terms, self.read_log())
        self.assertIn("target", terms, self.read_log())
        self.assertLess(terms["watch"], terms["target"])

    def newest_session(self):
        return max((s["id"] for s in json.loads(profctl("list", "--all", "--json").stdout)), key=int)

    def status_json(self, sid, user=NOBODY):
        return json.loads(profctl("status", "--json", sid, user=user, check=0).stdout)

    def start(self, *args):
        """profctl start ARGS; the session's id."""
        p = profctl("start", *args, check=0)
        return re.match(r"^\[(\d+)\] ", p.stdout).group(1)

    def wait_finished(self, sid):
        wait_for("session %s to finish" % sid, lambda: self.status_json(sid)["State"] == "finished")
        return self.status_json(sid)

    def run_in_background(self, *args):
        """profctl run ARGS as nobody, its stdout and stderr into files (self.stdout_of(), self.stderr_of()):
        not pipes, which a session that never ran keeps open in the daemon (see PipeEOFTest)."""
        self.stdout_path = os.path.join(self.dir, "profctl.stdout")
        self.stderr_path = os.path.join(self.dir, "profctl.stderr")
        with open(self.stdout_path, "w") as stdout, open(self.stderr_path, "w") as stderr:
            return subprocess.Popen(as_user(NOBODY) + ["env", "-i", "PATH=/usr/bin:/bin", "HOME=/", PROFCTL, "run"]
                                    + list(args), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)

    def stdout_of(self):
        return read_file(self.stdout_path)

    def stderr_of(self):
        return read_file(self.stderr_path)


class PipeTest(ProfctlTest):
    def test_run_passes_stdin_and_stdout_through(self):
        p = profctl("run", "-q", "--", "tac", input="a\nb\nc\n", check=0)
        self.assertEqual(p.stdout, "c\nb\na\n")
        self.assertEqual(p.stderr, "")

    def test_run_exits_with_the_targets_status(self):
        self.assertEqual(profctl("run", "-q", "--", "sh", "-c", "echo oops >&2; exit 3").returncode, 3)
        p = profctl("run", "-q", "--", "sh", "-c", "kill -USR1 $$")
        self.assertEqual(p.returncode, 128 + signal.SIGUSR1)
        p = profctl("run", "--", "true", check=0)
        self.assertRegex(p.stderr, r"^profctl: session \d+ finished \(success, exit status 0\); output in /")

    def test_run_json(self):
        p = profctl("run", "--json", "-q", "--", "sh", "-c", "exit 4")
        self.assertEqual(p.returncode, 4)
        result = json.loads(p.stdout)
        self.assertEqual((result["result"], result["exit_status"]), ("target-failed", 4))
        self.assertTrue(result["output_directory"].startswith(STATE))

    def test_run_with_a_supporter_and_perf_shortcut_syntax(self):
        p = profctl("run", "-q", "--json", "-s", "w=sh -c 'echo watching {pid}; exec sleep 30'", "--", "sh", "-c",
                    "sleep 0.5; echo $$ >&2", check=0)
        result = json.loads(p.stdout)
        with open(os.path.join(result["output_directory"], "w.log")) as f:
            self.assertEqual(f.read(), "watching %s\n" % p.stderr.strip())

    def test_killing_profctl_stops_the_session_in_order(self):
        p = subprocess.Popen(as_user(NOBODY) + [PROFCTL, "run", "-q", "-s", "watch=" + self.logger("watch"), "--"]
                             + shlex.split(self.logger("target")), stdin=subprocess.DEVNULL)
        self.wait_for_log(2)
        p.kill()
        p.wait()
        wait_for("the session to stop", lambda: len(self.read_log()) >= 4)
        self.assert_supporters_stopped_first()
        self.assertEqual(self.status_json(self.newest_session())["Result"], "stopped")


class BackgroundTest(ProfctlTest):
    def test_start_list_kill_stop(self):
        p = profctl("start", "-d", "usr1 catcher", "--", "sh", "-c",
                    "trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.1; done", check=0)
        m = re.match(r"^\[(\d+)\] (\d+)\nOutput: (/\S+)\n$", p.stdout)
        self.assertTrue(m, p.stdout)
        sid, pid, output = m.groups()
        self.assertEqual(os.stat(output).st_uid, NOBODY.pw_uid)

        listing = profctl("list", check=0).stdout.splitlines()
        self.assertEqual(listing[0].split(), ["ID", "STATE", "RESULT", "PID", "OWNER", "AGE", "DESCRIPTION"])
        row = [line for line in listing if line.split()[:1] == [sid]][0].split()
        self.assertEqual(row[1:5], ["running", "-", pid, "nobody"])
        self.assertEqual(" ".join(row[6:]), "usr1 catcher")
        self.assertRegex(listing[-1], r"^1 session listed\.( Pass --all to see \d+ finished sessions? too\.)?$")

        stdout = os.path.join(output, "target.stdout")
        # Not before the trap is set: USR1 would end the shell.
        wait_for("the trap to be set", lambda: read_file(stdout) == "ready\n")
        profctl("kill", "-s", "USR1", sid, check=0)
        wait_for("the trap to run", lambda: read_file(stdout) == "ready\ngot-usr1\n")
        profctl("kill", "-USR1", "%" + sid, check=0)
        wait_for("the trap to run again", lambda: read_file(stdout) == "ready\ngot-usr1\ngot-usr1\n")

        profctl("stop", sid, check=0)
        st = self.status_json(sid)
        self.assertEqual((st["State"], st["Result"]), ("finished", "stopped"))
        self.assertNotIn(sid, profctl("list", "--no-legend").stdout)
        self.assertIn(sid, profctl("list", "--no-legend", "--all").stdout)

    def test_json_listing_and_status(self):
        p = profctl("start", "--json", "-s", "idle=sleep 30", "--", "sleep", "30", check=0)
        started = json.loads(p.stdout)
        sid = started["id"]
        listed = {s["id"]: s for s in json.loads(profctl("list", "--json").stdout)}
        self.assertEqual(listed[sid]["state"], "running")
        self.assertEqual(listed[sid]["pid"], started["pid"])
        self.assertEqual((listed[sid]["owner_uid"], listed[sid]["owner"]), (NOBODY.pw_uid, "nobody"))
        st = self.status_json(sid)
        self.assertEqual(st["Id"], sid)
        self.assertEqual([p["Name"] for p in st["ProcessDetails"]], ["target", "idle"])
        self.assertEqual(st["ProcessDetails"][1]["Unit"], "profd-%s-idle.scope" % sid)
        self.assertEqual(st["OutputDirectory"], started["output_directory"])
        profctl("stop", sid, check=0)
        self.assertEqual(self.status_json(sid)["ExitStatus"], 128 + signal.SIGTERM)

    def test_status_shows_processes_and_output_files(self):
        sid = re.match(r"\[(\d+)\]", profctl("start", "-s", "idle=sleep 30", "--", "sh", "-c",
                                             "echo some output; exec sleep 30", check=0).stdout).group(1)
        out = self.status_json(sid)["OutputDirectory"]
        wait_for("the output", lambda: os.path.getsize(os.path.join(out, "target.stdout")) > 0)
        text = profctl("status", sid, check=0).stdout
        self.assertRegex(text, r"^\* %s - " % sid)
        self.assertRegex(text, r"\n +State: running\n")
        self.assertIn("Output: " + out, text)
        self.assertRegex(text, r"\n +target\.stdout +12B?\n")
        self.assertRegex(text, r"\nNAME +ROLE +PID +STATE +END +CPU +MEMORY\n")
        self.assertRegex(text, r"\nidle +supporter +\d+ +running ")
        profctl("stop", sid, check=0)


class ErrorTest(ProfctlTest):
    def test_no_such_session_lists_the_ones_there_are(self):
        sid = re.match(r"\[(\d+)\]", profctl("start", "--", "sleep", "30", check=0).stdout).group(1)
        p = profctl("stop", "99999")
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, r"^profctl: no session '99999'\. Sessions: .*\b%s\b" % sid)
        profctl("stop", sid, check=0)

    def test_access_denied(self):
        sid = re.match(r"\[(\d+)\]", profctl("start", "--", "sleep", "30", check=0).stdout).group(1)
        for verb in ("stop", "pause", "status"):
            p = profctl(verb, sid, user=OTHER)
            self.assertEqual(p.returncode, 1, verb)
            self.assertIn("profctl: session %s belongs to another user (access denied)." % sid, p.stderr)
        p = profctl("kill", "-s", "KILL", sid, user=OTHER)
        self.assertIn("access denied", p.stderr)
        self.assertEqual(self.status_json(sid)["State"], "running")
        profctl("stop", sid, check=0)

    def test_bad_supporter_syntax_marks_the_place(self):
        p = profctl("run", "-s", "perf record -p {pid} 'oops", "--", "true")
        self.assertEqual(p.returncode, 2)
        lines = p.stderr.splitlines()
        self.assertIn("unterminated", lines[0])
        value_line = [line for line in lines[1:] if "perf record -p {pid} 'oops" in line][0]
        caret = lines[lines.index(value_line) + 1]
        self.assertEqual(caret.index("^"), value_line.index("'oops"))
        self.assertEqual(profd_units(), [])

    def test_usage_errors(self):
        self.assertEqual(profctl("frobnicate").returncode, 2)
        self.assertEqual(profctl("stop").returncode, 2)
        self.assertEqual(profctl("kill", "-s", "NOSUCHSIG", "1").returncode, 2)
        self.assertEqual(profctl("run").returncode, 2)

    def test_missing_program(self):
        p = profctl("run", "--", "no-such-program-anywhere")
        self.assertEqual(p.returncode, 127)
        self.assertIn("no-such-program-anywhere", p.stderr)
        self.assertEqual(profd_units(), [])

    def test_no_daemon(self):
        stop_profd()
        try:
            p = profctl("list")
            self.assertEqual(p.returncode, 1)
            self.assertEqual(p.stderr.strip(), "profctl: profd is not running on the system bus: is profd "
                             "running? Try 'systemctl start profd', or use --user.")
        finally:
            sandboxed.start_profd(CONFIG, STATE)


class QueueTest(ProfctlTest):
    """Sessions that wait their turn (a claim held by another one, After, AfterSuccess)."""

    def test_second_claim_is_queued_listed_with_why_and_stopped_unrun(self):
        holder = self.start("--claim=x", "--", "sleep", "30")
        p = profctl("start", "--claim=x", "-d", "second", "--", "sleep", "30", check=0)
        m = re.match(r"^\[(\d+)\] queued\nOutput: /\S+\n$", p.stdout)
        self.assertTrue(m, p.stdout)
        queued = m.group(1)
        why = "claim 'x' held by session %s" % holder
        self.assertEqual(p.stderr, "profctl: session %s is queued (position 1): %s\n" % (queued, why))

        listing = profctl("list", check=0).stdout
        row = [line.split() for line in listing.splitlines() if line.split()[:1] == [queued]][0]
        # No PID while it waits.
        self.assertEqual(row[1:4], ["queued", "-", "nobody"])
        self.assertIn("\nSession %s is queued (position 1): %s.\n" % (queued, why), listing)
        self.assertRegex(listing, r"\n2 sessions listed\.")
        listed = {s["id"]: s for s in json.loads(profctl("list", "--json", check=0).stdout)}
        self.assertEqual((listed[queued]["state"], listed[queued]["pid"], listed[queued]["queue_position"],
                          listed[queued]["waiting_for"]), ("queued", None, 1, why))
        self.assertEqual((listed[holder]["queue_position"], listed[holder]["waiting_for"]), (0, ""))
        # Someone else may see that it is queued, not why (Status is for its owner).
        others = {s["id"]: s for s in json.loads(profctl("list", "--json", user=OTHER, check=0).stdout)}
        self.assertEqual((others[queued]["state"], others[queued]["waiting_for"]), ("queued", None))

        text = profctl("status", queued, check=0).stdout
        self.assertRegex(text, r"\n +State: queued \(position 1\)\n")
        self.assertIn("\n  Waiting: %s\n" % why, text)
        self.assertIn("\n   Claims: x\n", text)
        st = self.status_json(queued)
        self.assertEqual((st["State"], st["QueuePosition"], st["WaitingFor"], st["Claims"]), ("queued", 1, why, ["x"]))

        # Stopped while queued: finished at once, never ran.
        profctl("stop", queued, check=0)
        st = self.status_json(queued)
        self.assertEqual((st["State"], st["Result"], st["TargetPID"], st["QueuePosition"]),
                         ("finished", "stopped", 0, 0))
        self.assertEqual(st["ProcessDetails"][0]["PID"], 0)
        self.assertRegex(profctl("status", queued, check=0).stdout, r"\n +Result: stopped \(never ran\)\n")
        self.assertEqual(self.status_json(holder)["State"], "running")
        profctl("stop", holder, check=0)

    def test_run_waits_in_the_queue_then_runs_with_the_terminal_fds(self):
        holder = self.start("--claim=y", "--priority=-5", "--", "sleep", "30")
        p = self.run_in_background("--claim=y", "--", "sh", "-c", "echo ran; exit 3")
        text = wait_for("the queued line", lambda: re.search(r"^profctl: session (\d+) is queued \(position 1\): "
                                                             r"claim 'y' held by session %s\n" % holder,
                                                             self.stderr_of()))
        queued = text.group(1)
        self.assertEqual(self.status_json(queued)["State"], "queued")
        profctl("stop", holder, check=0)
        self.assertEqual((p.wait(timeout=30), self.stdout_of()), (3, "ran\n"))
        self.assertRegex(self.stderr_of(), r"\nprofctl: session %s finished \(target-failed, exit status 3\)" % queued)
        self.assertEqual(self.status_json(holder)["Priority"], -5)

    def test_ctrl_c_while_queued_stops_it_without_running(self):
        holder = self.start("--claim=z", "--", "sleep", "30")
        p = self.run_in_background("--claim=z", "--", "sh", "-c", "echo must not run")
        queued = wait_for("the queued line", lambda: re.search(r"session (\d+) is queued", self.stderr_of())).group(1)
        p.send_signal(signal.SIGINT)
        status = p.wait(timeout=30)
        st = self.status_json(queued)
        self.assertEqual((st["Result"], st["TargetPID"]), ("stopped", 0))
        self.assertEqual(self.stdout_of(), "")
        # The status the daemon gives a session that never ran (128+SIGTERM).
        self.assertEqual(status, st["ExitStatus"])
        self.assertIn("stopping session %s" % queued, self.stderr_of())
        self.assertIn("session %s finished without running (stopped)" % queued, self.stderr_of())
        self.assertEqual(self.status_json(holder)["State"], "running")
        profctl("stop", holder, check=0)

    def test_after_success_of_a_failure_ends_in_dependency(self):
        self.assertEqual(profctl("run", "-q", "--", "sh", "-c", "exit 1").returncode, 1)
        failed = self.newest_session()

        # Decided at once: start says so, and run does not wait for a start that never comes.
        p = profctl("start", "--after-success=%" + failed, "--", "true", check=0)
        sid = re.match(r"^\[(\d+)\] finished\n", p.stdout).group(1)
        self.assertEqual(p.stderr, "profctl: session %s finished without running (dependency).\n" % sid)
        st = self.status_json(sid)
        self.assertEqual((st["Result"], st["TargetPID"], st["AfterSuccess"]), ("dependency", 0, [failed]))
        text = profctl("status", sid, check=0).stdout
        self.assertRegex(text, r"\n +Result: dependency \(never ran\)\n")
        self.assertIn("\n    After: %s (each must succeed)\n" % failed, text)
        p = self.run_in_background("--after-success=" + failed, "--", "true")
        self.assertNotEqual(p.wait(timeout=20), 0)
        self.assertRegex(self.stderr_of(), r"^profctl: session \d+ finished without running \(dependency\); output in /")

        # Decided later: queued after a session that then fails.
        first = self.start("--", "sleep", "30")
        p = profctl("start", "--after-success", first, "--", "true", check=0)
        follower = re.match(r"^\[(\d+)\] queued\n", p.stdout).group(1)
        self.assertIn("is queued (position 1): after session %s" % first, p.stderr)
        plain = self.start("--after=" + first, "--", "true")
        self.assertEqual(self.status_json(plain)["After"], [first])
        profctl("stop", first, check=0)
        self.assertEqual(self.wait_finished(follower)["Result"], "dependency")
        self.assertEqual(self.wait_finished(plain)["Result"], "success")

    def test_group_exclusive(self):
        a = self.start("--group=bench", "--exclusive", "--", "sleep", "30")
        started = json.loads(profctl("start", "--json", "--group=bench", "--exclusive", "--", "sleep", "30",
                                     check=0).stdout)
        b = started["id"]
        self.assertEqual((started["state"], started["pid"], started["queue_position"]), ("queued", None, 1))
        self.assertEqual(started["waiting_for"], "group 'bench' runs one at a time: session %s" % a)
        st = self.status_json(b)
        self.assertEqual((st["State"], st["Group"], st["Exclusive"]), ("queued", "bench", True))
        self.assertIn("group 'bench'", st["WaitingFor"])
        self.assertIn("\n    Group: bench (exclusive: one at a time)\n", profctl("status", b, check=0).stdout)
        profctl("stop", a, b, check=0)

    def test_bad_values_are_named(self):
        for args, message in [
                (["--after=3,4"], "Invalid --after '3,4': expected a session id such as 3 or %3"),
                (["--after-success=%"], "Invalid --after-success '%': expected a session id"),
                (["--after=1", "--after-success=2"], "Invalid --after-success '2': --after and --after-success "
                                                     "exclude each other"),
                (["--after-success=1", "--after=2"], "Invalid --after '2': --after and --after-success"),
                (["--group=has space"], "Invalid --group 'has space': expected a name"),
                (["--exclusive"], "--exclusive needs --group=NAME"),
                (["--priority=high"], "Invalid --priority 'high': expected an integer from -1000 to 1000 "
                                      "(lower runs first)."),
                (["--claim="], "Invalid --claim '': expected a name")]:
            for verb in ("run", "start"):
                p = profctl(verb, *args, "--", "true")
                self.assertEqual(p.returncode, 2, (verb, args, p.stderr))
                self.assertIn("profctl: " + message, p.stderr)
        # Only the daemon knows which sessions there are: its answer, in the option's words.
        p = profctl("start", "--after=999999", "--", "true")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr, "profctl: Invalid --after: no session '999999'.\n")
        self.assertEqual(profd_units(), [])


class PipeEOFTest(ProfctlTest):
    def test_a_session_that_never_ran_lets_go_of_the_pipes(self):
        # `profctl run ... | cat` ends when profctl does. The daemon closes the terminal fds it was
        # passed once the target is forked, or once the session finished: one that never ran (stopped
        # while queued, a failed AfterSuccess) must not keep the pipe open until it leaves the bus.
        self.assertEqual(profctl("run", "-q", "--", "false").returncode, 1)
        failed = self.newest_session()
        p = subprocess.Popen(as_user(NOBODY) + [PROFCTL, "run", "-q", "--after-success=" + failed, "--", "true"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            p.wait(timeout=20)
            ready, _, _ = select.select([p.stdout], [], [], 5)
            self.assertTrue(ready and p.stdout.read() == b"", "the pipe is still open after profctl exited")
        finally:
            p.stdout.close()


class RecordTest(ProfctlTest):
    """Sessions that left the bus (profd restarted) are records: list --all, status, forget. Each test
    restarts profd."""

    def tearDown(self):
        if profd_pid() == 0:
            sandboxed.start_profd(CONFIG, STATE)
        super().tearDown()

    def restart_profd(self):
        stop_profd()
        sandboxed.start_profd(CONFIG, STATE)

    def test_list_all_status_and_forget_of_a_record(self):
        p = profctl("run", "-q", "-d", "will be a record", "--", "sh", "-c", "exit 4")
        self.assertEqual(p.returncode, 4)
        sid = self.newest_session()
        self.restart_profd()
        live = self.start("-d", "on the bus", "--", "sleep", "30")

        self.assertNotIn(sid, [s["id"] for s in json.loads(profctl("list", "--json", check=0).stdout)])
        everything = json.loads(profctl("list", "--all", "--json", check=0).stdout)
        ids = [s["id"] for s in everything]
        self.assertEqual(len(ids), len(set(ids)), "a session listed twice")
        self.assertEqual(ids, sorted(ids, key=int))
        listed = {s["id"]: s for s in everything}
        self.assertEqual((listed[sid]["state"], listed[sid]["result"], listed[sid]["path"], listed[sid]["pid"],
                          listed[sid]["owner"], listed[sid]["description"]),
                         ("finished", "target-failed", None, None, "nobody", "will be a record"))
        self.assertGreaterEqual(listed[sid]["finished_usec"], listed[sid]["created_usec"])
        self.assertEqual((listed[live]["state"], listed[live]["finished_usec"]), ("running", 0))
        self.assertTrue(listed[live]["path"].endswith("/session/" + live))

        table = profctl("list", "--all", check=0).stdout.splitlines()
        self.assertEqual(table[0].split(), ["ID", "STATE", "RESULT", "PID", "OWNER", "AGE", "FINISHED", "DESCRIPTION"])
        row = [line for line in table if line.split()[:1] == [sid]][0]
        self.assertRegex(row, r"^%s +finished +target-failed +nobody +\S+( \S+)? +\S+( \S+)? ago +will be a record$"
                         % sid)
        row = [line for line in table if line.split()[:1] == [live]][0]
        self.assertRegex(row, r" - +on the bus$")

        st = self.status_json(sid)
        self.assertEqual((st["Persisted"], st["Result"], st["ExitStatus"]), (True, "target-failed", 4))
        text = profctl("status", sid, check=0).stdout
        self.assertIn("\n   Record: read from disk, the session is no longer on the bus\n", text)
        self.assertRegex(text, r"\n +Result: target-failed \(exit status 4\)\n")
        self.assertEqual(profctl("status", sid, user=OTHER).returncode, 1)

        # Forget: records and output go, for the owner only, not while it runs.
        output = st["OutputDirectory"]
        p = profctl("forget", sid, user=OTHER)
        self.assertEqual(p.returncode, 1)
        self.assertIn("session %s belongs to another user (access denied)" % sid, p.stderr)
        p = profctl("forget", live)
        self.assertEqual(p.returncode, 1)
        self.assertIn("Session %s is running: stop it first, then forget it." % live, p.stderr)
        p = profctl("forget", "999999", "%" + sid)
        self.assertEqual(p.returncode, 1, "one of them failed")
        self.assertIn("no session '999999'", p.stderr)
        self.assertFalse(os.path.exists(output))
        self.assertNotIn(sid, [s["id"] for s in json.loads(profctl("list", "--all", "--json", check=0).stdout)])
        p = profctl("status", sid)
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, r"^profctl: no session '%s'\." % sid)

        # A finished session still on the bus is forgotten as well.
        profctl("stop", live, check=0)
        profctl("forget", live, check=0)
        self.assertNotIn(live, profctl("list", "--all", "--no-legend", check=0).stdout.split())
        self.assertEqual(profctl("forget").returncode, 2)

    def test_adopted_sessions_and_an_end_unseen(self):
        running = self.start("--", "sleep", "300")
        ended = self.start("--", "sleep", "301")
        pids = {sid: self.status_json(sid)["TargetPID"] for sid in (running, ended)}
        os.kill(profd_pid(), signal.SIGKILL)
        wait_for("profd to be gone", lambda: profd_pid() == 0)
        # One target ends while nobody watches: how, nobody can tell.
        os.kill(pids[ended], signal.SIGTERM)
        wait_for("the target to go", lambda: not os.path.exists("/proc/%d" % pids[ended]))
        sandboxed.start_profd(CONFIG, STATE)

        st = self.status_json(running)
        self.assertEqual((st["State"], st["Adopted"], st["Persisted"]), ("running", True, False))
        self.assertIn("\n   Record: adopted after a restart of profd\n", profctl("status", running, check=0).stdout)

        st = self.wait_finished(ended)
        self.assertEqual((st["Result"], st["Adopted"], st["ProcessDetails"][0]["ExitUnknown"]), ("unknown", True, True))
        text = profctl("status", ended, check=0).stdout
        self.assertRegex(text, r"\n +Result: unknown \(exit status unknown\)\n")
        self.assertRegex(text, r"\ntarget +target +%d +exited +exited, status unknown +" % pids[ended])

        # Stopped in order after the restart too; an exit status nobody saw is no failure of stop.
        self.assertEqual(profctl("stop", running).returncode, 0)
        self.assertEqual(self.status_json(running)["Result"], "stopped")

        self.restart_profd()
        text = profctl("status", ended, check=0).stdout
        self.assertIn("\n   Record: read from disk, the session is no longer on the bus; adopted after a restart "
                      "of profd\n", text)
        self.assertIn("exited, status unknown", text)
        self.assertTrue(self.status_json(ended)["ProcessDetails"][0]["ExitUnknown"])


class TerminalTest(ProfctlTest):
    def setUp(self):
        super().setUp()
        self.terminal = Terminal(NOBODY, self.dir)

    def test_ctrl_c_stops_in_order_and_exits_with_the_status(self):
        t = self.terminal
        t.type("%s run -q -s 'watch=%s' -- %s; echo EXIT=$?" % (PROFCTL, self.logger("watch"), self.logger("target")))
        self.wait_for_log(2)
        t.key("C-c")
        status = t.wait_for_text(r"EXIT=\d+")
        self.assert_supporters_stopped_first()
        # The logger exits 0 on SIGTERM: that is the target's status.
        self.assertEqual(status, "EXIT=0")

    def test_ctrl_c_twice_kills(self):
        t = self.terminal
        t.type("%s run -- sh -c 'trap \"\" TERM INT; echo stubborn; while :; do sleep 0.1; done'; echo EXIT=$?"
               % PROFCTL)
        t.wait_for_text("stubborn")
        # profctl hears of the session only with StartSession's answer, which may come after the
        # target's first output when the machine is slow (a Ctrl-C before it has its own message).
        wait_for("the session to run", lambda: [s["state"] for s in json.loads(profctl("list", "--json").stdout)]
                 == ["running"])
        time.sleep(0.5)
        t.key("C-c")
        t.wait_for_text(r"stopping session \d+ \(Ctrl-C again to kill\)")
        t.key("C-c")
        self.assertEqual(t.wait_for_text(r"EXIT=\d+"), "EXIT=%d" % (128 + signal.SIGKILL))
        self.assertEqual(self.status_json(self.newest_session())["Result"], "killed")

    def test_ctrl_z_jobs_fg(self):
        t = self.terminal
        t.type("%s run -- sh -c 'for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.3; done; exit 5'" % PROFCTL)
        t.wait_for_text("tick 1")
        t.key("C-z")
        t.wait_for_text(r"\[1\]\+ +Stopped +.*profctl run")
        session = json.loads(profctl("list", "--json").stdout)[0]
        self.assertEqual(session["state"], "paused")
        with open("/proc/%d/stat" % session["pid"]) as f:
            self.assertEqual(f.read().rpartition(")")[2].split()[0], "T")
        ticks = t.screen().count("tick ")
        time.sleep(0.8)
        self.assertEqual(t.screen().count("tick "), ticks, "the target ran on while paused")

        t.type("jobs")
        t.wait_for_text(r"\$ jobs\n\[1\]\+ +Stopped +.*profctl run -- sh -c")
        t.type("fg")
        t.wait_for_text("tick 8")
        t.type("echo EXIT=$?")
        self.assertEqual(t.wait_for_text(r"EXIT=\d+"), "EXIT=5", t.screen())
        self.assertEqual(self.status_json(self.newest_session())["Result"], "target-failed")

    def test_queued_run_says_why_and_ctrl_c_takes_it_out_of_the_queue(self):
        holder = self.start("--claim=tty", "--", "sleep", "30")
        t = self.terminal
        t.type("%s run --claim=tty -- echo ran; echo EXIT=$?" % PROFCTL)
        sid = re.search(r"session (\d+) is queued", t.wait_for_text(
            r"profctl: session \d+ is queued \(position 1\): claim 'tty' held by session %s\n" % holder)).group(1)
        t.key("C-c")
        status = t.wait_for_text(r"EXIT=\d+")
        self.assertIn("profctl: session %s finished without running (stopped)" % sid, t.screen())
        self.assertNotIn("\nran\n", t.screen())
        self.assertEqual(status, "EXIT=%d" % self.status_json(sid)["ExitStatus"])
        self.assertEqual(self.status_json(holder)["State"], "running")
        profctl("stop", holder, check=0)

    def test_interactive_target_reads_the_terminal(self):
        t = self.terminal
        t.type("%s run -q -- sh -c 'read -r line; echo \"got <$line>\"'; echo EXIT=$?" % PROFCTL)
        time.sleep(0.5)
        t.type("hello there")
        t.wait_for_text("got <hello there>")
        self.assertEqual(t.wait_for_text(r"EXIT=\d+"), "EXIT=0")


class RemoteTest(ProfctlTest):
    """-H over ssh, to an sshd of the test's own on 127.0.0.1 (its keys and configuration in the
    build directory, nothing of the machine's /etc/ssh used)."""

    def setUp(self):
        super().setUp()
        if not shutil.which("sshd") or not shutil.which("ssh"):
            self.skipTest("no sshd/ssh on this machine: -H is not exercised")
        self.ssh_dir = os.path.join(self.dir, "ssh")
        os.mkdir(self.ssh_dir, 0o700)
        for key in ("host", "client"):
            run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(self.ssh_dir, key))
        shutil.copy(os.path.join(self.ssh_dir, "client.pub"), os.path.join(self.ssh_dir, "authorized_keys"))
        # The network is the host's: a free port, not a fixed one another run may hold.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = os.path.join(self.ssh_dir, "sshd_config")
        with open(config, "w") as f:
            f.write("Port %d\nListenAddress 127.0.0.1\nHostKey %s/host\nAuthorizedKeysFile %s/authorized_keys\n"
                    "PidFile %s/sshd.pid\nUsePAM no\nPermitRootLogin prohibit-password\nStrictModes no\n"
                    % (self.port, self.ssh_dir, self.ssh_dir, self.ssh_dir))
        os.makedirs("/run/sshd", exist_ok=True)
        self.sshd_log = open(os.path.join(self.ssh_dir, "sshd.log"), "w")
        self.sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", config], stderr=self.sshd_log)
        # sd-bus runs "ssh" from $PATH to reach the other side's systemd-stdio-bridge: this one knows
        # the keys and the port.
        self.wrapper = os.path.join(self.ssh_dir, "ssh")
        with open(self.wrapper, "w") as f:
            f.write("#!/bin/sh\nexec %s -i %s/client -o StrictHostKeyChecking=no "
                    "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \"$@\"\n" % (shutil.which("ssh"), self.ssh_dir))
        os.chmod(self.wrapper, 0o755)
        wait_for("sshd", self.sshd_listens)

    def sshd_listens(self):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def tearDown(self):
        if hasattr(self, "sshd"):
            self.sshd.terminate()
            self.sshd.wait()
            self.sshd_log.close()
        super().tearDown()

    def remote(self, *args):
        env = dict(os.environ, PATH=self.ssh_dir + ":" + os.environ["PATH"])
        return subprocess.run([PROFCTL, "-H", "root@127.0.0.1:%d" % self.port] + list(args), capture_output=True, text=True,
                              timeout=60, env=env)

    def test_host(self):
        p = self.remote("start", "-E", "GREETING=hi", "--", "sh", "-c", "echo $GREETING; exec sleep 30")
        self.assertEqual(p.returncode, 0, p.stderr + read_file(os.path.join(self.ssh_dir, "sshd.log")))
        sid, pid = re.match(r"^\[(\d+)\] (\d+)\n", p.stdout).groups()
        listed = {s["id"]: s for s in json.loads(self.remote("list", "--json").stdout)}
        self.assertEqual(listed[sid]["pid"], int(pid))
        st = json.loads(self.remote("status", "--json", sid).stdout)
        wait_for("the output", lambda: read_file(os.path.join(st["OutputDirectory"], "target.stdout")) == "hi\n")
        self.assertEqual(self.remote("stop", sid).returncode, 0)
        self.assertEqual(json.loads(self.remote("status", "--json", sid).stdout)["Result"], "stopped")
        # No fd passing over ssh: run still waits and passes the status through.
        p = self.remote("run", "--", "sh", "-c", "exit 3")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("output", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
