#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`profd run` as a systemd service, in the throwaway systemd of tests/sandbox: the way a CI job or a
benchmark runner puts it under systemd. The unit's exit status is the target's, `systemctl stop`
gives the ordered teardown (with KillMode=mixed systemd signals only profd), and nothing of the
unit is left afterwards.

Runs itself under `sandbox run` when it is not inside one already."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROFD = os.path.abspath(os.environ.get("PROFD") or os.path.join(HERE, "..", "..", "build", "daemon", "profd"))
SANDBOX = os.environ.get("SANDBOX") or os.path.join(HERE, "..", "sandbox", "sandbox")
STATEDIR = os.environ.get("SANDBOX_STATEDIR")

# Logs its start and the SIGTERM it gets, then exits 0 on SIGTERM.
LOGGER = os.path.join(HERE, "logger.py")


def inside(*argv, check=True, **kw):
    """Runs argv inside the sandbox's namespaces."""
    return subprocess.run([SANDBOX, "exec", STATEDIR, "--"] + list(argv), check=check,
                          capture_output=True, text=True, timeout=60, **kw)


class ServiceTest(unittest.TestCase):
    def setUp(self):
        base = os.environ.get("MESON_BUILD_ROOT") or HERE
        self.dir = tempfile.mkdtemp(prefix="profd-service-", dir=base)
        self.log = os.path.join(self.dir, "log")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def logger(self, name):
        return "%s %s %s %s" % (sys.executable, LOGGER, name, self.log)

    def read_log(self):
        try:
            with open(self.log) as f:
                return [line.split() for line in f]
        except FileNotFoundError:
            return []

    def wait_for_log(self, count):
        deadline = time.monotonic() + 20
        while len(self.read_log()) < count:
            if time.monotonic() > deadline:
                self.fail("log has %r, expected %d lines" % (self.read_log(), count))
            time.sleep(0.05)

    def assert_unit_gone(self, unit):
        # Transient units are collected once inactive; a failed one would stay.
        state = inside("systemctl", "show", "-p", "ActiveState", "--value", unit).stdout.strip()
        self.assertEqual(state, "inactive", "unit %s is %s" % (unit, state))
        failed = inside("systemctl", "list-units", "--failed", "--plain", "--no-legend").stdout
        self.assertNotIn(unit, failed)

    def test_exit_status_is_the_targets(self):
        r = inside("systemd-run", "--wait", "--unit=profd-exit", "-p", "Type=exec", "-p", "KillMode=mixed",
                   PROFD, "run", "-q", "-s", "sleep 100", "--", "sh", "-c", "exit 3", check=False)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("status=3", r.stderr)

    def test_systemctl_stop_is_ordered(self):
        unit = "profd-ordered"
        inside("systemd-run", "--unit=" + unit, "-p", "Type=exec", "-p", "KillMode=mixed", "-p", "TimeoutStopSec=60",
               PROFD, "run", "-s", "first=" + self.logger("first"), "-s", "second=" + self.logger("second"),
               "--", *self.logger("target").split())
        self.wait_for_log(3)
        self.assertEqual(sorted(l[0] for l in self.read_log()), ["first", "second", "target"])

        # Blocks until systemd saw the unit stop.
        inside("systemctl", "stop", unit)

        terms = [l for l in self.read_log() if l[1] == "TERM"]
        self.assertEqual(len(terms), 3, self.read_log())
        # Supporters first, the target only after both were gone.
        self.assertEqual(terms[-1][0], "target", terms)
        target_time = float(terms[-1][2])
        for name, _, t in terms[:-1]:
            self.assertLess(float(t), target_time, name)
        self.assert_unit_gone(unit)
        # Nothing of the session is left running in the sandbox.
        ps = inside("ps", "-eo", "args").stdout
        self.assertNotIn("logger.py", ps)

    def test_journal_has_the_summary(self):
        unit = "profd-journal"
        inside("systemd-run", "--wait", "--unit=" + unit, "-p", "Type=exec",
               PROFD, "run", "-s", "watch=sleep 100", "--", "true")
        out = inside("journalctl", "-u", unit, "-o", "cat", "--no-pager").stdout
        self.assertIn("Session finished: success.", out)
        self.assertRegex(out, r"watch\s+pid \d+\s+killed by SIGTERM")


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: the sandbox needs root")
        sys.exit(77)
    if not STATEDIR:
        # Boot a sandbox around ourselves; it is torn down whatever happens.
        os.execv(SANDBOX, [SANDBOX, "run", "--", sys.executable] + sys.argv)
    unittest.main(verbosity=2)
