#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The API examples (examples/api/, docs/api.md) and the IDE client (examples/ide-client/) against
the real daemon in the sandbox (tests/sandbox), run as an unprivileged user the way a developer
would run them: each starts or follows a real session and must print its states, its result and
its processes. follow.js runs when node is installed and `npm install` of its pinned dbus-next
works (into the build directory); otherwise it is skipped, saying why."""

import os
import pwd
import re
import shutil
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

from sandboxed import PROFD, as_user, assert_clean_journal, profd_units, run, stop_profd, wait_for  # noqa: E402
from profd_call import call  # noqa: E402

SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
API = os.path.join(SRC, "examples", "api")
IDE_CLIENT = os.path.join(SRC, "examples", "ide-client", "profd-ide-client")

# Scratch space that every user can reach: the build directory, never /tmp (DESIGN.md).
BUILD = os.environ.get("PROFD_BUILD_ROOT") or os.path.dirname(os.path.dirname(PROFD))
WORK = tempfile.mkdtemp(prefix="profd-examples-test-", dir=BUILD)
os.chmod(WORK, 0o755)
STATE = os.path.join(WORK, "state")
CONFIG = os.path.join(WORK, "profd.conf")
# npm's packages for follow.js: in the build directory, kept between runs (npm install is quick then).
NODE_DIR = os.path.join(BUILD, "examples-node")

NOBODY = pwd.getpwnam("nobody")
USER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"}


def setUpModule():
    sandboxed.install_policy()
    with open(CONFIG, "w") as f:
        f.write("[Sessions]\nKeepFinishedSec=30s\n[Scheduling]\nMaxParallelSessions=64\n")
    sandboxed.start_profd(CONFIG, STATE)


def tearDownModule():
    stop_profd()
    assert_clean_journal("-u", "profd.service")
    shutil.rmtree(WORK, ignore_errors=True)


def as_nobody(argv, **kw):
    return subprocess.run(as_user(NOBODY) + argv, capture_output=True, text=True, timeout=120, env=USER_ENV,
                          cwd=WORK, **kw)


def states_in(output):
    return re.findall(r"^state: (\S+)$", output, re.M)


class ExamplesTest(unittest.TestCase):
    def tearDown(self):
        wait_for("every profd unit to go", lambda: profd_units() == [])

    def assert_followed(self, output, result="success"):
        """States in order, ending in finished, then the result."""
        states = states_in(output)
        self.assertTrue(states, output)
        self.assertEqual(states[-1], "finished", output)
        order = ["queued", "starting", "running", "paused", "stopping-supporters", "stopping-target", "finished"]
        self.assertEqual(states, sorted(states, key=order.index), "states out of order:\n" + output)
        self.assertEqual(len(states), len(set(states)), "a state printed twice:\n" + output)
        self.assertIn("result: %s\n" % result, output)

    def start_as_nobody(self, target, supporters=()):
        spec = "'Target': <%s>" % gv_strv(target)
        if supporters:
            spec += ", 'Supporters': <@aa{sv} [%s]>" % ", ".join(
                "{'Name': <'%s'>, 'Argv': <%s>}" % (name, gv_strv(argv)) for name, argv in supporters)
        p = as_nobody([sandboxed.SYSTEM_PYTHON, os.path.join(HERE, "profd_call.py"), "StartSession",
                       "({%s},)" % spec])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p.stdout.split('"')[1]

    # examples/ide-client

    def test_ide_client_follows_the_next_session_live(self):
        client = subprocess.Popen(as_user(NOBODY) + [IDE_CLIENT, "follow", "--next"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=USER_ENV, cwd=WORK)
        try:
            self.assertEqual(client.stdout.readline(), "waiting for a new session\n")
            sid = self.start_as_nobody(["sleep", "1"], supporters=[("watch", ["sleep", "60"])])
            self.assertEqual(client.stdout.readline(), "session %s\n" % sid)

            # While it runs, `list` shows it, as nobody's.
            listing = as_nobody([IDE_CLIENT, "list"])
            self.assertEqual(listing.returncode, 0, listing.stderr)
            self.assertEqual(listing.stdout.split()[:5], ["ID", "STATE", "UID", "PID", "DESCRIPTION"])
            row = [line.split() for line in listing.stdout.splitlines()[1:] if line.split()[0] == sid]
            self.assertEqual(len(row), 1, listing.stdout)
            self.assertEqual(row[0][1:3], ["running", str(NOBODY.pw_uid)])

            # The rest through the same buffered reader (communicate() would skip what it holds).
            watchdog = threading.Timer(60, client.kill)
            watchdog.start()
            out, err = client.stdout.read(), client.stderr.read()
            client.wait()
            watchdog.cancel()
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        self.assertEqual(client.returncode, 0, out + err)
        # The properties (GetAll) come in order with the signals: a change may be printed first.
        self.assertRegex(out, r"(?m)^target: pid \d+, no description$")
        self.assertIn("running", states_in(out), out)
        self.assertIn("stopping-supporters", states_in(out), out)
        self.assert_followed(out)
        # The per-process table from Status: the target exited by itself, the supporter was stopped.
        table = out.split("result: success\n", 1)[1].splitlines()
        header = [i for i, line in enumerate(table) if line.startswith("NAME ")]
        self.assertEqual(len(header), 1, out)
        self.assertEqual(table[header[0]].split(), ["NAME", "ROLE", "PID", "STATE", "END", "CPU", "MEMORY"])
        rows = {line.split()[0]: line.split() for line in table[header[0] + 1:]}
        self.assertEqual(sorted(rows), ["target", "watch"], out)
        self.assertEqual(rows["target"][1], "target")
        self.assertEqual(rows["watch"][1], "supporter")
        self.assertIn("exited 0", out)
        st = call("Status", "('%s',)" % sid)[0]
        for p in st["ProcessDetails"]:
            self.assertEqual(int(rows[p["Name"]][2]), p["PID"])

    def test_ide_client_follows_a_running_session_by_id(self):
        # Long enough to be running still when the client (a Python start-up) asks, on a loaded machine.
        sid = self.start_as_nobody(["sleep", "4"])
        p = as_nobody([IDE_CLIENT, "follow", sid])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertTrue(p.stdout.startswith("session %s\n" % sid), p.stdout)
        self.assertRegex(p.stdout, r"(?m)^target: pid \d+, no description$")
        self.assertEqual(states_in(p.stdout)[0], "running", p.stdout)
        self.assert_followed(p.stdout)

    def test_ide_client_reports_errors_by_name(self):
        p = as_nobody([IDE_CLIENT, "follow", "999999"])
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.strip(), "No session 999999.")

    # examples/api

    def test_follow_py(self):
        p = as_nobody([os.path.join(API, "follow.py"), "-s", "watch=sleep 60", "--", "sh", "-c", "sleep 0.5; exit 0"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"^session (\d+) at /org/profd/Profd1/session/\1\n")
        self.assert_followed(p.stdout)
        self.assertRegex(p.stdout, r"\n  target +target +pid \d+ +exited 0\n")
        self.assertRegex(p.stdout, r"\n  watch +supporter +pid \d+ ")

    def test_follow_py_reports_a_failing_target(self):
        p = as_nobody([os.path.join(API, "follow.py"), "--", "sh", "-c", "exit 3"])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assert_followed(p.stdout, result="target-failed")
        self.assertRegex(p.stdout, r"\n  target +target +pid \d+ +exited 3\n")

    def test_follow_py_reports_a_bad_spec_by_error_name(self):
        p = as_nobody([os.path.join(API, "follow.py"), "--", "no-such-program-anywhere"])
        self.assertEqual(p.returncode, 1)
        self.assertIn("org.profd.Profd1.Error.", p.stderr)

    def test_start_and_follow_sh(self):
        p = as_nobody([os.path.join(API, "start-and-follow.sh"), "sh", "-c", "sleep 0.5"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        sid = re.match(r"session (\d+) at ", p.stdout).group(1)
        self.assert_followed(p.stdout)
        # Then busctl --json=pretty of Status.
        status = p.stdout.split("result: success\n", 1)[1]
        self.assertIn('"type" : "a{sv}"', status)
        self.assertIn('"ProcessDetails"', status)
        self.assertIn('"Id" : {\n\t\t\t\t"type" : "s",\n\t\t\t\t"data" : "%s"' % sid, status)

    def test_start_and_follow_sh_fails_with_the_target(self):
        p = as_nobody([os.path.join(API, "start-and-follow.sh"), "false"])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assert_followed(p.stdout, result="target-failed")

    def test_follow_js(self):
        node = shutil.which("node")
        if not node:
            self.skipTest("node is not installed")
        modules = npm_install()
        env = dict(USER_ENV, NODE_PATH=modules)
        p = subprocess.run(as_user(NOBODY) + [node, os.path.join(API, "follow.js"), "--", "sh", "-c", "sleep 0.5"],
                           capture_output=True, text=True, timeout=120, env=env, cwd=WORK)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"^session (\d+) at /org/profd/Profd1/session/\1\n")
        self.assert_followed(p.stdout)
        self.assertRegex(p.stdout, r"\n  target +target +pid \d+ +exited 0\n")


def gv_strv(words):
    return "[%s]" % ", ".join("'%s'" % w.replace("\\", "\\\\").replace("'", "\\'") for w in words)


def npm_install():
    """dbus-next as pinned in examples/api/package.json, into the build directory. Skips the test
    when npm is missing or the registry does not answer within two minutes."""
    npm = shutil.which("npm")
    if not npm:
        raise unittest.SkipTest("npm is not installed")
    os.makedirs(NODE_DIR, exist_ok=True)
    modules = os.path.join(NODE_DIR, "node_modules")
    marker = os.path.join(modules, "dbus-next", "package.json")
    with open(os.path.join(API, "package.json")) as f:
        wanted = f.read()
    try:
        with open(os.path.join(NODE_DIR, "package.json")) as f:
            installed = f.read()
    except FileNotFoundError:
        installed = None
    if installed != wanted or not os.path.exists(marker):
        shutil.copy(os.path.join(API, "package.json"), NODE_DIR)
        env = dict(os.environ, npm_config_cache=os.path.join(NODE_DIR, "cache"), npm_config_update_notifier="false")
        started = time.monotonic()
        try:
            p = subprocess.run([npm, "install", "--omit=optional", "--no-audit", "--no-fund", "--ignore-scripts"],
                               cwd=NODE_DIR, capture_output=True, text=True, timeout=120, env=env)
        except subprocess.TimeoutExpired:
            raise unittest.SkipTest("npm install of dbus-next took over 120 s (registry unreachable?)")
        if p.returncode != 0 or not os.path.exists(marker):
            raise unittest.SkipTest("npm install of dbus-next failed after %.0f s: %s"
                                    % (time.monotonic() - started, (p.stderr or p.stdout).strip()[-500:]))
    # nobody must read it.
    for root, dirs, files in os.walk(NODE_DIR):
        for name in dirs + files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444 | (0o111 if os.path.isdir(path) else 0))
    return modules


if __name__ == "__main__":
    unittest.main(verbosity=2)
