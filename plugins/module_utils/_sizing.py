# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Memory sizing of a SecretFlow node: Ray's object store and the node container's /dev/shm.

A function of the server's facts (total and available memory) and three settings: the object store
(``node_object_store_memory_mb``, 0 = derived from the server's memory), /dev/shm (``node_shm_size_mb``, 0 =
derived from the object store) and the memory the server needs besides /dev/shm (``node_memory_margin_mb``).
The node role takes the sizes from here (``ray start --object-store-memory``, the container's ``shm_size``);
the preflight role and the node role's own preflight check the problems before anything runs.

The containers' limits come from here too, so that one job cannot take the head's Redis (and with it the queue)
or the server down: the node container's memory limit (``node_memory_limit_mb``, 0 = the server's memory minus
the Redis container's limit on a head and ``node_host_memory_reserve_mb`` for the OS and Docker), the Redis
container's limit (``node_redis_memory_mb``, 0 = 1/16 of the server's memory, 256 MiB to 4 GiB) with Redis'
``maxmemory`` at 3/4 of it (headroom for the append-only file's rewrite), and the node container's pids limit
(``node_pids_limit``, 0 = 512 per CPU, at least 4096).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.sfops.secretflow.plugins.module_utils._messages import where

MIB = 1024 * 1024
# Ray refuses an object store below 78 MiB.
RAY_MIN_OBJECT_STORE_MB = 78
# Derived object store: this share of the server's memory, at most DERIVED_CAP_MB.
DERIVED_SHARE = 0.3
DERIVED_CAP_MB = 65536
# Derived /dev/shm: the object store plus this much (Ray puts the object store in /dev/shm; it falls back to slow
# /tmp when /dev/shm is smaller).
SHM_HEADROOM_MB = 512

# Derived Redis container limit: this share of the server's memory, within [REDIS_MIN_MB, REDIS_MAX_MB]; Redis'
# maxmemory is REDIS_MAXMEMORY_SHARE of the limit (a rewrite of the append-only file forks: copy-on-write pages).
REDIS_SHARE = 1.0 / 16
REDIS_MIN_MB = 256
REDIS_MAX_MB = 4096
REDIS_MAXMEMORY_SHARE = 0.75
# Below this a Redis container is refused (its own overhead plus the queue and results).
REDIS_FLOOR_MB = 64
# Derived pids limit of the node container (threads count: Ray's gRPC pools, one worker process per CPU, SPU's
# thread pools): this many per CPU, at least PIDS_MIN; an explicit limit below PIDS_FLOOR is refused.
PIDS_PER_CPU = 512
PIDS_MIN = 4096
PIDS_FLOOR = 512

# The settings, by the variable that carries each.
OBJECT_STORE_VAR = 'node_object_store_memory_mb'
SHM_VAR = 'node_shm_size_mb'
MARGIN_VAR = 'node_memory_margin_mb'
NODE_LIMIT_VAR = 'node_memory_limit_mb'
REDIS_LIMIT_VAR = 'node_redis_memory_mb'
RESERVE_VAR = 'node_host_memory_reserve_mb'
PIDS_VAR = 'node_pids_limit'


def _as_int(name, value):
    if isinstance(value, bool):
        raise ValueError('%s=%r is not an integer' % (name, value))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError('%s=%r is not an integer' % (name, value))


def location(party=None, host=None):
    """How every problem starts: ``party 'p', host 'h': `` (nothing when neither is known)."""
    return where(party, host) + ': ' if party is not None or host is not None else ''


def object_store_mb(memtotal_mb, object_store_memory_mb=0):
    """The object store in MiB: the setting when it is positive, else 30 % of the server's memory (<= 64 GiB)."""
    setting = _as_int(OBJECT_STORE_VAR, object_store_memory_mb)
    if setting > 0:
        return setting
    if memtotal_mb is None:
        raise ValueError('%s=0 sizes the object store from the server\'s memory, but the fact memtotal_mb is missing '
                         '(gather facts first)' % OBJECT_STORE_VAR)
    return min(int(_as_int('memtotal_mb', memtotal_mb) * DERIVED_SHARE), DERIVED_CAP_MB)


def shm_mb(store_mb, shm_size_mb=0):
    """/dev/shm of the node container in MiB: the setting when it is positive, else the object store + 512 MiB."""
    setting = _as_int(SHM_VAR, shm_size_mb)
    return setting if setting > 0 else store_mb + SHM_HEADROOM_MB


def redis_memory_mb(memtotal_mb, redis_memory_limit_mb=0):
    """The Redis container's memory limit in MiB: the setting when positive, else 1/16 of the server's memory,
    between 256 MiB and 4 GiB (256 MiB when the memory is unknown)."""
    setting = _as_int(REDIS_LIMIT_VAR, redis_memory_limit_mb)
    if setting > 0:
        return setting
    if memtotal_mb is None:
        return REDIS_MIN_MB
    return max(REDIS_MIN_MB, min(REDIS_MAX_MB, int(_as_int('memtotal_mb', memtotal_mb) * REDIS_SHARE)))


def redis_maxmemory_mb(redis_limit_mb):
    """Redis' maxmemory in MiB: 3/4 of its container's limit (writes fail with OOM before the kernel kills it)."""
    return max(1, int(redis_limit_mb * REDIS_MAXMEMORY_SHARE))


def pids_limit(vcpus=None, setting=0):
    """The node container's pids limit: the setting when positive, else 512 per CPU, at least 4096."""
    setting = _as_int(PIDS_VAR, setting)
    if setting > 0:
        return setting
    cpus = _as_int('processor_vcpus', vcpus) if vcpus is not None else 0
    return max(PIDS_MIN, PIDS_PER_CPU * cpus)


def sizing(memtotal_mb, free_mb=None, object_store_memory_mb=0, shm_size_mb=0, memory_margin_mb=1024,
           check_free_memory=False, party=None, host=None, runs_redis=False, memory_limit_mb=0,
           redis_memory_limit_mb=0, host_memory_reserve_mb=512, vcpus=None, pids_limit_setting=0):
    """Sizes and problems of one server.

    ``memtotal_mb``/``free_mb`` are the facts ``memtotal_mb`` and ``memory_mb.nocache.free`` (``free_mb`` is only
    read with ``check_free_memory``: before a node runs on the server, since a running one already holds its share).
    ``runs_redis``: the server is a head that runs the party's own Redis container (its limit comes out of the
    server's memory). ``vcpus`` is the fact ``processor_vcpus``.
    Returns ``{object_store_mb, object_store_bytes, shm_mb, node_memory_mb, redis_memory_mb, redis_maxmemory_mb,
    pids_limit, problems}`` (``node_memory_mb`` is None when the server's memory is unknown and no limit is set;
    the Redis sizes are 0 without ``runs_redis``); each problem names the party, the host and the variable to
    change. Raises ValueError for a setting that is not an integer.
    """
    store = object_store_mb(memtotal_mb, object_store_memory_mb)
    shm = shm_mb(store, shm_size_mb)
    margin = _as_int(MARGIN_VAR, memory_margin_mb)
    node_setting = _as_int(NODE_LIMIT_VAR, memory_limit_mb)
    reserve = _as_int(RESERVE_VAR, host_memory_reserve_mb)
    redis = redis_memory_mb(memtotal_mb, redis_memory_limit_mb) if runs_redis else 0
    total = None if memtotal_mb is None else _as_int('memtotal_mb', memtotal_mb)
    if node_setting > 0:
        node = node_setting
    else:
        node = None if total is None else total - redis - reserve
    where = location(party, host)
    problems = []

    def problem(var, text):
        problems.append('%s%s %s' % (where, var, text))

    if store < RAY_MIN_OBJECT_STORE_MB:
        problem(OBJECT_STORE_VAR, "gives an object store of %d MiB, below Ray's minimum of %d MiB"
                % (store, RAY_MIN_OBJECT_STORE_MB))
    if shm < store:
        problem(SHM_VAR, '(%d MiB) is smaller than the object store (%d MiB): Ray would put the object store in /tmp '
                         '(slow); leave it 0 (derived) or raise it' % (shm, store))
    if memtotal_mb is None:
        problem(OBJECT_STORE_VAR, 'cannot be checked against the server\'s memory: the fact memtotal_mb is missing '
                                  '(gather facts first)')
    elif _as_int('memtotal_mb', memtotal_mb) < shm + margin:
        problem(OBJECT_STORE_VAR, "gives a /dev/shm of %d MiB, which with %s=%d MiB for Ray, the worker and the OS "
                                  "does not fit in the server's %d MiB"
                % (shm, MARGIN_VAR, margin, _as_int('memtotal_mb', memtotal_mb)))
    if check_free_memory:
        free = None if free_mb is None else _as_int('memory_mb.nocache.free', free_mb)
        if free is None or free < shm + margin:
            problem(OBJECT_STORE_VAR, 'gives a /dev/shm of %d MiB; with %s=%d MiB that is more than the %s MiB '
                                      'available on the server now' % (shm, MARGIN_VAR, margin, '?' if free is None else free))
    if reserve < 0:
        problem(RESERVE_VAR, 'must not be negative (%d)' % reserve)
    if runs_redis and redis < REDIS_FLOOR_MB:
        problem(REDIS_LIMIT_VAR, "(%d MiB) is below the %d MiB the party's Redis needs at least"
                % (redis, REDIS_FLOOR_MB))
    # node_memory_margin_mb covers Ray's processes, the worker and the OS; the node container holds all but the OS
    # (node_host_memory_reserve_mb, outside the containers).
    processes = max(margin - reserve, 0)
    if node is not None and node < shm + processes:
        if node_setting > 0:
            problem(NODE_LIMIT_VAR, "(%d MiB) is smaller than the node container's /dev/shm (%d MiB) plus the %d MiB "
                                    "%s=%d leaves for Ray's processes and the worker after %s=%d: raise it or "
                                    "leave it 0 (derived)"
                    % (node, shm, processes, MARGIN_VAR, margin, RESERVE_VAR, reserve))
        elif total is not None and total >= shm + margin:
            problem(NODE_LIMIT_VAR, "(derived: the server's %d MiB minus %s%s=%d MiB) gives the node container "
                                    "%d MiB, less than its /dev/shm (%d MiB) plus %d MiB for Ray's processes and "
                                    "the worker: lower %s%s"
                    % (total, ("the Redis container's %d MiB and " % redis) if runs_redis else '', RESERVE_VAR,
                       reserve, node, shm, processes, OBJECT_STORE_VAR,
                       (' or ' + REDIS_LIMIT_VAR) if runs_redis else ''))
    if node_setting > 0 and total is not None and node + redis + reserve > total:
        problem(NODE_LIMIT_VAR, '(%d MiB)%s plus %s=%d MiB is more than the server\'s %d MiB'
                % (node, (" with the Redis container's %d MiB (%s)" % (redis, REDIS_LIMIT_VAR)) if runs_redis else '',
                   RESERVE_VAR, reserve, total))
    pids = pids_limit(vcpus, pids_limit_setting)
    if pids < PIDS_FLOOR:
        problem(PIDS_VAR, '(%d) is below %d: Ray alone starts hundreds of threads, each counts' % (pids, PIDS_FLOOR))
    return {
        'object_store_mb': store,
        'object_store_bytes': store * MIB,
        'shm_mb': shm,
        'node_memory_mb': node,
        'redis_memory_mb': redis,
        'redis_maxmemory_mb': redis_maxmemory_mb(redis) if runs_redis else 0,
        'pids_limit': pids,
        'problems': problems,
    }
