# -*- coding: utf-8 -*-
"""Unit tests of module_utils/_probe.py, _listener.py and _daemon.py with real sockets on 127.0.0.1 only (and names
under .invalid)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import glob
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.sfops.secretflow.plugins.module_utils import _daemon as daemon, _listener as listener, \
    _probe as probelib, _sockets as sockets

from net_testing import LOCAL, free_ports, listening_port, my_comm  # pylint: disable=import-error

HOSTNAME = socket.gethostname()


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def listening():
    """A listening socket on 127.0.0.1 (connections complete in the backlog, never accepted)."""
    with listening_port(16) as port:
        yield port


@pytest.fixture
def full_backlog():
    """A port whose accept queue is full: the kernel drops further SYNs, so a connect times out (on loopback)."""
    server = socket.socket()
    server.bind((LOCAL, 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _i in range(8):
        c = socket.socket()
        c.settimeout(0.2)
        fillers.append(c)
        try:
            c.connect((LOCAL, port))
        except socket.timeout:
            break  # the queue is full now
    else:  # pragma: no cover - a kernel that never drops SYNs
        pytest.skip('the accept queue never filled up on this kernel')
    yield port
    for c in fillers:
        c.close()
    server.close()


@pytest.fixture
def banner_server():
    """Start a thread that answers every connection on 127.0.0.1 with the given bytes; yields its port."""
    servers = []

    def start(payload):
        sock = socket.socket()
        sock.bind((LOCAL, 0))
        sock.listen(8)
        stop = threading.Event()

        def serve():
            sock.settimeout(0.05)
            while not stop.is_set():
                try:
                    conn, _peer = sock.accept()
                except socket.timeout:
                    continue
                except OSError:
                    return
                conn.sendall(payload)
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        servers.append((sock, stop, thread))
        return sock.getsockname()[1]

    yield start
    for sock, stop, thread in servers:
        stop.set()
        thread.join(2)
        sock.close()


@pytest.fixture
def state_dir(tmp_path):
    """A state directory whose listener daemons are always stopped at the end."""
    d = tmp_path / 'state'
    yield str(d)
    for state_file in glob.glob(os.path.join(str(d), '*.json')):
        listener.stop_listeners(state_file)


# ----------------------------------------------------------------------------------------------- parse_ports

@pytest.mark.parametrize('spec, expected', [
    (17000, [17000]),
    ('17000', [17000]),
    (' 17000 - 17003 ', [17000, 17001, 17002, 17003]),
    (['17001-17002', 17000, '17002', 1, 65535], [1, 17000, 17001, 17002, 65535]),
    ('80,443', [80, 443]),
    (['10-10'], [10]),
    ([[5, 6], '4'], [4, 5, 6]),
    (8080.0, [8080]),
])
def test_parse_ports(spec, expected):
    assert listener.parse_ports(spec) == expected


@pytest.mark.parametrize('spec, message', [
    (0, 'port 0: must be between 1 and 65535'),
    ('65536', "port '65536': must be between 1 and 65535"),
    ('100-70000', "range '100-70000': must be between 1 and 65535"),
    ('200-100', "port range '200-100': the first port (200) is greater than the last (100)"),
    ('http', "invalid port 'http': expected a number or a range \"first-last\""),
    ('1-2-3', "invalid port '1-2-3'"),
    ('-5', "invalid port '-5'"),
    (True, 'invalid port True'),
    (None, 'invalid port None'),
    (80.5, 'invalid port 80.5: not a whole number'),
    ([], 'no ports given'),
])
def test_parse_ports_errors(spec, message):
    with pytest.raises(ValueError) as exc:
        listener.parse_ports(spec)
    assert message in str(exc.value)


# ---------------------------------------------------------------------------------------------------- probe

def test_probe_open(listening):
    res = probelib.probe(LOCAL, listening, 2.0)
    assert res['reachable'] is True and res['error'] is None and res['error_detail'] == ''
    assert res['address'] == LOCAL and res['host'] == LOCAL and res['port'] == listening
    assert isinstance(res['latency_ms'], float) and 0 <= res['latency_ms'] < 2000
    assert res['banner_ok'] is None and res['banner_received'] is None


def test_probe_refused():
    port = free_ports()[0]
    res = probelib.probe(LOCAL, port, 2.0)
    assert (res['reachable'], res['error'], res['latency_ms']) == (False, 'refused', None)
    assert res['error_detail'] == 'connection refused'


def test_probe_timeout_applies_to_the_connect(full_backlog):
    start = time.monotonic()
    res = probelib.probe(LOCAL, full_backlog, 0.3)
    elapsed = time.monotonic() - start
    assert (res['reachable'], res['error'], res['latency_ms']) == (False, 'timeout', None)
    assert res['error_detail'] == 'no answer within 0.3 s'
    assert 0.25 <= elapsed < 1.5


def test_probe_dns_failure_is_not_a_connect():
    start = time.monotonic()
    res = probelib.probe('sfops-no-such-host.invalid', 80, 0.2)
    assert res['error'] == 'dns' and res['reachable'] is False and res['latency_ms'] is None
    assert res['address'] is None
    assert res['error_detail'].startswith('cannot resolve sfops-no-such-host.invalid: ')
    assert time.monotonic() - start < 10


def test_probe_banner_match(banner_server):
    port = banner_server(b'sfops-listener alice-1 17000\n')
    res = probelib.probe(LOCAL, port, 2.0, banner='sfops-listener')
    assert res['reachable'] is True and res['banner_ok'] is True
    assert res['banner_received'] == 'sfops-listener alice-1 17000'
    assert probelib.expectation_met(res, 'open')


def test_probe_banner_mismatch_is_reachable_but_not_ok(banner_server):
    port = banner_server(b'SSH-2.0-OpenSSH_9.6\r\n')
    res = probelib.probe(LOCAL, port, 2.0, banner='sfops-listener')
    assert res['reachable'] is True and res['banner_ok'] is False
    assert res['banner_received'] == 'SSH-2.0-OpenSSH_9.6'
    assert not probelib.expectation_met(res, 'open')


def test_probe_banner_missing_waits_at_most_the_timeout(listening):
    start = time.monotonic()
    res = probelib.probe(LOCAL, listening, 0.2, banner='sfops-listener')
    assert res['reachable'] is True and res['banner_ok'] is False and res['banner_received'] == ''
    assert time.monotonic() - start < 1.0


def test_probe_banner_reads_at_most_256_bytes(banner_server):
    port = banner_server(b'x' * 1000 + b' sfops-listener\n')
    res = probelib.probe(LOCAL, port, 1.0, banner='sfops-listener')
    assert len(res['banner_received']) == probelib.BANNER_MAX and res['banner_ok'] is False


@pytest.mark.parametrize('exc, kind, detail', [
    (socket.timeout('timed out'), 'timeout', 'no answer within 2.0 s'),
    (OSError(errno.ECONNREFUSED, 'Connection refused'), 'refused', 'connection refused'),
    (OSError(errno.EHOSTUNREACH, 'No route to host'), 'no_route', '[Errno %d] No route to host' % errno.EHOSTUNREACH),
    (OSError(errno.ENETUNREACH, 'Network is unreachable'), 'no_route',
     '[Errno %d] Network is unreachable' % errno.ENETUNREACH),
    (OSError(errno.ETIMEDOUT, 'Connection timed out'), 'timeout', 'no answer within 2.0 s'),
    (OSError(errno.EACCES, 'Permission denied'), 'other', '[Errno %d] Permission denied' % errno.EACCES),
])
def test_classify(exc, kind, detail):
    assert probelib._classify(exc, 2) == (kind, detail)


# ------------------------------------------------------------------------------------------ expectations

def result(**kw):
    base = {'host': '172.31.0.21', 'port': 19000, 'reachable': False, 'latency_ms': None, 'error': None,
            'error_detail': '', 'banner_ok': None, 'banner_received': None}
    base.update(kw)
    return base


OPEN = result(reachable=True, latency_ms=1.23)
REFUSED = result(error='refused', error_detail='connection refused')
TIMEOUT = result(error='timeout', error_detail='no answer within 2.0 s')
DNS = result(error='dns', error_detail='cannot resolve x.invalid: Name or service not known')
NO_ROUTE = result(error='no_route', error_detail='[Errno 113] No route to host')
BAD_BANNER = result(reachable=True, latency_ms=0.5, banner_ok=False, banner_received='SSH-2.0')


@pytest.mark.parametrize('res, expect_open, expect_closed, expect_answers', [
    (OPEN, True, False, True),
    (REFUSED, False, True, True),
    (TIMEOUT, False, True, False),
    (NO_ROUTE, False, True, False),
    (DNS, False, False, False),
    (BAD_BANNER, False, False, True),
])
def test_expectation_met(res, expect_open, expect_closed, expect_answers):
    assert probelib.expectation_met(res, 'open') is expect_open
    assert probelib.expectation_met(res, 'closed') is expect_closed
    assert probelib.expectation_met(res, 'answers') is expect_answers
    with pytest.raises(ValueError):
        probelib.expectation_met(res, 'maybe')


def test_failure_messages():
    fed = {'host': '172.31.0.21', 'port': 19000, 'label': 'bob fed', 'expect': 'open'}
    gcs = {'host': '172.31.0.11', 'port': 16380, 'label': 'alice gcs', 'expect': 'closed'}
    assert probelib.failure_message('alice-1', fed, TIMEOUT, 2.0) == \
        'alice-1 -> 172.31.0.21:19000 (bob fed): expected open, got timeout after 2.0 s'
    assert probelib.failure_message('bob-1', gcs, OPEN, 2.0) == \
        'bob-1 -> 172.31.0.11:16380 (alice gcs): expected closed, but it accepted a connection (1.2 ms)'
    assert probelib.failure_message('a', dict(fed, label=None), REFUSED, 1) == \
        'a -> 172.31.0.21:19000: expected open, got refused (connection refused)'
    assert probelib.failure_message('a', fed, NO_ROUTE, 1) == \
        'a -> 172.31.0.21:19000 (bob fed): expected open, got no_route ([Errno 113] No route to host)'
    assert probelib.failure_message('a', dict(gcs, host='x.invalid'), DNS, 1) == (
        'a -> x.invalid:16380 (alice gcs): expected closed, but the name does not resolve, which proves nothing '
        '(cannot resolve x.invalid: Name or service not known)')
    assert probelib.failure_message('a', dict(fed, banner='sfops-listener'), BAD_BANNER, 1) == (
        "a -> 172.31.0.21:19000 (bob fed): expected open with banner 'sfops-listener', it accepted a connection "
        "(0.5 ms) but sent 'SSH-2.0'")
    assert probelib.failure_message('a', dict(fed, host='::1', expect='answers'), TIMEOUT, 0.5) == \
        'a -> [::1]:19000 (bob fed): expected an answer (open or refused), got timeout after 0.5 s'


# ------------------------------------------------------------------------------------------------ probe_all

def test_probe_all_order_expectations_and_messages(listening, full_backlog, banner_server):
    refused = free_ports()[0]
    greeter = banner_server(b'sfops-listener h 1\n')
    targets = [
        {'host': LOCAL, 'port': listening, 'expect': 'open', 'label': 'open ok'},
        {'host': LOCAL, 'port': refused, 'expect': 'open', 'label': 'refused'},
        {'host': LOCAL, 'port': full_backlog, 'expect': 'closed', 'label': 'dropped'},
        {'host': LOCAL, 'port': listening, 'expect': 'closed', 'label': 'wrongly open'},
        {'host': 'sfops-none.invalid', 'port': 1, 'expect': 'closed'},
        {'host': LOCAL, 'port': refused, 'expect': 'answers'},
        {'host': LOCAL, 'port': greeter, 'banner': 'sfops-listener'},
        {'host': LOCAL, 'port': greeter, 'banner': 'nope', 'label': 'banner'},
    ]
    results, failures = probelib.probe_all(targets, 0.3, parallel=8, source='src-1')
    assert [(r['port'], r['label'], r['expect']) for r in results] == [
        (t['port'], t.get('label'), t.get('expect', 'open')) for t in targets]
    assert [r['ok'] for r in results] == [True, False, True, False, False, True, True, False]
    assert [r['error'] for r in results] == [None, 'refused', 'timeout', None, 'dns', 'refused', None, None]
    assert failures == [
        'src-1 -> 127.0.0.1:%d (refused): expected open, got refused (connection refused)' % refused,
        'src-1 -> 127.0.0.1:%d (wrongly open): expected closed, but it accepted a connection (%.1f ms)'
        % (listening, results[3]['latency_ms']),
        'src-1 -> sfops-none.invalid:1: expected closed, but the name does not resolve, which proves nothing (%s)'
        % results[4]['error_detail'],
        "src-1 -> 127.0.0.1:%d (banner): expected open with banner 'nope', it accepted a connection (%.1f ms) "
        "but sent 'sfops-listener h 1'" % (greeter, results[7]['latency_ms']),
    ]


def test_probe_all_runs_in_parallel(full_backlog):
    targets = [{'host': LOCAL, 'port': full_backlog, 'expect': 'closed', 'label': str(i)} for i in range(6)]
    start = time.monotonic()
    results, failures = probelib.probe_all(targets, 0.3, parallel=6)
    elapsed = time.monotonic() - start
    assert failures == [] and [r['label'] for r in results] == [str(i) for i in range(6)]
    assert all(r['error'] == 'timeout' for r in results)
    assert elapsed < 0.3 * 6 / 2  # sequentially it would take 1.8 s


def test_probe_all_default_source_and_validation():
    port = free_ports()[0]
    _results, failures = probelib.probe_all([{'host': LOCAL, 'port': port}], 1)
    assert failures == ['%s -> 127.0.0.1:%d: expected open, got refused (connection refused)' % (HOSTNAME, port)]
    assert probelib.probe_all([], 1) == ([], [])
    for bad, message in [({'port': 1}, 'target 0: host is required'),
                         ({'host': 'h', 'port': 'x'}, "target 0 (h): port 'x' is not a number"),
                         ({'host': 'h', 'port': 0}, 'target 0 (h): port 0 must be between 1 and 65535'),
                         ({'host': 'h', 'port': 1, 'expect': 'up'}, "target 0 (h:1): expect 'up' must be one of"),
                         ('h:1', "target 0: must be a dict")]:
        with pytest.raises(ValueError) as exc:
            probelib.probe_all([bad], 1)
        assert message in str(exc.value)


# ------------------------------------------------------------------------------------------------ listeners

def daemon_fd_targets(pid):
    fd_dir = '/proc/%d/fd' % pid
    return sorted(os.readlink(os.path.join(fd_dir, fd)) for fd in os.listdir(fd_dir))


def test_start_listeners_serves_a_banner_and_detaches(state_dir, tmp_path):
    ports = free_ports(2)
    state_file = os.path.join(state_dir, 'one.json')
    with open(str(tmp_path / 'inherited.txt'), 'w') as inherited:  # an fd the daemon must not keep
        state = listener.start_listeners(ports, LOCAL, 'sfops-listener', 30, state_file)
    pid = state['pid']
    assert state['ports'] == sorted(ports) and state['address'] == LOCAL and state['lifetime'] == 30
    assert state['state_file'] == state_file and len(state['token']) == 32 and pid != os.getpid()
    with open(state_file) as f:
        on_disk = json.load(f)
    assert on_disk['pid'] == pid and on_disk['token'] == state['token'] and on_disk['ports'] == sorted(ports)
    assert daemon.alive(on_disk)
    # detached: a new session (whose leader, the intermediate child, has exited), not our child, stdio on
    # /dev/null, nothing inherited but its sockets; named for port_holders
    with open('/proc/%d/stat' % pid) as f:
        ppid, _pgrp, session = [int(x) for x in f.read().rsplit(')', 1)[1].split()[1:4]]
    assert session != os.getsid(0) and session != pid and not os.path.exists('/proc/%d' % session)
    assert ppid != os.getpid()
    fds = daemon_fd_targets(pid)  # before any connection (the daemon holds accepted ones for a moment)
    assert fds.count('/dev/null') == 3 and inherited.name not in fds
    assert len([t for t in fds if t.startswith('socket:')]) == 2
    assert not [t for t in fds if t.startswith('pipe:')]
    # the parent closed its copies: only the daemon holds the ports
    holders = sockets.port_holders(ports)
    assert sorted(h['pid'] for port in ports for h in holders[port]) == [pid, pid]
    assert all(h['process'] == daemon.DAEMON_NAME for port in ports for h in holders[port])
    for port in ports:
        res = probelib.probe(LOCAL, port, 2.0, banner='sfops-listener')
        assert res['banner_ok'] is True and res['banner_received'] == 'sfops-listener %s %d' % (HOSTNAME, port)
    # a second start on the same state file is refused while it runs
    with pytest.raises(listener.ListenerError) as exc:
        listener.start_listeners(free_ports(), LOCAL, 'x', 30, state_file)
    assert 'already runs' in str(exc.value) and str(pid) in str(exc.value)


def test_start_listeners_does_not_hold_the_callers_pipes(state_dir):
    """Like a module run over SSH: the caller's stdout/stderr pipes reach EOF as soon as it exits."""
    port = free_ports()[0]
    state_file = os.path.join(state_dir, 'pipes.json')
    script = ('import sys; '
              'from ansible_collections.sfops.secretflow.plugins.module_utils import _listener as listener; '
              'print(listener.start_listeners([%d], "127.0.0.1", "b", 30, %r)["pid"])' % (port, state_file))
    start = time.monotonic()
    done = subprocess.run([sys.executable, '-c', script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)), timeout=20, check=True)
    assert time.monotonic() - start < 10  # not the 30 s lifetime
    assert int(done.stdout) == daemon.read_state(state_file)['pid'] and done.stderr == b''
    assert probelib.probe(LOCAL, port, 1.0)['reachable'] is True


def test_start_listeners_conflict_names_the_holder_and_starts_nothing(state_dir):
    free, taken = free_ports(2)
    blocker = socket.socket()
    blocker.bind((LOCAL, taken))
    blocker.listen(1)
    state_file = os.path.join(state_dir, 'conflict.json')
    try:
        with pytest.raises(listener.ListenerError) as exc:
            listener.start_listeners([free, taken], LOCAL, 'sfops-listener', 30, state_file)
    finally:
        blocker.close()
    assert str(exc.value) == 'cannot listen on 1 of 2 ports on 127.0.0.1: port %d on 127.0.0.1 is in use by pid %d (%s)' \
        % (taken, os.getpid(), my_comm())
    assert [e['port'] for e in exc.value.busy] == [taken]
    assert not os.path.exists(state_file)
    # the port that could be bound was closed again
    assert probelib.probe(LOCAL, free, 1.0)['error'] == 'refused'
    listener._bind(LOCAL, free).close()


def test_listener_lifetime_expiry(state_dir):
    port = free_ports()[0]
    state_file = os.path.join(state_dir, 'short.json')
    state = listener.start_listeners([port], LOCAL, 'sfops-listener', 1, state_file)
    assert probelib.probe(LOCAL, port, 1.0)['reachable'] is True
    assert wait_until(lambda: not os.path.exists(state_file), 3.0)  # the daemon removes its file on the way out
    assert wait_until(lambda: not daemon.alive(state), 2.0)
    assert time.time() - state['started'] >= 0.9
    assert probelib.probe(LOCAL, port, 1.0)['error'] == 'refused'
    assert listener.stop_listeners(state_file) == {'stopped': False, 'pid': None, 'ports': []}


def test_stop_listeners(state_dir):
    ports = free_ports(3)
    state_file = os.path.join(state_dir, 'stop.json')
    state = listener.start_listeners(ports, LOCAL, 'sfops-listener', 60, state_file)
    out = listener.stop_listeners(state_file)
    assert out == {'stopped': True, 'pid': state['pid'], 'ports': sorted(ports)}
    assert not daemon.alive(state) and not os.path.exists(state_file)
    assert [probelib.probe(LOCAL, p, 1.0)['error'] for p in ports] == ['refused'] * 3
    assert listener.stop_listeners(state_file)['stopped'] is False  # nothing to do


def test_stop_listeners_never_signals_a_foreign_pid(tmp_path):
    """A stale state file whose pid now belongs to another process (here: this test) is removed, nobody killed."""
    state_file = str(tmp_path / 'stale.json')
    with open(state_file, 'w') as f:
        json.dump({'pid': os.getpid(), 'starttime': 1, 'ports': [1], 'token': 'x'}, f)
    assert listener.stop_listeners(state_file) == {'stopped': False, 'pid': os.getpid(), 'ports': [1]}
    assert not os.path.exists(state_file)
    with open(state_file, 'w') as f:
        f.write('{not json')
    assert daemon.read_state(state_file) == {}
    assert listener.stop_listeners(state_file)['stopped'] is False and not os.path.exists(state_file)


def test_start_listeners_validates(state_dir):
    state_file = os.path.join(state_dir, 'v.json')
    with pytest.raises(listener.ListenerError, match='lifetime 0: must be between 1 and 86400'):
        listener.start_listeners([free_ports()[0]], LOCAL, 'b', 0, state_file)
    with pytest.raises(ValueError, match='is not an IP address'):
        listener.start_listeners([free_ports()[0]], 'localhost', 'b', 5, state_file)
    with pytest.raises(ValueError, match='no ports given'):
        listener.start_listeners([], LOCAL, 'b', 5, state_file)


def test_busy_ports(listening):
    free = free_ports()[0]
    busy = listener.busy_ports([listening, free], LOCAL)
    assert [(e['port'], e['address']) for e in busy] == [(listening, LOCAL)]
    assert [(h['pid'], h['address']) for h in busy[0]['holders']] == [(os.getpid(), LOCAL)]
    assert listener.describe_busy(busy[0]) == 'port %d on 127.0.0.1 is in use by pid %d (%s)' % (
        listening, os.getpid(), my_comm())
    assert listener.busy_ports([listening], LOCAL, ignore_pids=[os.getpid()]) == []
    assert listener.busy_ports([listening], '127.0.0.2') == []  # another loopback address does not conflict


def test_describe_unknown_and_container_holders():
    assert listener.describe_holder({'port': 9000, 'address': '::', 'pid': None}) == (
        'port 9000 on :: is in use by a process whose pid is not visible (another user, another pid namespace or '
        'a kernel socket)')
    assert listener.describe_holder({'port': 16380, 'address': '0.0.0.0', 'pid': 123, 'process': 'raylet',
                                     'container_id': 'abcdef0123456789' * 4}) == \
        'port 16380 on 0.0.0.0 is in use by pid 123 (raylet) in container abcdef012345'
    assert listener.describe_busy({'port': 5, 'address': '0.0.0.0', 'error': 'Address already in use',
                                   'holders': []}) == \
        'port 5 on 0.0.0.0 is in use (Address already in use; no listening socket found, e.g. a connection uses it)'


@pytest.mark.parametrize('bind, holder, conflict', [
    ('0.0.0.0', '127.0.0.1', True),
    ('127.0.0.1', '0.0.0.0', True),
    ('127.0.0.1', '127.0.0.2', False),
    ('127.0.0.1', '127.0.0.1', True),
    ('::', '127.0.0.1', True),
    ('0.0.0.0', '::', True),
    ('0.0.0.0', '::1', False),
    ('127.0.0.1', '::ffff:127.0.0.1', True),
    ('::1', '::1', True),
])
def test_conflicts(bind, holder, conflict):
    assert listener._conflicts(bind, holder) is conflict


def _worker_tlsprobe():
    """worker/sfworker/tlsprobe.py (standard library only) loaded by path: the worker is its own package."""
    import importlib.util
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))))
    spec = importlib.util.spec_from_file_location('_sfworker_tlsprobe',
                                                  os.path.join(root, 'worker', 'sfworker', 'tlsprobe.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_workers_tls_probe_recognises_these_listeners(state_dir):
    """verify.yml's TLS probe (sfworker tls-probe) must tell a reachability listener of a concurrent preflight from
    a plaintext server: it knows their banner word and line, which must be the module's default and the daemon's."""
    from ansible_collections.sfops.secretflow.plugins.modules import port_listener as module

    tlsprobe = _worker_tlsprobe()
    assert 'default: %s' % tlsprobe.LISTENER_BANNER in module.DOCUMENTATION
    ports = free_ports(1)
    state_file = os.path.join(state_dir, 'tlsprobe.json')
    listener.start_listeners(ports, LOCAL, tlsprobe.LISTENER_BANNER, 30, state_file)
    try:
        expected = '%s %s %d' % (tlsprobe.LISTENER_BANNER, HOSTNAME, ports[0])
        assert tlsprobe.listener_banner(LOCAL, ports[0]) == expected
    finally:
        listener.stop_listeners(state_file)
    assert tlsprobe.listener_banner(LOCAL, ports[0], timeout=0.5) is None   # nothing there any more
