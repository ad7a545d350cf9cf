#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Debian package, installed, used and removed in a throwaway systemd (suite 'package': slow,
not run by plain `meson test`; run it with `meson test -C build --suite package`).

On the host: packaging/build-deb builds the .deb (dpkg-buildpackage, then lintian) in the build
directory. Then, in the sandbox (tests/sandbox), the package is "installed" and used the way its
maintainer scripts and a user would, and removed again, checking that nothing of it is left.

Why not `dpkg -i`: the sandbox shares the host's root file system, so dpkg would write the host's
/var/lib/dpkg database and the package's files into the host's /usr and /etc, and the maintainer
scripts would write /etc/systemd/system and /var/lib/systemd. Making all of that private would take
a writable overlay over every path dpkg, the maintainer scripts and the triggers (man-db: /var/cache)
might touch; one forgotten path and the test changes the machine it runs on. So instead:

  - `dpkg-deb -x` the package into the build directory and lay it over the sandbox's /usr and /etc
    with read-only overlay mounts (inside the sandbox's private mount namespace: the host sees
    nothing, and nothing inside can write to the host's /usr or /etc through them either);
  - /var/lib gets an overlay whose writable layer is a tmpfs, for StateDirectory=profd;
  - the sandbox's systemd reads units only from /run/systemd/system and its own unit directory
    (SYSTEMD_UNIT_PATH), never /lib/systemd/system: the package's unit directory is laid over the
    latter, as the vendor directory it stands for (after checking it holds nothing but profd's);
  - then what postinst does: systemd-tmpfiles --create profd.conf, daemon-reload, enable, start;
    and on removal what prerm and postrm do. By hand, not by running the scripts: deb-systemd-helper
    writes /etc/systemd/system (the host's, and not in the sandbox's unit path), and where
    /usr/sbin/policy-rc.d exits 101 (Docker-style images, this machine) deb-systemd-invoke starts
    and stops nothing. `enable --runtime` makes the same symlinks as deb-systemd-helper (the alias
    included), in /run. test_01 checks that the scripts hold those steps.

The steps run in order (test_01 ... test_09) and build on each other."""

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import sandboxed  # noqa: E402

BUILD = os.path.abspath(os.environ.get("PROFD_BUILD_ROOT") or os.path.join(SRC, "build"))
WORK = os.path.join(BUILD, "package-test")


def login_user():
    """A user with a home directory, for the user unit (its StateDirectory= lives in the home)."""
    for p in sorted(pwd.getpwall(), key=lambda p: p.pw_uid):
        if 1000 <= p.pw_uid < 60000 and os.path.isdir(p.pw_dir) and not p.pw_shell.endswith(("nologin", "false")):
            return p.pw_name
    return None


if "SANDBOX_STATEDIR" not in os.environ:
    # On the host, before any sandbox exists: the slow part (PROFD_DEB=FILE skips it).
    if "PROFD_DEB" not in os.environ:
        p = subprocess.run([os.path.join(SRC, "packaging", "build-deb"), "--output", os.path.join(WORK, "deb")],
                           stdout=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit("packaging/build-deb failed (exit status %d)" % p.returncode)
        os.environ["PROFD_DEB"] = p.stdout.strip().splitlines()[-1]
    os.environ.setdefault("PROFD_TEST_LOGIN_USER", login_user() or "")
# Twice: on the host it re-runs this under `sandbox run`, there under `sandbox exec`, inside.
sandboxed.enter(__file__, user_manager_for=os.environ["PROFD_TEST_LOGIN_USER"] or None)

from sandboxed import as_user, run, wait_for  # noqa: E402

DEB = os.environ["PROFD_DEB"]
ROOT = os.path.join(WORK, "root")
CONTROL = os.path.join(WORK, "control")
NOBODY = pwd.getpwnam("nobody")
LOGIN = pwd.getpwnam(os.environ["PROFD_TEST_LOGIN_USER"]) if os.environ.get("PROFD_TEST_LOGIN_USER") else None
NAME = "org.profd.Profd1"
USER_PATH = ["env", "-i", "PATH=/usr/bin:/bin"]
# Paths of the package that must not exist on the host, checked before and after.
HOST_PATHS = ["/usr/bin/profd", "/etc/profd", "/var/lib/profd"]


def unit_path_vendor_dir():
    """The sandbox's own unit directory (tests/sandbox/units), where its systemd looks for units."""
    units = os.path.realpath(os.path.join(os.path.dirname(sandboxed.SANDBOX), "units"))
    path = run("systemctl", "show", "-p", "UnitPath", "--value").stdout.split()
    assert units in map(os.path.realpath, path), "%s is not in the unit path %s" % (units, path)
    return units


def as_nobody(*argv, check=True):
    return run(*(as_user(NOBODY) + USER_PATH + list(argv)), check=check)


def as_login(*argv, check=True):
    env = ["XDG_RUNTIME_DIR=/run/user/%d" % LOGIN.pw_uid,
           "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/%d/bus" % LOGIN.pw_uid]
    return run(*(as_user(LOGIN) + USER_PATH + env + list(argv)), check=check)


def reload_bus_config():
    run("busctl", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ReloadConfig")
    if LOGIN:
        as_login("busctl", "--user", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                 "ReloadConfig")


def systemctl(*args, check=True):
    return run("systemctl", *args, check=check).stdout.strip()


def profd_processes():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/comm" % pid) as f:
                if f.read().strip() == "profd":
                    found.append(int(pid))
        except OSError:
            pass
    return found


MOUNTS = []


def mount_overlay(target, lower, upper=None):
    opts = "lowerdir=" + ":".join(lower)
    if upper:
        os.makedirs(upper + "/upper")
        os.makedirs(upper + "/work")
        opts += ",upperdir=%s/upper,workdir=%s/work" % (upper, upper)
    run("mount", "-t", "overlay", "profd-package-test", "-o", opts, target)
    MOUNTS.append(target)


def assert_inside_the_sandbox():
    """Everything below mounts over /usr, /etc and /var/lib: only ever in the sandbox's own mount
    namespace, where PID 1 is its systemd."""
    with open("/proc/1/comm") as f:
        comm = f.read().strip()
    if comm != "systemd" or "PROFD_TEST_INSIDE" not in os.environ:
        sys.exit("test_package.py: not inside the sandbox (PID 1 is %r); refusing to mount anything" % comm)
    try:
        same = os.readlink("/proc/self/ns/mnt") == os.readlink("/proc/1/ns/mnt")
    except PermissionError:
        same = True  # not allowed to look; PID 1 being systemd has to do
    if not same:
        sys.exit("test_package.py: not in the sandbox's mount namespace; refusing to mount anything")


def setUpModule():
    assert_inside_the_sandbox()
    # Nothing of the package on the host to begin with (else the checks for leftovers mean nothing).
    for path in HOST_PATHS:
        if os.path.exists(path):
            raise unittest.SkipTest("%s exists on this machine: profd is installed here" % path)

    shutil.rmtree(ROOT, ignore_errors=True)
    shutil.rmtree(CONTROL, ignore_errors=True)
    run("dpkg-deb", "--extract", DEB, ROOT)
    run("dpkg-deb", "--control", DEB, CONTROL)
    # Merged /usr (/lib -> usr/lib): what dpkg unpacks to /lib lands in /usr/lib.
    if os.path.islink("/lib") and os.path.isdir(os.path.join(ROOT, "lib")):
        run("cp", "-a", os.path.join(ROOT, "lib") + "/.", os.path.join(ROOT, "usr", "lib"))
        shutil.rmtree(os.path.join(ROOT, "lib"))
    units = os.path.join(ROOT, "usr", "lib", "systemd", "system")
    # Never let anything but profd's own units into the sandbox's unit path: the host's stock units
    # there would run systemd-tmpfiles and friends against the host (tests/sandbox/README.md).
    assert sorted(os.listdir(units)) == ["profd.service"], os.listdir(units)

    # Read-only: the package over the host's /usr and /etc. Writable, on a tmpfs: /var/lib.
    mount_overlay("/usr", [os.path.join(ROOT, "usr"), "/usr"])
    mount_overlay("/etc", [os.path.join(ROOT, "etc"), "/etc"])
    mount_overlay("/var/lib", ["/var/lib"], upper="/run/profd-package-test")
    vendor = unit_path_vendor_dir()
    assert os.path.isfile(os.path.join(vendor, "test.target")), vendor
    mount_overlay(vendor, [vendor, units])
    reload_bus_config()


class PackageTest(unittest.TestCase):
    def test_01_contents(self):
        listing = run("dpkg-deb", "--contents", DEB).stdout
        files = {line.split()[-1].lstrip(".") for line in listing.splitlines() if not line.startswith("d")}
        for path in ("/usr/bin/profd", "/usr/bin/profctl", "/usr/libexec/profd/profd-gate",
                     "/lib/systemd/system/profd.service", "/usr/lib/systemd/user/profd.service",
                     "/usr/lib/tmpfiles.d/profd.conf", "/etc/profd/profd.conf",
                     "/usr/share/dbus-1/system-services/org.profd.Profd1.service",
                     "/usr/share/dbus-1/services/org.profd.Profd1.service",
                     "/usr/share/dbus-1/system.d/org.profd.Profd1.conf",
                     "/usr/share/dbus-1/interfaces/org.profd.Profd1.xml",
                     "/usr/share/man/man8/profd.8.gz", "/usr/share/man/man1/profctl.1.gz",
                     "/usr/share/man/man5/profd.conf.5.gz", "/usr/share/man/man5/org.profd.Profd1.5.gz",
                     "/usr/share/bash-completion/completions/profctl",
                     "/usr/share/doc/profd/copyright", "/usr/share/doc/profd/api.md.gz",
                     "/usr/share/doc/profd/examples/ide-client/profd-ide-client"):
            self.assertIn(path, files)
        with open(os.path.join(CONTROL, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/profd/profd.conf"])
        with open(os.path.join(CONTROL, "control")) as f:
            depends = re.search(r"^Depends: (.*)$", f.read(), re.M).group(1)
        self.assertIn("systemd", depends)
        self.assertIn("dbus", depends)
        # The maintainer scripts (dh_installsystemd, dh_installtmpfiles): enable and start the system
        # unit, create the directories; the user unit is only re-enabled where an admin enabled it.
        with open(os.path.join(CONTROL, "postinst")) as f:
            postinst = f.read()
        self.assertIn("systemd-tmpfiles ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} --create profd.conf", postinst)
        self.assertIn("deb-systemd-helper enable 'profd.service'", postinst)
        self.assertIn("deb-systemd-invoke $_dh_action 'profd.service'", postinst)
        self.assertIn("deb-systemd-helper --user debian-installed 'profd.service'", postinst)
        with open(os.path.join(CONTROL, "prerm")) as f:
            self.assertIn("deb-systemd-invoke stop 'profd.service'", f.read())
        with open(os.path.join(CONTROL, "postrm")) as f:
            self.assertIn("deb-systemd-invoke stop profd.slice", f.read())

    def test_02_postinst(self):
        # What postinst does (see the module's docstring for --runtime).
        run("systemd-tmpfiles", "--create", "profd.conf")
        for d in ("/var/lib/profd", "/var/lib/profd/sessions", "/etc/profd"):
            st = os.stat(d)
            self.assertEqual((st.st_uid, st.st_mode & 0o7777), (0, 0o755), d)
        systemctl("daemon-reload")
        systemctl("enable", "--runtime", "profd.service")
        systemctl("start", "profd.service")

        self.assertEqual(systemctl("is-enabled", "profd.service"), "enabled-runtime")
        self.assertEqual(systemctl("is-active", "profd.service"), "active")
        props = dict(line.split("=", 1) for line in systemctl(
            "show", "-p", "Names,Type,BusName,KillMode,StateDirectory,MainPID,FragmentPath",
            "profd.service").splitlines())
        self.assertEqual(sorted(props["Names"].split()), ["dbus-org.profd.Profd1.service", "profd.service"])
        self.assertEqual((props["Type"], props["BusName"], props["KillMode"], props["StateDirectory"]),
                         ("notify", NAME, "mixed", "profd"))
        self.assertEqual(os.readlink("/proc/%s/exe" % props["MainPID"]), "/usr/bin/profd")

    def test_03_session_with_profctl(self):
        started = json.loads(as_nobody("profctl", "start", "--json", "--", "sh", "-c", "echo hello from the package")
                             .stdout)
        sid = started["id"]
        self.assertEqual(started["output_directory"], "/var/lib/profd/sessions/" + sid)
        self.assertEqual(as_nobody("profctl", "wait", sid, check=False).returncode, 0)
        status = as_nobody("profctl", "status", sid).stdout
        self.assertRegex(status, r"Result: success")
        with open(os.path.join(started["output_directory"], "target.stdout")) as f:
            self.assertEqual(f.read(), "hello from the package\n")
        self.assertEqual(os.stat(started["output_directory"]).st_uid, NOBODY.pw_uid)

        # profd's messages about the session carry its id in the journal.
        def entries():
            out = run("journalctl", "--no-pager", "-o", "json", "PROFD_SESSION=" + sid).stdout
            return [json.loads(line) for line in out.splitlines()]
        found = wait_for("the journal to have PROFD_SESSION=" + sid, entries)
        for e in found:
            self.assertEqual(e.get("_SYSTEMD_UNIT"), "profd.service", e)
        # Its start and its end, with the target's pid and, at the end, the result.
        started_entries = [e for e in found if "PROFD_TARGET_PID" in e and "PROFD_RESULT" not in e]
        self.assertTrue(started_entries, found)
        self.assertEqual(started_entries[0]["PROFD_TARGET_PID"], str(started["pid"]))
        found = wait_for("the session's end in the journal",
                         lambda: [e for e in entries() if "PROFD_RESULT" in e])
        self.assertEqual([(e["PROFD_RESULT"], e["PROFD_TARGET_PID"]) for e in found], [("success", str(started["pid"]))])
        self.assertIn("finished", found[0]["MESSAGE"])

    def test_04_dbus_activation(self):
        systemctl("stop", "profd.service")
        self.assertEqual(systemctl("is-active", "profd.service", check=False), "inactive")
        self.assertEqual(profd_processes(), [])
        # The first call starts it: dbus-daemon asks systemd for dbus-org.profd.Profd1.service.
        reply = as_nobody("busctl", "call", NAME, "/org/profd/Profd1", "org.freedesktop.DBus.Properties", "Get",
                          "ss", "org.profd.Profd1.Manager", "APIVersion").stdout.strip()
        self.assertEqual(reply, "v u 1")
        self.assertEqual(systemctl("is-active", "profd.service"), "active")
        log = run("journalctl", "--no-pager", "-o", "cat", "_COMM=dbus-daemon").stdout
        self.assertIn("Activating via systemd: service name='org.profd.Profd1' "
                      "unit='dbus-org.profd.Profd1.service'", log)
        # And profctl as a user works against the activated service.
        self.assertEqual(as_nobody("profctl", "run", "-q", "--", "true", check=False).returncode, 0)

    def test_04b_upgrade_restart_keeps_sessions(self):
        """What the package's postinst runs on upgrade (deb-systemd-invoke restart) leaves a running
        session running, and the new profd adopts it."""
        started = json.loads(as_nobody("profctl", "start", "--json", "--", "sleep", "300").stdout)
        sid, pid = started["id"], started["pid"]
        old = systemctl("show", "-p", "MainPID", "--value", "profd.service")
        systemctl("restart", "profd.service")
        self.assertNotIn(systemctl("show", "-p", "MainPID", "--value", "profd.service"), (old, "0"))
        os.kill(pid, 0)
        status = as_nobody("profctl", "status", sid).stdout
        self.assertRegex(status, r"State:\s+running")
        self.assertRegex(status, r"(?i)adopted")
        as_nobody("profctl", "stop", sid)
        as_nobody("profctl", "wait", sid, check=False)
        wait_for("the target to be gone", lambda: not os.path.exists("/proc/%d" % pid))
        self.assertRegex(as_nobody("profctl", "status", sid).stdout, r"Result:\s+stopped")

    def test_05_user_unit_by_session_bus_activation(self):
        if not LOGIN:
            self.skipTest("no user with a home directory here (the user unit's StateDirectory= needs one)")
        as_login("systemctl", "--user", "daemon-reload")
        reply = as_login("busctl", "--user", "call", NAME, "/org/profd/Profd1", "org.freedesktop.DBus.Properties",
                         "Get", "ss", "org.profd.Profd1.Manager", "APIVersion").stdout.strip()
        self.assertEqual(reply, "v u 1")
        self.assertEqual(as_login("systemctl", "--user", "is-active", "profd.service").stdout.strip(), "active")
        exec_start = as_login("systemctl", "--user", "show", "-p", "ExecStart", "profd.service").stdout
        self.assertIn("argv[]=/usr/bin/profd --user ;", exec_start)
        self.assertEqual(as_login("profctl", "--user", "run", "-q", "--", "true", check=False).returncode, 0)
        as_login("systemctl", "--user", "stop", "profd.service")
        self.assertEqual(as_login("systemctl", "--user", "is-active", "profd.service", check=False).stdout.strip(),
                         "inactive")
        # The sessions' parent slice in the user's manager, made on demand, stays until logout. The
        # package's scripts leave running user managers alone (as dh_installsystemduser's do), so
        # stop it here as a logout would.
        as_login("systemctl", "--user", "stop", "profd.slice")

    def test_06_disabled_means_not_activated(self):
        systemctl("stop", "profd.service")
        systemctl("disable", "--runtime", "profd.service")
        self.assertEqual(systemctl("is-enabled", "profd.service", check=False), "disabled")
        p = as_nobody("busctl", "call", NAME, "/org/profd/Profd1", "org.freedesktop.DBus.Properties", "Get",
                      "ss", "org.profd.Profd1.Manager", "APIVersion", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("dbus-org.profd.Profd1.service not found", p.stderr)
        self.assertEqual(systemctl("is-active", "profd.service", check=False), "inactive")

    def test_09_remove(self):
        # prerm: stop; postrm: stop the empty profd.slice; dpkg removes the files; daemon-reload.
        systemctl("stop", "profd.service")
        systemctl("stop", "profd.slice")
        # Lazily: processes started from the overlays (this one's later imports, the shells the steps
        # ran) may still hold files there; new lookups see the host's directories at once.
        for target in reversed(MOUNTS):
            if target != "/var/lib":
                run("umount", "--lazy", target)
        systemctl("daemon-reload")
        reload_bus_config()
        if LOGIN:
            as_login("systemctl", "--user", "daemon-reload")

        # (list-unit-files exits 1 when nothing matches.)
        self.assertEqual(systemctl("list-unit-files", "--no-legend", "profd*", "dbus-org.profd*", check=False), "")
        self.assertEqual(systemctl("list-units", "--all", "--no-legend", "profd*", "dbus-org.profd*"), "")
        self.assertEqual(systemctl("show", "-p", "LoadState", "--value", "profd.service"), "not-found")
        self.assertEqual(os.listdir("/run/systemd/system"), [])
        self.assertEqual(profd_processes(), [])
        p = as_nobody("busctl", "call", NAME, "/org/profd/Profd1", "org.freedesktop.DBus.Peer", "Ping", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("was not provided by any .service files", p.stderr)
        if LOGIN:
            units = as_login("systemctl", "--user", "list-units", "--all", "--no-legend", "profd*").stdout.strip()
            self.assertEqual(units, "")
            self.assertEqual(as_login("systemctl", "--user", "show", "-p", "LoadState", "--value",
                                      "profd.service").stdout.strip(), "not-found")
            p = as_login("busctl", "--user", "call", NAME, "/org/profd/Profd1", "org.freedesktop.DBus.Peer", "Ping",
                         check=False)
            self.assertIn("was not provided by any .service files", p.stderr)
        # And nothing reached the host: its /usr and /etc are visible again, /var/lib below the tmpfs.
        run("umount", "--lazy", "/var/lib")
        for path in HOST_PATHS:
            self.assertFalse(os.path.exists(path), path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
