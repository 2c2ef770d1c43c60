# -*- coding: utf-8 -*-
"""The memory_sizing filter: the node role's sizes and the preflight checks, from the facts (rules: test_sizing.py)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.sfops.secretflow.plugins.filter.memory_sizing import FilterModule

FACTS = {'memtotal_mb': 7936, 'memory_mb': {'nocache': {'free': 1500}, 'real': {'total': 7936}}}


def memory_sizing(*args, **kwargs):
    return FilterModule().filters()['memory_sizing'](*args, **kwargs)


def test_reads_total_memory_from_the_facts():
    assert memory_sizing(FACTS)['object_store_mb'] == 2380
    assert memory_sizing(FACTS, object_store_memory_mb=512)['object_store_bytes'] == 536870912


def test_reads_available_memory_only_when_asked():
    assert memory_sizing(FACTS, object_store_memory_mb=512, party='bob', host='bob-1')['problems'] == []
    problems = memory_sizing(FACTS, object_store_memory_mb=512, check_free_memory=True, party='bob', host='bob-1')[
        'problems']
    assert problems == ["party 'bob', host 'bob-1': node_object_store_memory_mb gives a /dev/shm of 1024 MiB; with "
                        "node_memory_margin_mb=1024 MiB that is more than the 1500 MiB available on the server now"]


@pytest.mark.parametrize('flag, checked', [('false', False), ('False', False), (False, False), ('true', True),
                                           (True, True)])
def test_check_free_memory_as_templating_gives_it(flag, checked):
    problems = memory_sizing(FACTS, object_store_memory_mb=512, check_free_memory=flag)['problems']
    assert bool(problems) is checked


def test_errors_name_the_host():
    with pytest.raises(AnsibleFilterError, match="host 'bob-1': node_shm_size_mb='x' is not an integer"):
        memory_sizing(FACTS, shm_size_mb='x', party='bob', host='bob-1')
    with pytest.raises(AnsibleFilterError, match='memtotal_mb is missing'):
        memory_sizing({}, host='bob-1')
    with pytest.raises(AnsibleFilterError, match='must be the facts'):
        memory_sizing('7936')


def test_container_limits_from_the_facts():
    facts = {'memtotal_mb': 16384, 'processor_vcpus': 16}
    result = memory_sizing(facts, object_store_memory_mb=512, runs_redis='True', host_memory_reserve_mb='512')
    assert (result['redis_memory_mb'], result['redis_maxmemory_mb']) == (1024, 768)
    assert result['node_memory_mb'] == 16384 - 1024 - 512
    assert result['pids_limit'] == 16 * 512
    worker = memory_sizing(facts, object_store_memory_mb=512, runs_redis=False)
    assert worker['node_memory_mb'] == 16384 - 512 and worker['redis_memory_mb'] == 0
