# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the integration tests of the service share: getting into the sandbox (tests/sandbox), the
bus policy, and looking at profd from the outside (units, processes, fds, the journal).

A test calls enter(__file__) first: on the host that re-runs it under `sandbox run`, then inside the
sandbox (`sandbox exec`) with Debian's python3, whose GLib bindings talk D-Bus."""

import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROFD = os.path.abspath(os.environ.get("PROFD") or os.path.join(HERE, "..", "..", "build", "daemon", "profd"))
PROFCTL = os.path.abspath(os.environ.get("PROFCTL") or os.path.join(os.path.dirname(PROFD), "..", "client", "profctl"))
SANDBOX = os.environ.get("SANDBOX") or os.path.join(HERE, "..", "sandbox", "sandbox")
POLICY = os.path.join(HERE, "..", "..", "dbus-policy", "org.profd.Profd1.conf")
SYSTEM_PYTHON = "/usr/bin/python3"


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


def start_profd(config, state, *extra):
    """profd as profd.service, the way units/profd.service runs it."""
    # A stopped transient unit lingers until systemd collects it; its name is taken until then.
    wait_for("the old profd.service to be collected", lambda: run(
        "systemctl", "show", "-p", "LoadState", "--value", "profd.service").stdout.strip() == "not-found")
    run("systemd-run", "--unit=profd", "--collect", "-p", "Type=notify", "-p", "KillMode=mixed",
        PROFD, "--config=" + config, "--state-directory=" + state, *extra)


def run(*argv, check=True, **kw):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, timeout=60, **kw)


def as_user(user):
    return ["setpriv", "--reuid=%d" % user.pw_uid, "--regid=%d" % user.pw_gid, "--init-groups"]


def profd_pid():
    return int(run("systemctl", "show", "-p", "MainPID", "--value", "profd.service").stdout.strip())


def profd_units():
    out = run("systemctl", "list-units", "--all", "--plain", "--no-legend", "profd-*").stdout
    return sorted(line.split()[0] for line in out.splitlines() if line.strip())


def failed_units():
    return run("systemctl", "list-units", "--failed", "--plain", "--no-legend").stdout.strip()


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


def stop_profd():
    run("systemctl", "stop", "profd.service", check=False)
    run("systemctl", "reset-failed", "profd.service", check=False)


def assert_clean_journal(*unit_args):
    """No sanitizer report from any profd that ran as a unit (the ASan+UBSan build's)."""
    log = run("journalctl", "--no-pager", "-o", "cat", *unit_args).stdout
    for marker in ("Sanitizer", "runtime error:"):
        if marker in log:
            raise AssertionError("profd's journal has a sanitizer report:\n" + log[-4000:])
