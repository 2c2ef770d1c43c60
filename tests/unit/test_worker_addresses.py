# -*- coding: utf-8 -*-
"""The worker's cluster_config / SPU cluster_def of a job are the plan's, byte for byte (IPv6 included).

The real path: inventory -> deployment plan -> the node role's worker.yml.j2 (filter worker_config, to_nice_yaml)
-> sfworker's config loader -> sfworker's job validation (build_job_spec) -> the job's SPU cluster_def with this
party's tls_opts (sfworker.job.spu_cluster_def_of, from the TLS directory the config names), compared with what the
plan's code computes for that slot. The worker package is imported from the checkout (it needs only PyYAML here).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import sys

import pytest

from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib
from ansible_collections.sfops.secretflow.plugins.module_utils import _topology
from ansible_collections.sfops.secretflow.plugins.action.deployment_plan import load_defaults

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from role_templar import RoleTemplar  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'worker'))
from sfworker.config import load_config  # noqa: E402
from sfworker.job import spu_cluster_def_of  # noqa: E402
from sfworker.params import build_job_spec  # noqa: E402
from sfworker.tls import JobTls, bundle_path, own_files  # noqa: E402

SLOTS = 4


def ipv6_inventory():
    """alice: IPv6 nodes with an IPv6 external address; bob: one IPv6 node (external = node IP); dave: IPv4 with
    a DNS external name; carol: a peer party with an IPv6 external address."""
    hosts = {
        'alice-1': {'ansible_host': 'fd00::11', 'sf_external_ip': '2001:db8::11', 'sf_node_id': 'alice-head',
                    'sf_ray_role': 'head'},
        'alice-2': {'ansible_host': 'fd00::12', 'sf_node_id': 'alice-w1'},
        'bob-1': {'ansible_host': 'fd00::21', 'sf_node_id': 'bob-head', 'sf_ray_role': 'head'},
        'dave-1': {'ansible_host': '10.0.0.41', 'sf_external_ip': 'dave.example.org', 'sf_node_id': 'dave-head',
                   'sf_ray_role': 'head', 'sf_fed_port': 21000, 'sf_spu_port': 21500},
    }
    peers = {'carol': {'external_ip': '2001:db8::31', 'fed_port': 29000, 'spu_port': 29500}}
    for name, hv in hosts.items():
        hv.update(inventory_hostname=name, sf_job_slots=SLOTS, sf_peer_parties=peers)
    return {'parties': {'alice': ['alice-1', 'alice-2'], 'bob': ['bob-1'], 'dave': ['dave-1']},
            'stray_hosts': [], 'hosts': hosts, 'defaults': copy.deepcopy(load_defaults())}


@pytest.fixture(name='plan', scope='module')
def plan_fixture():
    return planlib.build_plan_or_raise(ipv6_inventory())


def render_configs(plan, tmp_path):
    """host -> the sfworker config loaded from the worker.yml the node role renders for it."""
    (tmp_path / 'conf').mkdir(exist_ok=True)
    (tmp_path / 'conf' / 'redis.pw').write_text(u'pw\n')
    (tmp_path / 'data').mkdir(exist_ok=True)
    (tmp_path / 'data' / 'x.csv').write_text(u'x\n1\n')
    configs = {}
    for host in sorted(plan['hosts']):
        node = RoleTemplar('node', sf_plan=plan, inventory_hostname=host,
                           _node_conf_in=str(tmp_path / 'conf'), _node_data_in=str(tmp_path / 'data'))
        path = tmp_path / ('%s.yml' % host)
        path.write_text(node.render('worker.yml.j2'))
        configs[host] = load_config(str(path))
    return configs


@pytest.fixture(name='configs')
def configs_fixture(plan, tmp_path):
    return render_configs(plan, tmp_path)


def job_tls(cfg):
    """What the job resolves from the config's TLS directory (the node role's layout: current -> a version
    directory); the files' contents do not matter here."""
    version = os.path.join(cfg.tls.dir, 'v-serial-1')
    if not os.path.isdir(version):
        os.makedirs(os.path.join(cfg.tls.dir, 'peers'))
        os.makedirs(version)
        os.symlink('v-serial-1', os.path.join(cfg.tls.dir, 'current'))
    own = own_files(cfg.tls.as_dict())
    return JobTls(own['version_dir'], own['cert'], own['key'], bundle_path(os.path.join(cfg.work_dir, 'tls-ca'), 'x'),
                  {}, cfg.tls.verify_depth)


def job(parties, slot):
    return {'task_config': {'task_type': 'secure_sum', 'column': 'x', 'input_paths': {p: 'x.csv' for p in parties},
                            'job_slot': slot}}


def plan_endpoints(plan, party, parties, slot):
    chosen = {name: plan['parties'][name] for name in parties}
    return (planlib.cluster_config(chosen, party, slot),
            planlib.spu_cluster_def(chosen, plan['spu_cluster_def']['runtime_config'], slot))


@pytest.mark.parametrize('slot', range(SLOTS))
@pytest.mark.parametrize('host', ['alice-1', 'alice-2', 'bob-1', 'dave-1'])
def test_every_party_of_the_deployment(plan, configs, host, slot):
    cfg = configs[host]
    everyone = sorted(plan['parties'])
    spec = build_job_spec(cfg, 'job-all', job(everyone, slot))
    cluster_config, spu_cluster_def = plan_endpoints(plan, cfg.party, everyone, slot)
    assert json.dumps(spec['cluster_config']) == json.dumps(cluster_config)
    assert json.dumps(spec['spu_cluster_def']) == json.dumps(spu_cluster_def)
    if slot == 0:  # what the plan itself stores (party.json): slot 0 of every party
        assert json.dumps(spec['cluster_config']) == json.dumps(plan['parties'][cfg.party]['cluster_config'])
        assert json.dumps(spec['spu_cluster_def']) == json.dumps(plan['spu_cluster_def'])


@pytest.mark.parametrize('slot', [0, 3])
@pytest.mark.parametrize('host', ['alice-2', 'bob-1', 'dave-1'])
def test_the_jobs_spu_cluster_def_with_tls_opts(plan, configs, host, slot):
    """TLS on (the default): the job's SPU cluster_def is the plan's _topology.spu_cluster_def for the slot with
    this party's node - only that one - carrying tls_opts made by _topology.spu_tls_opts from the config's TLS
    directory and the plan's verify_depth."""
    cfg = configs[host]
    everyone = sorted(plan['parties'])
    spec = build_job_spec(cfg, 'job-tls', job(everyone, slot))
    jt = job_tls(cfg)
    depth = plan['tls']['verify_depth']
    assert cfg.tls.dir == os.path.join(os.path.dirname(cfg.source_path), 'conf', 'tls') and cfg.tls.verify_depth == depth
    assert jt.cert == os.path.realpath(os.path.join(cfg.tls.dir, 'v-serial-1', 'cert.pem'))
    chosen = {name: plan['parties'][name] for name in everyone}
    expected = _topology.spu_cluster_def(chosen, plan['spu_cluster_def']['runtime_config'], slot,
                                         self_party=cfg.party,
                                         tls_opts=_topology.spu_tls_opts(jt.cert, jt.key, jt.ca_bundle, depth))
    assert json.dumps(spu_cluster_def_of(spec, jt)) == json.dumps(expected)
    assert [n['party'] for n in expected['nodes'] if 'tls_opts' in n] == [cfg.party]


def test_tls_off_in_the_plan_gives_the_plaintext_cluster_def(plan, tmp_path):
    plaintext = dict(plan, tls={'enabled': False, 'verify_depth': 2})
    configs = render_configs(plaintext, tmp_path)
    for host, cfg in configs.items():
        assert cfg.tls is None, host
    spec = build_job_spec(configs['alice-2'], 'job-plain', job(sorted(plan['parties']), 1))
    _cluster_config, spu_cluster_def = plan_endpoints(plan, 'alice', sorted(plan['parties']), 1)
    assert json.dumps(spu_cluster_def_of(spec, None)) == json.dumps(spu_cluster_def)
    assert spec['tls'] is None


@pytest.mark.parametrize('host,parties', [('alice-2', ['alice', 'carol']), ('bob-1', ['bob', 'dave']),
                                          ('dave-1', ['alice', 'bob', 'dave'])])
def test_a_subset_of_the_parties(plan, configs, host, parties):
    cfg = configs[host]
    spec = build_job_spec(cfg, 'job-some', job(parties, 2))
    cluster_config, spu_cluster_def = plan_endpoints(plan, cfg.party, parties, 2)
    assert json.dumps(spec['cluster_config']) == json.dumps(cluster_config)
    assert json.dumps(spec['spu_cluster_def']) == json.dumps(spu_cluster_def)
    assert sorted(spec['cluster_config']['parties']) == parties


def test_ipv6_renders_exactly_as_the_plan(configs):
    """Literal values, so the comparison above cannot pass by both sides being wrong the same way."""
    spec = build_job_spec(configs['alice-2'], 'job-v6', job(['alice', 'bob', 'carol', 'dave'], 3))
    assert spec['cluster_config'] == {
        'parties': {
            'alice': {'address': '[2001:db8::11]:19003', 'listen_addr': '[::]:19003'},
            'bob': {'address': '[fd00::21]:19003', 'listen_addr': '[::]:19003'},
            'carol': {'address': '[2001:db8::31]:29003', 'listen_addr': '[::]:29003'},
            'dave': {'address': 'dave.example.org:21003', 'listen_addr': '0.0.0.0:21003'},
        },
        'self_party': 'alice',
    }
    assert [(n['party'], n['address'], n['listen_address']) for n in spec['spu_cluster_def']['nodes']] == [
        ('alice', '[2001:db8::11]:19503', '[::]:19503'),
        ('bob', '[fd00::21]:19503', '[::]:19503'),
        ('carol', '[2001:db8::31]:29503', '[::]:29503'),
        ('dave', 'dave.example.org:21503', '0.0.0.0:21503'),
    ]
    assert spec['ray_address'] == '[fd00::11]:16380'
    jt = job_tls(configs['alice-2'])
    nodes = spu_cluster_def_of(spec, jt)['nodes']
    half = {'certificate_path': jt.cert, 'private_key_path': jt.key, 'ca_file_path': jt.ca_bundle,
            'verify_depth': jt.verify_depth}
    assert nodes[0]['tls_opts'] == {'server_ssl_opts': half, 'client_ssl_opts': half}
    assert [n['address'] for n in nodes] == ['[2001:db8::11]:19503', '[fd00::21]:19503', '[2001:db8::31]:29503',
                                             'dave.example.org:21503']
    assert not any('tls_opts' in n for n in nodes[1:])


def test_ipv6_redis_url_keeps_its_brackets_with_the_password_file(configs):
    # the worker authenticates as the Redis ACL user sfworker (#12), the password from redis.pw
    assert configs['alice-2'].redis_url == 'redis://sfworker:pw@[fd00::11]:16379/0'
    assert configs['alice-2'].redacted_redis_url() == 'redis://sfworker:***@[fd00::11]:16379/0'
    assert configs['dave-1'].redis_url == 'redis://sfworker:pw@10.0.0.41:16379/0'


def test_the_worker_keeps_what_a_peer_check_needs(plan, configs):
    """Every party's planned external address and the first port of its fed and SPU ranges reach the worker (a
    message's peer address can be checked against the plan: host = external_ip, port - fed_port = slot)."""
    cfg = configs['bob-1']
    assert cfg.job_slots == plan['job_slots'] == SLOTS
    assert {name: p.as_plan_entry() for name, p in cfg.parties.items()} == {
        name: {key: p[key] for key in ('external_ip', 'fed_port', 'spu_port')} for name, p in plan['parties'].items()}
