# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Memory sizing of a SecretFlow node: Ray's object store and the node container's /dev/shm.

A function of the server's facts (total and available memory) and three settings: the object store
(``node_object_store_memory_mb``, 0 = derived from the server's memory), /dev/shm (``node_shm_size_mb``, 0 =
derived from the object store) and the memory the server needs besides /dev/shm (``node_memory_margin_mb``).
The node role takes the sizes from here (``ray start --object-store-memory``, the container's ``shm_size``);
the preflight role and the node role's own preflight check the problems before anything runs.
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

# The settings, by the variable that carries each.
OBJECT_STORE_VAR = 'node_object_store_memory_mb'
SHM_VAR = 'node_shm_size_mb'
MARGIN_VAR = 'node_memory_margin_mb'


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


def sizing(memtotal_mb, free_mb=None, object_store_memory_mb=0, shm_size_mb=0, memory_margin_mb=1024,
           check_free_memory=False, party=None, host=None):
    """Sizes and problems of one server.

    ``memtotal_mb``/``free_mb`` are the facts ``memtotal_mb`` and ``memory_mb.nocache.free`` (``free_mb`` is only
    read with ``check_free_memory``: before a node runs on the server, since a running one already holds its share).
    Returns ``{object_store_mb, object_store_bytes, shm_mb, problems}``; each problem names the party, the host and
    the variable to change. Raises ValueError for a setting that is not an integer.
    """
    store = object_store_mb(memtotal_mb, object_store_memory_mb)
    shm = shm_mb(store, shm_size_mb)
    margin = _as_int(MARGIN_VAR, memory_margin_mb)
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
    return {
        'object_store_mb': store,
        'object_store_bytes': store * MIB,
        'shm_mb': shm,
        'problems': problems,
    }
