# -*- coding: utf-8 -*-
"""ray start of a node: the plan's argv, rebuilt by the plan's function, plus --object-store-memory before --block."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.sfops.secretflow.plugins.filter.ray_start_argv import FilterModule
from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib
from ansible_collections.sfops.secretflow.tests.unit.plugins.module_utils.test_plan import two_parties


@pytest.fixture(name='plan')
def plan_fixture():
    inv = two_parties()
    inv['hosts']['alice-2']['sf_ray_start_extra_args'] = ['--num-cpus=8']
    inv['hosts']['bob-1']['sf_ray_start_extra_args'] = ['--num-gpus=0', '--memory=1000000000']
    return planlib.build_plan_or_raise(inv)


def ray_start_argv(*args, **kwargs):
    return FilterModule().filters()['ray_start_argv'](*args, **kwargs)


def node(plan, host):
    return plan['parties'][plan['hosts'][host]]['nodes'][host]


@pytest.mark.parametrize('host', ['alice-1', 'alice-2', 'bob-1'])
def test_without_object_store_it_is_the_plans_argv(plan, host):
    assert ray_start_argv(plan, host) == node(plan, host)['ray_start_argv']


@pytest.mark.parametrize('host', ['alice-1', 'alice-2', 'bob-1'])
def test_object_store_comes_after_the_extra_args_before_block(plan, host):
    planned = node(plan, host)['ray_start_argv']
    argv = ray_start_argv(plan, host, object_store_memory=536870912)
    assert argv == planned[:-1] + ['--object-store-memory=536870912', '--block']
    extra = node(plan, host)['ray_start_extra_args']
    assert argv[-2 - len(extra):-2] == extra


def test_the_plan_publishes_the_extra_args(plan):
    assert node(plan, 'alice-1')['ray_start_extra_args'] == []
    assert node(plan, 'alice-2')['ray_start_extra_args'] == ['--num-cpus=8']


def test_a_head_and_a_worker_node(plan):
    head = ray_start_argv(plan, 'alice-1', object_store_memory='1048576000')   # templating may give a string
    start = list(planlib.RAY_START_NO_CLIENT_SERVER)   # no Ray client server by default
    assert head[:len(start) + 1] == start + ['--head'] and '--object-store-memory=1048576000' in head
    worker = ray_start_argv(plan, 'alice-2', object_store_memory=1048576000)
    assert worker[2] == '--address=10.0.0.11:16380' and worker[-3:] == [
        '--num-cpus=8', '--object-store-memory=1048576000', '--block']


@pytest.mark.parametrize('bad', [0, -1, 'abc', True, 1.5])
def test_object_store_must_be_a_positive_number_of_bytes(plan, bad):
    with pytest.raises(AnsibleFilterError, match="host 'alice-1': object_store_memory="):
        ray_start_argv(plan, 'alice-1', object_store_memory=bad)


def test_unknown_host(plan):
    with pytest.raises(AnsibleFilterError, match="host 'nobody' is not in the deployment plan"):
        ray_start_argv(plan, 'nobody')
