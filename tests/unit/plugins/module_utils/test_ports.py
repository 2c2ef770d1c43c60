# -*- coding: utf-8 -*-
"""The port table: every port classified once, and everything derived from it (plan listeners, ray start argv,
validation; the firewall rules and the reachability matrix in their own test modules, plus here for a new port)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os

import pytest
import yaml

from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib
from ansible_collections.sfops.secretflow.plugins.module_utils import _ports as portlib
from ansible_collections.sfops.secretflow.plugins.module_utils import _reachability as reach
from ansible_collections.sfops.secretflow.plugins.module_utils._firewall import FirewallError, firewall_rules

from test_plan import DEFAULTS, errors_of, model, two_parties  # pylint: disable=import-error

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def read_yaml(*parts):
    with open(os.path.join(ROOT, *parts)) as handle:
        return yaml.safe_load(handle)


def test_every_variable_of_the_table_has_a_default_and_a_documented_argument():
    defaults = read_yaml('roles', 'plan', 'defaults', 'main.yml')
    options = read_yaml('roles', 'plan', 'meta', 'argument_specs.yml')['argument_specs']['main']['options']
    for var in portlib.port_vars():
        assert isinstance(defaults.get(var), int), var
        assert options[var]['type'] == 'int' and options[var]['default'] == defaults[var], var


def test_rows_are_well_formed():
    names = [row.name for row in portlib.PORTS]
    assert len(set(names)) == len(names)
    assert len(set(portlib.port_vars())) == len(portlib.port_vars())
    for row in portlib.PORTS:
        assert row.bound in (portlib.HEAD, portlib.NODE), row
        assert row.reach in (portlib.PARTY, portlib.PEERS), row
        assert row.span in (portlib.PORT, portlib.POOL, portlib.SLOTS), row
        assert len(row.variables) == (2 if row.span == portlib.POOL else 1), row
        assert row.flags == () or len(row.flags) == len(row.variables), row
        # Other parties dial the head's external address only.
        assert row.reach == portlib.PARTY or row.bound == portlib.HEAD, row
    # exactly one GCS port: the head passes it after --head, the other nodes dial it with --address
    assert [row.name for row in portlib.PORTS if row.group == 'gcs'] == ['ray_port']


@pytest.fixture(name='plan')
def plan_fixture():
    return planlib.build_plan_or_raise(two_parties())


def test_the_plan_publishes_the_listeners_of_every_node(plan):
    head = plan['parties']['alice']['nodes']['alice-1']['listeners']
    # every row but the Ray client server, which is off unless sf_ray_client_server_enabled
    assert [entry['name'] for entry in head] == [row.name for row in portlib.PORTS
                                                 if row.name != 'ray_client_server_port']
    by_name = {entry['name']: entry for entry in head}
    assert by_name['ray_port'] == {'name': 'ray_port', 'variables': ['sf_ray_port'], 'first': 16380, 'last': 16380,
                                   'group': 'gcs', 'reach': 'party', 'span': 'port'}
    assert by_name['ray_worker_ports'] == {
        'name': 'ray_worker_ports', 'variables': ['sf_ray_min_worker_port', 'sf_ray_max_worker_port'],
        'first': 17000, 'last': 17199, 'group': 'ray', 'reach': 'party', 'span': 'pool'}
    assert by_name['fed_ports']['first'] == 19000 and by_name['fed_ports']['last'] == 19009  # 10 job slots
    assert by_name['spu_ports']['reach'] == 'peers'
    worker = plan['parties']['alice']['nodes']['alice-2']['listeners']
    assert [entry['name'] for entry in worker] == [row.name for row in portlib.PORTS if row.bound == portlib.NODE]
    # what other parties reach of alice: the head's ranges with reach 'peers', also under their old names
    alice = plan['parties']['alice']
    assert [entry['name'] for entry in alice['listeners']] == ['fed_ports', 'spu_ports']
    assert alice['fed_ports'] == [19000, 19009] and alice['spu_port'] == 19500


def test_the_ports_view_by_variable_is_what_earlier_plans_published(plan):
    head = plan['parties']['alice']['nodes']['alice-1']['ports']
    assert head == {'ray_node_manager_port': 16381, 'ray_object_manager_port': 16382,
                    'ray_dashboard_agent_grpc_port': 16384, 'ray_dashboard_agent_listen_port': 16385,
                    'ray_metrics_export_port': 16386, 'ray_runtime_env_agent_port': 16387, 'ray_port': 16380,
                    'ray_client_server_port': 16383, 'redis_port': 16379, 'ray_min_worker_port': 17000,
                    'ray_max_worker_port': 17199, 'fed_port': 19000, 'spu_port': 19500}
    worker = plan['parties']['alice']['nodes']['alice-2']['ports']
    assert set(worker) == set(head) - {'ray_port', 'ray_client_server_port', 'redis_port', 'fed_port', 'spu_port'}


def test_ray_start_argv_order_is_unchanged(plan):
    """The argv goes into the supervisord configuration: a different order would restart every node."""
    head = plan['parties']['alice']['nodes']['alice-1']['ray_start_argv']
    assert head[:head.index('--labels={"sf_node_id":"alice-head","sf_party":"alice"}')] == list(
        planlib.RAY_START_NO_CLIENT_SERVER) + [
        '--head', '--port=16380', '--node-ip-address=10.0.0.11', '--node-name=alice-head',
        '--node-manager-port=16381', '--object-manager-port=16382', '--dashboard-agent-grpc-port=16384',
        '--dashboard-agent-listen-port=16385', '--metrics-export-port=16386', '--runtime-env-agent-port=16387',
        '--resources={"sf_gateway":1000}', '--min-worker-port=17000', '--max-worker-port=17199']
    # with the client server asked for, `ray start` itself and its port where it always was
    inv = two_parties()
    inv['hosts']['alice-1']['sf_ray_client_server_enabled'] = True
    head = planlib.build_plan_or_raise(inv)['parties']['alice']['nodes']['alice-1']['ray_start_argv']
    assert head[:head.index('--resources={"sf_gateway":1000}')] == [
        'ray', 'start', '--head', '--port=16380', '--node-ip-address=10.0.0.11', '--node-name=alice-head',
        '--node-manager-port=16381', '--object-manager-port=16382', '--dashboard-agent-grpc-port=16384',
        '--dashboard-agent-listen-port=16385', '--metrics-export-port=16386', '--runtime-env-agent-port=16387',
        '--ray-client-server-port=16383']
    worker = plan['parties']['alice']['nodes']['alice-2']['ray_start_argv']
    assert worker[:worker.index('--labels={"sf_node_id":"alice-w1","sf_party":"alice"}')] == [
        'ray', 'start', '--address=10.0.0.11:16380', '--node-ip-address=10.0.0.12', '--node-name=alice-w1',
        '--node-manager-port=16381', '--object-manager-port=16382', '--dashboard-agent-grpc-port=16384',
        '--dashboard-agent-listen-port=16385', '--metrics-export-port=16386', '--runtime-env-agent-port=16387',
        '--min-worker-port=17000', '--max-worker-port=17199']


# ------------------------------------------------------------------ a port added to the table is everywhere

AGENT = portlib._row('sf_test_agent_port', '--test-agent-port', portlib.NODE, portlib.PARTY, 'ray')
GATEWAY = portlib._row('sf_test_gateway_port', None, portlib.HEAD, portlib.PEERS, 'fed')


@pytest.fixture(name='added')
def added_fixture(monkeypatch):
    """The table with two more rows: a Ray port of every node (with a flag) and a port other parties reach."""
    rows = list(portlib.PORTS)
    rows.insert(6, AGENT)   # after the runtime env agent, before the head's ports
    rows.append(GATEWAY)
    monkeypatch.setattr(portlib, 'PORTS', tuple(rows))
    return {'sf_test_agent_port': 16390, 'sf_test_gateway_port': 19900}


def added_inventory(values, **extra):
    inv = two_parties()
    inv['defaults'].update(values)
    for host in inv['hosts'].values():
        host.update(extra)
    return inv


def test_an_added_port_is_validated_and_in_the_argv_and_the_listeners(added):
    plan = planlib.build_plan_or_raise(added_inventory(added))
    for host, node in plan['parties']['alice']['nodes'].items():
        argv = node['ray_start_argv']
        assert '--test-agent-port=16390' in argv, host
        assert argv.index('--test-agent-port=16390') == argv.index('--runtime-env-agent-port=16387') + 1
        assert {'name': 'test_agent_port', 'variables': ['sf_test_agent_port'], 'first': 16390, 'last': 16390,
                'group': 'ray', 'reach': 'party', 'span': 'port'} in node['listeners']
        assert node['ports']['test_agent_port'] == 16390
    # a port without a flag is not in the argv; only the head binds it; other parties reach it
    head = plan['parties']['alice']['nodes']['alice-1']
    assert not any('19900' in arg for arg in head['ray_start_argv'])
    assert 'test_gateway_port' in [entry['name'] for entry in head['listeners']]
    assert 'test_gateway_port' not in [entry['name'] for entry in plan['parties']['alice']['nodes']['alice-2']
                                       ['listeners']]
    assert plan['parties']['alice']['test_gateway_port'] == 19900
    # checked like every port, refused in sf_ray_start_extra_args, party-wide when head-only
    inv = added_inventory(added)
    inv['hosts']['alice-2']['sf_test_agent_port'] = 'x'
    inv['hosts']['bob-1']['sf_ray_start_extra_args'] = ['--test-agent-port=1']
    inv['hosts']['alice-2']['sf_test_gateway_port'] = 19901
    errors = errors_of(inv)
    assert len(errors) == 3, errors
    assert "host 'alice-2': sf_test_agent_port='x' is not an integer port" in errors[0]
    assert "host 'bob-1': sf_ray_start_extra_args must not set --test-agent-port" in errors[1]
    assert "host 'alice-2': sf_test_gateway_port=19901 differs from the party head" in errors[2]


def test_an_added_port_takes_part_in_the_collision_check(added):
    inv = added_inventory(added)
    inv['hosts']['alice-2']['sf_test_agent_port'] = 17050
    errors = errors_of(inv)
    assert len(errors) == 1 and 'sf_test_agent_port 17050 overlaps sf_ray_min_worker_port..sf_ray_max_worker_port' \
        in errors[0], errors


def test_a_peer_declares_every_port_other_parties_reach(added):
    peers = {'carol': {'external_ip': '198.51.100.7', 'fed_port': 29000, 'spu_port': 29500}}
    errors = errors_of(added_inventory(added, sf_peer_parties=peers))
    assert errors == ["party 'carol': sf_peer_parties.carol.test_gateway_port is missing"]
    peers['carol']['test_gateway_port'] = 29900
    plan = planlib.build_plan_or_raise(added_inventory(added, sf_peer_parties=copy.deepcopy(peers)))
    assert plan['parties']['carol']['test_gateway_port'] == 29900


def test_without_the_added_rows_the_new_variables_mean_nothing():
    inv = model(alice={'a-1': {'ansible_host': '10.0.0.1'}}, bob={'b-1': {'ansible_host': '10.0.0.2'}})
    inv['defaults'] = dict(DEFAULTS)
    inv['hosts']['a-1']['sf_test_agent_port'] = 'not even a port'
    assert errors_of(inv) == []


def test_an_added_port_is_in_the_firewall_rules(added):
    plan = planlib.build_plan_or_raise(added_inventory(added))
    head = firewall_rules(plan, 'alice-1', peer_sources={'bob': ['203.0.113.9']})  # bob's address is a DNS name
    assert any(r[0] <= 16390 <= r[1] for r in head['private_ports'])
    assert not any(r[0] <= 16390 <= r[1] for r in head['public_ports'])
    assert [19900, 19900] in head['public_ports']
    worker = firewall_rules(plan, 'alice-2')
    assert any(r[0] <= 16390 <= r[1] for r in worker['private_ports'])
    assert not any(r[0] <= 19900 <= r[1] for r in worker['private_ports'] + worker['public_ports'])
    with pytest.raises(FirewallError, match=r'SSH port 16390 .*\(sf_test_agent_port\)'):
        firewall_rules(plan, 'alice-2', ssh_port=16390)


def test_an_added_port_is_listened_on_and_probed(added):
    plan = planlib.build_plan_or_raise(added_inventory(added))
    listen = reach.listeners(plan)
    assert 16390 in listen['alice-1']['ports'] and 16390 in listen['alice-2']['ports']
    assert 19900 in listen['alice-1']['ports'] and 19900 not in listen['alice-2']['ports']
    # inside the party: must reach the other node's new Ray port
    own = [t for t in reach.probes(plan, 'alice-2', 'preflight') if t['port'] == 16390]
    assert [(t['host'], t['expect'], t['group']) for t in own] == [('10.0.0.11', 'open', 'ray')]
    # from another party: the new public port must be reachable at the head's external address, the new Ray port
    # of every node must not
    verify = reach.probes(plan, 'bob-1', 'verify')
    assert [(t['host'], t['expect'], t['group']) for t in verify if t['port'] == 19900] == [
        ('10.0.0.11', 'open', 'fed')]
    assert sorted((t['host'], t['expect']) for t in verify if t['port'] == 16390) == [
        ('10.0.0.11', 'closed'), ('10.0.0.12', 'closed')]


def test_an_added_public_port_is_in_the_summary_and_what_other_parties_see(added):
    plan = planlib.build_plan_or_raise(added_inventory(added))
    assert any('external 10.0.0.11 fed 19000-19009 spu 19500-19509 fed 19900-19900' in line
               for line in planlib.summary_lines(plan))
    seen_by_bob = planlib.party_manifest(plan, 'bob')['parties']['alice']
    assert seen_by_bob == {'managed': True, 'external_ip': '10.0.0.11', 'fed_port': 19000, 'spu_port': 19500,
                           'fed_ports': [19000, 19009], 'spu_ports': [19500, 19509], 'test_gateway_port': 19900}
