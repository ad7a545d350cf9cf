#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Integration tests for `profd run`: real processes, observed from outside.

    PROFD=build/daemon/profd tests/integration/test_run.py [-v] [TestCase[.test_name] ...]

PROFD is the profd binary (default: ../../build/daemon/profd next to this file).
PROFD_AS_PID1=1 runs every profd as PID 1 of a new PID namespace:
`unshare --pid --fork --mount-proc profd run ...` (needs root).

Scratch files go to a directory under $TEST_TMPDIR, $MESON_BUILD_ROOT or this
file's directory, never /tmp. The test process makes itself a child subreaper,
so whatever a session leaves behind comes back to it: it is detected (a
failure), killed and reaped after every test.
"""

import ctypes
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROFD = os.path.abspath(os.environ.get('PROFD') or os.path.join(HERE, '..', '..', 'build', 'daemon', 'profd'))
AS_PID1 = os.environ.get('PROFD_AS_PID1', '') not in ('', '0')
PY = sys.executable
HANG_TIMEOUT = 30          # seconds: "did not hang", never a performance assertion
WAIT_TIMEOUT = 15          # seconds to wait for something a helper process logs

PR_SET_CHILD_SUBREAPER = 36


def set_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), 'prctl(PR_SET_CHILD_SUBREAPER)')


def profd_command(args):
    cmd = [PROFD, 'run'] + list(args)
    if AS_PID1:
        return ['unshare', '--pid', '--fork', '--mount-proc'] + cmd
    return cmd


def scratch_base():
    return os.environ.get('TEST_TMPDIR') or os.environ.get('MESON_BUILD_ROOT') or HERE


# --- /proc helpers ------------------------------------------------------------------------------

def proc_table():
    """pid -> (state, ppid, pgid, comm) of every process visible in /proc."""
    table = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                stat = f.read()
        except OSError:
            continue
        rp = stat.rindex(')')
        comm = stat[stat.index('(') + 1:rp]
        fields = stat[rp + 2:].split()
        table[int(d)] = (fields[0], int(fields[1]), int(fields[2]), comm)
    return table


def descendants(root):
    """Every process below `root` (pid -> (state, ppid, pgid, comm))."""
    table = proc_table()
    children = {}
    for pid, (_, ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = {}, list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid in out or pid not in table:
            continue
        out[pid] = table[pid]
        todo.extend(children.get(pid, []))
    return out


def children_of(pid):
    try:
        with open('/proc/%d/task/%d/children' % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def reap_all_children():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def same_file(a, b):
    sa, sb = os.stat(a), os.stat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


# --- helper programs, written to the scratch directory ---------------------------------------------

# A process that logs what happens to it: "NAME EVENT MONOTONIC PID [EXTRA]" per line.
ACTOR = r'''
import os, signal, sys, time
name, log = sys.argv[1], sys.argv[2]
opts = dict((a[2:].split('=', 1) + [''])[:2] for a in sys.argv[3:])

def emit(what, extra=''):
    line = '%s %s %.6f %d %s\n' % (name, what, time.monotonic(), os.getpid(), extra)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, line.encode())
    os.close(fd)

def started():
    try:
        with open(log) as f:
            return set(l.split()[0] for l in f if len(l.split()) > 1 and l.split()[1] == 'START')
    except OSError:
        return set()

def watched_state():
    # The state of the process whose pid is in --watch's file: gone, or its /proc state letter.
    try:
        with open(opts['watch']) as f:
            pid = int(f.read())
        with open('/proc/%d/stat' % pid) as f:
            return 'watched=' + f.read().rsplit(')', 1)[1].split()[0]
    except FileNotFoundError:
        return 'watched=gone'
    except (OSError, ValueError) as e:
        return 'watched=error:%s' % type(e).__name__

def on_term(sig, frame):
    emit('TERM', watched_state() if 'watch' in opts else '')
    mode = opts.get('on-term', 'exit:0')
    if mode == 'ignore':
        return
    time.sleep(float(opts.get('linger', '0')))
    emit('EXIT')
    os._exit(int(mode.split(':')[1]))

trapped = 0
def on_trap(sig, frame):
    global trapped
    trapped += 1
    emit(signal.Signals(sig).name)

signal.signal(signal.SIGTERM, on_term)
for s in filter(None, opts.get('trap', '').split(',')):
    signal.signal(getattr(signal, 'SIG' + s), on_trap)
if 'pidfile' in opts:
    with open(opts['pidfile'] + '.tmp', 'w') as f:
        f.write(str(os.getpid()))
    os.rename(opts['pidfile'] + '.tmp', opts['pidfile'])
emit('START')

deadline = time.monotonic() + float(opts.get('after', '3600'))
until = set(filter(None, opts.get('until', '').split(',')))
count = int(opts.get('count', '0'))
while time.monotonic() < deadline:
    if until and until <= started():
        break
    if count and trapped >= count:
        break
    time.sleep(0.01)
emit('EXIT')
os._exit(int(opts.get('code', '0')))
'''

# A process's view of its own set-up, as JSON into argv[1]; with --wait=FILE it first waits for
# FILE, with --stay it waits for SIGTERM afterwards. (Not its signal state: Python ignores SIGPIPE
# and SIGXFSZ itself at start-up.)
HYGIENE = r'''
import json, os, sys, time
for a in sys.argv[2:]:
    if a.startswith('--wait='):
        while not os.path.exists(a[7:]):
            time.sleep(0.01)
def open_fds():
    fds = []
    for name in os.listdir('/proc/self/fd'):
        fd = int(name)
        try:
            os.fstat(fd)
        except OSError:
            continue            # the directory listdir() read, closed by now
        try:
            target = os.readlink('/proc/self/fd/%d' % fd)
        except OSError:
            target = '?'
        fds.append((fd, target))
    return sorted(fds)
report = {
    'pid': os.getpid(), 'ppid': os.getppid(), 'pgid': os.getpgid(0), 'sid': os.getsid(0),
    'cwd': os.getcwd(), 'fds': open_fds(),
    'env': os.environ.get('PROFD_TEST_ENV'),
}
with open(sys.argv[1] + '.tmp', 'w') as f:
    json.dump(report, f)
os.rename(sys.argv[1] + '.tmp', sys.argv[1])
if '--stay' in sys.argv:
    time.sleep(3600)
'''

# Makes orphans that exit, and checks that they were re-parented to profd and reaped by it.
ORPHANS = r'''
import json, os, sys, time
N = 5
profd = os.getppid()
orphans = []
for i in range(N):
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(r)
        middle = os.getpid()
        if os.fork() == 0:
            end = time.monotonic() + 10
            while os.getppid() == middle and time.monotonic() < end:
                time.sleep(0.001)
            os.write(w, b'%d %d\n' % (os.getpid(), os.getppid()))
            os._exit(0)                  # an orphan's exit: someone must reap it
        os._exit(0)
    os.close(w)
    os.waitpid(middle, 0)
    with os.fdopen(r) as f:
        pid, new_parent = map(int, f.read().split())
    orphans.append({'pid': pid, 'new_parent': new_parent})

def state(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0]
    except FileNotFoundError:
        return 'gone'

end = time.monotonic() + 10
while time.monotonic() < end and any(state(o['pid']) != 'gone' for o in orphans):
    time.sleep(0.01)
for o in orphans:
    o['state'] = state(o['pid'])
zombies = [pid for pid in map(int, filter(str.isdigit, os.listdir('/proc'))) if state(pid) == 'Z']
with open(sys.argv[1], 'w') as f:
    json.dump({'profd': profd, 'orphans': orphans, 'zombies': zombies}, f)
'''

# Lists the processes that share the target's parent (profd): what the target's first instruction sees.
SIBLINGS = r'''
import json, os, sys
me, parent = os.getpid(), os.getppid()
out = []
for d in filter(str.isdigit, os.listdir('/proc')):
    pid = int(d)
    try:
        with open('/proc/%d/stat' % pid) as f:
            stat = f.read()
    except OSError:
        continue                        # gone meanwhile: not one of ours
    ppid = int(stat.rsplit(')', 1)[1].split()[1])
    if ppid != parent or pid == me:
        continue
    try:
        exe = os.readlink('/proc/%d/exe' % pid)
    except OSError as e:
        exe = 'error:%s' % e
    out.append({'pid': pid, 'exe': exe})
with open(sys.argv[1], 'w') as f:
    json.dump(out, f)
'''

# A notify supporter that speaks the protocol itself: waits, leaves a marker, sends READY=1.
NOTIFY = r'''
import os, socket, sys, time
marker, envfile = sys.argv[1], sys.argv[2]
addr = os.environ.get('NOTIFY_SOCKET', '')
with open(envfile, 'w') as f:
    f.write(addr)
time.sleep(0.3)
open(marker, 'w').close()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b'STATUS=almost\nREADY=1\n', '\0' + addr[1:] if addr.startswith('@') else addr)
time.sleep(3600)
'''

# A target that leaves processes behind and exits once they run: argv = ACTOR LOG PREFIX N_GROUP
# N_SETSID [ACTOR OPTIONS]. PREFIX-gI are its children, left in its process group; PREFIX-sI are
# daemon-style double-forked orphans that called setsid(), so in neither its group nor its session.
LEAVER = r'''
import os, sys, time
actor, log, prefix, n_group, n_setsid = sys.argv[1:6]
opts = sys.argv[6:]
names = []
def run_actor(name):
    os.execv(sys.executable, [sys.executable, actor, name, log] + opts)
for i in range(int(n_group)):
    names.append('%s-g%d' % (prefix, i))
    if os.fork() == 0:
        run_actor(names[-1])
for i in range(int(n_setsid)):
    names.append('%s-s%d' % (prefix, i))
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            run_actor(names[-1])
        os._exit(0)
def started():
    try:
        with open(log) as f:
            return set(l.split()[0] for l in f if l.split()[1:2] == ['START'])
    except FileNotFoundError:
        return set()
end = time.monotonic() + 10
while time.monotonic() < end and not set(names) <= started():
    time.sleep(0.01)
'''


class Result:
    def __init__(self, rc, stdout, stderr):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return 'rc=%r\n--- stdout ---\n%s--- stderr ---\n%s' % (self.rc, self.stdout, self.stderr)


class Profd:
    """One `profd run`, started in the background. stdout/stderr go to files, so that a process
    that inherits them and outlives profd cannot make the test wait for EOF."""

    def __init__(self, test, args, cwd=None, env=None, pass_fds=(), preexec_fn=None):
        self.test = test
        n = len(test.profds)
        self.out_path = os.path.join(test.dir, 'profd%d.out' % n)
        self.err_path = os.path.join(test.dir, 'profd%d.err' % n)
        with open(self.out_path, 'wb') as out, open(self.err_path, 'wb') as err:
            self.proc = subprocess.Popen(profd_command(args), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=err, cwd=cwd or test.dir, env=env, pass_fds=pass_fds,
                                         preexec_fn=preexec_fn, start_new_session=True)
        test.profds.append(self)
        self._pid = None

    @property
    def pid(self):
        """profd's pid as seen from here: in PID 1 mode the child of unshare, once it runs profd."""
        if not AS_PID1:
            return self.proc.pid
        if self._pid is None:
            end = time.monotonic() + WAIT_TIMEOUT
            while time.monotonic() < end:
                for child in children_of(self.proc.pid):
                    try:
                        if os.path.samefile('/proc/%d/exe' % child, PROFD):
                            self._pid = child
                    except OSError:
                        pass
                if self._pid or self.proc.poll() is not None:
                    break
                time.sleep(0.005)
            if self._pid is None:
                self.test.fail('profd did not start under unshare: %r' % self.stderr())
        return self._pid

    def kill(self, sig):
        os.kill(self.pid, sig)

    def running(self):
        return self.proc.poll() is None

    def stderr(self):
        with open(self.err_path, errors='replace') as f:
            return f.read()

    def wait(self, timeout=HANG_TIMEOUT):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.test.kill_everything()
            self.test.fail('profd did not exit within %d s (hung)\n--- stderr ---\n%s' % (timeout, self.stderr()))
        with open(self.out_path, errors='replace') as f:
            out = f.read()
        result = Result(rc, out, self.stderr())
        self.test.assert_nothing_left(result)
        return result


LIVE_TESTS = []   # tests between setUp and tearDown: what a SIGTERM to us must clean up


def on_sigterm(sig, frame):
    # meson's timeout, or a user: leave no process and no scratch directory behind.
    for test in list(LIVE_TESTS):
        test.kill_everything()
        shutil.rmtree(test.dir, ignore_errors=True)
    os._exit(128 + sig)


class ProfdTestCase(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not os.access(PROFD, os.X_OK):
            raise RuntimeError('profd binary not found or not executable: %s (set PROFD)' % PROFD)
        if AS_PID1 and (not shutil.which('unshare') or os.geteuid() != 0):
            raise RuntimeError('PROFD_AS_PID1=1 needs unshare(1) and root')

    def setUp(self):
        self.dir = os.path.realpath(tempfile.mkdtemp(prefix='profd-run-test.', dir=scratch_base()))
        self.log = self.path('log')
        self.profds = []
        with open(self.path('actor.py'), 'w') as f:
            f.write(ACTOR)
        LIVE_TESTS.append(self)

    def tearDown(self):
        self.kill_everything()
        shutil.rmtree(self.dir, ignore_errors=True)
        LIVE_TESTS.remove(self)

    def kill_everything(self):
        """Kill every process this test started, directly or not, and reap it."""
        for p in self.profds:
            if p.proc.poll() is None:
                for target in (-p.proc.pid, p.proc.pid):
                    try:
                        os.kill(target, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                p.proc.wait()
        end = time.monotonic() + 10
        while time.monotonic() < end:
            left = descendants(os.getpid())
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            reap_all_children()
            time.sleep(0.02)

    def assert_nothing_left(self, result):
        """After profd exited: nothing it started is alive, and no zombie of it is left unreaped.
        We are a subreaper, so profd's orphans and unreaped zombies would have come to us."""
        left = descendants(os.getpid())
        if left:
            desc = ', '.join('%d %s (state %s, pgid %d)' % (pid, comm, st, pgid)
                             for pid, (st, _, pgid, comm) in sorted(left.items()))
            self.fail('profd exited and left processes behind: %s\n%r' % (desc, result))

    # -- conveniences --

    def path(self, *names):
        return os.path.join(self.dir, *names)

    def start(self, args, **kw):
        return Profd(self, args, **kw)

    def run_profd(self, args, **kw):
        return self.start(args, **kw).wait()

    def actor(self, name, *opts):
        """argv of a logging helper process (see ACTOR)."""
        return [PY, self.path('actor.py'), name, self.log] + ['--' + o for o in opts]

    def sup(self, name, *opts, ready=None):
        """-s option (and --ready) for an actor supporter called `name`."""
        args = ['-s', '%s=%s' % (name, shlex.join(self.actor(name, *opts)))]
        if ready:
            args += ['--ready', ready]
        return args

    def script(self, name, text):
        p = self.path(name)
        with open(p, 'w') as f:
            f.write(text)
        return p

    def read(self, path):
        with open(path) as f:
            return f.read()

    def read_log(self):
        try:
            with open(self.log) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        events = []
        for line in lines:
            parts = line.split()
            events.append({'name': parts[0], 'event': parts[1], 'ts': float(parts[2]),
                           'pid': int(parts[3]), 'extra': parts[4] if len(parts) > 4 else ''})
        return events

    def events(self, name=None, event=None):
        return [e for e in self.read_log()
                if (name is None or e['name'] == name) and (event is None or e['event'] == event)]

    def one(self, name, event):
        found = self.events(name, event)
        self.assertEqual(len(found), 1, 'expected exactly one "%s %s" in the log:\n%s' %
                         (name, event, self.log_text()))
        return found[0]

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except FileNotFoundError:
            return '(no log)\n'

    def wait_for(self, profd, what, check):
        end = time.monotonic() + WAIT_TIMEOUT
        while time.monotonic() < end:
            if check():
                return
            if not profd.running():
                self.fail('profd exited while waiting for %s\n--- log ---\n%s--- stderr ---\n%s' %
                          (what, self.log_text(), profd.stderr()))
            time.sleep(0.01)
        self.fail('timed out waiting for %s\n--- log ---\n%s--- stderr ---\n%s' %
                  (what, self.log_text(), profd.stderr()))

    def wait_started(self, profd, *names):
        self.wait_for(profd, 'START of %s' % ', '.join(names),
                      lambda: all(self.events(n, 'START') for n in names))

    def proc_json(self, doc, name):
        found = [p for p in doc['processes'] if p['name'] == name]
        self.assertEqual(len(found), 1, 'no single process %r in %r' % (name, doc))
        return found[0]


# --- 1. exit statuses --------------------------------------------------------------------------------

class ExitStatusTest(ProfdTestCase):
    def test_success_is_zero(self):
        r = self.run_profd(['--', 'true'])
        self.assertEqual(r.rc, 0, r)

    def test_exit_code_is_passed_on(self):
        r = self.run_profd(['--', 'sh', '-c', 'exit 3'])
        self.assertEqual(r.rc, 3, r)

    def test_killed_by_signal_is_128_plus_n(self):
        for sig, rc in (('USR1', 138), ('KILL', 137), ('SEGV', 139)):
            with self.subTest(signal=sig):
                r = self.run_profd(['--json', '-q', '--', 'sh', '-c', 'kill -%s $$' % sig])
                self.assertEqual(r.rc, rc, r)
                doc = r.json()
                self.assertEqual(doc['result'], 'target-failed', r)
                self.assertEqual(self.proc_json(doc, 'target')['signal'], sig, r)

    def test_missing_target_is_127(self):
        r = self.run_profd(['--', self.path('no-such-program'), 'arg'])
        self.assertEqual(r.rc, 127, r)
        self.assertIn(self.path('no-such-program'), r.stderr)
        self.assertIn('No such file or directory', r.stderr)

    def test_missing_target_in_path_is_127(self):
        r = self.run_profd(['--', 'profd-test-no-such-program-in-path'])
        self.assertEqual(r.rc, 127, r)
        self.assertIn('profd-test-no-such-program-in-path', r.stderr)

    def test_non_executable_target_is_126(self):
        p = self.script('not-executable', '#!/bin/sh\ntouch %s\n' % shlex.quote(self.path('ran')))
        os.chmod(p, 0o644)
        r = self.run_profd(['--', p])
        self.assertEqual(r.rc, 126, r)
        self.assertIn(p, r.stderr)
        self.assertIn('Permission denied', r.stderr)
        self.assertFalse(os.path.exists(self.path('ran')))

    def test_usage_errors_are_2_and_start_nothing(self):
        sup_marker, tgt_marker = self.path('supporter-ran'), self.path('target-ran')
        sup = 'sh -c "touch %s; exec sleep 100"' % sup_marker
        tgt = ['sh', '-c', 'touch %s' % shlex.quote(tgt_marker)]
        cases = {
            'no target': (['-s', sup], 'No target'),
            'nothing after --': (['-s', sup, '--'], 'No target'),
            'bad --ready': (['-s', sup, '--ready', 'sometime', '--'] + tgt, "'sometime'"),
            'bad --ready delay': (['-s', sup, '--ready', 'delay:soon', '--'] + tgt, 'delay:soon'),
            '--ready before any -s': (['--ready', 'notify', '-s', sup, '--'] + tgt, '--ready'),
            '--ready twice': (['-s', sup, '--ready', 'exec', '--ready', 'notify', '--'] + tgt, '--ready'),
            'bad --stop-timeout': (['-s', sup, '--stop-timeout', 'later', '--'] + tgt, "'later'"),
            'zero --stop-timeout': (['-s', sup, '--stop-timeout', '0', '--'] + tgt, '--stop-timeout'),
            'bad --max-duration': (['-s', sup, '--max-duration', '5 parsecs', '--'] + tgt, '--max-duration'),
            'unknown option': (['--frobnicate', '-s', sup, '--'] + tgt, 'frobnicate'),
            'empty supporter': (['-s', '', '--'] + tgt, None),
            'bad supporter name': (['-s', 'target=sleep 100', '--'] + tgt, None),
            'unwritable --json': (['--json=%s' % self.path('no-dir', 'out.json'), '-s', sup, '--'] + tgt,
                                  'no-dir'),
        }
        for what, (args, needle) in cases.items():
            with self.subTest(what):
                r = self.run_profd(args)
                self.assertEqual(r.rc, 2, r)
                self.assertNotEqual(r.stderr.strip(), '', r)
                if needle:
                    self.assertIn(needle, r.stderr)
                self.assertFalse(os.path.exists(sup_marker), 'supporter ran despite a usage error: %r' % r)
                self.assertFalse(os.path.exists(tgt_marker), 'target ran despite a usage error: %r' % r)

    def test_unterminated_quote_marks_the_column(self):
        marker = self.path('target-ran')
        for cmdline in ('perf record -p "{pid}', "strace -f -p {pid} -o 'x"):
            with self.subTest(cmdline):
                r = self.run_profd(['-s', cmdline, '--', 'touch', marker])
                self.assertEqual(r.rc, 2, r)
                self.assertIn('unterminated', r.stderr)
                lines = r.stderr.splitlines()
                echo = [i for i, l in enumerate(lines) if l.strip() == cmdline]
                self.assertTrue(echo and echo[0] + 1 < len(lines), 'command line not echoed: %r' % r)
                line, caret = lines[echo[0]], lines[echo[0] + 1]
                quote = max(cmdline.rfind('"'), cmdline.rfind("'"))
                self.assertEqual(caret.strip(), '^', r)
                self.assertEqual(caret.index('^'), line.index(cmdline) + quote,
                                 'caret does not point at the opening quote:\n%s\n%s' % (line, caret))
                self.assertFalse(os.path.exists(marker))

    def test_help_and_version(self):
        r = self.run_profd(['--help'])
        self.assertEqual(r.rc, 0, r)
        self.assertIn('--supporter', r.stdout)
        r = self.run_profd(['--version'])
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(r.stdout.startswith('profd '), r)


# --- 2. teardown order -------------------------------------------------------------------------------

class TeardownOrderTest(ProfdTestCase):
    def test_target_exits_by_itself(self):
        p = self.start(self.sup('s1', 'linger=0.1') + self.sup('s2', 'linger=0.1') + ['--json', '--'] +
                       self.actor('target', 'until=s1,s2', 'code=0'))
        r = p.wait()
        self.assertEqual(r.rc, 0, r)
        doc = r.json()
        self.assertEqual(doc['result'], 'success', r)
        self.assertEqual(doc['stop_cause'], 'target-exited', r)
        left = self.one('target', 'EXIT')
        for s in ('s1', 's2'):
            term = self.one(s, 'TERM')
            self.assertGreater(term['ts'], left['ts'], 'supporter signalled before the target exited')
            self.one(s, 'EXIT')
        self.assertEqual(self.events('target', 'TERM'), [], 'a target that exited was signalled:\n' + self.log_text())

    def _stop_by_signal(self, sig):
        p = self.start(self.sup('s1', 'linger=0.2') + self.sup('s2', 'linger=0.3') + ['--json', '--'] +
                       self.actor('target', 'on-term=exit:143'))
        self.wait_started(p, 's1', 's2', 'target')
        p.kill(sig)
        r = p.wait()
        self.assertEqual(r.rc, 143, r)
        doc = r.json()
        self.assertEqual(doc['result'], 'stopped', r)
        self.assertEqual(doc['stop_cause'], 'request', r)
        target_term = self.one('target', 'TERM')
        for s in ('s1', 's2'):
            self.assertLess(self.one(s, 'TERM')['ts'], target_term['ts'], self.log_text())
            self.assertLess(self.one(s, 'EXIT')['ts'], target_term['ts'],
                            'target signalled before supporter %s was gone:\n%s' % (s, self.log_text()))
        self.one('target', 'EXIT')

    def test_sigterm_to_profd(self):
        self._stop_by_signal(signal.SIGTERM)

    def test_sigint_to_profd(self):
        self._stop_by_signal(signal.SIGINT)

    def test_sighup_to_profd(self):
        self._stop_by_signal(signal.SIGHUP)

    def test_sigquit_to_profd(self):
        self._stop_by_signal(signal.SIGQUIT)

    def test_supporter_fails_early(self):
        p = self.start(self.sup('quitter', 'until=s2,target', 'code=1') + self.sup('s2', 'linger=0.3') +
                       ['--json', '--'] + self.actor('target', 'on-term=exit:0'))
        r = p.wait()
        self.assertEqual(r.rc, 0, r)
        doc = r.json()
        self.assertEqual(doc['result'], 'supporter-failed', r)
        self.assertEqual(doc['stop_cause'], 'supporter-exited', r)
        quitter = self.proc_json(doc, 'quitter')
        self.assertEqual(quitter['exit_code'], 1, r)
        self.assertTrue(quitter['failed'], r)
        self.assertEqual(self.events('quitter', 'TERM'), [], self.log_text())
        target_term = self.one('target', 'TERM')
        self.assertLess(self.one('quitter', 'EXIT')['ts'], target_term['ts'])
        self.assertLess(self.one('s2', 'TERM')['ts'], target_term['ts'])
        self.assertLess(self.one('s2', 'EXIT')['ts'], target_term['ts'],
                        'target signalled before the other supporter was gone:\n' + self.log_text())

    def test_supporter_exits_zero_early(self):
        p = self.start(self.sup('quitter', 'until=target', 'code=0') + ['--json', '--'] +
                       self.actor('target', 'on-term=exit:0'))
        r = p.wait()
        self.assertEqual(r.rc, 0, r)
        doc = r.json()
        self.assertEqual(doc['stop_cause'], 'supporter-exited', r)
        self.assertEqual(doc['result'], 'success', r)
        self.assertLess(self.one('quitter', 'EXIT')['ts'], self.one('target', 'TERM')['ts'])


# --- 3. escalation to SIGKILL ---------------------------------------------------------------------------

class EscalationTest(ProfdTestCase):
    def test_stubborn_supporter_is_killed_before_target_is_stopped(self):
        pidfile = self.path('stubborn.pid')
        p = self.start(['--stop-timeout', '0.5'] + self.sup('stubborn', 'on-term=ignore', 'pidfile=' + pidfile) +
                       ['--json', '--'] + self.actor('target', 'on-term=exit:0', 'watch=' + pidfile))
        self.wait_started(p, 'stubborn', 'target')
        p.kill(signal.SIGTERM)
        r = p.wait()
        self.assertEqual(r.rc, 0, r)
        doc = r.json()
        self.assertEqual(doc['result'], 'killed', r)
        stubborn = self.proc_json(doc, 'stubborn')
        self.assertEqual(stubborn['signal'], 'KILL', r)
        self.assertTrue(stubborn['killed'], r)
        self.assertFalse(self.proc_json(doc, 'target')['killed'], r)
        sup_term, tgt_term = self.one('stubborn', 'TERM'), self.one('target', 'TERM')
        self.assertEqual(tgt_term['extra'], 'watched=gone',
                         'target got SIGTERM while the stubborn supporter was still there:\n' + self.log_text())
        # The grace was given: the target's SIGTERM came no earlier than --stop-timeout after the
        # supporter's (a lower bound, which no slowness of the machine can break).
        self.assertGreaterEqual(tgt_term['ts'] - sup_term['ts'], 0.45, self.log_text())

    def test_stubborn_target_is_killed(self):
        p = self.start(['--stop-timeout', '0.5', '--json', '--'] + self.actor('target', 'on-term=ignore'))
        self.wait_started(p, 'target')
        p.kill(signal.SIGTERM)
        r = p.wait()
        self.assertEqual(r.rc, 128 + signal.SIGKILL, r)
        doc = r.json()
        self.assertEqual(doc['result'], 'killed', r)
        self.assertTrue(self.proc_json(doc, 'target')['killed'], r)
        self.one('target', 'TERM')

    def test_second_sigterm_kills_the_stage_at_once(self):
        pidfile = self.path('stubborn.pid')
        p = self.start(['--stop-timeout', '60'] + self.sup('stubborn', 'on-term=ignore', 'pidfile=' + pidfile) +
                       ['--json', '--'] + self.actor('target', 'on-term=exit:0', 'watch=' + pidfile))
        self.wait_started(p, 'stubborn', 'target')
        p.kill(signal.SIGTERM)
        self.wait_for(p, 'stubborn TERM', lambda: self.events('stubborn', 'TERM'))
        p.kill(signal.SIGTERM)
        r = p.wait()   # 30 s: far less than the 60 s grace
        self.assertEqual(r.rc, 0, r)
        doc = r.json()
        self.assertEqual(doc['result'], 'killed', r)
        self.assertEqual(self.proc_json(doc, 'stubborn')['signal'], 'KILL', r)
        self.assertEqual(self.one('target', 'TERM')['extra'], 'watched=gone', self.log_text())

    def test_third_signal_kills_a_stubborn_target(self):
        p = self.start(['--stop-timeout', '60'] + self.sup('stubborn', 'on-term=ignore') +
                       ['--json', '--'] + self.actor('target', 'on-term=ignore'))
        self.wait_started(p, 'stubborn', 'target')
        p.kill(signal.SIGTERM)
        self.wait_for(p, 'stubborn TERM', lambda: self.events('stubborn', 'TERM'))
        p.kill(signal.SIGINT)
        self.wait_for(p, 'target TERM', lambda: self.events('target', 'TERM'))
        p.kill(signal.SIGTERM)
        r = p.wait()
        self.assertEqual(r.rc, 128 + signal.SIGKILL, r)
        doc = r.json()
        self.assertEqual(doc['result'], 'killed', r)
        self.assertTrue(self.proc_json(doc, 'target')['killed'], r)
        self.assertTrue(self.proc_json(doc, 'stubborn')['killed'], r)


# --- 4. orphans, zombies, leftovers ------------------------------------------------------------------------

class OrphanTest(ProfdTestCase):
    def test_orphans_are_reparented_to_profd_and_reaped(self):
        report = self.path('orphans.json')
        r = self.run_profd(['--', PY, self.script('orphans.py', ORPHANS), report])
        self.assertEqual(r.rc, 0, r)
        with open(report) as f:
            doc = json.load(f)
        if AS_PID1:
            self.assertEqual(doc['profd'], 1, doc)
        for o in doc['orphans']:
            self.assertEqual(o['new_parent'], doc['profd'], 'orphan not re-parented to profd: %r' % doc)
            self.assertEqual(o['state'], 'gone', 'orphan not reaped by profd: %r' % doc)
        if AS_PID1:
            self.assertEqual(doc['zombies'], [], 'zombies in the container: %r' % doc)

    def test_double_forked_background_child_is_stopped(self):
        # `(cmd &)`: cmd is orphaned at once, but stays in the target's process group.
        r = self.run_profd(['--json', '--', 'sh', '-c', '(exec sleep 100 &); exit 0'])
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json()['result'], 'success', r)

    def leaver(self, prefix, n_group, n_setsid, *opts):
        return [PY, self.script('leaver.py', LEAVER), self.path('actor.py'), self.log, prefix,
                str(n_group), str(n_setsid)] + ['--' + o for o in opts]

    def test_child_left_in_process_group_gets_sigterm(self):
        # The target exits; its child, still in its process group, is re-parented to profd. The
        # target's stage waits for the group: the child gets SIGTERM, and profd waits for it.
        r = self.run_profd(['--json', '--'] + self.leaver('child', 1, 0, 'linger=0.2'))
        self.assertEqual(r.rc, 0, r)
        self.assertTrue(self.events('child-g0', 'TERM'), 'left-behind child got no SIGTERM:\n' + self.log_text())
        self.one('child-g0', 'EXIT')
        self.assertEqual(r.json()['result'], 'success', r)

    def test_orphan_in_its_own_session_is_stopped_too(self):
        # A daemon-style double fork with setsid(): still a descendant of the session, so it gets
        # SIGTERM in the target's stage and profd does not exit while it remains (in PID 1 mode,
        # the kernel would SIGKILL it when profd exits: no TERM in the log then).
        r = self.run_profd(['--json', '--'] + self.leaver('orphan', 0, 1, 'linger=0.2'))
        self.one('orphan-s0', 'START')
        self.assertTrue(self.events('orphan-s0', 'TERM'),
                        'an orphan that left the process group got no SIGTERM; profd exited with it '
                        'still running:\n%s%r' % (self.log_text(), r))
        self.one('orphan-s0', 'EXIT')
        self.assertEqual(r.rc, 0, r)

    def test_stray_orphan_is_killed_after_the_grace(self):
        r = self.run_profd(['--stop-timeout', '0.5', '--json', '--'] + self.leaver('stubborn', 0, 1, 'on-term=ignore'))
        self.assertTrue(self.events('stubborn-s0', 'TERM'), self.log_text())
        self.assertEqual(self.events('stubborn-s0', 'EXIT'), [])
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json()['result'], 'killed', r)

    def test_left_behind_processes_get_sigterm_once(self):
        # One SIGTERM per stage: a second one means "hurry, skip the clean-up" to many programs.
        # Two SIGTERMs sent back to back merge into one pending signal unless the process took the
        # first in between, so a duplicate shows only sometimes: several rounds, several processes.
        for round in range(4):
            r = self.run_profd(['--'] + self.leaver('r%d' % round, 2, 1, 'linger=0.3'))
            self.assertEqual(r.rc, 0, r)
        counts = {}
        for e in self.read_log():
            counts.setdefault(e['name'], 0)
            if e['event'] == 'TERM':
                counts[e['name']] += 1
        self.assertEqual(len(counts), 12, self.log_text())
        twice = sorted(n for n, c in counts.items() if c != 1)
        self.assertEqual(twice, [], 'SIGTERM count != 1 for %s:\n%s' % (twice, self.log_text()))

    def test_no_hang_when_supporters_exit_at_once(self):
        sups = []
        for i in range(8):
            sups += ['-s', 'quick%d=true' % i]
        r = self.run_profd(sups + ['--json', '--', 'sleep', '100'])
        self.assertEqual(r.rc, 143, r)
        doc = r.json()
        self.assertEqual(len(doc['processes']), 9, r)
        for proc in doc['processes']:
            self.assertEqual(proc['state'], 'exited', r)

    def test_supporter_exiting_127_is_not_an_exec_failure(self):
        r = self.run_profd(['-s', 'sh -c "exit 127"', '--json', '--', 'sleep', '100'])
        self.assertEqual(r.rc, 143, r)
        doc = r.json()
        self.assertEqual(doc['result'], 'supporter-failed', r)
        sh = self.proc_json(doc, 'sh')
        self.assertEqual(sh['exit_code'], 127, r)
        self.assertIsNone(sh['exec_error'], r)


# --- 5. signal forwarding -----------------------------------------------------------------------------------

class SignalForwardingTest(ProfdTestCase):
    SIGNALS = ('USR1', 'USR2', 'WINCH', 'CONT', 'ALRM')

    def test_signals_reach_the_target_only(self):
        traps = 'trap=' + ','.join(self.SIGNALS)
        p = self.start(self.sup('s1', traps) + ['--json', '--'] +
                       self.actor('target', traps, 'count=%d' % len(self.SIGNALS)))
        self.wait_started(p, 's1', 'target')
        for name in self.SIGNALS:
            p.kill(getattr(signal, 'SIG' + name))
            self.wait_for(p, 'target to get SIG' + name, lambda: self.events('target', 'SIG' + name))
        r = p.wait()
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.json()['result'], 'success', r)
        self.one('target', 'EXIT')
        got = [e['event'] for e in self.events('target') if e['event'].startswith('SIG')]
        self.assertEqual(got, ['SIG' + s for s in self.SIGNALS], self.log_text())
        self.assertEqual([e for e in self.events('s1') if e['event'].startswith('SIG')], [],
                         'a forwarded signal reached a supporter:\n' + self.log_text())


# --- 6. exec failures -----------------------------------------------------------------------------------------

class ExecFailureTest(ProfdTestCase):
    def test_missing_target(self):
        sup_marker = self.path('supporter-ran')
        r = self.run_profd(['-s', 'sh -c "touch %s; exec sleep 100"' % sup_marker, '--json', '--',
                            self.path('missing')])
        self.assertEqual(r.rc, 127, r)
        doc = r.json()
        self.assertEqual(doc['result'], 'exec-failed', r)
        self.assertEqual(doc['exit_status'], 127, r)
        self.assertEqual(self.proc_json(doc, 'target')['exec_error'], 'No such file or directory', r)
        msg = [l for l in r.stderr.splitlines() if self.path('missing') in l]
        self.assertTrue(msg, 'no error line names the program: %r' % r)

    def test_missing_supporter_keeps_target_from_running(self):
        marker = self.path('target-ran')
        missing = self.path('no-profiler')
        r = self.run_profd(['-s', 'sleep 100', '-s', 'prof=%s -p {pid}' % missing, '--json', '--',
                            'touch', marker])
        self.assertEqual(r.rc, 127, r)
        self.assertFalse(os.path.exists(marker), 'target ran although a supporter failed to start')
        doc = r.json()
        self.assertEqual(doc['result'], 'exec-failed', r)
        self.assertEqual(self.proc_json(doc, 'prof')['exec_error'], 'No such file or directory', r)
        self.assertIsNone(self.proc_json(doc, 'target')['runtime_usec'], r)
        self.assertIn(missing, r.stderr)

    def test_non_executable_supporter_is_126(self):
        marker = self.path('target-ran')
        prof = self.script('profiler', '#!/bin/sh\nexec sleep 100\n')
        os.chmod(prof, 0o644)
        r = self.run_profd(['-s', prof, '--json', '--', 'touch', marker])
        self.assertEqual(r.rc, 126, r)
        self.assertFalse(os.path.exists(marker))
        self.assertEqual(r.json()['result'], 'exec-failed', r)
        self.assertIn(prof, r.stderr)
        self.assertIn('Permission denied', r.stderr)


# --- 7. gated start ----------------------------------------------------------------------------------------------

class GatedStartTest(ProfdTestCase):
    def _marker_check_target(self, marker, answer):
        return ['sh', '-c', 'if [ -e "$0" ]; then echo yes > "$1"; else echo no > "$1"; fi', marker, answer]

    def _assert_target_saw_marker(self, r, answer):
        self.assertEqual(r.rc, 0, r)
        with open(answer) as f:
            self.assertEqual(f.read().strip(), 'yes', 'target ran before its supporter was ready: %r' % r)
        self.assertEqual(r.json()['result'], 'success', r)

    def test_notify_with_systemd_notify(self):
        if not shutil.which('systemd-notify'):
            self.skipTest('systemd-notify not installed')
        marker, answer = self.path('marker'), self.path('answer')
        sup = 'sh -c %s' % shlex.quote('sleep 0.3; touch %s; systemd-notify --ready; exec sleep 100' %
                                       shlex.quote(marker))
        r = self.run_profd(['-s', sup, '--ready', 'notify', '--json', '--'] +
                           self._marker_check_target(marker, answer))
        self._assert_target_saw_marker(r, answer)

    def test_notify_on_abstract_socket(self):
        marker, answer, envfile = self.path('marker'), self.path('answer'), self.path('notify-socket')
        sup = shlex.join([PY, self.script('notify.py', NOTIFY), marker, envfile])
        r = self.run_profd(['-s', sup, '--ready', 'notify', '--json', '--'] +
                           self._marker_check_target(marker, answer))
        self._assert_target_saw_marker(r, answer)
        with open(envfile) as f:
            self.assertTrue(f.read().startswith('@'), 'NOTIFY_SOCKET is not an abstract socket address')

    def test_delay(self):
        marker, answer = self.path('marker'), self.path('answer')
        sup = 'sh -c %s' % shlex.quote('sleep 0.1; touch %s; exec sleep 100' % shlex.quote(marker))
        r = self.run_profd(['-s', sup, '--ready', 'delay:800', '--json', '--'] +
                           self._marker_check_target(marker, answer))
        self._assert_target_saw_marker(r, answer)

    def test_exec_readiness_supporters_have_executed(self):
        sleep = os.path.realpath(shutil.which('sleep'))
        report = self.path('siblings.json')
        r = self.run_profd(['-s', 'a=sleep 100', '-s', 'b=sleep 101', '-s', 'c=sleep 102', '--json', '--',
                            PY, self.script('siblings.py', SIBLINGS), report])
        self.assertEqual(r.rc, 0, r)
        with open(report) as f:
            siblings = json.load(f)
        self.assertEqual(len(siblings), 3, siblings)
        for s in siblings:
            self.assertEqual(s['exe'], sleep, 'a supporter had not executed when the target started: %r' % siblings)

    def test_never_ready_supporter_then_stop(self):
        marker = self.path('target-ran')
        p = self.start(self.sup('lazy', ready='notify') + ['--json', '--', 'touch', marker])
        self.wait_started(p, 'lazy')
        p.kill(signal.SIGTERM)
        r = p.wait()
        self.assertEqual(r.rc, 143, r)
        self.assertFalse(os.path.exists(marker), 'target ran although its supporter never got ready')
        doc = r.json()
        self.assertEqual(doc['result'], 'stopped', r)
        self.one('lazy', 'TERM')

    def test_pid_substitution(self):
        t, f1, f2 = self.path('target.pid'), self.path('sup1.pid'), self.path('sup2.pid')
        r = self.run_profd([
            '-s', 'sh -c \'echo {pid} > "$0"; exec sleep 100\' %s' % f1,
            '-s', 'sh -c \'echo "$0" > "$1"; exec sleep 100\' --pid={pid} %s' % f2,
            '--json', '--',
            'sh', '-c', 'echo $$ > "$0"; while [ ! -s "$1" ] || [ ! -s "$2" ]; do sleep 0.01; done', t, f1, f2])
        self.assertEqual(r.rc, 0, r)
        pid, sup1, sup2 = (self.read(f).strip() for f in (t, f1, f2))
        self.assertEqual(sup1, pid)
        self.assertEqual(sup2, '--pid=' + pid)
        doc = r.json()
        self.assertEqual(str(self.proc_json(doc, 'target')['pid']), pid, r)
        self.assertIn('--pid=' + pid, doc['processes'][2]['argv'], r)


# --- 8. child hygiene ------------------------------------------------------------------------------------------------

class HygieneTest(ProfdTestCase):
    @staticmethod
    def dirty():
        """Run in profd's parent before exec: a blocked signal and ignored signals, as a careless
        caller (or a shell's background job) would pass on."""
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGALRM})
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    SIGSTATE = ['grep', '-E', '^Sig(Blk|Ign):', '/proc/self/status']

    def _sigstate(self, out):
        state = dict((l.split(':')[0], int(l.split(':')[1], 16)) for l in out.splitlines() if l.startswith('Sig'))
        self.assertEqual(set(state), {'SigBlk', 'SigIgn'}, out)
        return state

    def test_target_signal_state_is_clean(self):
        # grep is executed by profd directly: what it reports is what profd passed on.
        r = self.run_profd(['--'] + self.SIGSTATE, preexec_fn=self.dirty)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(self._sigstate(r.stdout), {'SigBlk': 0, 'SigIgn': 0},
                         'target inherited a signal mask or ignored signals: %r' % r)

    def test_supporter_signal_state_is_clean(self):
        r = self.run_profd(['-s', shlex.join(self.SIGSTATE), '--', 'sleep', '100'], preexec_fn=self.dirty)
        self.assertEqual(r.rc, 143, r)
        self.assertEqual(self._sigstate(r.stdout), {'SigBlk': 0, 'SigIgn': 0},
                         'supporter inherited a signal mask or ignored signals: %r' % r)

    def test_the_test_can_see_dirty_signal_state(self):
        # Guards the two tests above: without profd in between, the same probe does see it.
        p = subprocess.run(self.SIGSTATE, preexec_fn=self.dirty, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=HANG_TIMEOUT)
        state = self._sigstate(p.stdout)
        self.assertNotEqual(state['SigBlk'], 0)
        self.assertNotEqual(state['SigIgn'], 0)

    def test_children_start_clean(self):
        hygiene = self.script('hygiene.py', HYGIENE)
        tgt_report, sup_report = self.path('target.json'), self.path('supporter.json')
        cwd = self.path('work dir')
        os.mkdir(cwd)
        stray = os.open(self.path('stray'), os.O_RDWR | os.O_CREAT)   # inheritable, passed on to profd
        env = dict(os.environ, PROFD_TEST_ENV='from the caller')
        try:
            r = self.run_profd(['-s', 'probe=%s' % shlex.join([PY, hygiene, sup_report, '--stay']),
                                '--', PY, hygiene, tgt_report, '--wait=' + sup_report],
                               cwd=cwd, env=env, pass_fds=(stray,))
        finally:
            os.close(stray)
        self.assertEqual(r.rc, 0, r)
        with open(tgt_report) as f:
            tgt = json.load(f)
        with open(sup_report) as f:
            sup = json.load(f)
        for who, rep in (('target', tgt), ('supporter', sup)):
            with self.subTest(who):
                self.assertEqual([fd for fd, _ in rep['fds']], [0, 1, 2], '%s has stray fds: %r' % (who, rep['fds']))
                self.assertEqual(rep['pgid'], rep['pid'], '%s is not in its own process group' % who)
                self.assertEqual(rep['cwd'], cwd)
                self.assertEqual(rep['env'], 'from the caller')
        self.assertEqual(dict(sup['fds'])[0], '/dev/null', 'supporter stdin is not /dev/null')
        self.assertNotEqual(tgt['pgid'], sup['pgid'])

    def test_profd_leaves_the_callers_directory(self):
        cwd = self.path('work')
        os.mkdir(cwd)
        p = self.start(['--'] + self.actor('target', 'after=30'), cwd=cwd)
        self.wait_started(p, 'target')
        profd_cwd = '/proc/%d/cwd' % p.pid
        self.assertTrue(same_file(profd_cwd, '/'), 'profd keeps %s busy' % os.readlink(profd_cwd))
        self.assertFalse(same_file(profd_cwd, cwd))
        p.kill(signal.SIGTERM)
        r = p.wait()
        self.assertEqual(r.rc, 0, r)


# --- 9. output: --json, -q, summary, --max-duration --------------------------------------------------------------------

class OutputTest(ProfdTestCase):
    def _check_doc(self, doc):
        self.assertEqual(set(doc), {'id', 'result', 'exit_status', 'stop_cause', 'processes'})
        self.assertEqual(doc['result'], 'target-failed')
        self.assertEqual(doc['exit_status'], 3)
        self.assertEqual(doc['stop_cause'], 'target-exited')
        self.assertEqual([p['name'] for p in doc['processes']], ['target', 'sleeper'])
        t, s = doc['processes']
        self.assertEqual(t['role'], 'target')
        self.assertEqual(t['argv'], ['sh', '-c', 'sleep 0.2; exit 3'])
        self.assertEqual((t['state'], t['exit_code'], t['signal'], t['failed'], t['killed']),
                         ('exited', 3, None, True, False))
        self.assertIsNone(t['exec_error'])
        self.assertEqual(s['role'], 'supporter')
        self.assertEqual(s['argv'], ['sleep', '100', str(t['pid'])])
        self.assertEqual((s['state'], s['exit_code'], s['signal'], s['failed'], s['killed']),
                         ('exited', None, 'TERM', False, False))
        for p in (t, s):
            self.assertIsInstance(p['pid'], int)
            self.assertGreater(p['pid'], 0)
            self.assertIsInstance(p['runtime_usec'], int)
            self.assertIsInstance(p['ended'], str)
        self.assertGreaterEqual(t['runtime_usec'], 150000)   # it slept 0.2 s

    ARGS = ['-s', 'sleeper=sleep 100 {pid}', '--', 'sh', '-c', 'sleep 0.2; exit 3']

    def test_json_to_stdout(self):
        r = self.run_profd(['--json', '-q'] + self.ARGS)
        self.assertEqual(r.rc, 3, r)
        self._check_doc(r.json())

    def test_json_to_file(self):
        out = self.path('result.json')
        r = self.run_profd(['--json=' + out] + self.ARGS)
        self.assertEqual(r.rc, 3, r)
        self.assertEqual(r.stdout, '', r)
        with open(out) as f:
            self._check_doc(json.load(f))

    def test_summary_on_stderr(self):
        r = self.run_profd(['--json'] + self.ARGS)
        doc = r.json()
        for p in doc['processes']:
            lines = [l for l in r.stderr.splitlines() if p['name'] in l and str(p['pid']) in l]
            self.assertEqual(len(lines), 1, 'no summary line for %s: %r' % (p['name'], r))
        self.assertIn('target-failed', r.stderr)

    def test_quiet(self):
        r = self.run_profd(['-q', '-s', 'sleep 100', '--', 'true'])
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.stderr, '', r)

    def test_max_duration(self):
        r = self.run_profd(['--max-duration', '0.5', '-s', 'sleep 100', '--json', '--', 'sleep', '100'])
        self.assertEqual(r.rc, 143, r)
        doc = r.json()
        self.assertEqual(doc['result'], 'timeout', r)
        self.assertEqual(doc['stop_cause'], 'watchdog', r)
        self.assertEqual(self.proc_json(doc, 'target')['signal'], 'TERM', r)


# --- 10. a real perf record -p {pid} ---------------------------------------------------------------------------

BUSY = 'import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end:\n    pass\n'


class PerfTest(ProfdTestCase):
    def test_perf_record_supporter(self):
        perf = shutil.which('perf')
        if not perf:
            self.skipTest('perf is not installed')
        probe = subprocess.run([perf, 'record', '-q', '-o', self.path('probe.data'), '--', 'true'],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=HANG_TIMEOUT,
                               cwd=self.dir)
        if probe.returncode != 0:
            self.skipTest('perf cannot record on this machine: %s' % (probe.stderr.strip() or probe.returncode))

        busy = self.path('profdbusy')           # the target's comm, to find it in the profile
        os.symlink(os.path.realpath(PY), busy)
        data = self.path('perf.data')
        r = self.run_profd(['-s', 'perf=%s record -q -o %s -p {pid}' % (perf, shlex.quote(data)),
                            '--ready', 'delay:500', '--json', '--', busy, '-c', BUSY])
        self.assertEqual(r.rc, 0, r)
        doc = r.json()
        self.assertEqual(doc['result'], 'success', r)
        self.assertFalse(self.proc_json(doc, 'perf')['failed'], r)
        self.assertTrue(os.path.exists(data) and os.path.getsize(data) > 0, 'no perf.data: %r' % r)
        script = subprocess.run([perf, 'script', '-i', data, '-F', 'comm,pid'], stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=HANG_TIMEOUT, cwd=self.dir)
        self.assertEqual(script.returncode, 0, script.stderr)
        samples = [l for l in script.stdout.splitlines() if l.split() and l.split()[0] == 'profdbusy']
        tpid = self.proc_json(doc, 'target')['pid']
        self.assertGreater(len(samples), 10, 'perf.data has no samples of the target:\n%s' % script.stdout[-2000:])
        self.assertTrue(all(int(l.split()[1]) == tpid for l in samples), samples[:5])


if __name__ == '__main__':
    set_subreaper()
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGHUP, on_sigterm)
    print('profd: %s%s' % (PROFD, ' (as PID 1 of a PID namespace)' if AS_PID1 else ''), file=sys.stderr)
    unittest.main(verbosity=2)
