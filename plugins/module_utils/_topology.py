# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses of a deployment, written once for the controller AND the worker.

This one file is imported on both sides:

- by the deployment plan, as ``ansible_collections.sfops.secretflow.plugins.module_utils._topology``
  (:mod:`._plan` re-exports the names below), to validate the inventory and render the plan;
- by the SecretFlow worker at job time, as ``sfworker._topology``: ``worker/sfworker/_topology.py`` is a
  relative symlink to this file. ``pip install`` (setuptools copies file contents), the image role's
  ``ansible.builtin.copy`` (``local_follow``), ``scripts/worker-venv.sh`` (``cp -L``) and the image content
  hash all follow it, so the image carries exactly this code and changes with it.

Hence the rules of this file: standard library only, never an ``ansible`` import, no state, runs on every
Python the collection's module_utils and the worker support (3.8+). See docs/architecture.md, "Addresses:
plan -> worker".

What lives here: how a host and a port become an address (IPv6 in brackets), the wildcard a listener binds,
the RayFed ``cluster_config`` and SPU ``cluster_def`` of a job slot (with the own node's ``tls_opts`` when the
parties talk TLS), and the rule naming the ``RAY_*ADDRESS`` environment variables that nobody may set
(inventory validation) and the worker removes (before Ray is imported); and the SPU protocols a deployment may
allow (the plan's ``sf_spu_protocols`` validates against them, the worker's ``spu_protocols`` too).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

DNS_LABEL_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$')

# Environment variables that would hand Ray an address: RAY_ADDRESS, RAY_HEAD_ADDRESS, RAY_GCS_ADDRESS,
# RAY_CLIENT_ADDR, RAY_API_SERVER_ADDRESS, ... (any case). The inventory may not set them (sf_worker_env) and
# the worker removes them from its environment and from every child's.
RAY_ADDRESS_ENV_RE = re.compile(r'^RAY_.*ADDR', re.IGNORECASE)
RAY_ADDRESS_WHY = ('the worker takes its Ray address from the deployment plan; with RAY_ADDRESS set, '
                   'ray.init() treats the call as a connection to an existing cluster and refuses '
                   'object_store_memory, num_cpus, resources and _system_config')


def is_ray_address_var(name):
    """True for an environment variable name that would give Ray an address (see RAY_ADDRESS_ENV_RE)."""
    return isinstance(name, str) and RAY_ADDRESS_ENV_RE.match(name) is not None


def is_ip(value):
    """True for an IPv4 or IPv6 address in text form."""
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_dns_name(value):
    """An RFC 1123 host name; an all-numeric last label is refused (it would be a malformed IP)."""
    if not isinstance(value, str) or not value or len(value) > 253:
        return False
    name = value[:-1] if value.endswith('.') else value
    labels = name.split('.')
    if not all(DNS_LABEL_RE.match(label) for label in labels):
        return False
    return not labels[-1].isdigit()


def _is_ipv6(host):
    return is_ip(host) and ipaddress.ip_address(host).version == 6


def hostport(host, port):
    """``host:port``, with brackets around an IPv6 address."""
    if _is_ipv6(host):
        return '[%s]:%d' % (host, port)
    return '%s:%d' % (host, port)


def listen_any(host):
    """The wildcard address of the same family as ``host`` (a DNS name counts as IPv4)."""
    return '::' if _is_ipv6(host) else '0.0.0.0'


def fed_endpoint(party, slot):
    """RayFed's entry of one party for job slot ``slot``.

    ``party`` is a mapping with at least ``external_ip`` and ``fed_port`` (a plan party, or a worker config
    party)."""
    port = party['fed_port'] + slot
    return {
        'address': hostport(party['external_ip'], port),
        'listen_addr': hostport(listen_any(party['external_ip']), port),
    }


def spu_endpoint(name, party, slot):
    """SPU's node entry of one party for job slot ``slot``; SPU reads ``listen_address`` (``listen_addr`` in an
    SPU node is silently ignored)."""
    port = party['spu_port'] + slot
    return {
        'party': name,
        'address': hostport(party['external_ip'], port),
        'listen_address': hostport(listen_any(party['external_ip']), port),
    }


def cluster_config(parties, self_party, slot):
    """What ``sf.init(cluster_config=...)`` of ``self_party`` receives for job slot ``slot``.

    ``parties``: name -> mapping with ``external_ip`` and ``fed_port``; exactly the parties of the job (the plan
    passes every party of the deployment, the worker the parties of one job)."""
    return {
        'parties': dict((name, fed_endpoint(parties[name], slot)) for name in sorted(parties)),
        'self_party': self_party,
    }


# The keys of one half (server_ssl_opts / client_ssl_opts) of an SPU node's ``tls_opts``. SPU 0.9.x matches them by
# name against its link.CertInfo / link.VerifyOptions and silently IGNORES any other key (a misspelled
# ``ca_path`` would leave the link without verification), so nothing else may get in.
SPU_TLS_KEYS = ('certificate_path', 'private_key_path', 'ca_file_path', 'verify_depth')
SPU_TLS_HALVES = ('server_ssl_opts', 'client_ssl_opts')


def spu_tls_opts(cert, key, ca_file, verify_depth):
    """An SPU node's ``tls_opts``: both halves with the same certificate, key and CA file. ``verify_depth`` >= 1,
    because SPU's (brpc's) 0 means "verify nothing"; ``ca_file`` must be given, because an empty one means the
    system CAs."""
    half = {'certificate_path': cert, 'private_key_path': key, 'ca_file_path': ca_file,
            'verify_depth': verify_depth}
    opts = dict((name, dict(half)) for name in SPU_TLS_HALVES)
    check_spu_tls_opts(opts)
    return opts


def check_spu_tls_opts(opts):
    """Raise ValueError unless ``opts`` is exactly what :func:`spu_tls_opts` makes: both halves, only the known
    keys, non-empty paths, an integer ``verify_depth`` >= 1."""
    if not isinstance(opts, dict) or sorted(opts) != sorted(SPU_TLS_HALVES):
        raise ValueError('SPU tls_opts must have exactly the keys %s, got %r'
                         % (', '.join(SPU_TLS_HALVES), sorted(opts) if isinstance(opts, dict) else opts))
    for name in SPU_TLS_HALVES:
        half = opts[name]
        if not isinstance(half, dict) or sorted(half) != sorted(SPU_TLS_KEYS):
            raise ValueError('SPU tls_opts.%s must have exactly the keys %s (SPU ignores any other key), got %r'
                             % (name, ', '.join(SPU_TLS_KEYS), sorted(half) if isinstance(half, dict) else half))
        for key in SPU_TLS_KEYS[:3]:
            if not isinstance(half[key], str) or not half[key]:
                raise ValueError('SPU tls_opts.%s.%s must be a non-empty path, got %r' % (name, key, half[key]))
        depth = half['verify_depth']
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError('SPU tls_opts.%s.verify_depth must be an integer >= 1 (0 means no verification), '
                             'got %r' % (name, depth))


def spu_cluster_def(parties, runtime_config, slot, self_party=None, tls_opts=None):
    """The SPU ``cluster_def`` for job slot ``slot``: one node per party (sorted by name), ``runtime_config``
    copied. ``parties`` as in :func:`cluster_config`, with ``spu_port``.

    With ``tls_opts`` (see :func:`spu_tls_opts`), the node of ``self_party`` - and only that node: SPU reads the
    ``tls_opts`` of its own rank and every party has its own files - gets a copy of them."""
    nodes = [spu_endpoint(name, parties[name], slot) for name in sorted(parties)]
    if tls_opts is not None:
        check_spu_tls_opts(tls_opts)
        if self_party not in parties:
            raise ValueError('SPU tls_opts need self_party, one of the parties (%s), got %r'
                             % (', '.join(sorted(parties)), self_party))
        for node in nodes:
            if node['party'] == self_party:
                node['tls_opts'] = dict((name, dict(half)) for name, half in tls_opts.items())
    return {
        'nodes': nodes,
        'runtime_config': dict(runtime_config or {}),
    }


# SPU protocols (SPU 0.9 ``spu_pb2.ProtocolKind``). Which of them a party's jobs may run is deployment configuration:
# the plan's ``sf_spu_protocols`` -> the worker config's ``spu_protocols``; a task may only choose among those.
SPU_PROTOCOLS = ('REF2K', 'SEMI2K', 'ABY3', 'CHEETAH', 'SECURENN')
SPU_DEFAULT_PROTOCOLS = ('SEMI2K', 'ABY3', 'CHEETAH')
# Protocols that protect nothing: allowed only when listed explicitly, and warned about.
SPU_INSECURE_PROTOCOLS = {
    'REF2K': 'REF2K is SPU\'s reference protocol with "no security guarantee": the parties\' secrets are not protected',
}
# The number of parties a protocol runs with (SEMI2K and REF2K: any number from 2).
SPU_PROTOCOL_PARTIES = {'ABY3': 3, 'CHEETAH': 2, 'SECURENN': 3}


def check_spu_protocols(value):
    """Validate a list of SPU protocol names. Returns ``(protocols, problems)``: the names as a list (None when
    ``value`` is unusable) and what is wrong, each a sentence to follow the variable's name."""
    if not isinstance(value, (list, tuple)) or not value:
        return None, ['=%r must be a non-empty list of SPU protocols (known: %s; default: %s)'
                      % (value, ', '.join(SPU_PROTOCOLS), ', '.join(SPU_DEFAULT_PROTOCOLS))]
    problems = []
    for name in value:
        if name not in SPU_PROTOCOLS:
            problems.append('has an unknown SPU protocol %r (known: %s)' % (name, ', '.join(SPU_PROTOCOLS)))
    if len(set(str(name) for name in value)) != len(value):
        problems.append('=%r lists a protocol twice' % (list(value),))
    return (None if problems else list(value)), problems
