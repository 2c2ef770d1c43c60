# -*- coding: utf-8 -*-
"""sf_spu_protocols: the SPU protocols a party's jobs may run (issue #12, item 1). The plan validates the list
(unknown names, REF2K only when listed, with a warning), checks it holds sf_spu_runtime_config's protocol and hands
it to the worker config (spu_protocols), whose own validation uses the same table (_topology.SPU_PROTOCOLS)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.sfops.secretflow.plugins.filter.worker_config import FilterModule as WorkerFilters
from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib
from ansible_collections.sfops.secretflow.plugins.module_utils import _topology as topo
from ansible_collections.sfops.secretflow.tests.unit.plugins.module_utils.test_plan import (
    DEFAULTS, errors_of, only_error, two_parties,
)

SETTINGS = {'queue': 'secretflow_queue', 'data_dir': '/data', 'concurrency': 2, 'peer_timeout_s': 120,
            'job_timeout_s': 3600, 'log_level': 'info', 'redis_url': '', 'redis_password_file': '/etc/sfops/redis.pw',
            'tls_dir': '/etc/sfops/tls'}


def with_protocols(value, hosts=('alice-1', 'alice-2')):
    inv = two_parties()
    for name in hosts:
        inv['hosts'][name]['sf_spu_protocols'] = value
    return inv


def test_the_default_is_the_secure_three():
    assert DEFAULTS['sf_spu_protocols'] == ['SEMI2K', 'ABY3', 'CHEETAH'] == list(topo.SPU_DEFAULT_PROTOCOLS)
    plan = planlib.build_plan_or_raise(two_parties())
    assert plan['parties']['alice']['spu_protocols'] == ['SEMI2K', 'ABY3', 'CHEETAH']
    assert planlib.plan_warnings(plan) == []


def test_the_worker_config_carries_the_partys_list():
    plan = planlib.build_plan_or_raise(with_protocols(['SEMI2K']))
    worker_config = WorkerFilters().filters()['worker_config']
    assert worker_config(plan, 'alice-2', SETTINGS)['spu_protocols'] == ['SEMI2K']
    assert worker_config(plan, 'bob-1', SETTINGS)['spu_protocols'] == ['SEMI2K', 'ABY3', 'CHEETAH']


@pytest.mark.parametrize('value,needle', [
    (['SEMI2K', 'SPDZ2K'], "has an unknown SPU protocol 'SPDZ2K'"),
    (['semi2k'], "has an unknown SPU protocol 'semi2k'"),
    ([], 'must be a non-empty list of SPU protocols'),
    ('SEMI2K', 'must be a non-empty list of SPU protocols'),
    (['SEMI2K', 'SEMI2K'], 'lists a protocol twice'),
])
def test_bad_lists_name_party_host_and_variable(value, needle):
    inv = with_protocols(value, hosts=('bob-1',))
    only_error(inv, "party 'bob', host 'bob-1'", 'sf_spu_protocols', needle)


def test_the_runtime_configs_protocol_must_be_allowed():
    inv = with_protocols(['ABY3', 'CHEETAH'], hosts=('bob-1',))
    only_error(inv, "party 'bob', host 'bob-1'", 'sf_spu_protocols', "does not contain 'SEMI2K'",
               'sf_spu_runtime_config')


def test_party_wide_every_host_agrees_with_the_head():
    inv = with_protocols(['SEMI2K'], hosts=('alice-2',))
    only_error(inv, "party 'alice', host 'alice-2'", 'sf_spu_protocols', "head 'alice-1'")


def test_ref2k_only_when_listed_and_always_warned_about():
    assert 'REF2K' not in DEFAULTS['sf_spu_protocols']
    plan = planlib.build_plan_or_raise(with_protocols(['SEMI2K', 'REF2K']))
    assert plan['parties']['alice']['spu_protocols'] == ['SEMI2K', 'REF2K']
    warnings = planlib.plan_warnings(plan)
    assert len(warnings) == 1
    assert warnings[0].startswith("party 'alice': sf_spu_protocols allows REF2K")
    assert 'no security guarantee' in warnings[0]


def test_tls_off_and_ref2k_are_both_warned_about():
    inv = with_protocols(['REF2K', 'SEMI2K'], hosts=('bob-1',))
    for host in inv['hosts'].values():
        host['sf_tls_enabled'] = False
    warnings = planlib.plan_warnings(planlib.build_plan_or_raise(inv))
    assert warnings[0] == planlib.TLS_OFF_WARNING
    assert warnings[1].startswith("party 'bob': sf_spu_protocols allows REF2K")


def test_a_good_list_has_no_errors():
    assert errors_of(with_protocols(['CHEETAH', 'SEMI2K'])) == []
