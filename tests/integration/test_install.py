#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`meson install` puts every file of the service where systemd, dbus-daemon, man and bash look for it.

Installs this build into a DESTDIR in the build directory (never into the system) and checks the
list of files, their paths (from the build's options, else pkg-config: the same rule as
meson.build, computed again here), and what each file says: the unit's bus name and alias, the
activation files naming those units, the settings file listing every key profd knows. The RPM spec
(packaging/rpm/profd.spec) must list the same files.

meson.build passes the build's directories in the environment (PROFD_DIR_*, PROFD_OPT_*)."""

import configparser
import os
import re
import shutil
import stat
import subprocess
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.path.abspath(os.environ.get("PROFD_BUILD_ROOT") or os.path.join(SRC, "build"))
MESON = os.environ.get("MESON") or "meson"
DESTDIR = os.path.join(BUILD, "install-test")

# The service's directories, as meson.build resolved them, and the options they came from.
SERVICE_DIRS = {
    # option                  pkg-config  variable                    suffix               fallback under
    "systemdsystemunitdir":  ("systemd", "systemdsystemunitdir",     "",                  "prefix", "lib/systemd/system"),
    "systemduserunitdir":    ("systemd", "systemduserunitdir",       "",                  "prefix", "lib/systemd/user"),
    "tmpfilesdir":           ("systemd", "tmpfilesdir",              "",                  "prefix", "lib/tmpfiles.d"),
    "dbussystemservicedir":  ("dbus-1",  "system_bus_services_dir",  "",                  "datadir", "dbus-1/system-services"),
    "dbussessionservicedir": ("dbus-1",  "session_bus_services_dir", "",                  "datadir", "dbus-1/services"),
    "dbusinterfacesdir":     ("dbus-1",  "interfaces_dir",           "",                  "datadir", "dbus-1/interfaces"),
    "dbuspolicydir":         ("dbus-1",  "datadir",                  "/dbus-1/system.d",  "datadir", "dbus-1/system.d"),
}


def env_dir(name):
    value = os.environ.get("PROFD_DIR_" + name)
    if value is None:
        raise unittest.SkipTest("run through meson test (PROFD_DIR_%s is not set)" % name)
    return value


def base_dirs():
    prefix = env_dir("prefix")
    dirs = {"prefix": prefix}
    for d in ("bindir", "libexecdir", "datadir", "mandir", "sysconfdir"):
        dirs[d] = os.path.join(prefix, env_dir(d))  # absolute options (sysconfdir=/etc) stay
    return dirs


def pkg_config(package, variable, prefix):
    p = subprocess.run(["pkg-config", "--define-variable=prefix=" + prefix, "--variable=" + variable, package],
                       capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else ""


def expected_dirs():
    """What meson.build must have resolved: option, else pkg-config, else the standard path."""
    dirs = base_dirs()
    for name, (package, variable, suffix, base, fallback) in SERVICE_DIRS.items():
        value = os.environ.get("PROFD_OPT_" + name, "")
        if not value:
            value = pkg_config(package, variable, dirs["prefix"])
            if value:
                value += suffix
        if not value:
            value = os.path.join(dirs[base], fallback)
        dirs[name] = value
    return dirs


def expected_files(dirs):
    """Every file `meson install` installs: (directory key, name)."""
    return [
        ("bindir", "profd"),
        ("bindir", "profctl"),
        ("libexecdir", "profd/profd-gate"),
        ("systemdsystemunitdir", "profd.service"),
        ("systemduserunitdir", "profd.service"),
        ("tmpfilesdir", "profd.conf"),
        ("dbussystemservicedir", "org.profd.Profd1.service"),
        ("dbussessionservicedir", "org.profd.Profd1.service"),
        ("dbusinterfacesdir", "org.profd.Profd1.xml"),
        ("dbuspolicydir", "org.profd.Profd1.conf"),
        ("mandir", "man8/profd.8"),
        ("mandir", "man1/profctl.1"),
        ("mandir", "man5/profd.conf.5"),
        ("mandir", "man5/org.profd.Profd1.5"),
        ("datadir", "bash-completion/completions/profctl"),
        ("sysconfdir", "profd/profd.conf"),
    ]


def read_ini(path):
    """A unit or activation file: {section: {key: [values]}}; keys repeat in units."""
    sections, current = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), {})
                continue
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dirs = expected_dirs()
        shutil.rmtree(DESTDIR, ignore_errors=True)
        subprocess.run([MESON, "install", "-C", BUILD, "--no-rebuild", "--quiet", "--destdir", DESTDIR],
                       check=True, stdout=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(DESTDIR, ignore_errors=True)

    def path(self, key, name):
        return os.path.join(self.dirs[key], name)

    def installed(self, key, name):
        return DESTDIR + self.path(key, name)

    def test_service_dirs_follow_options_then_pkg_config(self):
        # The summary meson printed is the truth of the build; PROFD_DIR_<option> is what it used.
        for name in SERVICE_DIRS:
            self.assertEqual(env_dir(name), self.dirs[name], "%s resolved differently" % name)

    def test_exactly_the_expected_files(self):
        found = set()
        for root, dirnames, files in os.walk(DESTDIR):
            for f in files:
                found.add(os.path.join(root, f)[len(DESTDIR):])
        want = {self.path(k, n) for k, n in expected_files(self.dirs)}
        self.assertEqual(sorted(found - want), [], "installed but not expected (add to the list and the spec)")
        self.assertEqual(sorted(want - found), [], "expected but not installed")

    def test_programs_are_executable(self):
        for key, name in (("bindir", "profd"), ("bindir", "profctl"), ("libexecdir", "profd/profd-gate")):
            mode = os.stat(self.installed(key, name)).st_mode
            self.assertTrue(mode & stat.S_IXOTH, "%s is not executable" % name)

    def test_system_unit(self):
        unit = read_ini(self.installed("systemdsystemunitdir", "profd.service"))
        service = unit["Service"]
        self.assertEqual(service["Type"], ["notify"])
        self.assertEqual(service["BusName"], ["org.profd.Profd1"])
        self.assertEqual(service["ExecStart"], [self.path("bindir", "profd")])
        self.assertEqual(service["KillMode"], ["mixed"])
        self.assertEqual(service["StateDirectory"], ["profd"])
        self.assertEqual(unit["Install"]["Alias"], ["dbus-org.profd.Profd1.service"])
        self.assertEqual(unit["Install"]["WantedBy"], ["multi-user.target"])
        # Settings that the sessions' processes would inherit must stay out (see the comments there).
        for inherited in ("NoNewPrivileges", "PrivateTmp", "ProtectHome", "ProtectSystem", "PrivateDevices",
                          "CapabilityBoundingSet", "SystemCallFilter", "MemoryDenyWriteExecute", "RestrictSUIDSGID",
                          "User", "DynamicUser"):
            self.assertNotIn(inherited, service, "%s= would apply to every session's processes" % inherited)

    def test_user_unit(self):
        service = read_ini(self.installed("systemduserunitdir", "profd.service"))["Service"]
        self.assertEqual(service["Type"], ["notify"])
        self.assertEqual(service["BusName"], ["org.profd.Profd1"])
        self.assertEqual(service["ExecStart"], [self.path("bindir", "profd") + " --user"])
        self.assertEqual(service["KillMode"], ["mixed"])

    def test_activation_files_name_the_units(self):
        system = read_ini(self.installed("dbussystemservicedir", "org.profd.Profd1.service"))["D-BUS Service"]
        unit = read_ini(self.installed("systemdsystemunitdir", "profd.service"))
        self.assertEqual(system["Name"], ["org.profd.Profd1"])
        self.assertEqual(system["User"], ["root"])
        self.assertEqual(system["Exec"], ["/bin/false"])
        # The alias exists only while profd.service is enabled: disabled means not activated.
        self.assertEqual(system["SystemdService"], unit["Install"]["Alias"])

        session = read_ini(self.installed("dbussessionservicedir", "org.profd.Profd1.service"))["D-BUS Service"]
        self.assertEqual(session["Name"], ["org.profd.Profd1"])
        self.assertEqual(session["SystemdService"], ["profd.service"])
        self.assertEqual(session["Exec"], [self.path("bindir", "profd") + " --user"])
        self.assertTrue(os.path.exists(self.installed("systemduserunitdir", session["SystemdService"][0])))

    def test_policy_and_interface(self):
        with open(self.installed("dbuspolicydir", "org.profd.Profd1.conf")) as f:
            policy = ET.fromstring(f.read())
        owners = [(p.get("user"), a.get("own")) for p in policy.findall("policy") for a in p.findall("allow")
                  if a.get("own")]
        self.assertEqual(owners, [("root", "org.profd.Profd1")])
        with open(self.installed("dbusinterfacesdir", "org.profd.Profd1.xml")) as f, \
                open(os.path.join(SRC, "dbus-policy", "org.profd.Profd1.xml")) as g:
            self.assertEqual(f.read(), g.read())

    def test_man_pages_and_completion(self):
        for name in ("man8/profd.8", "man1/profctl.1", "man5/profd.conf.5", "man5/org.profd.Profd1.5"):
            with open(self.installed("mandir", name)) as f:
                text = f.read()
            self.assertNotIn("@VERSION@", text)
            self.assertTrue(text.startswith(".\\\""), name)
        with open(self.installed("datadir", "bash-completion/completions/profctl")) as f:
            self.assertIn("complete", f.read())

    def test_tmpfiles_creates_the_directories(self):
        # --root: only ever inside a scratch directory, never the system's /var and /etc.
        root = os.path.join(DESTDIR, "tmpfiles-root")
        os.makedirs(root)
        subprocess.run(["systemd-tmpfiles", "--root=" + root, "--create",
                        self.installed("tmpfilesdir", "profd.conf")], check=True)
        for d in ("var/lib/profd", "var/lib/profd/sessions", "etc/profd"):
            st = os.stat(os.path.join(root, d))
            self.assertTrue(stat.S_ISDIR(st.st_mode), d)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o755, d)
        shutil.rmtree(root)

    def config_keys(self):
        """(section, key, default) of every setting: the table in conf.c, the defaults in conf.h."""
        with open(os.path.join(SRC, "daemon", "conf.c")) as f:
            keys = re.findall(r'CONFIG_ITEM\("(\w+)",\s*"(\w+)"', f.read())
        with open(os.path.join(SRC, "daemon", "conf.h")) as f:
            defaults = dict(re.findall(r"^ \*\s+(\w+)=(\S*)", f.read(), re.M))
        self.assertGreater(len(keys), 0)
        return [(s, k, defaults.get(k)) for s, k in keys]

    def test_settings_file_lists_every_key_commented_out(self):
        path = self.installed("sysconfdir", "profd/profd.conf")
        with open(path) as f:
            lines = f.read().splitlines()
        section = None
        seen = {}
        for line in lines:
            if line.startswith("["):
                section = line.strip("[]")
            elif re.match(r"\s*\w+\s*=", line):
                self.fail("%s sets something: %r (every setting must be commented out)" % (path, line))
            elif re.match(r"#\w+=", line):
                key, _, value = line[1:].partition("=")
                seen[key] = (section, value)
        for section, key, default in self.config_keys():
            self.assertIn(key, seen, "%s misses %s=" % (path, key))
            self.assertEqual(seen[key], (section, default), "%s=: wrong section or default" % key)

    def test_profd_accepts_the_settings_file_uncommented(self):
        with open(self.installed("sysconfdir", "profd/profd.conf")) as f:
            text = f.read()
        uncommented = os.path.join(DESTDIR, "uncommented.conf")
        with open(uncommented, "w") as f:
            f.write(re.sub(r"^#(\w+=)", r"\1", text, flags=re.M))
        broken = os.path.join(DESTDIR, "broken.conf")
        with open(broken, "w") as f:
            f.write(text + "\n[Limits]\nNoSuchKey=1\n")
        # profd reads its settings first; then it fails to listen in a directory that does not exist.
        profd = os.path.join(BUILD, "daemon", "profd")
        listen = "--listen=unix:path=" + os.path.join(DESTDIR, "no-such-dir", "socket")
        bad = subprocess.run([profd, "--config=" + broken, listen], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("broken.conf", bad.stderr)
        good = subprocess.run([profd, "--config=" + uncommented, listen], capture_output=True, text=True,
                              timeout=30)
        self.assertNotEqual(good.returncode, 0, "profd should have failed to listen")
        self.assertNotIn("uncommented.conf", good.stderr, "profd rejected its own sample settings")

    def test_rpm_spec_lists_the_same_files(self):
        # %{_unitdir} and friends mean the same directories as meson's options.
        macros = {
            "_bindir": "bindir", "_libexecdir": "libexecdir", "_datadir": "datadir", "_mandir": "mandir",
            "_sysconfdir": "sysconfdir", "_unitdir": "systemdsystemunitdir",
            "_userunitdir": "systemduserunitdir", "_tmpfilesdir": "tmpfilesdir",
            "_dbus_system_services_dir": "dbussystemservicedir", "_dbus_services_dir": "dbussessionservicedir",
            "_dbus_interfaces_dir": "dbusinterfacesdir", "_dbus_policy_dir": "dbuspolicydir",
        }
        with open(os.path.join(SRC, "packaging", "rpm", "profd.spec")) as f:
            spec = f.read()
        files_section = spec.split("\n%files", 1)[1].split("\n%changelog", 1)[0]
        listed = set()
        for line in files_section.splitlines()[1:]:
            line = re.sub(r"^%(config\(noreplace\)|doc|license|ghost|attr\([^)]*\))\s+", "", line.strip())
            if not line or line.startswith(("#", "%dir")) or not line.startswith("%{"):
                continue
            m = re.match(r"%\{(\w+)\}/(.*)$", line)
            self.assertTrue(m and m.group(1) in macros, "cannot read %r in the spec's %%files" % line)
            name = m.group(2)
            if name.endswith("*"):  # man pages: rpm compresses them
                name = name[:-1]
            listed.add((macros[m.group(1)], name))
        installed = set(expected_files(self.dirs))
        self.assertEqual(sorted(installed - listed), [], "installed by meson, missing in the spec's %files")
        self.assertEqual(sorted(listed - installed), [], "in the spec's %files, not installed by meson")


if __name__ == "__main__":
    unittest.main(verbosity=2)
