#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""profd run in a terminal: the target gets the terminal's foreground, Ctrl-C reaches the target
(not profd, not the supporters), and Ctrl-Z stops the whole job as a shell expects, with `fg`
handing the terminal back to the target.

The test plays terminal and shell: a pseudo-terminal, and in it a tiny job-control shell (in
Python) that runs profd in its own process group in the foreground, reports when the job stops,
and continues it, as bash's `fg` does."""

import json
import os
import pty
import select
import shutil
import signal
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROFD = os.environ.get("PROFD") or os.path.join(HERE, "..", "..", "build", "daemon", "profd")

# The target: says whether it has the terminal, echoes a line it reads, reports SIGCONT, and
# otherwise waits to be interrupted (default SIGINT disposition: it dies of it).
TARGET = r"""
import os, signal, sys, time
signal.signal(signal.SIGCONT, lambda *a: print("TARGET CONTINUED", flush=True))
fg = os.tcgetpgrp(0) == os.getpgrp()
print("TARGET FOREGROUND" if fg else "TARGET BACKGROUND", flush=True)
line = sys.stdin.readline().strip()
print("TARGET GOT " + line, flush=True)
while True:
    time.sleep(1)
"""

# A job-control shell: runs argv as a foreground job in its own process group; on a stop, takes
# the terminal, says so, waits for a "fg" line on the terminal, and continues the job.
SHELL = r"""
import os, signal, sys
signal.signal(signal.SIGTTOU, signal.SIG_IGN)
signal.signal(signal.SIGTTIN, signal.SIG_IGN)
signal.signal(signal.SIGTSTP, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    for s in (signal.SIGTTOU, signal.SIGTTIN, signal.SIGTSTP, signal.SIGINT):
        signal.signal(s, signal.SIG_DFL)
    os.execv(sys.argv[1], sys.argv[1:])
os.setpgid(pid, pid)
os.tcsetpgrp(0, pid)
while True:
    _, status = os.waitpid(pid, os.WUNTRACED)
    if os.WIFSTOPPED(status):
        os.tcsetpgrp(0, os.getpgrp())
        print("SHELL JOB STOPPED " + signal.Signals(os.WSTOPSIG(status)).name, flush=True)
        # Like bash: wait for the user to type fg.
        while sys.stdin.readline().strip() != "fg":
            pass
        os.tcsetpgrp(0, pid)
        os.killpg(pid, signal.SIGCONT)
        continue
    code = os.waitstatus_to_exitcode(status)
    os.tcsetpgrp(0, os.getpgrp())
    print("SHELL JOB EXITED %d" % (code if code >= 0 else 128 - code), flush=True)
    sys.exit(0)
"""


class Terminal:
    """A pseudo-terminal running argv as its session leader; collects everything it prints."""

    def __init__(self, argv):
        self.output = b""
        self.pid, self.master = pty.fork()
        if self.pid == 0:
            try:
                os.execv(argv[0], argv)
            finally:
                os._exit(127)

    def expect(self, text, timeout=20):
        """Reads until `text` appeared; fails with everything seen so far otherwise."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("did not see %r; terminal showed:\n%s" % (text, self.output.decode(errors="replace")))
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError("terminal closed before %r; it showed:\n%s" % (text, self.output.decode(errors="replace")))
                self.output += chunk

    def type(self, data):
        os.write(self.master, data.encode())

    def close(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        os.close(self.master)


class TerminalTest(unittest.TestCase):
    def setUp(self):
        base = os.environ.get("MESON_BUILD_ROOT") or HERE
        self.dir = tempfile.mkdtemp(prefix="profd-terminal-", dir=base)
        self.json = os.path.join(self.dir, "result.json")
        self.term = None

    def tearDown(self):
        if self.term:
            self.term.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self):
        argv = [sys.executable, "-c", SHELL, PROFD, "run", "--json=" + self.json,
                "-s", "watcher=sleep 1000",
                "--", sys.executable, "-c", TARGET]
        self.term = Terminal(argv)

    def result(self):
        with open(self.json) as f:
            return json.load(f)

    def test_target_gets_terminal_and_ctrl_c(self):
        self.start()
        self.term.expect("TARGET FOREGROUND")
        # Keyboard input goes to the target.
        self.term.type("hello\n")
        self.term.expect("TARGET GOT hello")
        # Ctrl-C: SIGINT to the foreground group, which is the target's alone.
        self.term.type("\x03")
        self.term.expect("SHELL JOB EXITED 130")
        r = self.result()
        procs = {p["name"]: p for p in r["processes"]}
        self.assertEqual(procs["target"]["signal"], "INT")
        # The supporter did not see the keyboard's SIGINT; it got the ordered SIGTERM.
        self.assertEqual(procs["watcher"]["signal"], "TERM")
        self.assertEqual(r["result"], "target-failed")
        self.assertEqual(r["exit_status"], 130)

    def test_ctrl_z_stops_the_job_and_fg_resumes_it(self):
        self.start()
        self.term.expect("TARGET FOREGROUND")
        self.term.type("\x1a")
        # profd stops as a job would, so the shell gets its terminal back.
        self.term.expect("SHELL JOB STOPPED SIGTSTP")
        self.term.type("fg\n")
        # The target is continued and has the terminal again: it reads our next line.
        self.term.expect("TARGET CONTINUED")
        self.term.type("again\n")
        self.term.expect("TARGET GOT again")
        self.term.type("\x03")
        self.term.expect("SHELL JOB EXITED 130")
        self.assertEqual(self.result()["exit_status"], 130)


if __name__ == "__main__":
    unittest.main(verbosity=2)
