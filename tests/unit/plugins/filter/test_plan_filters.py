# -*- coding: utf-8 -*-
"""worker_config and party_manifest: what the node role renders, derived from the plan only."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.sfops.secretflow.plugins.filter.party_manifest import FilterModule as ManifestFilters
from ansible_collections.sfops.secretflow.plugins.filter.worker_config import FilterModule as WorkerFilters
from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib
from ansible_collections.sfops.secretflow.tests.unit.plugins.module_utils.test_plan import two_parties

SETTINGS = {'queue': 'secretflow_queue', 'data_dir': '/data', 'concurrency': '2', 'peer_timeout_s': 120,
            'job_timeout_s': '3600', 'log_level': 'info', 'redis_url': '', 'redis_password_file': '/etc/sfops/redis.pw',
            'tls_dir': '/etc/sfops/tls'}


@pytest.fixture(name='plan')
def plan_fixture():
    inv = two_parties()
    for host in inv['hosts'].values():
        host['sf_peer_parties'] = {'carol': {'external_ip': 'carol.example.org', 'fed_port': 29000,
                                             'spu_port': 29500}}
    return planlib.build_plan_or_raise(inv)


def worker_config(*args):
    return WorkerFilters().filters()['worker_config'](*args)


def party_manifest(*args):
    return ManifestFilters().filters()['party_manifest'](*args)


def test_worker_config_of_a_worker_node(plan):
    cfg = worker_config(plan, 'alice-2', SETTINGS)
    assert cfg['party'] == 'alice' and cfg['node_id'] == 'alice-w1' and cfg['node_ip'] == '10.0.0.12'
    assert cfg['ray_address'] == '10.0.0.11:16380'  # the party head's GCS, not the node's own IP
    assert cfg['redis_url'] == 'redis://10.0.0.11:16379/0'
    assert cfg['redis_password_file'] == '/etc/sfops/redis.pw'
    assert cfg['job_slots'] == 10
    assert cfg['parties'] == {
        'alice': {'external_ip': '10.0.0.11', 'fed_port': 19000, 'spu_port': 19500},
        'bob': {'external_ip': 'bob.example.org', 'fed_port': 19000, 'spu_port': 19500},
        'carol': {'external_ip': 'carol.example.org', 'fed_port': 29000, 'spu_port': 29500},
    }
    assert cfg['spu_runtime_config'] == {'protocol': 'SEMI2K', 'field': 'FM128'}
    assert cfg['gateway_resource'] == 'sf_gateway'
    assert cfg['concurrency'] == 2 and cfg['job_timeout_s'] == 3600  # strings from templating become ints


def test_worker_config_with_external_redis(plan):
    cfg = worker_config(plan, 'bob-1', dict(SETTINGS, redis_url='rediss://redis.bob.internal:6380/2',
                                            redis_password_file=''))
    assert cfg['redis_url'] == 'rediss://redis.bob.internal:6380/2'
    assert 'redis_password_file' not in cfg


def test_worker_config_external_redis_password_stays_in_its_file(plan):
    # the node role takes the password out of node_redis_url and writes it to redis.pw (#12): the worker reads it
    cfg = worker_config(plan, 'bob-1', dict(SETTINGS, redis_url='rediss://app@redis.bob.internal:6380/2'))
    assert cfg['redis_url'] == 'rediss://app@redis.bob.internal:6380/2'
    assert cfg['redis_password_file'] == '/etc/sfops/redis.pw'


def test_worker_config_own_redis_user_in_the_url(plan):
    # the party's own Redis: the worker authenticates as the ACL user sfworker (the default user is disabled)
    cfg = worker_config(plan, 'alice-2', dict(SETTINGS, redis_user='sfworker'))
    assert cfg['redis_url'] == 'redis://sfworker@10.0.0.11:16379/0'
    assert cfg['redis_password_file'] == '/etc/sfops/redis.pw'


def test_worker_config_tls_on_by_default(plan):
    cfg = worker_config(plan, 'alice-2', SETTINGS)
    depth = plan['tls']['verify_depth']
    assert cfg['tls'] == {'dir': '/etc/sfops/tls', 'verify_depth': depth}


def test_worker_config_tls_from_the_plan(plan):
    cfg = worker_config(dict(plan, tls={'enabled': True, 'verify_depth': 4}), 'bob-1', SETTINGS)
    assert cfg['tls'] == {'dir': '/etc/sfops/tls', 'verify_depth': 4}
    off = worker_config(dict(plan, tls={'enabled': False, 'verify_depth': 4}), 'bob-1', SETTINGS)
    assert off['tls'] is None  # the worker refuses a config without the key: off is said explicitly


def test_worker_config_tls_needs_the_directory(plan):
    settings = dict(SETTINGS)
    del settings['tls_dir']
    with pytest.raises(AnsibleFilterError, match=r'worker_config\(bob-1\): settings.tls_dir is required: TLS '
                                                 r'between parties is on \(sf_tls_enabled\)'):
        worker_config(dict(plan, tls={'enabled': True, 'verify_depth': 2}), 'bob-1', settings)
    assert worker_config(dict(plan, tls={'enabled': False, 'verify_depth': 2}), 'bob-1', settings)['tls'] is None


def test_worker_config_unknown_host(plan):
    with pytest.raises(AnsibleFilterError, match='nobody'):
        worker_config(plan, 'nobody', SETTINGS)


def test_party_manifest_hides_other_parties_internals(plan):
    manifest = party_manifest(plan, 'bob')
    assert manifest['party'] == 'bob' and manifest['self']['head'] == 'bob-1'
    assert manifest['self']['cluster_config']['self_party'] == 'bob'
    assert manifest['parties']['alice'] == {'managed': True, 'external_ip': '10.0.0.11', 'fed_port': 19000,
                                            'spu_port': 19500, 'fed_ports': [19000, 19009],
                                            'spu_ports': [19500, 19509]}
    assert manifest['parties']['carol']['managed'] is False
    assert '10.0.0.12' not in repr(manifest)  # alice's worker node IP is alice's business
    assert manifest['spu_cluster_def'] == plan['spu_cluster_def']


def test_party_manifest_unknown_party(plan):
    with pytest.raises(AnsibleFilterError):
        party_manifest(plan, 'dave')


def test_worker_config_original_status_events_and_result_lifetime(plan):
    # the original worker's status channel/list names, the list's cap and the result lifetime (#13)
    cfg = worker_config(plan, 'alice-2', dict(SETTINGS, status_channel='orch_events', status_queue='orch_queue',
                                              status_queue_max='500', result_expires_s='3600'))
    assert cfg['status_channel'] == 'orch_events' and cfg['status_queue'] == 'orch_queue'
    assert cfg['status_queue_max'] == 500 and cfg['result_expires_s'] == 3600
    # without them the worker's own defaults apply (the same names)
    cfg = worker_config(plan, 'alice-2', SETTINGS)
    assert not set(cfg) & {'status_channel', 'status_queue', 'status_queue_max', 'result_expires_s'}
