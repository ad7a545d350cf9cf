# SPDX-License-Identifier: LGPL-2.1-or-later
"""A stand-in for a profiler or a program under test, for the teardown tests: it logs its start and
the SIGTERM it gets, with a monotonic timestamp, to LOG, then exits 0 on SIGTERM.

usage: logger.py NAME LOG"""
import signal
import sys
import time

name, log = sys.argv[1], sys.argv[2]


def say(what):
    with open(log, "a") as f:
        f.write("%s %s %.6f\n" % (name, what, time.monotonic()))


def term(*_):
    say("TERM")
    sys.exit(0)


signal.signal(signal.SIGTERM, term)
say("START")
while True:
    time.sleep(1)
