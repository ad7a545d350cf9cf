#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The documentation (docs/*.toml, from which docs/gen-docs.py makes the man pages and the --help
texts) says what the code does, and nothing it does not:

- every option profd, profd run, profctl and each profctl verb accept is documented for that
  command, with the right kind of argument, and every documented one is accepted. The candidates
  are read from the getopt tables of daemon/ and client/; which command takes which is asked of the
  programs themselves (getopt names the option it matched in its complaints), so nothing here
  needs to know which function parses what;
- every verb in profctl's verb table has its help and man page entry, and no other verb has;
- `--help` prints exactly the generated text (the help() functions print the generated header);
- spec and supporter keys (common/spec-bus.c), settings (daemon/conf.c, with the sample's
  defaults in units/profd.conf), error names (common/bus-errors.[ch] and every error the daemon
  sets), methods, properties and signals (`profd --bus-introspect`), Status keys
  (daemon/session-bus.c), states, results and stop causes (daemon/session.c) are all in
  org.profd.Profd1(5) or profd.conf(5), with their types, and the pages document nothing else;
- the generated man pages are clean for man(1) (no groff warnings; lintian runs the same check).

Each failure says what is missing where. Runs in the unit suite: no bus, no daemon, no fork of
anything but the built programs printing their help or refusing an option."""

import concurrent.futures
import importlib.util
import os
import re
import shutil
import subprocess
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
DOCS = os.path.join(SRC, "docs")
BUILD = os.path.join(SRC, "build")
PROFD = os.environ.get("PROFD") or os.path.join(BUILD, "daemon", "profd")
PROFCTL = os.environ.get("PROFCTL") or os.path.join(BUILD, "client", "profctl")

_spec = importlib.util.spec_from_file_location("gen_docs", os.path.join(DOCS, "gen-docs.py"))
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)

# No probe may reach a bus, whatever goes wrong: these point nowhere.
PROBE_ENV = dict(os.environ, LC_ALL="C", LANG="C", NO_COLOR="1",
                 DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/profd-test-docs",
                 DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent/profd-test-docs")


def read(*path):
    with open(os.path.join(SRC, *path)) as f:
        return f.read()


def strip_comments(text):
    """C without its comments (they hold examples that are not code)."""
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)


def c_sources(directory):
    d = os.path.join(SRC, directory)
    return {name: strip_comments(read(directory, name)) for name in sorted(os.listdir(d)) if name.endswith(".c")}


def c_block(text, start_pattern, what):
    """The text from a match of `start_pattern` to the end of its braces: a table or a function."""
    m = re.search(start_pattern, text, re.M)
    if not m:
        raise AssertionError("cannot find %s: this test reads the code and must be told where it went" % what)
    i = text.index("{", m.end() - 1)
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j + 1]
    raise AssertionError("unbalanced braces after %s" % what)


def string_table(text, name):
    """The strings of `static const char * const NAME[...] = { [X] = "...", }`."""
    return re.findall(r'\]\s*=\s*"([^"]*)"', c_block(text, r"\b%s\s*\[[^]]*\]\s*=\s*\{" % re.escape(name), name))


DOCS_CACHE = {}


def doc(page):
    if page not in DOCS_CACHE:
        DOCS_CACHE[page] = gen.load(os.path.join(DOCS, page + ".toml"))
    return DOCS_CACHE[page]


def need(path):
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest("%s is not built (run through meson test)" % path)


# ------------------------------------------------------------------------------------------------
# Options: candidates from the getopt tables, acceptance from the programs

OPTION_ENTRY = re.compile(r'\{\s*"([\w-]+)"\s*,\s*(no_argument|required_argument|optional_argument)\s*,'
                          r'\s*(?:NULL|0)\s*,\s*(\'.\'|\w+)\s*\}')
SHORTOPTS = re.compile(r'(?:getopt_long\s*\([^,]+,[^,]+,|verb_parse_options\s*\([^,]+,[^,]+,|'
                       r'#define\s+\w*SHORTOPTS)\s*"\+?([A-Za-z:]*)"')
KIND = {"no_argument": "no", "required_argument": "required", "optional_argument": "optional"}


def option_candidates(directory):
    """{long name: kind} and {short letter: kind} of every getopt table and short option string of a
    program's sources. A name with two kinds in one program cannot be probed safely: it fails."""
    longs, shorts = {}, {}

    def put(table, key, kind):
        if table.setdefault(key, kind) != kind:
            raise AssertionError("%s/: option %r is %s in one table and %s in another" %
                                 (directory, key, table[key], kind))

    for name, text in c_sources(directory).items():
        for long, has_arg, val in OPTION_ENTRY.findall(text):
            put(longs, long, KIND[has_arg])
            if val.startswith("'"):
                put(shorts, val[1], KIND[has_arg])
        for spec in SHORTOPTS.findall(text):
            for m in re.finditer(r"([A-Za-z])(::?)?", spec):
                put(shorts, m.group(1), {None: "no", ":": "required", "::": "optional"}[m.group(2)])
    return longs, shorts


GETOPT_UNRECOGNIZED = re.compile(r"unrecognized option|invalid option|is ambiguous")
GETOPT_MATCHED = re.compile(r"option '--([\w-]+)' (?:doesn't allow an argument|requires an argument)")


def accepts(argv, probe, name=None, strict=False):
    """Whether the program takes the option in `probe`. getopt names what it did not recognize, and
    the full name of what it matched when it complains about the argument: the option is taken
    only if that is `name` itself, not a longer option that `name` abbreviates. `strict`: getopt
    must complain about `name` for it to count (the probe gives it a wrong argument)."""
    try:
        p = subprocess.run(argv + probe, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           env=PROBE_ENV, timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError("%s did not return: it must stop at an option error or at --help" % " ".join(argv + probe))
    if GETOPT_UNRECOGNIZED.search(p.stderr):
        return False
    m = GETOPT_MATCHED.search(p.stderr)
    if m:
        return name is None or m.group(1) == name
    # No complaint of getopt's: the option took its value (and the program printed its help, or
    # refused the value).
    return not strict


def probe_long(argv, name, kind, longs):
    if kind == "no":
        # "option '--NAME' doesn't allow an argument" if NAME is taken. An abbreviation of a longer
        # option is named as that one, or takes x without complaint: not NAME either way.
        return accepts(argv, ["--%s=x" % name, "--help"], name, strict=True)
    longer = [o for o in longs if o != name and o.startswith(name)]
    if kind == "required" and all(longs[o] == "required" for o in longer):
        # Last, without its value: "option '--NAME' requires an argument", and nothing runs.
        return accepts(argv, ["--" + name], name, strict=True)
    # An optional argument, or a name that abbreviates an option without one (which the bare form
    # would run the command with): its value, then --help.
    return accepts(argv, ["--%s=x" % name, "--help"], name)


def probe_short(argv, letter, kind):
    if kind == "no":
        return accepts(argv, ["-" + letter, "--help"])
    return accepts(argv, ["-" + letter])  # last, without its value: nothing runs


def accepted_options(argv, longs, shorts):
    """{('-x' or '--name')} that the command takes, probed concurrently."""
    jobs = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for name, kind in longs.items():
            jobs[pool.submit(probe_long, argv, name, kind, longs)] = "--" + name
        for letter, kind in shorts.items():
            jobs[pool.submit(probe_short, argv, letter, kind)] = "-" + letter
        return {jobs[f] for f in concurrent.futures.as_completed(jobs) if f.result()}


def documented_flags(page, command):
    flags = {}
    for short, long, kind in gen.documented_options(doc(page), command):
        if short:
            flags["-" + short] = kind
        if long:
            flags["--" + long] = kind
    return flags


class OptionsTest(unittest.TestCase):
    maxDiff = None

    def check_command(self, page, command, argv, directory):
        longs, shorts = option_candidates(directory)
        accepted = accepted_options(argv, longs, shorts)
        documented = documented_flags(page, command)
        where = "docs/%s.toml, %r" % (page, command)
        self.assertEqual(sorted(accepted - set(documented)), [],
                         "%s accepts these options, but %s does not document them" % (" ".join(argv), where))
        self.assertEqual(sorted(set(documented) - accepted), [],
                         "%s documents these options, but %s does not accept them" % (where, " ".join(argv)))
        for flag, kind in documented.items():
            table = longs if flag.startswith("--") else shorts
            self.assertEqual(kind, table.get(flag.lstrip("-")),
                             "%s: %s takes %s argument in the code" % (where, flag,
                                                                       {"no": "no", "required": "an",
                                                                        "optional": "an optional"}
                                                                       .get(table.get(flag.lstrip("-")), "no")))

    def test_profd(self):
        need(PROFD)
        self.check_command("profd.8", "profd", [PROFD], "daemon")

    def test_profd_run(self):
        need(PROFD)
        self.check_command("profd.8", "profd run", [PROFD, "run"], "daemon")

    def test_profctl(self):
        need(PROFCTL)
        self.check_command("profctl.1", "profctl", [PROFCTL], "client")

    def test_profctl_verbs(self):
        need(PROFCTL)
        for command in doc("profctl.1")["commands"]:
            if command == "profctl":
                continue
            with self.subTest(command=command):
                verb = command.split()[-1]
                if verb not in profctl_verbs():
                    self.skipTest("profctl has no verb %r (see test_verbs)" % verb)
                self.check_command("profctl.1", command, [PROFCTL, verb], "client")


def profctl_verbs():
    table = c_block(strip_comments(read("client", "profctl.c")), r"\bVerb\s+verbs\s*\[\s*\]\s*=\s*\{", "profctl's verbs[]")
    return set(re.findall(r'\{\s*"([\w-]+)"\s*,\s*\w+\s*\}', table))


class HelpTest(unittest.TestCase):
    maxDiff = None

    def test_verbs(self):
        documented = set()
        for command, c in doc("profctl.1")["commands"].items():
            if command != "profctl":
                documented |= {command.split()[-1]} | set(c.get("aliases", []))
        verbs = profctl_verbs()
        self.assertEqual(sorted(verbs - documented), [],
                         "profctl's verbs[] (client/profctl.c) has verbs that docs/profctl.1.toml does not document")
        self.assertEqual(sorted(documented - verbs), [],
                         "docs/profctl.1.toml documents verbs that profctl's verbs[] (client/profctl.c) does not have")

    def check_help(self, page, command, argv):
        d = doc(page)
        p = subprocess.run(argv + ["--help"], capture_output=True, text=True, env=PROBE_ENV, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, gen.render_help(d, command, gen.program_of(d)),
                         "'%s --help' is not the text of docs/%s.toml: does its help() print "
                         "print_help_%s()?" % (" ".join(argv), page, gen.c_identifier(command)))

    def test_profd_help(self):
        need(PROFD)
        self.check_help("profd.8", "profd", [PROFD])
        self.check_help("profd.8", "profd run", [PROFD, "run"])

    def test_profctl_help(self):
        need(PROFCTL)
        self.check_help("profctl.1", "profctl", [PROFCTL])
        verbs = profctl_verbs()
        for command in doc("profctl.1")["commands"]:
            verb = command.split()[-1]
            if command != "profctl" and verb in verbs:
                with self.subTest(command=command):
                    self.check_help("profctl.1", command, [PROFCTL, verb])


# ------------------------------------------------------------------------------------------------
# The D-Bus API and the settings


def rows(page, table, key="name"):
    return {r[key]: r for r in doc(page).get(table, [])}


def assert_same(test, code, documented, what, code_where, doc_where):
    code, documented = set(code), set(documented)
    test.assertEqual(sorted(code - documented), [], "%s in %s, but not in %s" % (what, code_where, doc_where))
    test.assertEqual(sorted(documented - code), [], "%s in %s, but not in %s" % (what, doc_where, code_where))


DBUS_PAGE = "org.profd.Profd1.5"
DBUS_SOURCE = "docs/org.profd.Profd1.5.toml"


class SpecTest(unittest.TestCase):
    def keys(self, table_name):
        text = strip_comments(read("common", "spec-bus.c"))
        table = c_block(text, r"\b%s\s*\[[^]]*\]\s*=\s*\{" % table_name, "%s[] in common/spec-bus.c" % table_name)
        return set(re.findall(r'\{\s*"(\w+)"\s*,\s*"([^"]+)"\s*\}', table))

    def test_spec_keys(self):
        documented = {(r["name"], r["type"]) for r in doc(DBUS_PAGE)["spec_key"]}
        assert_same(self, self.keys("session_keys"), documented, "spec keys (name, type)",
                    "common/spec-bus.c session_keys[]", DBUS_SOURCE + " [[spec_key]]")

    def test_supporter_keys(self):
        documented = {(r["name"], r["type"]) for r in doc(DBUS_PAGE)["supporter_key"]}
        assert_same(self, self.keys("supporter_keys"), documented, "supporter keys (name, type)",
                    "common/spec-bus.c supporter_keys[]", DBUS_SOURCE + " [[supporter_key]]")


class StatusTest(unittest.TestCase):
    def test_status_keys(self):
        """Every key the Status dictionary (and its ProcessDetails) can have, with its type."""
        text = strip_comments(read("daemon", "session-bus.c"))
        body = c_block(text, r"^\w[\w \t*]*\b\w*append_status\s*\([^)]*\)\s*\{", "the function that appends "
                       "the Status dictionary (*append_status) in daemon/session-bus.c")
        found = set(re.findall(r'"([A-Z]\w*)"\s*,\s*"([a-z{}()]+)"', body))
        for fn, sig in (("append_string_entry", "s"), ("append_strv_entry", "as")):
            for m in re.finditer(r"\b%s\s*\(\s*\w+\s*,\s*([^,]+)," % fn, body):
                found |= {(key, sig) for key in re.findall(r'"([A-Z]\w*)"', m.group(1))}
        typed = {key for key, _ in found}
        untyped = set(re.findall(r'"([A-Z]\w*)"', body)) - typed
        self.assertEqual(sorted(untyped), [], "keys in daemon/session-bus.c's Status whose type this test "
                                              "cannot tell: teach it the way they are appended")
        d = doc(DBUS_PAGE)
        documented = {(r["name"], r["type"]) for r in d["status_key"] + d["process_key"]}
        assert_same(self, found, documented, "Status keys (name, type)", "daemon/session-bus.c",
                    DBUS_SOURCE + " [[status_key]] and [[process_key]]")

    def test_states_results_causes(self):
        text = strip_comments(read("daemon", "session.c"))
        d = doc(DBUS_PAGE)
        for table, kind, drop in (("session_state_table", "state", set()),
                                  ("session_result_table", "result", {""}),       # empty: not finished
                                  ("stop_cause_table", "stop_cause", {"none"}),   # empty on the bus
                                  ("process_state_table", "process_state", set())):
            with self.subTest(table=table):
                assert_same(self, set(string_table(text, table)) - drop, {r["name"] for r in d[kind]},
                            "%s values" % kind, "daemon/session.c %s[]" % table, DBUS_SOURCE + " [[%s]]" % kind)


class ErrorsTest(unittest.TestCase):
    def test_error_names(self):
        header = strip_comments(read("common", "bus-errors.h"))
        names = dict(re.findall(r'#define\s+(PROFD_ERROR_\w+)\s+"([^"]+)"', header))
        mapped = re.findall(r"SD_BUS_ERROR_MAP\(\s*(PROFD_ERROR_\w+)", strip_comments(read("common", "bus-errors.c")))
        self.assertTrue(mapped, "no SD_BUS_ERROR_MAP() in common/bus-errors.c")
        self.assertEqual(sorted(set(mapped) - set(names)), [], "mapped in common/bus-errors.c, not defined in "
                                                               "common/bus-errors.h")
        # Every name there is: those mapped to an errno, and any defined but not (yet) mapped.
        code = set(names.values())
        documented = {n for n in rows(DBUS_PAGE, "error") if n.startswith("org.profd.")}
        assert_same(self, code, documented, "error names", "common/bus-errors.[ch]", DBUS_SOURCE + " [[error]]")

    def test_errors_the_daemon_sets(self):
        """Every error name a daemon source sets or replies with is documented."""
        header = strip_comments(read("common", "bus-errors.h"))
        names = dict(re.findall(r'#define\s+(PROFD_ERROR_\w+)\s+"([^"]+)"', header))
        used = set()
        for directory, files in (("daemon", None), ("common", ("spec-bus.c",))):
            for name, text in c_sources(directory).items():
                if files and name not in files:
                    continue
                for m in re.finditer(r"sd_bus_(?:error_setf?v?|reply_method_errorf?)\s*\(\s*[^,]+,\s*"
                                     r"(SD_BUS_ERROR_[A-Z_]+|PROFD_ERROR_[A-Z_]+)", text):
                    c = m.group(1)
                    if c.startswith("PROFD_"):
                        used.add(names[c])
                    else:  # SD_BUS_ERROR_ACCESS_DENIED: org.freedesktop.DBus.Error.AccessDenied
                        used.add("org.freedesktop.DBus.Error." +
                                 "".join(w.capitalize() for w in c[len("SD_BUS_ERROR_"):].split("_")))
        self.assertGreater(len(used), 3)
        self.assertEqual(sorted(used - set(rows(DBUS_PAGE, "error"))), [],
                         "errors the daemon returns, missing in %s [[error]]" % DBUS_SOURCE)


class IntrospectionTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        need(PROFD)
        xml = subprocess.run([PROFD, "--bus-introspect"], check=True, capture_output=True, text=True,
                             env=PROBE_ENV, timeout=30).stdout
        cls.interfaces = {i.get("name"): i for i in ET.fromstring(xml.split("\n", 2)[2]).findall("interface")}

    def served(self, element):
        out = set()
        for iface, node in self.interfaces.items():
            for m in node.findall(element):
                if element == "property":
                    ann = {a.get("name"): a.get("value") for a in m.findall("annotation")}
                    changes = {"const": "const", "invalidates": "invalidates", "false": "false"}.get(
                        ann.get("org.freedesktop.DBus.Property.EmitsChangedSignal"), "emits-change")
                    out.add((iface, m.get("name"), m.get("type"), changes))
                else:
                    args = tuple((a.get("direction", "out" if element == "signal" else "in"), a.get("type"),
                                  a.get("name")) for a in m.findall("arg"))
                    out.add((iface, m.get("name"), args))
        return out

    def test_methods(self):
        documented = {(r["interface"], r["name"],
                       tuple(("in",) + tuple(a.split(None, 1)) for a in r.get("in", [])) +
                       tuple(("out",) + tuple(a.split(None, 1)) for a in r.get("out", [])))
                      for r in doc(DBUS_PAGE)["method"]}
        assert_same(self, self.served("method"), documented, "methods (interface, name, arguments)",
                    "profd --bus-introspect", DBUS_SOURCE + " [[method]]")

    def test_signals(self):
        documented = {(r["interface"], r["name"], tuple(("out",) + tuple(a.split(None, 1)) for a in r.get("args", [])))
                      for r in doc(DBUS_PAGE)["signal"]}
        assert_same(self, self.served("signal"), documented, "signals (interface, name, arguments)",
                    "profd --bus-introspect", DBUS_SOURCE + " [[signal]]")

    def test_properties(self):
        documented = {(r["interface"], r["name"], r["type"], r.get("changes", "emits-change"))
                      for r in doc(DBUS_PAGE)["property"]}
        assert_same(self, self.served("property"), documented, "properties (interface, name, type, changes)",
                    "profd --bus-introspect", DBUS_SOURCE + " [[property]]")


class SettingsTest(unittest.TestCase):
    def test_settings(self):
        code = set(re.findall(r'CONFIG_ITEM\(\s*"(\w+)"\s*,\s*"(\w+)"', strip_comments(read("daemon", "conf.c"))))
        self.assertTrue(code, "no CONFIG_ITEM() in daemon/conf.c")
        documented = {(r["section"], r["key"]) for r in doc("profd.conf.5")["setting"]}
        assert_same(self, code, documented, "settings (section, key)", "daemon/conf.c",
                    "docs/profd.conf.5.toml [[setting]]")

    def test_config_path(self):
        path = re.search(r'#define\s+PROFD_CONFIG_FILE\s+"([^"]+)"', read("daemon", "conf.h")).group(1)
        config = [o for o in doc("profd.8")["options"]["daemon"] if o.get("long") == "config"]
        self.assertEqual(len(config), 1, "docs/profd.8.toml documents no --config")
        self.assertIn("(default: %s)" % path, config[0]["help"], "--config's default is daemon/conf.h's PROFD_CONFIG_FILE")
        self.assertEqual(doc("profd.conf.5")["page"]["synopsis"], [path])

    def test_defaults_match_the_sample(self):
        sample, section = {}, None
        for line in read("units", "profd.conf").splitlines():
            if line.startswith("["):
                section = line.strip("[]")
            m = re.match(r"#(\w+)=(.*)$", line)
            if m:
                sample[(section, m.group(1))] = m.group(2)
        for r in doc("profd.conf.5")["setting"]:
            key = (r["section"], r["key"])
            if "default" in r and key in sample:
                self.assertEqual(r["default"], sample[key],
                                 "%s=: docs/profd.conf.5.toml and units/profd.conf give different defaults" % r["key"])
            self.assertTrue("default" in r or "default_text" in r, "%s=: no default documented" % r["key"])


# ------------------------------------------------------------------------------------------------


class ManPagesTest(unittest.TestCase):
    def test_sources_load_and_pages_are_clean(self):
        """What lintian checks (man --warnings), on every page as meson generates it."""
        man = shutil.which("man")
        for name in sorted(os.listdir(DOCS)):
            if not name.endswith(".toml"):
                continue
            with self.subTest(page=name):
                text = gen.render_man(gen.load(os.path.join(DOCS, name)), "0")
                self.assertNotIn("@PROGRAM@", text)
                if not man:
                    continue
                p = subprocess.run([man, "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", "-"], input=text,
                                   capture_output=True, text=True, env=dict(PROBE_ENV, MANWIDTH="80"), timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stderr, "", "man --warnings on the page from docs/%s" % name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
