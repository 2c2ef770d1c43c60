# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every port of the deployment, in one table.

:data:`PORTS` is the only place that classifies a port. The deployment plan (``_plan.py``) validates the variables it
names and publishes, per node, the list of its listeners (:func:`listeners`); the ``ray start`` argument list, the
firewall rules (``_firewall.py``) and the reachability matrix (``_reachability.py``) are all derived from that list
and this table. Adding a port is one row here (plus its default in ``roles/plan/defaults/main.yml`` and its entry in
``roles/plan/meta/argument_specs.yml``, where every inventory variable is documented).

A row says, for one port or one range of ports:

``name``
    what the plan's listeners call it;
``variables``
    the inventory variable of the port - or of the first and the last port of a ``pool``;
``flags``
    the ``ray start`` flag of each variable, or ``()`` when Ray does not bind the port (Redis, fed, SPU);
``bound``
    :data:`HEAD` - only the party's head binds it - or :data:`NODE` - every node of the party (the head too);
``reach``
    :data:`PARTY` - only the party's own nodes may connect - or :data:`PEERS` - the other parties connect (and the
    party's own nodes may);
``group``
    its column in the reachability matrix (``gcs``, ``redis``, ``ray``, ``fed``, ``spu``);
``span``
    :data:`PORT` - one port; :data:`POOL` - ``first``..``last`` from two variables, ports Ray hands to its worker
    processes at any time (probed at its ends unless asked otherwise, never given temporary listeners on a
    deployed node); :data:`SLOTS` - ``sf_job_slots`` ports from the variable's port on, one per job slot;
``switch``
    None - the port is always bound - or the boolean inventory variable that turns the listener on (e.g. the Ray
    client server, off unless ``sf_ray_client_server_enabled``). A row switched off is not a listener of the node:
    not in ``ray start``, not in the firewall rules, not probed.

Nothing here touches the network.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

HEAD = 'head'
NODE = 'node'
PARTY = 'party'
PEERS = 'peers'
PORT = 'port'
POOL = 'pool'
SLOTS = 'slots'
# The variable that sets the length of every SLOTS range.
SLOTS_VAR = 'sf_job_slots'

Port = namedtuple('Port', 'name variables flags bound reach group span switch')


def _row(variables, flags, bound, reach, group, span=PORT, name=None, switch=None):
    variables = (variables,) if isinstance(variables, str) else tuple(variables)
    flags = () if flags is None else ((flags,) if isinstance(flags, str) else tuple(flags))
    return Port(name or plan_key(variables[0]), variables, flags, bound, reach, group, span, switch)


def plan_key(variable):
    """The key of a variable's value in the plan (a node's ``ports``, a party's ``fed_port``, a peer's entry in
    ``sf_peer_parties``) and the name of a one-port row: the variable without the ``sf_`` prefix."""
    return variable[3:] if variable.startswith('sf_') else variable


# The order of the rows is the order of the variables' checks and, within each kind (fixed ports of every node,
# fixed ports of the head, ranges), of the flags in ``ray start``.
PORTS = (
    # variable(s), ray start flag(s), bound, reach, group[, span, name, switch]
    _row('sf_ray_node_manager_port', '--node-manager-port', NODE, PARTY, 'ray'),
    _row('sf_ray_object_manager_port', '--object-manager-port', NODE, PARTY, 'ray'),
    _row('sf_ray_dashboard_agent_grpc_port', '--dashboard-agent-grpc-port', NODE, PARTY, 'ray'),
    _row('sf_ray_dashboard_agent_listen_port', '--dashboard-agent-listen-port', NODE, PARTY, 'ray'),
    _row('sf_ray_metrics_export_port', '--metrics-export-port', NODE, PARTY, 'ray'),
    _row('sf_ray_runtime_env_agent_port', '--runtime-env-agent-port', NODE, PARTY, 'ray'),
    # The GCS: the head passes it right after --head; the other nodes dial it (--address, the party's ray_address).
    _row('sf_ray_port', '--port', HEAD, PARTY, 'gcs'),
    # The Ray client server (ray:// - runs any code it is sent): nothing of the deployment uses it, so it runs only
    # when asked for; Ray 2.9 starts it (on 10001) whenever the flag is absent - see _plan.RAY_START_NO_CLIENT_SERVER.
    _row('sf_ray_client_server_port', '--ray-client-server-port', HEAD, PARTY, 'ray',
         switch='sf_ray_client_server_enabled'),
    _row('sf_redis_port', None, HEAD, PARTY, 'redis'),
    _row(('sf_ray_min_worker_port', 'sf_ray_max_worker_port'), ('--min-worker-port', '--max-worker-port'),
         NODE, PARTY, 'ray', POOL, name='ray_worker_ports'),
    _row('sf_fed_port', None, HEAD, PEERS, 'fed', SLOTS, name='fed_ports'),
    _row('sf_spu_port', None, HEAD, PEERS, 'spu', SLOTS, name='spu_ports'),
)


def port_vars(rows=None):
    """Every inventory variable of ``rows`` (default: the table), in table order."""
    return tuple(var for row in (PORTS if rows is None else rows) for var in row.variables)


def ray_flags(rows=None):
    """Every ``ray start`` flag of ``rows`` (default: the table)."""
    return tuple(flag for row in (PORTS if rows is None else rows) for flag in row.flags)


def switch_vars(rows=None):
    """The boolean variables that turn rows on (the ``switch`` column), in table order."""
    return tuple(row.switch for row in (PORTS if rows is None else rows) if row.switch)


def rows_of_role(is_head):
    """The rows of a node's role, switched on or not: every :data:`NODE` row, and on the head the :data:`HEAD` rows."""
    return tuple(row for row in PORTS if row.bound == NODE or is_head)


def rows_bound_on(is_head, switches=None):
    """The rows a node binds: :func:`rows_of_role` without the rows whose ``switch`` is not true in ``switches``
    (variable -> bool; missing = off, the safe side)."""
    switches = switches or {}
    return tuple(row for row in rows_of_role(is_head) if row.switch is None or switches.get(row.switch) is True)


def span_of(row, values, job_slots):
    """``(first, last)`` of ``row`` from ``values`` (variable -> port); None when a value is missing, a pool is
    reversed or a slot range has no (valid) ``job_slots``."""
    first = values.get(row.variables[0])
    if first is None:
        return None
    if row.span == POOL:
        last = values.get(row.variables[1])
        if last is None or last < first:
            return None
        return first, last
    if row.span == SLOTS:
        if not job_slots:
            return None
        return first, first + job_slots - 1
    return first, first


def listener(row, first, last):
    """The plan's entry for one row bound on a node (or declared by a peer party)."""
    return {'name': row.name, 'variables': list(row.variables), 'first': first, 'last': last, 'group': row.group,
            'reach': row.reach, 'span': row.span}


def listeners(values, is_head, job_slots, switches=None):
    """The listeners of one node: one entry per row it binds (see :func:`listener`), in table order.

    ``values``: variable -> port (the node's valid port variables); rows whose values are missing or invalid are
    left out (the plan reports those as errors). ``switches``: see :func:`rows_bound_on`.
    """
    out = []
    for row in rows_bound_on(is_head, switches):
        span = span_of(row, values, job_slots)
        if span is not None:
            out.append(listener(row, span[0], span[1]))
    return out


def describe(entry):
    """How a listener is named in errors: its variable(s), and the length of a slot range."""
    variables = entry['variables']
    if entry['span'] == POOL:
        return '..'.join(variables)
    if entry['span'] == SLOTS:
        return '%s range (%s=%d)' % (variables[0], SLOTS_VAR, entry['last'] - entry['first'] + 1)
    return variables[0]


def expand(entries, pool='all'):
    """Every port of ``entries``; ``pool='ends'`` takes only the first and the last port of each :data:`POOL`."""
    ports = []
    for entry in entries:
        if entry['span'] == POOL and pool == 'ends':
            ports += sorted(set([entry['first'], entry['last']]))
        else:
            ports += list(range(entry['first'], entry['last'] + 1))
    return ports


def ranges(ports):
    """Collapse ports into sorted ``[first, last]`` ranges."""
    out = []
    for port in sorted(set(ports)):
        if out and port == out[-1][1] + 1:
            out[-1][1] = port
        else:
            out.append([port, port])
    return out
