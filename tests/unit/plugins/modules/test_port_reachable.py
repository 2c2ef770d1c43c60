# -*- coding: utf-8 -*-
"""Module tests of port_reachable: main() with patched module args, real sockets on 127.0.0.1."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

import pytest

from ansible_collections.sfops.secretflow.plugins.modules import port_reachable

from net_testing import LOCAL, free_ports, listening_port, run_module  # pylint: disable=import-error


def run(capsys, args, check_mode=False):
    """Run the module; returns its JSON result (exit code 1 exactly when it failed)."""
    return run_module(port_reachable.main, capsys, args, check_mode)


@pytest.fixture
def open_port():
    with listening_port(8) as port:
        yield port


@pytest.fixture
def closed_port():
    return free_ports()[0]


@pytest.mark.parametrize('check_mode', [False, True])
def test_all_expectations_met(capsys, open_port, closed_port, check_mode):
    out = run(capsys, {'source': 'alice-1', 'timeout': 1, 'parallel': 2, 'targets': [
        {'host': LOCAL, 'port': open_port, 'label': 'fed'},
        {'host': LOCAL, 'port': closed_port, 'expect': 'closed', 'label': 'redis'},
        {'host': LOCAL, 'port': closed_port, 'expect': 'answers'},
    ]}, check_mode=check_mode)
    assert out['changed'] is False and 'failed' not in out
    assert out['failures'] == [] and out['summary'] == {'total': 3, 'ok': 3, 'failed': 0}
    assert out['msg'] == 'all 3 reachability expectations met'
    first, second, third = out['results']  # probes run in check mode too, in target order
    assert (first['port'], first['label'], first['expect'], first['reachable'], first['ok']) == (
        open_port, 'fed', 'open', True, True)
    assert isinstance(first['latency_ms'], float) and first['error'] is None and first['banner_ok'] is None
    assert (second['port'], second['expect'], second['error'], second['latency_ms'], second['ok']) == (
        closed_port, 'closed', 'refused', None, True)
    assert (third['label'], third['expect'], third['ok']) == (None, 'answers', True)
    assert set(first) >= {'host', 'port', 'label', 'expect', 'reachable', 'latency_ms', 'error', 'error_detail',
                          'banner_ok', 'ok'}


def test_unmet_expectations_fail_with_every_message(capsys, open_port, closed_port):
    out = run(capsys, {'source': 'bob-1', 'targets': [
        {'host': LOCAL, 'port': open_port, 'expect': 'closed', 'label': 'alice gcs'},
        {'host': LOCAL, 'port': closed_port, 'label': 'alice fed'},
        {'host': LOCAL, 'port': open_port},
        {'host': 'sfops-nowhere.invalid', 'port': 80, 'expect': 'closed', 'label': 'ghost'},
    ]})
    assert out['failed'] is True and out['changed'] is False
    assert out['summary'] == {'total': 4, 'ok': 1, 'failed': 3}
    latency = out['results'][0]['latency_ms']
    assert out['failures'] == [
        'bob-1 -> 127.0.0.1:%d (alice gcs): expected closed, but it accepted a connection (%.1f ms)' % (open_port,
                                                                                                        latency),
        'bob-1 -> 127.0.0.1:%d (alice fed): expected open, got refused (connection refused)' % closed_port,
        'bob-1 -> sfops-nowhere.invalid:80 (ghost): expected closed, but the name does not resolve, which proves '
        'nothing (%s)' % out['results'][3]['error_detail'],
    ]
    assert out['msg'] == '3 of 4 reachability expectations not met: ' + '; '.join(out['failures'])
    assert [r['ok'] for r in out['results']] == [False, False, True, False]


def test_banner_mismatch_fails_but_is_reachable(capsys, open_port):
    out = run(capsys, {'source': 's', 'timeout': 0.2, 'targets': [
        {'host': LOCAL, 'port': open_port, 'banner': 'sfops-listener'}]})
    res = out['results'][0]
    assert out['failed'] is True and res['reachable'] is True and res['banner_ok'] is False and res['ok'] is False
    assert "expected open with banner 'sfops-listener'" in out['msg'] and 'but sent nothing' in out['msg']


def test_default_source_is_the_hostname(capsys, closed_port):
    out = run(capsys, {'targets': [{'host': LOCAL, 'port': closed_port}]})
    assert out['failures'] == ['%s -> 127.0.0.1:%d: expected open, got refused (connection refused)'
                               % (socket.gethostname(), closed_port)]


@pytest.mark.parametrize('args, message', [
    ({'targets': [{'host': LOCAL, 'port': 70000}]}, 'port 70000 must be between 1 and 65535'),
    ({'targets': [{'host': LOCAL, 'port': 1}], 'timeout': 0}, 'timeout must be greater than 0'),
    ({'targets': [{'host': LOCAL, 'port': 1}], 'parallel': 0}, 'parallel must be at least 1'),
    ({'targets': [{'host': LOCAL, 'port': 1, 'expect': 'maybe'}]}, 'value of expect must be one of'),
    ({'targets': [{'port': 1}]}, 'missing required arguments: host'),
])
def test_bad_arguments(capsys, args, message):
    out = run(capsys, args)
    assert out['failed'] is True and message in out['msg']
    assert out.get('results', []) == []


def test_meta_comes_back_with_each_result_whatever_the_order(capsys, open_port, closed_port):
    """A report reads each result's own metadata, it never pairs results with targets by position."""
    targets = [{'host': LOCAL, 'port': port, 'expect': 'answers', 'meta': {'party': 'bob', 'group': group, 'n': i}}
               for i, (port, group) in enumerate([(closed_port, 'redis'), (open_port, 'fed')] * 20)]
    out = run(capsys, {'timeout': 1, 'parallel': 7, 'targets': targets})
    assert [(r['port'], r['meta']) for r in out['results']] == [(t['port'], t['meta']) for t in targets]
    assert run(capsys, {'timeout': 1, 'targets': [{'host': LOCAL, 'port': open_port}]})['results'][0]['meta'] is None
