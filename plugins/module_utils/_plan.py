# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployment plan: validation of the inventory and every derived port, address and command line.

This is the single source of truth of the collection. The ``deployment_plan`` action plugin collects the
inventory (party groups, the ``sf_*`` variables of every host, role defaults) into a plain dict and calls
:func:`build_plan`; roles and templates only read the plan it returns. Nothing here touches the network.

``build_plan`` never stops at the first problem: it returns every error it finds, each naming the
party and/or host and the variable, so an operator fixes the inventory in one round.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re

from ansible_collections.sfops.secretflow.plugins.module_utils import _ports as portlib
from ansible_collections.sfops.secretflow.plugins.module_utils._messages import where as _where

# Addresses (host:port, wildcards, cluster_config, SPU cluster_def) and the RAY_*ADDRESS rule are shared with the
# worker, which imports the same file (worker/sfworker/_topology.py is a symlink to it); re-exported here.
# pylint: disable-next=unused-import
from ansible_collections.sfops.secretflow.plugins.module_utils._topology import (  # noqa: F401
    RAY_ADDRESS_WHY, SPU_INSECURE_PROTOCOLS, check_spu_protocols, cluster_config, hostport, is_dns_name, is_ip,
    is_ray_address_var, listen_any, spu_cluster_def,
)

PLAN_VERSION = 1

PARTY_NAME_RE = re.compile(r'^[a-z][a-z0-9_]{0,31}$')
NODE_ID_RE = re.compile(r'^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$')
ENV_NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')

RAY_ROLES = ('head', 'worker')

# Custom Ray resource only the party head offers. The worker pins RayFed's proxies and the SPU runtimes to it
# (a tiny fraction each), because other parties dial the head's external address for the fed and SPU ports.
GATEWAY_RESOURCE = 'sf_gateway'
GATEWAY_CAPACITY = 1000

# Every port variable, its ``ray start`` flag, where it is bound and who may reach it: ONE table, _ports.PORTS.
# The names below are derived from it when a plan is built (the constants serve the action plugin).
# ``ray start`` flags the plan owns besides the ports'; sf_ray_start_extra_args may not repeat them.
OWN_RAY_FLAGS = ('--head', '--address', '--node-ip-address', '--node-name', '--worker-port-list', '--labels',
                 '--include-dashboard', '--disable-usage-stats', '--block', '--dashboard-port', '--resources')


def _party_vars():
    """Variables that describe the party as a whole, on which every host must agree with its head: the ports only
    the head binds (the other nodes dial them, other parties reach them), the number of job slots and the SPU
    protocols the party's workers allow."""
    return portlib.port_vars([row for row in portlib.PORTS if row.bound == portlib.HEAD]) + ('sf_job_slots',
                                                                                             'sf_spu_protocols')


def _defaulted_vars():
    """Variables that have a default. The defaults themselves live in ONE place, roles/plan/defaults/main.yml
    (documented there and in meta/argument_specs.yml); the action plugin passes them in as ``defaults``."""
    return ('sf_ray_role',) + portlib.port_vars() + ('sf_job_slots', 'sf_worker_env', 'sf_ray_start_extra_args',
                                                     'sf_peer_parties', 'sf_spu_runtime_config',
                                                     'sf_spu_protocols') + TLS_VARS + \
        portlib.switch_vars() + FIREWALL_VARS


def _managed_ray_flags():
    """``ray start`` flags the plan sets; sf_ray_start_extra_args may not repeat them."""
    return frozenset(OWN_RAY_FLAGS + portlib.ray_flags())


# Mutual TLS between parties (issue #11): one switch for the whole deployment (TLS and plaintext parties cannot talk
# to each other) and the chain depth every party's SPU link verifies. The certificates themselves are the tls role's
# (plugins/module_utils/_tls.py): the plan only says whether TLS is on.
TLS_VARS = ('sf_tls_enabled', 'sf_tls_verify_depth')
TLS_OFF_WARNING = ('TLS between parties is OFF (sf_tls_enabled: false): the fed (RayFed) and SPU links carry data, '
                   'results and pickled objects in clear and accept anyone the firewall lets through. Turn it on '
                   '(the default) unless this is a closed test network.')
# The firewall role's switch, read here so that a node without its firewall is refused before any host is touched
# (issue #12): Ray's GCS, client server and raylets have no authentication - the firewall is all that keeps the other
# parties out. Off only with the acknowledgement, warned about in every run. Defaults: roles/firewall/defaults.
FIREWALL_ENABLED_VAR = 'firewall_enabled'
FIREWALL_OFF_ACK_VAR = 'firewall_disabled_i_understand_ray_is_exposed'
FIREWALL_VARS = (FIREWALL_ENABLED_VAR, FIREWALL_OFF_ACK_VAR)
FIREWALL_OFF_WARNING = ('The firewall is OFF (%s: false, acknowledged by %s: true) on %%s: Ray\'s GCS, raylets and '
                        'Redis port accept connections from anyone who reaches the server, other parties included - '
                        'Ray has no authentication. Protect these ports some other way (docs/operations/firewall.md).'
                        % (FIREWALL_ENABLED_VAR, FIREWALL_OFF_ACK_VAR))
# The Ray client server (ray://, runs any code it is sent) is bound only when this is true (port table, `switch`).
RAY_CLIENT_SERVER_SWITCH = 'sf_ray_client_server_enabled'
# Ray 2.9.3's `ray start` cannot be told not to run the client server: without --ray-client-server-port it starts
# it on 10001 whenever grpc imports (ray/scripts/scripts.py: has_ray_client and port is None -> 10001; grpc is always
# there, SecretFlow needs it), and --ray-client-server-port=0 is refused (ray/_private/parameter.py: "must be between
# 1024 and 65535"). Only a None port skips it (ray/_private/node.py: `if ray_client_server_port:
# start_ray_client_server()`), which `ray start` gives only when it believes ray[client] is missing. So a head
# without it runs `ray start` through this launcher, which says exactly that; it refuses to start when the patch does
# not take (another Ray version) rather than run the client server unnoticed.
RAY_START_NO_CLIENT_SERVER = (
    'python', '-c',
    'import sys, ray._private.utils as u; u.check_ray_client_dependencies_installed = lambda: False; '
    'import ray.scripts.scripts as s; s.check_ray_client_dependencies_installed() and sys.exit('
    '"sfops: cannot keep this Ray version from starting its client server"); sys.argv[0] = "ray"; '
    'sys.exit(s.main())', 'start')
_BOOL_WORDS = {'true': True, 'yes': True, 'on': True, '1': True, 'false': False, 'no': False, 'off': False, '0': False}

PORT_VARS = portlib.port_vars()
PARTY_VARS = _party_vars()
DEFAULTED_VARS = _defaulted_vars()
# Variables the plan reads from each host (plus inventory_hostname / ansible_host).
HOST_VARS = ('sf_node_id', 'sf_node_ip', 'sf_external_ip', 'sf_ray_role', 'sf_worker_env',
             'sf_ray_start_extra_args') + PORT_VARS + ('sf_job_slots', 'sf_spu_protocols') + \
    portlib.switch_vars() + FIREWALL_VARS
MANAGED_RAY_FLAGS = _managed_ray_flags()
# Variables that describe the whole deployment: every managed host must see the same value.
DEPLOYMENT_VARS = ('sf_peer_parties', 'sf_spu_runtime_config') + TLS_VARS


class PlanError(Exception):
    """Raised by :func:`build_plan_or_raise` with every validation error."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(PlanError, self).__init__('\n'.join(self.errors))


def _err(errors, party, host, var, text):
    if var:
        errors.append('%s: %s%s%s' % (_where(party, host), var, '' if text.startswith('=') else ' ', text))
    else:
        errors.append('%s: %s' % (_where(party, host), text))


def as_port(value):
    """Return ``value`` as a port number, or None when it is not an integer in 1-65535.

    Integers and strings of digits (INI inventories give strings) are accepted; booleans are not.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        return None
    return number if 1 <= number <= 65535 else None


def as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.match(r'^-?\d+$', value.strip()):
        return int(value.strip())
    return None


class _Host(object):
    """The resolved variables of one managed host."""

    def __init__(self, name, party, raw, defaults):
        self.name = name
        self.party = party
        self.raw = raw
        self.defaults = defaults

    def get(self, var):
        if var in self.raw and self.raw[var] is not None:
            return self.raw[var]
        return self.defaults.get(var)


def _collect_hosts(inventory, defaults, errors):
    """Map every host of every party to its party; report stray hosts and hosts in two parties."""
    parties = inventory.get('parties') or {}
    host_party = {}
    hosts = {}
    for party in sorted(parties):
        if not PARTY_NAME_RE.match(party):
            _err(errors, party, None, None,
                 'invalid party name (group under "secretflow"): use a lowercase letter first, then lowercase '
                 'letters, digits or "_", at most 32 characters')
        members = parties[party] or []
        if not members:
            _err(errors, party, None, None, 'the party group has no hosts')
        for name in members:
            if name in host_party:
                _err(errors, party, name, None,
                     "the host is in two parties ('%s' and '%s'); a host belongs to exactly one party"
                     % (host_party[name], party))
                continue
            host_party[name] = party
            hosts[name] = _Host(name, party, (inventory.get('hosts') or {}).get(name, {}), defaults)
    for name in sorted(inventory.get('stray_hosts') or []):
        if name not in host_party:
            _err(errors, None, name, None,
                 'the host is in group "secretflow" but in no party group; put it under a party (a child group '
                 'of "secretflow")')
    return hosts


def _check_ports(host, errors):
    """Validate every port variable of a host; return the ones that are valid as name -> int."""
    ports = {}
    for var in portlib.port_vars():
        value = host.get(var)
        port = as_port(value)
        if port is None:
            _err(errors, host.party, host.name, var, '=%r is not an integer port in 1-65535' % (value,))
        else:
            ports[var] = port
    return ports


def _deployment_value(var, hosts, defaults, errors):
    """A deployment-wide variable: every managed host must see the same value (hosts that do not set it see
    the default)."""
    values = {}
    for name in sorted(hosts):
        value = hosts[name].get(var)
        values.setdefault(json.dumps(value, sort_keys=True, default=str), (value, []))[1].append(name)
    if len(values) > 1:
        shown = '; '.join('%s on %s' % (k, ', '.join(v[1][:3]) + (' ...' if len(v[1]) > 3 else ''))
                          for k, v in sorted(values.items(), key=lambda kv: kv[1][1][0]))
        _err(errors, None, None, var,
             'must be the same for the whole deployment (set it in group_vars/all), but hosts disagree: %s' % shown)
    if values:
        return sorted(values.values(), key=lambda v: v[1][0])[0][0]
    return defaults.get(var)


def _check_spu_protocols(host, spu_runtime, errors):
    """The SPU protocols the host's worker lets a job run (``sf_spu_protocols``, party-wide); the deployment's
    ``sf_spu_runtime_config`` protocol must be one of them."""
    protocols, problems = check_spu_protocols(host.get('sf_spu_protocols'))
    for text in problems:
        _err(errors, host.party, host.name, 'sf_spu_protocols', text)
    default = spu_runtime.get('protocol') if isinstance(spu_runtime, dict) else None
    if protocols is not None and default is not None and default not in protocols:
        _err(errors, host.party, host.name, 'sf_spu_protocols',
             '=%r does not contain %r, the protocol of sf_spu_runtime_config (every job runs it unless the task '
             'picks another one of this list)' % (protocols, default))
    return protocols


def spu_protocol_warnings(plan):
    """One warning per managed party whose workers allow a protocol that protects nothing (REF2K)."""
    warnings = []
    for name in plan['party_order']:
        for protocol in plan['parties'][name].get('spu_protocols') or ():
            if protocol in SPU_INSECURE_PROTOCOLS:
                warnings.append('%s: sf_spu_protocols allows %s - %s. Jobs of this party may run it when a task asks '
                                'for it; list only SEMI2K, ABY3, CHEETAH unless this is a test deployment.'
                                % (_where(name, None), protocol, SPU_INSECURE_PROTOCOLS[protocol]))
    return warnings


def plan_warnings(plan):
    """What every run of the plan must say: TLS between parties off, a firewall off (acknowledged), an insecure SPU
    protocol allowed."""
    warnings = [] if plan['tls']['enabled'] else [TLS_OFF_WARNING]
    if plan.get('firewall_off'):
        # Ray's unauthenticated control plane open to whoever reaches these servers
        warnings.append(FIREWALL_OFF_WARNING % ', '.join(plan['firewall_off']))
    return warnings + spu_protocol_warnings(plan)


def _check_worker_env(host, errors):
    env = host.get('sf_worker_env')
    if env is None:
        return {}
    if not isinstance(env, dict):
        _err(errors, host.party, host.name, 'sf_worker_env',
             'must be a mapping of environment variable names to values, got %s' % type(env).__name__)
        return {}
    clean = {}
    for key in sorted(env, key=str):
        value = env[key]
        if not isinstance(key, str) or not ENV_NAME_RE.match(key):
            _err(errors, host.party, host.name, 'sf_worker_env', 'has an invalid variable name %r' % (key,))
            continue
        if is_ray_address_var(key):
            _err(errors, host.party, host.name, 'sf_worker_env',
                 'must not set %s: %s' % (key, RAY_ADDRESS_WHY))
            continue
        if isinstance(value, (dict, list)) or value is None:
            _err(errors, host.party, host.name, 'sf_worker_env',
                 'value of %s must be a string or number, got %s' % (key, type(value).__name__))
            continue
        clean[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return clean


def _check_extra_args(host, errors):
    args = host.get('sf_ray_start_extra_args')
    if args is None:
        return []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        _err(errors, host.party, host.name, 'sf_ray_start_extra_args',
             'must be a list of strings such as ["--num-cpus=8"]')
        return []
    managed = _managed_ray_flags()
    clean = []
    for arg in args:
        flag = arg.split('=', 1)[0]
        if not flag.startswith('--'):
            _err(errors, host.party, host.name, 'sf_ray_start_extra_args',
                 'has %r: give each option as one "--flag=value" item' % (arg,))
        elif flag in managed:
            _err(errors, host.party, host.name, 'sf_ray_start_extra_args',
                 'must not set %s: the deployment plan sets it from the inventory (see the sf_* variables)' % flag)
        else:
            clean.append(arg)
    return clean


def _peer_keys():
    """What a peer party declares in ``sf_peer_parties``: its external address and the first port of every range
    other parties reach (the rows of the port table with reach ``peers``), e.g. fed_port and spu_port."""
    return [portlib.plan_key(var) for var in portlib.port_vars([row for row in portlib.PORTS
                                                                if row.reach == portlib.PEERS])]


def _check_peers(peers, managed, errors):
    """Validate ``sf_peer_parties``; return name -> {external_ip, fed_port, spu_port} for the valid ones."""
    result = {}
    keys = _peer_keys()
    if peers is None:
        return result
    if not isinstance(peers, dict):
        _err(errors, None, None, 'sf_peer_parties', 'must be a mapping of party name to {%s}, got %s'
             % (', '.join(['external_ip'] + keys), type(peers).__name__))
        return result
    for name in sorted(peers, key=str):
        spec = peers[name]
        ok = True
        if not isinstance(name, str) or not PARTY_NAME_RE.match(name):
            _err(errors, name, None, 'sf_peer_parties',
                 'invalid peer party name: use a lowercase letter first, then lowercase letters, digits or "_", '
                 'at most 32 characters')
            ok = False
        if name in managed:
            _err(errors, name, None, 'sf_peer_parties',
                 'declares a peer party with the name of a managed party (a group under "secretflow"); '
                 'a party is either managed here or a peer')
            ok = False
        if not isinstance(spec, dict):
            _err(errors, name, None, 'sf_peer_parties', 'entry must be a mapping with %s and %s'
                 % (', '.join(['external_ip'] + keys[:-1]), keys[-1]))
            continue
        for key in ['external_ip'] + keys:
            if key not in spec or spec[key] in (None, ''):
                _err(errors, name, None, 'sf_peer_parties.%s.%s' % (name, key), 'is missing')
                ok = False
        ext = spec.get('external_ip')
        if ext not in (None, '') and not (is_ip(ext) or is_dns_name(ext)):
            _err(errors, name, None, 'sf_peer_parties.%s.external_ip' % name,
                 '=%r is neither an IP address nor a DNS name' % (ext,))
            ok = False
        ports = {}
        for key in keys:
            if spec.get(key) in (None, ''):
                continue
            ports[key] = as_port(spec[key])
            if ports[key] is None:
                _err(errors, name, None, 'sf_peer_parties.%s.%s' % (name, key),
                     '=%r is not an integer port in 1-65535' % (spec[key],))
                ok = False
        ca_cert = spec.get('ca_cert')
        if ca_cert is not None and not (isinstance(ca_cert, str) and ca_cert.strip()):
            # Only the type here: the tls role parses and checks the certificate (plugins/module_utils/_tls.py).
            _err(errors, name, None, 'sf_peer_parties.%s.ca_cert' % name,
                 'must be the PEM text of the party\'s CA certificate(s) or the path of a file on the controller, '
                 'got %s' % ('an empty value' if isinstance(ca_cert, str) else type(ca_cert).__name__))
            ok = False
        if ok:
            result[name] = dict(ports, external_ip=ext)
    return result


def as_bool(value):
    """``value`` as a boolean (YAML booleans, or the words Ansible's ``bool`` filter knows - INI inventories give
    strings), or None when it is neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {0: False, 1: True}.get(value)
    if isinstance(value, str):
        return _BOOL_WORDS.get(value.strip().lower())
    return None


def _check_switches(host, errors):
    """The port table's switches of a host (variable -> bool); an invalid value is reported and taken as off."""
    switches = {}
    for var in portlib.switch_vars():
        value = as_bool(host.get(var))
        if value is None:
            _err(errors, host.party, host.name, var, '=%r must be true or false' % (host.get(var),))
        switches[var] = value is True
    return switches


def _check_firewall(host, errors):
    """Whether the firewall role keeps its rules on the host; off only when acknowledged (refused otherwise)."""
    enabled = as_bool(host.get(FIREWALL_ENABLED_VAR))
    ack = as_bool(host.get(FIREWALL_OFF_ACK_VAR))
    if enabled is None:
        _err(errors, host.party, host.name, FIREWALL_ENABLED_VAR, '=%r must be true or false'
             % (host.get(FIREWALL_ENABLED_VAR),))
    if ack is None:
        _err(errors, host.party, host.name, FIREWALL_OFF_ACK_VAR, '=%r must be true or false'
             % (host.get(FIREWALL_OFF_ACK_VAR),))
    if enabled is False and ack is False:
        _err(errors, host.party, host.name, FIREWALL_ENABLED_VAR,
             "is false, but Ray's GCS, client server and raylets have no authentication: without the firewall they "
             "accept anyone who reaches the server, other parties included. Keep it on, or - only if something else "
             "restricts these ports - also set %s: true for this host (docs/operations/firewall.md)"
             % FIREWALL_OFF_ACK_VAR)
    return enabled is not False


def _check_tls(hosts, defaults, errors):
    """The deployment-wide TLS settings: ``{enabled, verify_depth}`` (None for an invalid value, reported)."""
    raw = _deployment_value('sf_tls_enabled', hosts, defaults, errors)
    enabled = as_bool(raw)
    if enabled is None:
        _err(errors, None, None, 'sf_tls_enabled', '=%r must be true or false' % (raw,))
    raw = _deployment_value('sf_tls_verify_depth', hosts, defaults, errors)
    depth = as_int(raw)
    if depth is None or depth < 1:
        _err(errors, None, None, 'sf_tls_verify_depth',
             '=%r must be an integer of at least 1 (1: party certificates signed by the party CA itself; 2: with one '
             'intermediate CA). 0 would turn off certificate verification on the SPU link' % (raw,))
        depth = None
    return {'enabled': enabled, 'verify_depth': depth}


def _check_ranges(host, ports, slots, errors):
    """A pool must not run backwards, a slot range not past 65535."""
    for row in portlib.PORTS:
        first = ports.get(row.variables[0])
        if first is None:
            continue
        if row.span == portlib.POOL and ports.get(row.variables[1]) is not None and first > ports[row.variables[1]]:
            _err(errors, host.party, host.name, row.variables[0],
                 '=%d is above %s=%d' % (first, row.variables[1], ports[row.variables[1]]))
        if row.span == portlib.SLOTS and slots and first + slots - 1 > 65535:
            _err(errors, host.party, host.name, row.variables[0], '=%d with sf_job_slots=%d runs past port 65535'
                 % (first, slots))


def _describe(claim):
    first, last, what = claim
    return '%s %s' % (what, first if first == last else '%d-%d' % (first, last))


def _check_collisions(by_ip, errors):
    """Report every pair of overlapping port ranges among the hosts that share an IP."""
    for ip in sorted(by_ip):
        entries = sorted(by_ip[ip], key=lambda e: (e[1][0], e[1][1], e[0].name))
        active = []
        for host, claim in entries:
            active = [a for a in active if a[1][1] >= claim[0]]
            for other_host, other in active:
                if other_host.name == host.name:
                    _err(errors, host.party, host.name, None,
                         'ports collide on %s: %s overlaps %s' % (ip, _describe(claim), _describe(other)))
                else:
                    _err(errors, host.party, host.name, None,
                         "ports collide on %s with host '%s' (party '%s'): %s overlaps %s"
                         % (ip, other_host.name, other_host.party, _describe(claim), _describe(other)))
            active.append((host, claim))


def _port_flags(rows, values):
    """``--flag=port`` of every variable of ``rows`` that has a flag."""
    return ['%s=%d' % (flag, values[var]) for row in rows for var, flag in zip(row.variables, row.flags)]


def ray_start_argv(node, party, head_ip, ray_port, extra_args=None, object_store_memory=None):
    """The complete ``ray start`` argument list of one node (``node`` is a plan node entry).

    ``object_store_memory`` (bytes) adds ``--object-store-memory`` after ``extra_args``, before ``--block``: the
    plan leaves it out (the node role sizes it from the server's memory, see :func:`node_ray_start_argv`).
    ``node['switches']`` turns on the rows of the port table that have a switch (missing: off); a head without the
    Ray client server starts through :data:`RAY_START_NO_CLIENT_SERVER`."""
    is_head = node['role'] == 'head'
    switches = node.get('switches') or {}
    # The port flags come from the port table, each kind in table order: the GCS port right after --head (the other
    # nodes dial it with --address instead), the fixed ports of every node, the head's other fixed ports, the
    # ranges.
    rows = [row for row in portlib.rows_bound_on(is_head, switches) if row.flags]
    fixed = [row for row in rows if row.span == portlib.PORT and row.group != 'gcs']
    # Only a head runs the client server (ray/_private/node.py, start_head_processes).
    argv = list(RAY_START_NO_CLIENT_SERVER) if is_head and not switches.get(RAY_CLIENT_SERVER_SWITCH) \
        else ['ray', 'start']
    if is_head:
        argv += ['--head'] + _port_flags([row for row in rows if row.group == 'gcs'], node['ports'])
    else:
        argv += ['--address=%s' % hostport(head_ip, ray_port)]
    argv += ['--node-ip-address=%s' % node['node_ip'], '--node-name=%s' % node['node_id']]
    argv += _port_flags([row for row in fixed if row.bound == portlib.NODE], node['ports'])
    if is_head:
        argv += _port_flags([row for row in fixed if row.bound == portlib.HEAD], node['ports'])
        argv.append('--resources=%s' % json.dumps({GATEWAY_RESOURCE: GATEWAY_CAPACITY}, separators=(',', ':')))
    argv += _port_flags([row for row in rows if row.span != portlib.PORT], node['ports'])
    argv += ['--labels=%s' % json.dumps({'sf_node_id': node['node_id'], 'sf_party': party},
                                        sort_keys=True, separators=(',', ':'))]
    if node['role'] == 'head':
        # Ray 2.9 refuses --include-dashboard on a worker node ("should only be specified ... with --head");
        # worker nodes run no dashboard anyway.
        argv.append('--include-dashboard=false')
    argv.append('--disable-usage-stats')
    argv += list(extra_args or [])
    if object_store_memory is not None:
        size = as_int(object_store_memory)
        if size is None or size <= 0:
            raise ValueError('object_store_memory=%r is not a positive number of bytes' % (object_store_memory,))
        argv.append('--object-store-memory=%d' % size)
    argv.append('--block')
    return argv


def node_ray_start_argv(plan, host, object_store_memory=None):
    """``ray start`` of ``host`` rebuilt from the published plan by :func:`ray_start_argv` - the plan's
    ``ray_start_argv`` of the node, plus ``--object-store-memory`` when ``object_store_memory`` (bytes) is given."""
    party = plan['hosts'][host]
    nodes = plan['parties'][party]['nodes']
    node = nodes[host]
    head = nodes[plan['parties'][party]['head']]
    switches = node.get('switches') or {}
    rows = portlib.rows_bound_on(node['role'] == 'head', switches)
    ports = {var: node['ports'][portlib.plan_key(var)] for var in portlib.port_vars(rows)}
    return ray_start_argv({'role': node['role'], 'node_ip': node['node_ip'], 'node_id': node['node_id'],
                           'ports': ports, 'switches': switches},
                          party, head['node_ip'], head['ports'][portlib.plan_key('sf_ray_port')],
                          node['ray_start_extra_args'], object_store_memory)


def build_plan(inventory):
    """Validate ``inventory`` and derive the deployment plan.

    ``inventory`` is a dict:

    - ``parties``: party name -> list of host names (the hosts of each direct child group of ``secretflow``);
    - ``stray_hosts``: hosts of ``secretflow`` that are in no party group;
    - ``hosts``: host name -> the variables defined for it (``inventory_hostname``, ``ansible_host`` and ``sf_*``);
    - ``defaults``: variable -> default, from roles/plan/defaults/main.yml (every name in DEFAULTED_VARS).

    Returns ``(errors, plan)``; ``plan`` is None when there are errors.
    """
    errors = []
    defaults = dict(inventory.get('defaults') or {})
    for var in _defaulted_vars():
        if var not in defaults:
            _err(errors, None, None, var, 'has no default (roles/plan/defaults/main.yml - or, for the firewall '
                 'switch, roles/firewall/defaults/main.yml - is incomplete)')
    hosts = _collect_hosts(inventory, defaults, errors)
    managed = sorted(inventory.get('parties') or {})

    peers = _check_peers(_deployment_value('sf_peer_parties', hosts, defaults, errors), managed, errors)
    spu_runtime = _deployment_value('sf_spu_runtime_config', hosts, defaults, errors)
    tls = _check_tls(hosts, defaults, errors)
    if not isinstance(spu_runtime, dict):
        _err(errors, None, None, 'sf_spu_runtime_config', 'must be a mapping (e.g. {protocol: SEMI2K, field: FM128})')

    if not managed:
        _err(errors, None, None, None,
             'no parties: the inventory needs a group "secretflow" whose child groups are the parties, each with '
             'its hosts')
    elif len(managed) + len(peers) < 2:
        _err(errors, None, None, None,
             'a deployment needs at least two parties in all (managed parties under "secretflow" plus '
             'sf_peer_parties); found %d: %s' % (len(managed) + len(peers), ', '.join(managed + sorted(peers))))

    node_ids = {}
    nodes = {}
    by_ip = {}
    heads = {party: [] for party in managed}
    for name in sorted(hosts):
        host = hosts[name]
        node = {'party': host.party}
        node_id = host.get('sf_node_id')
        if node_id is None:
            node_id = host.raw.get('inventory_hostname', name)
        if not isinstance(node_id, str) or not NODE_ID_RE.match(node_id):
            _err(errors, host.party, name, 'sf_node_id',
                 '=%r is not a valid node ID: use an RFC 1123 label (lowercase letters, digits and "-", 1-63 '
                 'characters, starting and ending with a letter or digit)%s'
                 % (node_id, '' if 'sf_node_id' in host.raw else
                    '; it defaults to the inventory host name, so set sf_node_id for this host'))
        elif node_id in node_ids:
            other = hosts[node_ids[node_id]]
            _err(errors, host.party, name, 'sf_node_id',
                 "='%s' is already used by host '%s' (party '%s'); node IDs must be unique across the deployment"
                 % (node_id, other.name, other.party))
        else:
            node_ids[node_id] = name
        node['node_id'] = node_id

        node_ip = host.get('sf_node_ip')
        if node_ip is None:
            node_ip = host.raw.get('ansible_host', name)
        if not is_ip(node_ip):
            _err(errors, host.party, name, 'sf_node_ip',
                 '=%r is not an IP address (it defaults to ansible_host; Ray binds and advertises it)' % (node_ip,))
        node['node_ip'] = node_ip

        ext = host.get('sf_external_ip')
        defaulted = ext is None
        if defaulted:
            ext = node_ip
        if not (is_ip(ext) or is_dns_name(ext)) and not (defaulted and not is_ip(node_ip)):
            _err(errors, host.party, name, 'sf_external_ip',
                 '=%r is neither an IP address nor a DNS name (it is what other parties dial for the fed and SPU '
                 'ports)' % (ext,))
        node['external_ip'] = ext

        role = host.get('sf_ray_role')
        if role not in RAY_ROLES:
            _err(errors, host.party, name, 'sf_ray_role', '=%r is unknown: use "head" or "worker"' % (role,))
        elif role == 'head':
            heads[host.party].append(name)
        node['role'] = role

        ports = _check_ports(host, errors)
        node['switches'] = _check_switches(host, errors)
        node['firewall'] = _check_firewall(host, errors)
        slots = as_int(host.get('sf_job_slots'))
        if slots is None or slots < 1:
            _err(errors, host.party, name, 'sf_job_slots',
                 '=%r must be an integer of at least 1 (jobs a party runs at once)' % (host.get('sf_job_slots'),))
            slots = None
        _check_ranges(host, ports, slots, errors)
        node['job_slots'] = slots
        node['ports'] = ports
        # What this node binds, from the port table (rows whose variables are invalid are left out: reported above).
        node['listeners'] = portlib.listeners(ports, role == 'head', slots, node['switches'])
        node['spu_protocols'] = _check_spu_protocols(host, spu_runtime, errors)
        node['worker_env'] = _check_worker_env(host, errors)
        node['extra_args'] = _check_extra_args(host, errors)
        nodes[name] = node
        if is_ip(node_ip):
            key = str(ipaddress.ip_address(node_ip))
            for entry in node['listeners']:
                claim = (entry['first'], entry['last'], portlib.describe(entry))
                by_ip.setdefault(key, []).append((host, claim))

    for party in managed:
        if not (inventory.get('parties') or {}).get(party):
            continue
        if not heads[party]:
            _err(errors, party, None, 'sf_ray_role',
                 'no host of the party is the head: set sf_ray_role: head on exactly one host')
        elif len(heads[party]) > 1:
            _err(errors, party, None, 'sf_ray_role',
                 'the party has %d heads (%s); exactly one host must have sf_ray_role: head'
                 % (len(heads[party]), ', '.join(heads[party])))

    # Party-wide variables: every host of a party must agree with its head.
    for party in managed:
        if len(heads[party]) != 1:
            continue
        head = hosts[heads[party][0]]
        for name in sorted(inventory['parties'][party]):
            if name == head.name or hosts.get(name) is None or hosts[name].party != party:
                continue
            for var in _party_vars():
                if str(hosts[name].get(var)) != str(head.get(var)):
                    _err(errors, party, name, var,
                         "=%r differs from the party head '%s' (%r); it is a party-wide setting, set it at the "
                         "party group level" % (hosts[name].get(var), head.name, head.get(var)))

    # All parties of a deployment must agree on the number of job slots (a job uses slot k everywhere).
    slot_values = {}
    for party in managed:
        if len(heads[party]) == 1 and nodes[heads[party][0]]['job_slots']:
            slot_values.setdefault(nodes[heads[party][0]]['job_slots'], []).append(party)
    if len(slot_values) > 1:
        _err(errors, None, None, 'sf_job_slots',
             'must be the same in every party (a job uses the same slot in all parties), but: %s'
             % '; '.join('%s=%d' % (','.join(v), k) for k, v in sorted(slot_values.items())))

    _check_collisions(by_ip, errors)

    if errors:
        return errors, None
    return [], _assemble(managed, heads, nodes, peers, spu_runtime, tls)


def _public(listeners):
    """What other parties reach of a party, at its external address: ``listeners`` (the rows of the port table
    with reach ``peers``) and, for each, its first port under the variable's name (``fed_port``) and, for a range,
    ``[first, last]`` under the row's name (``fed_ports``)."""
    public = [entry for entry in listeners if entry['reach'] == portlib.PEERS]
    out = {'listeners': public}
    for entry in public:
        out[portlib.plan_key(entry['variables'][0])] = entry['first']
        if entry['span'] != portlib.PORT:
            out[entry['name']] = [entry['first'], entry['last']]
    return out


def _assemble(managed, heads, nodes, peers, spu_runtime, tls):
    job_slots = nodes[heads[managed[0]][0]]['job_slots']
    parties = {}
    for party in managed:
        head = nodes[heads[party][0]]
        hp = head['ports']
        parties[party] = {
            'managed': True,
            'head': heads[party][0],
            'external_ip': head['external_ip'],
            'ray_address': hostport(head['node_ip'], hp['sf_ray_port']),
            'redis': {'host': head['node_ip'], 'port': hp['sf_redis_port']},
            # the SPU protocols the party's workers let a job run (sf_spu_protocols)
            'spu_protocols': list(head['spu_protocols']),
            'nodes': {},
        }
        parties[party].update(_public(head['listeners']))
    for name in sorted(nodes):
        node = nodes[name]
        party = node['party']
        head = nodes[heads[party][0]]
        entry = {
            'node_id': node['node_id'],
            'node_ip': node['node_ip'],
            'external_ip': node['external_ip'],
            'role': node['role'],
            # What the node binds: the rows of the port table for its role whose switch is on.
            'listeners': node['listeners'],
            # The port table's switches (sf_ray_client_server_enabled) and whether the firewall role keeps its rules.
            'switches': dict(node['switches']),
            'firewall': node['firewall'],
            # The ports by variable (without sf_), as earlier plans published them: every row of its role, switched
            # on or not (a port switched off stays reserved; its listener is not in `listeners`).
            'ports': {portlib.plan_key(var): node['ports'][var]
                      for var in portlib.port_vars(portlib.rows_of_role(node['role'] == 'head'))},
            'worker_env': node['worker_env'],
            'ray_start_extra_args': list(node['extra_args']),
        }
        entry['ray_start_argv'] = ray_start_argv(
            {'role': node['role'], 'node_ip': node['node_ip'], 'node_id': node['node_id'], 'ports': node['ports'],
             'switches': node['switches']}, party, head['node_ip'], head['ports']['sf_ray_port'], node['extra_args'])
        parties[party]['nodes'][name] = entry
    for name in sorted(peers):
        peer = peers[name]
        listeners = []
        for row in portlib.PORTS:
            if row.reach == portlib.PEERS:
                span = portlib.span_of(row, {var: peer[portlib.plan_key(var)] for var in row.variables}, job_slots)
                listeners.append(portlib.listener(row, span[0], span[1]))
        parties[name] = {'managed': False, 'external_ip': peer['external_ip'], 'nodes': {}}
        parties[name].update(_public(listeners))
    order = sorted(parties)
    for party in managed:
        parties[party]['cluster_config'] = cluster_config(parties, party, 0)
    return {
        'version': PLAN_VERSION,
        'job_slots': job_slots,
        'party_order': order,
        'hosts': {name: nodes[name]['party'] for name in sorted(nodes)},
        'parties': parties,
        'spu_cluster_def': spu_cluster_def(parties, spu_runtime, 0),
        # Mutual TLS on the fed and SPU links: on or off for the whole deployment, and the SPU link's verify depth.
        'tls': dict(tls),
        # Hosts whose firewall is off (acknowledged): warned about in every run.
        'firewall_off': sorted(name for name in nodes if not nodes[name]['firewall']),
    }


def build_plan_or_raise(inventory):
    errors, plan = build_plan(inventory)
    if errors:
        raise PlanError(errors)
    return plan


def summary_lines(plan):
    """A short human summary: one line per party, one per node."""
    lines = ['deployment plan v%d: %d parties, %d job slots'
             % (plan['version'], len(plan['parties']), plan['job_slots'])]
    tls = plan.get('tls') or {}
    if tls.get('enabled'):
        lines.append('  TLS between parties: on (mutual; SPU verify depth %s)' % tls.get('verify_depth'))
    else:
        lines.append('  TLS between parties: OFF (sf_tls_enabled: false)')
    if plan.get('firewall_off'):
        lines.append('  firewall: OFF on %s (%s: false)' % (', '.join(plan['firewall_off']), FIREWALL_ENABLED_VAR))
    for name in plan['party_order']:
        p = plan['parties'][name]
        # what other parties reach at the external address: 'fed 19000-19009 spu 19500-19509'
        public = ' '.join('%s %d-%d' % (entry['group'], entry['first'], entry['last']) for entry in p['listeners'])
        if not p['managed']:
            lines.append('  %s (peer): %s %s' % (name, p['external_ip'], public))
            continue
        lines.append('  %s: head %s, ray %s, redis %s, external %s %s'
                     % (name, p['head'], p['ray_address'], hostport(p['redis']['host'], p['redis']['port']),
                        p['external_ip'], public))
        for host in sorted(p['nodes']):
            n = p['nodes'][host]
            lines.append('    %-7s %s node_id=%s ip=%s external=%s'
                         % (n['role'], host, n['node_id'], n['node_ip'], n['external_ip']))
    return lines


def worker_config(plan, host, settings):
    """The sfworker configuration of ``host`` (docs/worker.md), derived from the plan.

    ``settings`` carries what is not in the plan: ``queue``, ``data_dir``, ``concurrency``, ``peer_timeout_s``,
    ``job_timeout_s``, ``log_level``, optionally ``status_channel``, ``status_queue``, ``status_queue_max`` (the
    original worker's status events) and ``result_expires_s``, ``redis_url`` (an external Redis; empty = the
    party's own Redis on its head,
    whose address comes from the plan), ``redis_user`` (the user in the own Redis' URL, if any),
    ``redis_password_file`` (the password, kept out of the URL; empty = none), and ``tls_dir`` (where the node role
    installs the TLS files, as the container sees it; needed when the plan's ``tls.enabled``).

    ``tls``: ``None`` when TLS between parties is off (``sf_tls_enabled: false``), else ``{dir, verify_depth}``.
    """
    party = plan['hosts'][host]
    p = plan['parties'][party]
    node = p['nodes'][host]
    config = {
        'party': party,
        'node_id': node['node_id'],
        'node_ip': node['node_ip'],
        'ray_address': p['ray_address'],
        'job_slots': plan['job_slots'],
        'parties': {
            name: {'external_ip': q['external_ip'], 'fed_port': q['fed_port'], 'spu_port': q['spu_port']}
            for name, q in plan['parties'].items()
        },
        'spu_runtime_config': dict(plan['spu_cluster_def']['runtime_config']),
        'spu_protocols': list(p['spu_protocols']),
        'gateway_resource': GATEWAY_RESOURCE,
    }
    for key in ('queue', 'data_dir', 'log_level'):
        config[key] = str(settings[key])
    for key in ('concurrency', 'peer_timeout_s', 'job_timeout_s'):
        config[key] = int(settings[key])
    # the original worker's status events and result lifetime (#13); absent: the worker's defaults (the same)
    for key in ('status_channel', 'status_queue'):
        if settings.get(key):
            config[key] = str(settings[key])
    for key in ('status_queue_max', 'result_expires_s'):
        if settings.get(key) not in (None, ''):
            config[key] = int(settings[key])
    if settings.get('redis_url'):
        config['redis_url'] = settings['redis_url']
    else:
        user = settings.get('redis_user') or ''
        config['redis_url'] = 'redis://%s%s/0' % (user + '@' if user else '',
                                                  hostport(p['redis']['host'], p['redis']['port']))
    if settings.get('redis_password_file'):
        config['redis_password_file'] = settings['redis_password_file']
    tls = plan['tls']
    config['tls'] = None
    if tls['enabled']:
        if not settings.get('tls_dir'):
            raise ValueError('settings.tls_dir is required: TLS between parties is on (sf_tls_enabled)')
        config['tls'] = {'dir': str(settings['tls_dir']), 'verify_depth': int(tls['verify_depth'])}
    return config


def party_manifest(plan, party):
    """What one party's servers need to know about the deployment: their own party in full (nodes, ports,
    cluster_config) and, for every other party, only what is reachable from outside (external address and the
    fed/SPU ranges) - never another party's internal IPs."""
    own = plan['parties'][party]
    return {
        'version': plan['version'],
        'party': party,
        'job_slots': plan['job_slots'],
        'party_order': list(plan['party_order']),
        'self': own,
        'parties': {
            name: dict([(key, value) for key, value in _public(p['listeners']).items() if key != 'listeners'],
                       managed=p['managed'], external_ip=p['external_ip'])
            for name, p in plan['parties'].items()
        },
        'spu_cluster_def': plan['spu_cluster_def'],
    }
