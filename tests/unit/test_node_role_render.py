# -*- coding: utf-8 -*-
"""The node role's supervisord.conf for the sandbox inventory, rendered with ansible-core's Templar, stays
byte-for-byte what it was (tests/unit/golden/supervisord/*.conf, rendered before the object store sizing moved
from Jinja into Python): ray start from the plan, --object-store-memory after the extra args and before --block.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.sfops.secretflow.plugins.action.deployment_plan import load_defaults
from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib
from ansible_collections.sfops.secretflow.tests.unit.role_templar import ROOT, RoleTemplar

GOLDEN = os.path.join(ROOT, 'tests', 'unit', 'golden', 'supervisord')
# The sandbox servers' memory does not matter when the object store is set (the sandbox sets 512 MiB); the
# derived case uses 30 % of it.
FACTS = {'memtotal_mb': 7936, 'memory_mb': {'nocache': {'free': 6000}}}


def sandbox_plan(host_overrides=None):
    with open(os.path.join(ROOT, 'inventories', 'sandbox', 'hosts.yml')) as handle:
        parties = yaml.safe_load(handle)['all']['children']['secretflow']['children']
    model = {'parties': {}, 'stray_hosts': [], 'hosts': {}, 'defaults': load_defaults()}
    for party, group in parties.items():
        model['parties'][party] = list(group['hosts'])
        for host, hostvars in group['hosts'].items():
            model['hosts'][host] = dict(hostvars, inventory_hostname=host, **(host_overrides or {}).get(host, {}))
    return planlib.build_plan_or_raise(model)


def golden(name):
    with open(os.path.join(GOLDEN, name)) as handle:
        return handle.read()


@pytest.mark.parametrize('host', ['alice-1', 'alice-2', 'bob-1'])
def test_sandbox_supervisord_conf_is_unchanged(host):
    templar = RoleTemplar('node', facts=FACTS, sf_plan=sandbox_plan(), inventory_hostname=host,
                          node_object_store_memory_mb=512)
    assert templar.render('supervisord.conf.j2') == golden(host + '.conf')


def test_derived_object_store_comes_after_the_extra_args():
    plan = sandbox_plan({'alice-2': {'sf_ray_start_extra_args': ['--num-cpus=8']}})
    templar = RoleTemplar('node', facts=FACTS, sf_plan=plan, inventory_hostname='alice-2')
    rendered = templar.render('supervisord.conf.j2')
    assert rendered == golden('alice-2-derived-extra-args.conf')
    assert '--num-cpus=8 --object-store-memory=2495610880 --block\n' in rendered  # 30 % of 7936 MiB


def test_container_shm_is_sized_with_the_object_store():
    plan = sandbox_plan()
    sandbox = RoleTemplar('node', facts=FACTS, sf_plan=plan, inventory_hostname='bob-1', node_object_store_memory_mb=512)
    assert sandbox.var('_node_sizing')['shm_mb'] == 1024
    derived = RoleTemplar('node', facts=FACTS, sf_plan=plan, inventory_hostname='bob-1')
    assert derived.var('_node_sizing')['shm_mb'] == 2380 + 512
    own = RoleTemplar('node', facts=FACTS, sf_plan=plan, inventory_hostname='bob-1', node_shm_size_mb=4000)
    assert own.var('_node_sizing')['shm_mb'] == 4000
