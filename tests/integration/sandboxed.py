# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the integration tests of the service share: getting into the sandbox (tests/sandbox), the
bus policy, and looking at profd from the outside (units, processes, fds, the journal).

A test calls enter(__file__) first: on the host that re-runs it under `sandbox run`, then inside the
sandbox (`sandbox exec`) with Debian's python3, whose GLib bindings talk D-Bus."""

import glob
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROFD = os.path.abspath(os.environ.get("PROFD") or os.path.join(HERE, "..", "..", "build", "daemon", "profd"))
PROFCTL = os.path.abspath(os.environ.get("PROFCTL") or os.path.join(os.path.dirname(PROFD), "..", "client", "profctl"))
SANDBOX = os.environ.get("SANDBOX") or os.path.join(HERE, "..", "sandbox", "sandbox")
POLICY = os.path.join(HERE, "..", "..", "dbus-policy", "org.profd.Profd1.conf")
SYSTEM_PYTHON = "/usr/bin/python3"
# Logs its start and the SIGTERM it gets (with a monotonic timestamp), then exits 0 on SIGTERM.
LOGGER = os.path.join(HERE, "logger.py")


def enter(script, user_manager_for=None):
    """Re-executes `script` inside a fresh sandbox, unless it runs there already."""
    if "SANDBOX_STATEDIR" not in os.environ:
        os.execvp(SANDBOX, [SANDBOX, "run", "--", sys.executable, os.path.abspath(script)] + sys.argv[1:])
    if "PROFD_TEST_INSIDE" not in os.environ:
        os.environ["PROFD_TEST_INSIDE"] = "1"
        if user_manager_for:
            # A user manager, as user@.service would start it, for `profd --user`.
            subprocess.run([SANDBOX, "user-manager", os.environ["SANDBOX_STATEDIR"], user_manager_for], check=True,
                           stdout=subprocess.DEVNULL)
        os.execvp(SANDBOX, [SANDBOX, "exec", os.environ["SANDBOX_STATEDIR"], "--",
                            SYSTEM_PYTHON, os.path.abspath(script)] + sys.argv[1:])


def install_policy():
    """The sandbox's /etc is the host's: cover the policy directory rather than write into it."""
    subprocess.run(["sh", "-c", "mountpoint -q /etc/dbus-1/system.d || mount -t tmpfs tmpfs /etc/dbus-1/system.d"],
                   check=True)
    shutil.copy(POLICY, "/etc/dbus-1/system.d/")
    run("busctl", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ReloadConfig")


# With PROFD_VALGRIND=1 (`meson test --setup valgrind`, `tools/test --valgrind`) the daemon runs under
# valgrind's memcheck: any memory error, and any definite or indirect leak at exit, is an error;
# stop_profd() and assert_clean_journal() fail the test if a daemon that has exited reported one.
# Only the daemon: profd-gate and the sessions' programs, which it posix_spawn()s or forks and
# execs, run natively (--trace-children=no), and a forked child that has not exec'd yet neither
# writes a log nor counts (--child-silent-after-fork=yes).
VALGRIND = os.environ.get("PROFD_VALGRIND") == "1"
VALGRIND_ERROR_EXIT = 99
VALGRIND_LOG_DIR = os.path.abspath(os.environ.get("PROFD_VALGRIND_LOG_DIR") or
                                   os.path.join(os.path.dirname(PROFD), "..", "valgrind"))
_valgrind_logs = []     # the log-file prefix of every daemon started so far under valgrind


def profd_command(*args):
    """profd's argv, under valgrind when PROFD_VALGRIND=1; check_valgrind() once it has exited."""
    if not VALGRIND:
        return [PROFD, *args]
    os.makedirs(VALGRIND_LOG_DIR, exist_ok=True)
    # Unique across parallel tests: pids in the sandboxes' namespaces are not.
    prefix = os.path.join(VALGRIND_LOG_DIR, "profd-%s-%s." % (
        os.path.splitext(os.path.basename(sys.argv[0]))[0], secrets.token_hex(4)))
    _valgrind_logs.append(prefix)
    return ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=%d" % VALGRIND_ERROR_EXIT,
            "--trace-children=no", "--child-silent-after-fork=yes", "--num-callers=30",
            "--log-file=" + prefix + "%p.log", PROFD, *args]


def check_valgrind():
    """Raises AssertionError if valgrind found errors in a daemon started by profd_command(), or
    if one is gone without valgrind's summary (killed). Call it once they have all exited."""
    bad = []
    for prefix in _valgrind_logs:
        logs = glob.glob(glob.escape(prefix) + "*.log")
        if not logs:
            bad.append("%s*.log: no valgrind log at all" % prefix)
        for log in logs:
            with open(log, errors="replace") as f:
                text = f.read()
            m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
            if not m:
                bad.append("%s: no ERROR SUMMARY: profd was killed, or is still running\n%s" % (log, text[-2000:]))
            elif int(m.group(1)) > 0:
                bad.append("%s: %s errors\n%s" % (log, m.group(1), text[-6000:]))
    _valgrind_logs.clear()
    if bad:
        raise AssertionError("valgrind:\n" + "\n".join(bad))


def start_profd(config, state, *extra):
    """profd as profd.service, the way units/profd.service runs it."""
    # A stopped transient unit lingers until systemd collects it; its name is taken until then.
    wait_for("the old profd.service to be collected", lambda: run(
        "systemctl", "show", "-p", "LoadState", "--value", "profd.service").stdout.strip() == "not-found")
    if VALGRIND:
        check_valgrind()        # of the daemons before, all gone now
    run("systemd-run", "--unit=profd", "--collect", "-p", "Type=notify", "-p", "KillMode=mixed",
        *profd_command("--config=" + config, "--state-directory=" + state, *extra))


def run(*argv, check=True, timeout=60, **kw):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, timeout=timeout, **kw)


def as_user(user):
    return ["setpriv", "--reuid=%d" % user.pw_uid, "--regid=%d" % user.pw_gid, "--init-groups"]


def profd_pid():
    return int(run("systemctl", "show", "-p", "MainPID", "--value", "profd.service").stdout.strip())


def profd_units():
    out = run("systemctl", "list-units", "--all", "--plain", "--no-legend", "profd-*").stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.strip())


def failed_units():
    return run("systemctl", "list-units", "--failed", "--plain", "--no-legend").stdout.strip()


def processes_of(uid):
    """Pids of every process of `uid` in the sandbox, zombies included."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.stat("/proc/" + d).st_uid == uid:
                pids.append(int(d))
        except FileNotFoundError:
            pass
    return pids


def zombies():
    """Every zombie in the sandbox: pid, parent and name."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[0] == "Z":
            out.append("%s (ppid %s): %s" % (d, fields[1], stat.partition("(")[2].rpartition(")")[0]))
    return out


def describe(pid):
    """A process as "PID: its command line" (the first 200 characters), for a report."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return "%d: %s" % (pid, f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:200])
    except (FileNotFoundError, ProcessLookupError):
        return "%d: (gone)" % pid


class ScratchTestCase(unittest.TestCase):
    """A test with a directory of its own under `work_dir` (self.dir, which the sessions' users may
    write to), and self.log in it, where logger.py writes what its processes saw."""
    work_dir = None

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="t-", dir=self.work_dir)
        os.chmod(self.dir, 0o777)
        self.log = os.path.join(self.dir, "log")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def logger(self, name):
        """The argv of logger.py writing to self.log as `name`."""
        return [SYSTEM_PYTHON, LOGGER, name, self.log]

    def read_log(self):
        """self.log as lines of words: [name, event, timestamp]."""
        try:
            with open(self.log) as f:
                return [line.split() for line in f]
        except FileNotFoundError:
            return []

    def wait_for_log(self, count):
        """Waits for `count` lines in self.log; returns them."""
        return wait_for("%d log lines" % count, lambda: len(self.read_log()) >= count and self.read_log())


class Leaks(list):
    """What a test finds left behind, as a list of descriptions."""

    def check(self, what, predicate, describe_left, timeout=20):
        """Waits up to `timeout` for `predicate`; if it never holds, writes down describe_left()."""
        try:
            wait_for(what, predicate, timeout)
        except AssertionError:
            self.append(describe_left())


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def open_fds(pid):
    return sorted(os.listdir("/proc/%d/fd" % pid), key=int)


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.split()
    return fields


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rpartition(")")[2].split()[0]


def wait_for(what, predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.05)


# A stop of profd that takes longer than this is reported with what profd and systemd were doing.
SLOW_STOP_SECONDS = 20


def dump_slow_stop(pid):
    """What a stop that does not end is waiting for: profd's units, jobs, threads and journal."""
    report = ["profd.service has been stopping for %d s:" % SLOW_STOP_SECONDS]
    for argv in (["systemctl", "status", "--no-pager", "-l", "profd.service"], ["systemctl", "list-jobs"],
                 ["systemctl", "list-units", "--all", "--plain", "--no-legend", "profd*"],
                 ["journalctl", "-u", "profd.service", "-n", "40", "--no-pager", "-o", "short-monotonic"]):
        report.append("$ " + " ".join(argv) + "\n" + run(*argv, check=False).stdout)
    if pid:
        for name in ("status", "wchan", "stack"):
            try:
                with open("/proc/%d/%s" % (pid, name)) as f:
                    report.append("/proc/%d/%s:\n%s" % (pid, name, f.read()))
            except OSError as e:
                report.append("/proc/%d/%s: %s" % (pid, name, e))
        if shutil.which("gdb"):
            report.append(run("gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt", check=False,
                              timeout=60).stdout)
    print("\n".join(report), file=sys.stderr, flush=True)


def stop_profd():
    # As long as systemd itself may take: TimeoutStopSec= (90 s), then its SIGKILL. A stop that
    # slow (seen once under ASan on a loaded machine) is for the caller's leak checks to report,
    # not a reason to leave profd half-stopped for every later test; past SLOW_STOP_SECONDS it is
    # reported with what it was waiting for.
    pid = profd_pid()
    run("systemctl", "stop", "--no-block", "profd.service", check=False)
    start = time.monotonic()
    dumped = False
    while run("systemctl", "show", "-p", "ActiveState", "--value", "profd.service",
              check=False).stdout.strip() not in ("inactive", "failed", ""):
        if not dumped and time.monotonic() - start > SLOW_STOP_SECONDS:
            dump_slow_stop(pid)
            dumped = True
        if time.monotonic() - start > 150:
            break
        time.sleep(0.05)
    run("systemctl", "reset-failed", "profd.service", check=False)
    if VALGRIND:
        check_valgrind()


def assert_clean_journal(*unit_args):
    """No sanitizer report from any profd that ran as a unit (the ASan+UBSan build's)."""
    log = run("journalctl", "--no-pager", "-o", "cat", *unit_args).stdout
    for marker in ("Sanitizer", "runtime error:"):
        if marker in log:
            raise AssertionError("profd's journal has a sanitizer report:\n" + log[-4000:])
    if VALGRIND:
        check_valgrind()
