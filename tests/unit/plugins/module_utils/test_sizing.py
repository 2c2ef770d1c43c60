# -*- coding: utf-8 -*-
"""Memory sizing of a node (module_utils/_sizing.py): the sizes and every rule, at and across its boundary, with the
messages the preflight and node roles print (the same words the Jinja checks of roles/node/tasks/sizing.yml used)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.sfops.secretflow.plugins.module_utils import _sizing as sizinglib

WHERE = "party 'alice', host 'alice-1': "


def size(memtotal=7936, free=None, store=0, shm=0, margin=1024, check_free=False):
    return sizinglib.sizing(memtotal, free, object_store_memory_mb=store, shm_size_mb=shm, memory_margin_mb=margin,
                            check_free_memory=check_free, party='alice', host='alice-1')


# ---------------------------------------------------------------- sizes

def test_set_object_store_and_derived_shm():
    result = size(store=512)
    assert result == {'object_store_mb': 512, 'object_store_bytes': 512 * 1048576, 'shm_mb': 1024,
                      'node_memory_mb': 7936 - 512, 'redis_memory_mb': 0, 'redis_maxmemory_mb': 0,
                      'pids_limit': 4096, 'problems': []}


def test_derived_object_store_is_30_percent_of_memory():
    assert size()['object_store_mb'] == 2380   # int(7936 * 0.3)
    assert size()['object_store_bytes'] == 2495610880
    assert size()['shm_mb'] == 2380 + 512


def test_derived_object_store_is_capped_at_64_gib():
    assert size(memtotal=1024 * 1024)['object_store_mb'] == 65536


def test_set_shm_is_taken_as_is():
    assert size(store=512, shm=600)['shm_mb'] == 600


def test_settings_may_be_strings_as_templating_gives_them():
    assert size(memtotal='7936', store='512', shm='0', margin='1024')['shm_mb'] == 1024


def test_not_an_integer_names_the_variable():
    with pytest.raises(ValueError, match='node_object_store_memory_mb=.abc. is not an integer'):
        size(store='abc')
    with pytest.raises(ValueError, match='node_shm_size_mb'):
        size(shm=True)
    with pytest.raises(ValueError, match='node_memory_margin_mb'):
        size(margin=None)


def test_derived_object_store_needs_the_memory_fact():
    with pytest.raises(ValueError, match='memtotal_mb is missing'):
        size(memtotal=None)


# ---------------------------------------------------------------- rules

def test_object_store_below_rays_minimum():
    assert size(store=78, shm=2000)['problems'] == []
    assert size(store=77, shm=2000)['problems'] == [
        WHERE + "node_object_store_memory_mb gives an object store of 77 MiB, below Ray's minimum of 78 MiB"]


def test_shm_smaller_than_the_object_store():
    assert size(store=600, shm=600)['problems'] == []
    assert size(store=600, shm=599)['problems'] == [
        WHERE + 'node_shm_size_mb (599 MiB) is smaller than the object store (600 MiB): Ray would put the object '
                'store in /tmp (slow); leave it 0 (derived) or raise it']


def test_shm_and_margin_must_fit_in_the_servers_memory():
    assert size(memtotal=2048, store=512)['problems'] == []        # 1024 + 1024 = 2048
    assert size(memtotal=2047, store=512)['problems'] == [
        WHERE + "node_object_store_memory_mb gives a /dev/shm of 1024 MiB, which with node_memory_margin_mb=1024 MiB "
                "for Ray, the worker and the OS does not fit in the server's 2047 MiB"]


def test_memory_check_without_the_fact_is_a_problem_not_a_pass():
    problems = size(memtotal=None, store=512)['problems']
    assert problems == [WHERE + "node_object_store_memory_mb cannot be checked against the server's memory: the fact "
                                'memtotal_mb is missing (gather facts first)']


def test_available_memory_only_when_asked():
    assert size(store=512, free=100)['problems'] == []
    assert size(store=512, free=2048, check_free=True)['problems'] == []
    assert size(store=512, free=2047, check_free=True)['problems'] == [
        WHERE + 'node_object_store_memory_mb gives a /dev/shm of 1024 MiB; with node_memory_margin_mb=1024 MiB that is '
                'more than the 2047 MiB available on the server now']
    assert size(store=512, check_free=True)['problems'] == [
        WHERE + 'node_object_store_memory_mb gives a /dev/shm of 1024 MiB; with node_memory_margin_mb=1024 MiB that is '
                'more than the ? MiB available on the server now']


def test_every_problem_at_once():
    problems = size(memtotal=1000, free=10, store=50, shm=40, check_free=True)['problems']
    assert [p.split(': ', 1)[1].split(' ')[0] for p in problems] == [
        'node_object_store_memory_mb', 'node_shm_size_mb', 'node_object_store_memory_mb', 'node_object_store_memory_mb']
    assert all(p.startswith(WHERE) for p in problems)


def test_location_without_party_or_host():
    assert sizinglib.location() == ''
    assert sizinglib.location(host='h') == "host 'h': "
    problems = sizinglib.sizing(4096, object_store_memory_mb=10)['problems']
    assert problems == ["node_object_store_memory_mb gives an object store of 10 MiB, below Ray's minimum of 78 MiB"]


# ---------------------------------------------------------------- container limits (#12)

def limits(memtotal=7936, store=512, margin=1024, redis=False, node=0, redis_mb=0, reserve=512, vcpus=None, pids=0):
    return sizinglib.sizing(memtotal, None, object_store_memory_mb=store, memory_margin_mb=margin, party='alice',
                            host='alice-1', runs_redis=redis, memory_limit_mb=node, redis_memory_limit_mb=redis_mb,
                            host_memory_reserve_mb=reserve, vcpus=vcpus, pids_limit_setting=pids)


def test_head_node_limit_leaves_room_for_redis_and_the_host():
    result = limits(redis=True)
    assert result['redis_memory_mb'] == 496                     # 7936 / 16
    assert result['redis_maxmemory_mb'] == 372                  # 3/4 of it
    assert result['node_memory_mb'] == 7936 - 496 - 512         # the rest minus the host's reserve
    assert result['problems'] == []


def test_worker_node_limit_is_the_server_minus_the_reserve():
    result = limits()
    assert result['node_memory_mb'] == 7936 - 512
    assert result['redis_memory_mb'] == 0 and result['redis_maxmemory_mb'] == 0


@pytest.mark.parametrize('memtotal,expected', [(2048, 256), (16384, 1024), (1024 * 1024, 4096), (None, 256)])
def test_derived_redis_limit_is_bounded(memtotal, expected):
    assert sizinglib.redis_memory_mb(memtotal) == expected


def test_set_limits_are_taken_as_is():
    result = limits(redis=True, node=4000, redis_mb=1000, pids=9000)
    assert (result['node_memory_mb'], result['redis_memory_mb'], result['redis_maxmemory_mb'],
            result['pids_limit']) == (4000, 1000, 750, 9000)
    assert result['problems'] == []


def test_derived_pids_limit_scales_with_cpus():
    assert limits()['pids_limit'] == 4096
    assert limits(vcpus=4)['pids_limit'] == 4096
    assert limits(vcpus=64)['pids_limit'] == 64 * 512


def test_set_node_limit_must_hold_shm_and_rays_processes():
    # shm 1024 + (margin 1024 - reserve 512) = 1536
    assert limits(node=1536)['problems'] == []
    assert limits(node=1535)['problems'] == [
        WHERE + "node_memory_limit_mb (1535 MiB) is smaller than the node container's /dev/shm (1024 MiB) plus the "
        "512 MiB node_memory_margin_mb=1024 leaves for Ray's processes and the worker after "
        "node_host_memory_reserve_mb=512: raise it or leave it 0 (derived)"]


def test_set_node_limit_with_redis_must_fit_in_the_server():
    assert limits(redis=True, node=7936 - 496 - 512)['problems'] == []
    assert limits(redis=True, node=7936 - 496 - 511)['problems'] == [
        WHERE + "node_memory_limit_mb (6929 MiB) with the Redis container's 496 MiB (node_redis_memory_mb) plus "
        "node_host_memory_reserve_mb=512 MiB is more than the server's 7936 MiB"]


def test_derived_node_limit_too_small_on_a_head_names_what_to_lower():
    # 2048 MiB fits shm + margin (1024 + 1024), but Redis (256) and the reserve (512) leave the container 1280 MiB
    problems = limits(memtotal=2048, redis=True)['problems']
    assert problems == [
        WHERE + "node_memory_limit_mb (derived: the server's 2048 MiB minus the Redis container's 256 MiB and "
        "node_host_memory_reserve_mb=512 MiB) gives the node container 1280 MiB, less than its /dev/shm (1024 MiB) "
        "plus 512 MiB for Ray's processes and the worker: lower node_object_store_memory_mb or node_redis_memory_mb"]
    assert limits(memtotal=2048)['problems'] == []     # a worker node: no Redis beside it


def test_tiny_redis_and_pids_limits_are_refused():
    assert limits(redis=True, redis_mb=63)['problems'] == [
        WHERE + "node_redis_memory_mb (63 MiB) is below the 64 MiB the party's Redis needs at least"]
    assert limits(pids=511)['problems'] == [
        WHERE + "node_pids_limit (511) is below 512: Ray alone starts hundreds of threads, each counts"]
    assert limits(reserve=-1)['problems'][0] == WHERE + 'node_host_memory_reserve_mb must not be negative (-1)'


def test_limits_unknown_without_the_memory_fact():
    result = sizinglib.sizing(None, object_store_memory_mb=512, runs_redis=True)
    assert result['node_memory_mb'] is None and result['redis_memory_mb'] == 256
