# -*- coding: utf-8 -*-
"""The Ray client server (ray://, runs any code it is sent, unauthenticated) runs only when asked for (#12).

The port table keeps its row (one classification, `switch` sf_ray_client_server_enabled); switched off, the head's
`ray start` goes through the plan's launcher and the port is in neither the firewall rules nor the reachability
probes. The launcher is checked against the Ray of the worker venv (skipped without one).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import subprocess

import pytest

from ansible_collections.sfops.secretflow.plugins.filter.ray_start_argv import FilterModule
from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib
from ansible_collections.sfops.secretflow.plugins.module_utils import _ports as portlib
from ansible_collections.sfops.secretflow.plugins.module_utils import _reachability as reach
from ansible_collections.sfops.secretflow.plugins.module_utils._firewall import firewall_rules

from test_plan import errors_of, two_parties  # pylint: disable=import-error

CLIENT_PORT = 16383


def build(enabled=None, host='alice-1'):
    inv = two_parties()
    if enabled is not None:
        inv['hosts'][host]['sf_ray_client_server_enabled'] = enabled
    return planlib.build_plan_or_raise(inv)


def node(plan, host):
    return plan['parties'][plan['hosts'][host]]['nodes'][host]


def private_ports(plan, host):
    return set(portlib.expand([{'first': r[0], 'last': r[1], 'span': portlib.PORT}
                               for r in firewall_rules(plan, host, {'bob': ['10.0.0.21']})['private_ports']]))


def test_the_port_table_keeps_the_row_with_its_switch():
    row = [r for r in portlib.PORTS if r.variables == ('sf_ray_client_server_port',)]
    assert len(row) == 1 and row[0].switch == 'sf_ray_client_server_enabled' == planlib.RAY_CLIENT_SERVER_SWITCH
    assert row[0].reach == portlib.PARTY and row[0].bound == portlib.HEAD
    assert portlib.switch_vars() == ('sf_ray_client_server_enabled',)
    assert row[0] in portlib.rows_of_role(True) and row[0] not in portlib.rows_bound_on(True)
    assert row[0] in portlib.rows_bound_on(True, {'sf_ray_client_server_enabled': True})


def test_off_by_default_not_started_not_in_the_firewall_not_probed():
    plan = build()
    head = node(plan, 'alice-1')
    argv = head['ray_start_argv']
    assert argv[:4] == list(planlib.RAY_START_NO_CLIENT_SERVER) and argv[4] == '--head'
    assert not any('ray-client-server' in a for a in argv)
    assert FilterModule().filters()['ray_start_argv'](plan, 'alice-1') == argv
    assert 'ray_client_server_port' not in [e['name'] for e in head['listeners']]
    assert head['switches'] == {'sf_ray_client_server_enabled': False}
    # the port stays reserved in the ports view (and is validated), it is just not bound
    assert head['ports']['ray_client_server_port'] == CLIENT_PORT
    assert CLIENT_PORT not in private_ports(plan, 'alice-1')
    assert CLIENT_PORT not in [t['port'] for t in reach.probes(plan, 'bob-1', 'verify')]
    assert CLIENT_PORT not in [t['port'] for t in reach.probes(plan, 'alice-2', 'preflight')]
    assert CLIENT_PORT not in reach.listeners(plan)['alice-1']['ports']


def test_enabled_it_is_plain_ray_start_with_its_port_firewalled_and_probed():
    plan = build(enabled=True)
    argv = node(plan, 'alice-1')['ray_start_argv']
    assert argv[:3] == ['ray', 'start', '--head']
    assert '--ray-client-server-port=%d' % CLIENT_PORT in argv
    assert FilterModule().filters()['ray_start_argv'](plan, 'alice-1') == argv
    assert CLIENT_PORT in private_ports(plan, 'alice-1')
    closed = [t for t in reach.probes(plan, 'bob-1', 'verify') if t['port'] == CLIENT_PORT]
    assert [(t['node'], t['expect']) for t in closed] == [('alice-1', 'closed')]
    opened = [t for t in reach.probes(plan, 'alice-2', 'preflight') if t['port'] == CLIENT_PORT]
    assert [(t['node'], t['expect']) for t in opened] == [('alice-1', 'open')]
    # bob did not ask for it: its head still goes without
    assert node(plan, 'bob-1')['ray_start_argv'][:4] == list(planlib.RAY_START_NO_CLIENT_SERVER)


@pytest.mark.parametrize('value, on', [('true', True), ('yes', True), ('false', False), ('0', False)])
def test_ini_words_are_understood(value, on):
    argv = node(build(enabled=value), 'alice-1')['ray_start_argv']
    assert (argv[:2] == ['ray', 'start']) is on


def test_worker_nodes_never_use_the_launcher():
    """Only a head runs the client server (ray/_private/node.py, start_head_processes)."""
    for plan in (build(), build(enabled=True, host='alice-2')):
        argv = node(plan, 'alice-2')['ray_start_argv']
        assert argv[:3] == ['ray', 'start', '--address=10.0.0.11:16380']


def test_a_bad_value_is_named():
    inv = two_parties()
    inv['hosts']['alice-1']['sf_ray_client_server_enabled'] = 'maybe'
    assert "party 'alice', host 'alice-1': sf_ray_client_server_enabled='maybe' must be true or false" \
        in errors_of(inv)


def test_a_switched_off_port_claims_nothing():
    """The reserved port of a disabled client server does not collide with anything (it is not bound)."""
    inv = two_parties()
    inv['hosts']['alice-1']['sf_ray_client_server_port'] = 16380   # the GCS port
    assert not [e for e in errors_of(inv) if 'collide' in e]
    inv['hosts']['alice-1']['sf_ray_client_server_enabled'] = True
    assert [e for e in errors_of(inv) if 'collide' in e]


# ------------------------------------------------------------------ against Ray 2.9.3's own `ray start`

def _worker_python():
    for path in sorted(glob.glob('/var/cache/sfops/sf-venv-*/bin/python'), key=os.path.getmtime, reverse=True):
        if glob.glob(os.path.join(os.path.dirname(os.path.dirname(path)), 'lib', 'python3*', 'site-packages',
                                  'ray', 'scripts', 'scripts.py')):
            return path
    return None


WORKER_PYTHON = _worker_python()

# Stop `ray start` where it hands its parameters to Ray - ray._private.parameter.RayParams - and print the client
# server port it would use (None: Ray skips start_ray_client_server). Nothing is started.
_PROBE = ('import ray._private.parameter as p\n'
          'def stop(self, *args, **kwargs):\n'
          '    print("CLIENT_SERVER_PORT=%r" % (kwargs.get("ray_client_server_port"),))\n'
          '    raise SystemExit(0)\n'
          'p.RayParams.__init__ = stop\n')


def client_server_port(argv):
    if argv[:2] == ['ray', 'start']:
        code = _PROBE + 'import sys\nfrom ray.scripts.scripts import main\nsys.argv[0] = "ray"\nsys.exit(main())\n'
        args = argv[1:]
    else:
        assert argv[:2] == ['python', '-c']
        code = _PROBE + argv[2]
        args = argv[3:]
    proc = subprocess.run([WORKER_PYTHON, '-c', code] + args, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(WORKER_PYTHON is None, reason='no worker venv with Ray (/var/cache/sfops/sf-venv-*)')
def test_ray_itself_starts_the_client_server_unless_the_launcher_is_used():
    plain = node(build(enabled=True), 'alice-1')['ray_start_argv']
    # what the plan gave before: ray start with the flag -> Ray binds it
    assert client_server_port(plain) == 'CLIENT_SERVER_PORT=%d' % CLIENT_PORT
    # the flag left out is not enough: Ray 2.9 falls back to 10001 (grpc is installed)
    assert client_server_port([a for a in plain if 'ray-client-server' not in a]) == 'CLIENT_SERVER_PORT=10001'
    # the launcher: no port, so ray/_private/node.py never calls start_ray_client_server
    assert client_server_port(node(build(), 'alice-1')['ray_start_argv']) == 'CLIENT_SERVER_PORT=None'
