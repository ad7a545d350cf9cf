#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The committed interface description (dbus-policy/org.profd.Profd1.xml) is what profd serves:
`profd --bus-introspect` must print it byte for byte, and every argument must have a name, since
IDE plugins generate their bindings from it."""

import os
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
PROFD = os.path.abspath(os.environ.get("PROFD") or os.path.join(HERE, "..", "..", "build", "daemon", "profd"))
XML = os.path.join(HERE, "..", "..", "dbus-policy", "org.profd.Profd1.xml")


class IntrospectionTest(unittest.TestCase):
    def setUp(self):
        self.served = subprocess.run([PROFD, "--bus-introspect"], check=True, capture_output=True, text=True).stdout
        with open(XML) as f:
            self.committed = f.read()

    def test_committed_xml_matches_the_daemon(self):
        self.assertEqual(self.committed, self.served,
                         "regenerate with: profd --bus-introspect > dbus-policy/org.profd.Profd1.xml")

    def test_every_argument_is_named(self):
        root = ET.fromstring(self.served.split("\n", 2)[2])
        interfaces = {i.get("name"): i for i in root.findall("interface")}
        self.assertEqual(sorted(interfaces), ["org.profd.Profd1.Manager", "org.profd.Profd1.Session"])
        for iface in interfaces.values():
            for member in iface.findall("method") + iface.findall("signal"):
                for arg in member.findall("arg"):
                    self.assertTrue(arg.get("name"), "%s.%s has an unnamed argument" % (iface.get("name"),
                                                                                       member.get("name")))
        methods = {m.get("name") for m in interfaces["org.profd.Profd1.Manager"].findall("method")}
        self.assertEqual(methods, {"StartSession", "Stop", "Status", "ListSessions", "Kill", "Pause", "Resume",
                                   "AddSupporter", "Forget", "ListRecords"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
