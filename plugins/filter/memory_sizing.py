# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: memory_sizing
short_description: Size a SecretFlow node's Ray object store and /dev/shm from the server's facts, and check them
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - The object store is O(object_store_memory_mb) when positive, else 30 % of the server's memory (C(memtotal_mb)),
    at most 64 GiB. The node container's /dev/shm is O(shm_size_mb) when positive, else the object store plus
    512 MiB.
  - Problems, each naming the party, the host and the variable to change - an object store below Ray's minimum of
    78 MiB; /dev/shm smaller than the object store; /dev/shm plus O(memory_margin_mb) more than the server's memory
    and, with O(check_free_memory), more than its available memory (C(memory_mb.nocache.free)).
  - The node role takes the sizes from here (C(ray start --object-store-memory), the container's C(shm_size)); the
    preflight role and the node role's preflight fail on the problems.
  - The containers' limits too, so that one job cannot take the head's Redis or the server down - the node
    container's memory (O(memory_limit_mb), else the server's memory minus the Redis container's limit on a head
    minus O(host_memory_reserve_mb)), the Redis container's memory (O(redis_memory_limit_mb), else 1/16 of the
    server's memory, 256 MiB to 4 GiB) and Redis' C(maxmemory) (3/4 of it), the node container's pids limit
    (O(pids_limit), else 512 per CPU - C(processor_vcpus) - at least 4096). Problems - a node limit below
    /dev/shm plus O(memory_margin_mb), an explicit node limit that with Redis and the reserve exceeds the server's
    memory, a Redis limit below 64 MiB, a pids limit below 512.
options:
  _input:
    description: The server's facts (C(ansible_facts)); C(memtotal_mb) and, with O(check_free_memory),
      C(memory_mb.nocache.free) are read.
    type: dict
    required: true
  object_store_memory_mb:
    description: The object store in MiB (the node role's C(node_object_store_memory_mb)); 0 = derived.
    type: int
    default: 0
  shm_size_mb:
    description: /dev/shm of the node container in MiB (C(node_shm_size_mb)); 0 = derived.
    type: int
    default: 0
  memory_margin_mb:
    description: Memory the server needs besides /dev/shm, in MiB (C(node_memory_margin_mb)).
    type: int
    default: 1024
  check_free_memory:
    description: Also check against the memory available now (before a node runs on the server).
    type: bool
    default: false
  runs_redis:
    description: The server is a party head that runs the party's own Redis container.
    type: bool
    default: false
  memory_limit_mb:
    description: The node container's memory limit in MiB (C(node_memory_limit_mb)); 0 = derived.
    type: int
    default: 0
  redis_memory_limit_mb:
    description: The Redis container's memory limit in MiB (C(node_redis_memory_mb)); 0 = derived.
    type: int
    default: 0
  host_memory_reserve_mb:
    description: Memory kept outside the containers for the OS and Docker, in MiB (C(node_host_memory_reserve_mb)).
    type: int
    default: 512
  pids_limit:
    description: The node container's pids limit (C(node_pids_limit)); 0 = derived from C(processor_vcpus).
    type: int
    default: 0
  party:
    description: The server's party, named in each problem.
    type: str
  host:
    description: The server's inventory name, named in each problem.
    type: str
'''

EXAMPLES = r'''
- name: Check memory for the object store and /dev/shm
  ansible.builtin.assert:
    that: _sizing.problems | length == 0
    fail_msg: "{{ _sizing.problems | join('; ') }}"
  vars:
    _sizing: >-
      {{ ansible_facts | sfops.secretflow.memory_sizing(object_store_memory_mb=node_object_store_memory_mb,
         shm_size_mb=node_shm_size_mb, memory_margin_mb=node_memory_margin_mb,
         party=sf_plan.hosts[inventory_hostname], host=inventory_hostname) }}

- name: The object store for ray start, in bytes
  ansible.builtin.debug:
    msg: "{{ (ansible_facts | sfops.secretflow.memory_sizing(object_store_memory_mb=512)).object_store_bytes }}"
  # 536870912
'''

RETURN = r'''
_value:
  description: The sizes and the problems.
  type: dict
  contains:
    object_store_mb:
      description: Ray object store in MiB.
      type: int
    object_store_bytes:
      description: Ray object store in bytes (C(ray start --object-store-memory)).
      type: int
    shm_mb:
      description: /dev/shm of the node container in MiB.
      type: int
    node_memory_mb:
      description: The node container's memory limit in MiB (none when the server's memory is unknown).
      type: int
    redis_memory_mb:
      description: The Redis container's memory limit in MiB (0 without O(runs_redis)).
      type: int
    redis_maxmemory_mb:
      description: Redis' maxmemory in MiB (0 without O(runs_redis)).
      type: int
    pids_limit:
      description: The node container's pids limit.
      type: int
    problems:
      description: One message per problem, naming the party, the host and the variable; empty when all is well.
      type: list
      elements: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.sfops.secretflow.plugins.module_utils import _sizing as sizinglib


def _memory_sizing(facts, object_store_memory_mb=0, shm_size_mb=0, memory_margin_mb=1024, check_free_memory=False,
                   party=None, host=None, runs_redis=False, memory_limit_mb=0, redis_memory_limit_mb=0,
                   host_memory_reserve_mb=512, pids_limit=0):
    if not isinstance(facts, dict):
        raise AnsibleFilterError('memory_sizing: input must be the facts (ansible_facts), got %s' % type(facts).__name__)
    free = (facts.get('memory_mb') or {}).get('nocache', {}).get('free')
    try:
        return sizinglib.sizing(facts.get('memtotal_mb'), free, object_store_memory_mb=object_store_memory_mb,
                                shm_size_mb=shm_size_mb, memory_margin_mb=memory_margin_mb,
                                check_free_memory=boolean(check_free_memory, strict=False), party=party, host=host,
                                runs_redis=boolean(runs_redis, strict=False), memory_limit_mb=memory_limit_mb,
                                redis_memory_limit_mb=redis_memory_limit_mb,
                                host_memory_reserve_mb=host_memory_reserve_mb, vcpus=facts.get('processor_vcpus'),
                                pids_limit_setting=pids_limit)
    except ValueError as exc:
        prefix = sizinglib.location(party, host)
        raise AnsibleFilterError('memory_sizing: %s%s' % (prefix, to_native(exc)))


class FilterModule(object):
    def filters(self):
        return {'memory_sizing': _memory_sizing}
