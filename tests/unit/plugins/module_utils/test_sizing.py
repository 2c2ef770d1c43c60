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
    assert result == {'object_store_mb': 512, 'object_store_bytes': 512 * 1048576, 'shm_mb': 1024, 'problems': []}


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
