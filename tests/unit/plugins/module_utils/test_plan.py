# -*- coding: utf-8 -*-
"""Unit tests of the deployment plan: every validation rule, good and bad, and the plan's contents."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

import pytest

from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib
from ansible_collections.sfops.secretflow.plugins.module_utils import _ports as portlib
from ansible_collections.sfops.secretflow.plugins.action.deployment_plan import load_defaults

DEFAULTS = load_defaults()


def model(**parties):
    """parties: name -> {host: vars}; the first host of a party is the head unless sf_ray_role is given."""
    inv = {'parties': {}, 'stray_hosts': [], 'hosts': {}, 'defaults': copy.deepcopy(DEFAULTS)}
    for party, hosts in parties.items():
        inv['parties'][party] = list(hosts)
        for i, (name, hv) in enumerate(hosts.items()):
            hv = dict(hv)
            hv.setdefault('inventory_hostname', name)
            if i == 0 and 'sf_ray_role' not in hv:
                hv['sf_ray_role'] = 'head'
            inv['hosts'][name] = hv
    return inv


def two_parties():
    return model(
        alice={'alice-1': {'ansible_host': '10.0.0.11', 'sf_node_id': 'alice-head'},
               'alice-2': {'ansible_host': '10.0.0.12', 'sf_node_id': 'alice-w1'}},
        bob={'bob-1': {'ansible_host': '10.0.0.21', 'sf_node_id': 'bob-head', 'sf_external_ip': 'bob.example.org'}},
    )


def errors_of(inv):
    errors, plan = planlib.build_plan(inv)
    assert plan is None if errors else plan is not None
    return errors


def only_error(inv, *needles):
    errors = errors_of(inv)
    assert len(errors) == 1, errors
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def test_good_inventory_has_no_errors():
    assert errors_of(two_parties()) == []


# ---------------------------------------------------------------- parties


def test_no_parties():
    inv = model()
    only_error(inv, 'no parties', 'secretflow')


def test_fewer_than_two_parties():
    inv = model(alice={'a-1': {'ansible_host': '10.0.0.1'}})
    only_error(inv, 'at least two parties', 'found 1: alice')


def test_one_managed_party_plus_a_peer_is_enough():
    inv = model(alice={'a-1': {'ansible_host': '10.0.0.1'}})
    inv['hosts']['a-1']['sf_peer_parties'] = {'carol': {'external_ip': '203.0.113.7', 'fed_port': 19000,
                                                        'spu_port': 19500}}
    assert errors_of(inv) == []


@pytest.mark.parametrize('name', ['Alice', '1bank', 'bank-a', 'a' * 33, '_x'])
def test_invalid_party_name(name):
    inv = two_parties()
    inv['parties'][name] = inv['parties'].pop('bob')
    for host in inv['parties'][name]:
        inv['hosts'][host]['party'] = name
    only_error(inv, "party '%s'" % name, 'invalid party name')


@pytest.mark.parametrize('name', ['a', 'bank_a', 'p' * 32, 'x9_'])
def test_valid_party_names(name):
    inv = two_parties()
    inv['parties'][name] = inv['parties'].pop('bob')
    assert errors_of(inv) == []


def test_host_in_two_parties():
    inv = two_parties()
    inv['parties']['bob'].append('alice-2')
    only_error(inv, "host 'alice-2'", 'two parties', "'alice'", "'bob'")


def test_host_in_no_party():
    inv = two_parties()
    inv['stray_hosts'] = ['lonely']
    only_error(inv, "host 'lonely'", 'no party group')


def test_empty_party_group():
    inv = two_parties()
    inv['parties']['carol'] = []
    only_error(inv, "party 'carol'", 'no hosts')


# ---------------------------------------------------------------- heads and roles


def test_party_without_head():
    inv = two_parties()
    inv['hosts']['bob-1']['sf_ray_role'] = 'worker'
    only_error(inv, "party 'bob'", 'sf_ray_role', 'no host of the party is the head')


def test_party_with_two_heads():
    inv = two_parties()
    inv['hosts']['alice-2']['sf_ray_role'] = 'head'
    only_error(inv, "party 'alice'", 'sf_ray_role', '2 heads', 'alice-1, alice-2')


def test_unknown_ray_role():
    inv = two_parties()
    inv['hosts']['alice-2']['sf_ray_role'] = 'master'
    only_error(inv, "party 'alice', host 'alice-2'", "sf_ray_role='master' is unknown")


# ---------------------------------------------------------------- node IDs and addresses


@pytest.mark.parametrize('node_id', ['Alice', 'alice_1', '-a', 'a-', 'a' * 64, '', 'a.b'])
def test_invalid_node_id(node_id):
    inv = two_parties()
    inv['hosts']['alice-2']['sf_node_id'] = node_id
    only_error(inv, "host 'alice-2'", 'sf_node_id', 'RFC 1123')


@pytest.mark.parametrize('node_id', ['a', '0', 'a' * 63, 'alice-w1', '9lives'])
def test_valid_node_id(node_id):
    inv = two_parties()
    inv['hosts']['alice-2']['sf_node_id'] = node_id
    assert errors_of(inv) == []


def test_node_id_defaults_to_inventory_hostname():
    inv = two_parties()
    del inv['hosts']['alice-2']['sf_node_id']
    _errors, plan = planlib.build_plan(inv)
    assert plan['parties']['alice']['nodes']['alice-2']['node_id'] == 'alice-2'


def test_invalid_default_node_id_says_to_set_it():
    inv = two_parties()
    inv['parties']['alice'].append('Alice_3')
    inv['hosts']['Alice_3'] = {'inventory_hostname': 'Alice_3', 'ansible_host': '10.0.0.13'}
    only_error(inv, "host 'Alice_3'", 'sf_node_id', 'set sf_node_id for this host')


def test_duplicate_node_id_across_parties():
    inv = two_parties()
    inv['hosts']['bob-1']['sf_node_id'] = 'alice-w1'
    only_error(inv, 'sf_node_id', "'alice-w1' is already used by host 'alice-2'", 'unique')


@pytest.mark.parametrize('ip', ['alice.example.org', '10.0.0.300', '', 'localhost'])
def test_node_ip_must_be_an_ip(ip):
    inv = two_parties()
    inv['hosts']['alice-2']['sf_node_ip'] = ip
    only_error(inv, "host 'alice-2'", 'sf_node_ip', 'not an IP address')


def test_node_ip_defaults_to_ansible_host_and_must_be_an_ip():
    inv = two_parties()
    inv['hosts']['alice-2']['ansible_host'] = 'alice-2.internal'
    only_error(inv, "host 'alice-2'", "sf_node_ip='alice-2.internal'", 'defaults to ansible_host')


def test_node_ip_overrides_ansible_host():
    inv = two_parties()
    inv['hosts']['alice-2']['ansible_host'] = 'alice-2.internal'
    inv['hosts']['alice-2']['sf_node_ip'] = '10.9.0.12'
    _errors, plan = planlib.build_plan(inv)
    node = plan['parties']['alice']['nodes']['alice-2']
    assert node['node_ip'] == '10.9.0.12' and node['external_ip'] == '10.9.0.12'


@pytest.mark.parametrize('ext', ['bob_host.example.org', 'http://bob.example.org', '1.2.3.999', 'bob..org',
                                 '-bob.org', 'bob.example.org:19000', 12])
def test_invalid_external_ip(ext):
    inv = two_parties()
    inv['hosts']['bob-1']['sf_external_ip'] = ext
    only_error(inv, "party 'bob', host 'bob-1'", 'sf_external_ip', 'neither an IP address nor a DNS name')


@pytest.mark.parametrize('ext', ['203.0.113.9', '2001:db8::9', 'sf.bob.example.org', 'bob', 'bob.example.org.'])
def test_valid_external_ip(ext):
    inv = two_parties()
    inv['hosts']['bob-1']['sf_external_ip'] = ext
    assert errors_of(inv) == []


# ---------------------------------------------------------------- ports


@pytest.mark.parametrize('value', [0, 65536, -1, 'abc', '19000x', True, None, 1.5, [19000]])
def test_port_must_be_an_integer_in_range(value):
    inv = two_parties()
    inv['hosts']['alice-2']['sf_ray_node_manager_port'] = value
    if value is None:  # None means "not set": the default applies
        assert errors_of(inv) == []
        return
    only_error(inv, "host 'alice-2'", 'sf_ray_node_manager_port', 'not an integer port in 1-65535')


def test_port_given_as_string_is_accepted():
    inv = two_parties()
    for host in inv['hosts'].values():
        host['sf_fed_port'] = '20000'
    _errors, plan = planlib.build_plan(inv)
    assert plan['parties']['alice']['fed_port'] == 20000


@pytest.mark.parametrize('var', planlib.PORT_VARS)
def test_every_port_variable_is_checked(var):
    inv = two_parties()
    inv['hosts']['alice-1'][var] = 70000
    errors = errors_of(inv)
    assert any(var in e and 'not an integer port' in e for e in errors), errors


def test_fed_and_spu_ranges_overlap():
    inv = two_parties()
    for host in ('bob-1',):
        inv['hosts'][host]['sf_spu_port'] = 19005  # fed 19000-19009 with 10 slots
    only_error(inv, "host 'bob-1'", 'ports collide on 10.0.0.21', 'sf_fed_port range', 'sf_spu_port range')


def test_fed_range_overlaps_a_fixed_port():
    inv = two_parties()
    inv['hosts']['bob-1']['sf_redis_port'] = 19003
    only_error(inv, 'ports collide', 'sf_redis_port 19003', 'sf_fed_port range')


def test_fixed_port_overlaps_worker_range():
    inv = two_parties()
    inv['hosts']['alice-2']['sf_ray_metrics_export_port'] = 17100
    only_error(inv, "host 'alice-2'", 'sf_ray_metrics_export_port 17100', 'sf_ray_min_worker_port..')


def test_two_fixed_ports_equal():
    inv = two_parties()
    inv['hosts']['alice-2']['sf_ray_object_manager_port'] = 16381
    only_error(inv, "host 'alice-2'", 'sf_ray_node_manager_port 16381', 'sf_ray_object_manager_port 16381')


def test_nodes_sharing_an_ip_with_overlapping_ports():
    inv = two_parties()
    inv['hosts']['bob-1']['ansible_host'] = '10.0.0.11'  # same server as alice-1, default ports
    errors = errors_of(inv)
    assert errors
    assert all('ports collide on 10.0.0.11' in e for e in errors)
    assert any("with host 'alice-1' (party 'alice')" in e or "with host 'bob-1' (party 'bob')" in e for e in errors)


def test_nodes_sharing_an_ip_with_distinct_ports_are_fine():
    inv = two_parties()
    shifted = {var: DEFAULTS[var] + 1000 for var in planlib.PORT_VARS}
    inv['hosts']['bob-1'].update(shifted, ansible_host='10.0.0.11')
    assert errors_of(inv) == []


def test_worker_nodes_do_not_claim_head_ports():
    """A worker node on the head's server only collides on the ports it really binds."""
    inv = two_parties()
    fixed = [row for row in portlib.PORTS if row.bound == portlib.NODE and row.span == portlib.PORT]
    shifted = {var: DEFAULTS[var] + 1000 for var in portlib.port_vars(fixed)}
    shifted.update(sf_ray_min_worker_port=18000, sf_ray_max_worker_port=18099)
    inv['hosts']['alice-2'].update(shifted, ansible_host='10.0.0.11')
    assert errors_of(inv) == []


def test_min_worker_port_above_max():
    inv = two_parties()
    inv['hosts']['alice-2'].update(sf_ray_min_worker_port=17500, sf_ray_max_worker_port=17400)
    only_error(inv, "host 'alice-2'", 'sf_ray_min_worker_port=17500 is above sf_ray_max_worker_port=17400')


@pytest.mark.parametrize('slots', [0, -3, 'many', True])
def test_job_slots_below_one(slots):
    inv = two_parties()
    for host in inv['hosts'].values():
        host['sf_job_slots'] = slots
    errors = errors_of(inv)
    assert len(errors) == 3 and all('sf_job_slots' in e and 'at least 1' in e for e in errors), errors


def test_job_slots_must_agree_between_parties():
    inv = two_parties()
    inv['hosts']['bob-1']['sf_job_slots'] = 4
    only_error(inv, 'sf_job_slots', 'same in every party', 'alice=10', 'bob=4')


def test_range_past_65535():
    inv = two_parties()
    inv['hosts']['bob-1']['sf_spu_port'] = 65530
    only_error(inv, "host 'bob-1'", 'sf_spu_port=65530', 'past port 65535')


def test_party_wide_setting_must_match_the_head():
    inv = two_parties()
    inv['hosts']['alice-2']['sf_ray_port'] = 16999
    only_error(inv, "party 'alice', host 'alice-2'", 'sf_ray_port=16999', "head 'alice-1'")


# ---------------------------------------------------------------- peers


def peer_inv(peers):
    inv = two_parties()
    for host in inv['hosts'].values():
        host['sf_peer_parties'] = peers
    return inv


def test_good_peer():
    inv = peer_inv({'carol': {'external_ip': 'carol.example.org', 'fed_port': 29000, 'spu_port': '29500'}})
    _errors, plan = planlib.build_plan(inv)
    assert plan['parties']['carol'] == {
        'managed': False, 'external_ip': 'carol.example.org', 'fed_port': 29000, 'spu_port': 29500,
        'fed_ports': [29000, 29009], 'spu_ports': [29500, 29509], 'nodes': {},
        # what other parties reach of carol, from the port table's rows with reach 'peers'
        'listeners': [
            {'name': 'fed_ports', 'variables': ['sf_fed_port'], 'first': 29000, 'last': 29009, 'group': 'fed',
             'reach': 'peers', 'span': 'slots'},
            {'name': 'spu_ports', 'variables': ['sf_spu_port'], 'first': 29500, 'last': 29509, 'group': 'spu',
             'reach': 'peers', 'span': 'slots'}]}
    assert plan['parties']['alice']['cluster_config']['parties']['carol'] == {
        'address': 'carol.example.org:29000', 'listen_addr': '0.0.0.0:29000'}


def test_peer_reuses_managed_name():
    inv = peer_inv({'bob': {'external_ip': '203.0.113.7', 'fed_port': 19000, 'spu_port': 19500}})
    only_error(inv, "party 'bob'", 'sf_peer_parties', 'name of a managed party')


@pytest.mark.parametrize('missing', ['external_ip', 'fed_port', 'spu_port'])
def test_peer_lacks_a_field(missing):
    spec = {'external_ip': '203.0.113.7', 'fed_port': 19000, 'spu_port': 19500}
    del spec[missing]
    inv = peer_inv({'carol': spec})
    only_error(inv, "party 'carol'", 'sf_peer_parties.carol.%s is missing' % missing)


def test_peer_bad_values_all_reported():
    inv = peer_inv({'carol': {'external_ip': 'not a host', 'fed_port': 0, 'spu_port': 'x'},
                    'Dave': {'external_ip': '203.0.113.8', 'fed_port': 1, 'spu_port': 2}})
    errors = errors_of(inv)
    joined = '\n'.join(errors)
    assert 'sf_peer_parties.carol.external_ip' in joined
    assert 'sf_peer_parties.carol.fed_port' in joined
    assert 'sf_peer_parties.carol.spu_port' in joined
    assert "party 'Dave'" in joined and 'invalid peer party name' in joined
    assert len(errors) == 4


def test_peer_parties_must_be_a_mapping():
    inv = peer_inv(['carol'])
    only_error(inv, 'sf_peer_parties', 'must be a mapping')


def test_deployment_wide_setting_must_agree():
    inv = two_parties()
    inv['hosts']['alice-1']['sf_peer_parties'] = {'carol': {'external_ip': '203.0.113.7', 'fed_port': 19000,
                                                            'spu_port': 19500}}
    only_error(inv, 'sf_peer_parties', 'same for the whole deployment', 'hosts disagree')


# ---------------------------------------------------------------- worker env and extra args


@pytest.mark.parametrize('key', ['RAY_ADDRESS', 'RAY_REDIS_ADDRESS', 'ray_address', 'RAY_GCS_ADDRESS'])
def test_ray_address_in_worker_env(key):
    inv = two_parties()
    inv['hosts']['alice-2']['sf_worker_env'] = {key: '127.0.0.1:6379', 'OMP_NUM_THREADS': 4}
    error = only_error(inv, "party 'alice', host 'alice-2'", 'sf_worker_env', key)
    assert 'ray.init()' in error and 'object_store_memory' in error


def test_worker_env_values_are_strings():
    inv = two_parties()
    inv['hosts']['alice-2']['sf_worker_env'] = {'OMP_NUM_THREADS': 4, 'SF_DEBUG': True, 'RAY_DEDUP_LOGS': '0'}
    _errors, plan = planlib.build_plan(inv)
    assert plan['parties']['alice']['nodes']['alice-2']['worker_env'] == {
        'OMP_NUM_THREADS': '4', 'RAY_DEDUP_LOGS': '0', 'SF_DEBUG': 'true'}


@pytest.mark.parametrize('env', [['A=1'], {'1BAD': 'x'}, {'GOOD': {'nested': 1}}])
def test_bad_worker_env(env):
    inv = two_parties()
    inv['hosts']['alice-2']['sf_worker_env'] = env
    only_error(inv, "host 'alice-2'", 'sf_worker_env')


def test_extra_ray_args():
    inv = two_parties()
    inv['hosts']['alice-2']['sf_ray_start_extra_args'] = ['--num-cpus=8']
    _errors, plan = planlib.build_plan(inv)
    argv = plan['parties']['alice']['nodes']['alice-2']['ray_start_argv']
    assert argv[-2:] == ['--num-cpus=8', '--block']


@pytest.mark.parametrize('args', [['--port=1234'], ['--block'], ['num-cpus=8'], '--num-cpus=8',
                                  ['--node-name=x'], ['--resources={"gpu_x": 1}']])
def test_extra_ray_args_refused(args):
    inv = two_parties()
    inv['hosts']['alice-2']['sf_ray_start_extra_args'] = args
    only_error(inv, "host 'alice-2'", 'sf_ray_start_extra_args')


# ---------------------------------------------------------------- every problem in one run


def test_every_problem_is_reported_at_once():
    inv = two_parties()
    inv['hosts']['alice-2'].update(sf_node_ip='nope', sf_ray_role='boss', sf_worker_env={'RAY_ADDRESS': 'x'})
    inv['hosts']['bob-1'].update(sf_node_id='alice-head', sf_external_ip='bad_name', sf_fed_port=0)
    errors = errors_of(inv)
    joined = '\n'.join(errors)
    for needle in ("host 'alice-2': sf_node_ip", "host 'alice-2': sf_ray_role", "host 'alice-2': sf_worker_env",
                   "host 'bob-1': sf_node_id", "host 'bob-1': sf_external_ip", "host 'bob-1': sf_fed_port"):
        assert needle in joined, needle
    assert len(errors) == 6, errors


def test_build_plan_or_raise():
    inv = two_parties()
    inv['hosts']['alice-2']['sf_ray_role'] = 'boss'
    with pytest.raises(planlib.PlanError) as info:
        planlib.build_plan_or_raise(inv)
    assert len(info.value.errors) == 1
    assert planlib.build_plan_or_raise(two_parties())['version'] == planlib.PLAN_VERSION


def test_missing_default_is_reported():
    inv = two_parties()
    del inv['defaults']['sf_fed_port']
    errors = errors_of(inv)
    assert any('sf_fed_port has no default' in e for e in errors)


# ---------------------------------------------------------------- the plan itself


@pytest.fixture(name='plan')
def plan_fixture():
    errors, plan = planlib.build_plan(two_parties())
    assert errors == []
    return plan


def test_plan_is_json_serialisable(plan):
    assert json.loads(json.dumps(plan)) == plan


def test_plan_parties(plan):
    assert plan['party_order'] == ['alice', 'bob']
    assert plan['hosts'] == {'alice-1': 'alice', 'alice-2': 'alice', 'bob-1': 'bob'}
    alice = plan['parties']['alice']
    assert alice['managed'] is True and alice['head'] == 'alice-1'
    assert alice['ray_address'] == '10.0.0.11:16380'
    assert alice['redis'] == {'host': '10.0.0.11', 'port': 16379}
    assert alice['fed_ports'] == [19000, 19009] and alice['spu_ports'] == [19500, 19509]
    assert plan['job_slots'] == 10


def test_plan_nodes(plan):
    head = plan['parties']['alice']['nodes']['alice-1']
    worker = plan['parties']['alice']['nodes']['alice-2']
    assert head['role'] == 'head' and worker['role'] == 'worker'
    assert head['node_id'] == 'alice-head' and head['node_ip'] == '10.0.0.11'
    assert head['ports']['redis_port'] == 16379 and head['ports']['fed_port'] == 19000
    assert 'redis_port' not in worker['ports'] and 'ray_port' not in worker['ports']
    assert 'fed_port' not in worker['ports'] and 'ray_client_server_port' not in worker['ports']
    assert worker['ports']['ray_node_manager_port'] == 16381
    assert plan['parties']['bob']['nodes']['bob-1']['external_ip'] == 'bob.example.org'


def test_head_ray_start_argv(plan):
    argv = plan['parties']['alice']['nodes']['alice-1']['ray_start_argv']
    # no Ray client server unless sf_ray_client_server_enabled (tests/unit/plugins/module_utils/test_ray_client_server.py)
    start = list(planlib.RAY_START_NO_CLIENT_SERVER)
    assert argv[:len(start) + 2] == start + ['--head', '--port=16380']
    assert not any(a.startswith('--ray-client-server-port') for a in argv)
    for flag in ('--node-ip-address=10.0.0.11', '--node-name=alice-head', '--node-manager-port=16381',
                 '--object-manager-port=16382', '--dashboard-agent-grpc-port=16384',
                 '--dashboard-agent-listen-port=16385', '--metrics-export-port=16386',
                 '--runtime-env-agent-port=16387', '--min-worker-port=17000', '--max-worker-port=17199',
                 '--include-dashboard=false', '--disable-usage-stats'):
        assert flag in argv, flag
    labels = [a for a in argv if a.startswith('--labels=')]
    assert json.loads(labels[0][len('--labels='):]) == {'sf_node_id': 'alice-head', 'sf_party': 'alice'}
    resources = [a for a in argv if a.startswith('--resources=')]
    assert json.loads(resources[0][len('--resources='):]) == {planlib.GATEWAY_RESOURCE: planlib.GATEWAY_CAPACITY}
    assert argv[-1] == '--block'
    assert not any(a.startswith('--address') for a in argv)


def test_worker_ray_start_argv(plan):
    argv = plan['parties']['alice']['nodes']['alice-2']['ray_start_argv']
    assert argv[:3] == ['ray', 'start', '--address=10.0.0.11:16380']
    assert '--head' not in argv and not any(a.startswith('--port=') for a in argv)
    assert '--node-ip-address=10.0.0.12' in argv and '--node-name=alice-w1' in argv
    assert not any(a.startswith('--ray-client-server-port') for a in argv)
    assert not any(a.startswith('--resources') for a in argv)  # only the head is the party's gateway
    assert '--disable-usage-stats' in argv
    assert not any(a.startswith('--include-dashboard') for a in argv)  # Ray refuses it on worker nodes
    assert argv[-1] == '--block'


def test_cluster_config(plan):
    assert plan['parties']['alice']['cluster_config'] == {
        'parties': {
            'alice': {'address': '10.0.0.11:19000', 'listen_addr': '0.0.0.0:19000'},
            'bob': {'address': 'bob.example.org:19000', 'listen_addr': '0.0.0.0:19000'},
        },
        'self_party': 'alice',
    }
    assert plan['parties']['bob']['cluster_config']['self_party'] == 'bob'


def test_spu_cluster_def_uses_listen_address(plan):
    spu = plan['spu_cluster_def']
    assert spu['nodes'] == [
        {'party': 'alice', 'address': '10.0.0.11:19500', 'listen_address': '0.0.0.0:19500'},
        {'party': 'bob', 'address': 'bob.example.org:19500', 'listen_address': '0.0.0.0:19500'},
    ]
    assert all('listen_addr' not in node for node in spu['nodes'])
    assert spu['runtime_config'] == {'protocol': 'SEMI2K', 'field': 'FM128'}


def test_job_slot_addresses():
    _e, plan = planlib.build_plan(two_parties())
    cfg = planlib.cluster_config(plan['parties'], 'bob', 3)
    assert cfg['parties']['alice'] == {'address': '10.0.0.11:19003', 'listen_addr': '0.0.0.0:19003'}
    spu = planlib.spu_cluster_def(plan['parties'], {'protocol': 'SEMI2K'}, 3)
    assert spu['nodes'][1]['listen_address'] == '0.0.0.0:19503'


def test_ipv6_addresses_are_bracketed():
    inv = two_parties()
    inv['hosts']['bob-1'].update(ansible_host='fd00::21', sf_external_ip='2001:db8::21')
    _e, plan = planlib.build_plan(inv)
    assert plan['parties']['bob']['ray_address'] == '[fd00::21]:16380'
    assert plan['parties']['alice']['cluster_config']['parties']['bob'] == {
        'address': '[2001:db8::21]:19000', 'listen_addr': '[::]:19000'}


def test_summary_lines(plan):
    lines = planlib.summary_lines(plan)
    assert lines[0] == 'deployment plan v1: 2 parties, 10 job slots'
    assert any('alice: head alice-1, ray 10.0.0.11:16380' in line for line in lines)
    assert any('worker  alice-2 node_id=alice-w1' in line for line in lines)


# ---------------------------------------------------------------- TLS (issue #11): the deployment-wide switch


def test_tls_is_on_by_default(plan):
    assert DEFAULTS['sf_tls_enabled'] is True and DEFAULTS['sf_tls_verify_depth'] == 2
    assert plan['tls'] == {'enabled': True, 'verify_depth': 2}
    assert '  TLS between parties: on (mutual; SPU verify depth 2)' in planlib.summary_lines(plan)


@pytest.mark.parametrize('value,enabled', [(False, False), ('false', False), ('no', False), ('True', True),
                                           ('yes', True), (1, True), (0, False)])
def test_tls_switch_accepts_booleans_and_ini_words(value, enabled):
    inv = two_parties()
    for host in inv['hosts'].values():
        host['sf_tls_enabled'] = value
    _errors, plan = planlib.build_plan(inv)
    assert plan['tls']['enabled'] is enabled
    off = '  TLS between parties: OFF (sf_tls_enabled: false)' in planlib.summary_lines(plan)
    assert off is not enabled


@pytest.mark.parametrize('value', ['maybe', 2, None, [True]])
def test_tls_switch_must_be_a_boolean(value):
    inv = two_parties()
    for host in inv['hosts'].values():
        host['sf_tls_enabled'] = value
    if value is None:   # unset on every host: the default
        assert errors_of(inv) == []
        return
    only_error(inv, 'deployment: sf_tls_enabled=', 'must be true or false')


def test_tls_switch_is_deployment_wide():
    inv = two_parties()
    inv['hosts']['bob-1']['sf_tls_enabled'] = False
    only_error(inv, 'sf_tls_enabled', 'same for the whole deployment', 'hosts disagree')


@pytest.mark.parametrize('value', [0, -1, 'two', True])
def test_tls_verify_depth_at_least_one(value):
    inv = two_parties()
    for host in inv['hosts'].values():
        host['sf_tls_verify_depth'] = value
    only_error(inv, 'sf_tls_verify_depth=', 'at least 1', 'turn off certificate verification')


def test_tls_verify_depth_from_ini_string():
    inv = two_parties()
    for host in inv['hosts'].values():
        host['sf_tls_verify_depth'] = '1'
    _errors, plan = planlib.build_plan(inv)
    assert plan['tls'] == {'enabled': True, 'verify_depth': 1}


def test_peer_ca_cert_is_accepted_and_not_copied_into_the_plan():
    pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'
    inv = peer_inv({'carol': {'external_ip': '203.0.113.7', 'fed_port': 19000, 'spu_port': 19500, 'ca_cert': pem},
                    'dave': {'external_ip': '203.0.113.8', 'fed_port': 19000, 'spu_port': 19500,
                             'ca_cert': '/etc/sfops/dave-ca.pem'}})
    _errors, plan = planlib.build_plan(inv)
    assert _errors == []
    # the plan is printed and published to every host: certificates are the tls role's (the fact sf_tls)
    assert 'ca_cert' not in plan['parties']['carol'] and 'BEGIN' not in json.dumps(plan)


@pytest.mark.parametrize('value', ['', '  ', 42, ['-----BEGIN CERTIFICATE-----'], {'path': '/x'}])
def test_peer_ca_cert_must_be_text_or_a_path(value):
    inv = peer_inv({'carol': {'external_ip': '203.0.113.7', 'fed_port': 19000, 'spu_port': 19500,
                              'ca_cert': value}})
    only_error(inv, "party 'carol'", 'sf_peer_parties.carol.ca_cert', 'PEM text', 'path of a file on the controller')
