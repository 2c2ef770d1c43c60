# -*- coding: utf-8 -*-
"""Module tests of port_listener: main() with patched module args, real listeners on 127.0.0.1, a temp state_dir."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import socket

import pytest

from ansible_collections.sfops.secretflow.plugins.module_utils import _daemon as daemon, _listener as listener, \
    _probe as probelib
from ansible_collections.sfops.secretflow.plugins.modules import port_listener

from net_testing import LOCAL, free_ports, listening_port, my_comm, run_module  # pylint: disable=import-error

CID = '0123456789abcdef' * 4


def state_of(out):
    return daemon.read_state(out['state_file'])


@pytest.fixture
def run(capsys, tmp_path):
    """run(args, check_mode=False) -> the module's JSON result; every daemon started in state_dir is stopped."""
    state_dir = str(tmp_path / 'listeners')

    def _run(args, check_mode=False):
        args = dict({'address': LOCAL, 'state_dir': state_dir}, **args)
        out = run_module(port_listener.main, capsys, args, check_mode)
        assert out.get('changed', False) is False  # never, whatever happened
        return out

    yield _run
    for state_file in glob.glob(os.path.join(state_dir, '*.json')):
        listener.stop_listeners(state_file)


@pytest.fixture
def blocker():
    """A port held by this test process."""
    with listening_port(1) as port:
        yield port


def test_present_then_absent(run):
    ports = free_ports(2)
    out = run({'ports': ['%d' % ports[0], ports[1]], 'lifetime': 60, 'banner': 'hello'})
    assert 'failed' not in out
    assert out['listening'] == sorted(ports) and out['free'] == sorted(ports)
    assert out['in_use'] == [] and out['not_listened'] == [] and out['held_by_deployment'] == []
    assert out['state_file'].endswith('/listeners/sfops.json') and state_of(out)['pid'] == out['pid']
    res = probelib.probe(LOCAL, ports[1], 2.0, banner='hello %s %d' % (socket.gethostname(), ports[1]))
    assert res['banner_ok'] is True

    out = run({'state': 'absent'})
    assert out['stopped'] is True and out['listening'] == [] and not os.path.exists(out['state_file'])
    assert [probelib.probe(LOCAL, p, 1.0)['error'] for p in ports] == ['refused', 'refused']
    again = run({'state': 'absent'})
    assert again['stopped'] is False and again['pid'] is None and again['msg'] == 'no listener set sfops runs'


def test_check_mode_starts_nothing(run):
    port = free_ports()[0]
    out = run({'ports': [port]}, check_mode=True)
    assert 'failed' not in out and out['listening'] == [] and out['free'] == [port] and out['pid'] is None
    assert not os.path.exists(out['state_file'])
    assert probelib.probe(LOCAL, port, 1.0)['error'] == 'refused'


@pytest.mark.parametrize('check_mode', [False, True])
def test_busy_port_fails_naming_the_holder(run, blocker, check_mode):
    free = free_ports()[0]
    out = run({'ports': [free, blocker], 'name': 'busy'}, check_mode=check_mode)
    assert out['failed'] is True
    assert out['msg'] == '1 of 2 ports are in use on 127.0.0.1: port %d on 127.0.0.1 is in use by pid %d (%s)' % (
        blocker, os.getpid(), my_comm())
    assert [(e['port'], e['pid'], e['process'], e['allowed']) for e in out['in_use']] == [
        (blocker, os.getpid(), my_comm(), False)]
    assert out['listening'] == [] and out['free'] == [free]
    assert not os.path.exists(out['state_file'])
    assert probelib.probe(LOCAL, free, 1.0)['error'] == 'refused'  # nothing started


def test_in_use_skip(run, blocker):
    free = free_ports()[0]
    out = run({'ports': [free, blocker], 'in_use': 'skip'})
    assert 'failed' not in out
    assert out['listening'] == [free] and out['not_listened'] == [blocker] and out['held_by_deployment'] == []
    assert [(e['port'], e['pid'], e['allowed']) for e in out['in_use']] == [(blocker, os.getpid(), False)]
    assert probelib.probe(LOCAL, free, 1.0)['reachable'] is True


def test_allowed_holders_by_process_name(run, blocker):
    free = free_ports()[0]
    out = run({'ports': [blocker, free], 'allowed_holders': ['redis-server', my_comm()]})
    assert 'failed' not in out
    assert out['held_by_deployment'] == [blocker] and out['not_listened'] == [blocker] and out['listening'] == [free]
    assert [(e['port'], e['pid'], e['allowed']) for e in out['in_use']] == [(blocker, os.getpid(), True)]
    # a name that does not match does not help
    out = run({'ports': [blocker], 'allowed_holders': ['raylet'], 'name': 'other'})
    assert out['failed'] is True and out['held_by_deployment'] == [] and 'pid %d' % os.getpid() in out['msg']


def test_present_restarts_the_running_set(run):
    ports = free_ports(2)
    first = run({'ports': ports[:1], 'lifetime': 60})
    old = state_of(first)
    # check mode: the ports of the running set of this name count as free; nothing is stopped or started
    check = run({'ports': ports}, check_mode=True)
    assert 'failed' not in check and check['free'] == sorted(ports) and check['in_use'] == []
    assert daemon.alive(old)
    second = run({'ports': ports, 'lifetime': 60})
    assert 'failed' not in second and second['listening'] == sorted(ports) and second['in_use'] == []
    assert second['pid'] != first['pid'] and not daemon.alive(old)
    assert all(probelib.probe(LOCAL, p, 1.0)['reachable'] for p in ports)


def test_absent_in_check_mode_only_reports(run):
    first = run({'ports': free_ports(), 'lifetime': 60})
    out = run({'state': 'absent'}, check_mode=True)
    assert out['pid'] == first['pid'] and out['stopped'] is False and 'would be stopped' in out['msg']
    assert daemon.alive(state_of(first))


@pytest.mark.parametrize('args, message', [
    ({}, 'state is present but all of the following are missing: ports'),
    ({'ports': []}, 'ports is required with state=present'),
    ({'ports': ['300-200']}, "ports: port range '300-200': the first port (300) is greater than the last (200)"),
    ({'ports': [1], 'lifetime': 0}, 'lifetime 0: must be between 1 and 86400 seconds'),
    ({'ports': [1], 'address': 'localhost'}, "address: address 'localhost' is not an IP address"),
    ({'ports': [1], 'name': '../etc'}, 'name \'../etc\': use letters, digits, ".", "_" and "-" only'),
])
def test_bad_arguments(run, args, message):
    out = run(args)
    assert out['failed'] is True and message in out['msg']


@pytest.mark.parametrize('holder, allowed, matches', [
    ({'pid': 1, 'process': 'raylet', 'cmdline': '/x/raylet --a', 'container_id': CID}, [CID[:12]], True),
    ({'pid': 1, 'process': 'raylet', 'cmdline': '/x/raylet --a', 'container_id': CID}, [CID], True),
    ({'pid': 1, 'process': 'raylet', 'cmdline': '/x/raylet --a', 'container_id': CID}, [CID[:11]], False),
    ({'pid': 1, 'process': 'raylet', 'cmdline': '/x/raylet --a', 'container_id': CID}, ['f' * 12], False),
    ({'pid': 1, 'process': 'x', 'cmdline': None, 'container_id': CID, 'container_ids': ['e' * 64, CID]},
     ['e' * 12], True),
    ({'pid': 1, 'process': 'gcs_server', 'cmdline': None, 'container_id': None}, ['gcs_server'], True),
    ({'pid': 1, 'process': 'python3', 'cmdline': '/opt/sf/bin/python3 -m x', 'container_id': None}, ['python3'], True),
    ({'pid': 1, 'process': 'default_worker.', 'cmdline': None, 'container_id': None}, ['default_worker.py'], True),
    ({'pid': 1, 'process': 'ray::IDLE', 'cmdline': '/usr/bin/ray::IDLE', 'container_id': None}, ['raylet'], False),
    ({'pid': None, 'process': None, 'cmdline': None, 'container_id': None}, ['raylet'], False),
])
def test_holder_matches(holder, allowed, matches):
    assert listener.holder_matches(holder, allowed) is matches


def test_classify_a_port_needs_every_socket_allowed():
    raylet = {'address': '0.0.0.0', 'pid': 10, 'process': 'raylet', 'cmdline': None, 'container_id': None,
              'inode': 1}
    other = {'address': '::', 'pid': 20, 'process': 'nc', 'cmdline': None, 'container_id': None, 'inode': 2}
    child = dict(raylet, pid=11, process='worker', inode=1)  # shares raylet's socket
    busy = [{'port': 1, 'address': '0.0.0.0', 'error': 'in use', 'holders': [raylet, child]},
            {'port': 2, 'address': '0.0.0.0', 'error': 'in use', 'holders': [dict(raylet, inode=3), other]},
            {'port': 3, 'address': '0.0.0.0', 'error': 'in use', 'holders': []}]
    in_use, held, bad = listener.classify(busy, ['raylet'])
    assert held == [1] and [e['port'] for e in bad] == [2, 3]
    assert [(e['port'], e['pid'], e['allowed']) for e in in_use] == [
        (1, 10, True), (1, 11, True), (2, 10, True), (2, 20, False), (3, None, False)]
