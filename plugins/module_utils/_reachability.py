# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reachability matrix, derived from the deployment plan.

Two questions are answered on every rollout:

* must reach: every other party's fed and SPU ports (cross-silo traffic), and inside a party every node's Ray
  ports and the head's GCS and Redis;
* must NOT reach: a party's Ray and Redis ports from any server of another party (Ray ports grant code
  execution, Redis holds the job queue).

:func:`listeners` says which ports each server opens temporary listeners on (``port_listener``), :func:`probes`
which targets each server probes (``port_reachable``), :func:`matrix_lines` renders the results as a table
(rows: source party/host, columns: destination party and port group). Nothing here touches the network.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.sfops.secretflow.plugins.module_utils import _ports as portlib
from ansible_collections.sfops.secretflow.plugins.module_utils._plan import listen_any

PHASES = ('preflight', 'verify')

# Column order of the matrix (a group the port table adds later comes last).
GROUPS = ('fed', 'spu', 'gcs', 'redis', 'ray')

DEFAULT_OPTIONS = {
    # 'all': every managed server of the other parties probes a party's fed/SPU ports (what the issue of record and
    # a strict network policy want); 'heads': only the heads, which are the only servers that open cross-party
    # connections (the worker pins RayFed proxies and SPU runtimes to the head).
    'cross_party_sources': 'all',
    # 'ends': probe the first and the last port of the Ray worker range; 'all': every port of it.
    'worker_ports': 'ends',
    # Peer parties are not ours: nothing listens on their fed/SPU ports between jobs. 'answers' accepts a refused
    # connection (the address answers, nothing listens now); 'open' requires a listener (coordinate with the peer).
    'peer_expect': 'answers',
    # Hosts where the deployment already runs: no temporary listener on their Ray worker range (Ray binds those
    # ports for its workers at any time); their live services answer the probes instead.
    'deployed': (),
    # Only these hosts take part (e.g. a --limit); probes towards other managed hosts are still planned when the
    # destination is in this set.
    'hosts': None,
}
OPTION_CHOICES = {
    'cross_party_sources': ('all', 'heads'),
    'worker_ports': ('ends', 'all'),
    'peer_expect': ('answers', 'open'),
}


def options_with_defaults(options):
    """``options`` merged over :data:`DEFAULT_OPTIONS`; raises ValueError naming a bad option."""
    merged = dict(DEFAULT_OPTIONS)
    for key, value in (options or {}).items():
        if key not in DEFAULT_OPTIONS:
            raise ValueError('unknown reachability option %r (known: %s)' % (key, ', '.join(sorted(DEFAULT_OPTIONS))))
        if key in OPTION_CHOICES and value not in OPTION_CHOICES[key]:
            raise ValueError('reachability option %s=%r: must be one of %s'
                             % (key, value, ', '.join(OPTION_CHOICES[key])))
        merged[key] = value
    merged['deployed'] = frozenset(merged['deployed'] or ())
    if merged['hosts'] is not None:
        merged['hosts'] = frozenset(merged['hosts'])
    return merged


def _managed(plan):
    return [name for name in plan['party_order'] if plan['parties'][name].get('managed')]


def _private_ports(node, pool, deployed=False):
    """[(port, group, expect)] of one node's party-internal ports (its listeners with reach ``party``), by port.

    ``pool``: 'ends' or 'all' ports of a pool (the Ray worker range). On a ``deployed`` node nothing listens on an idle
    pool port and no temporary listener is put there: a refusal proves the path is open (a firewall drop would time
    out), so those only need to answer.
    """
    out = set()
    for entry in node['listeners']:
        if entry['reach'] != portlib.PARTY:
            continue
        group, first, last = entry['group'], entry['first'], entry['last']
        if entry['span'] == portlib.POOL:
            expect = 'answers' if deployed else 'open'
            ports = (first, last) if pool == 'ends' else range(first, last + 1)
        else:
            expect = 'open'
            ports = range(first, last + 1)
        out.update([(port, group, expect) for port in ports])
    return sorted(out)


def _addresses(node):
    """Every address a node may be reached at (node IP first, then the external IP if different)."""
    out = [node['node_ip']]
    if node.get('external_ip') and node['external_ip'] != node['node_ip']:
        out.append(node['external_ip'])
    return out


def listeners(plan, options=None):
    """{host: {'address': wildcard, 'ports': [..]}} - every planned port of each managed server (its listeners).

    Before a deployment this is also the "ports are free" check: ``port_listener`` fails naming the process that
    holds a port. On a deployed host the pools (the Ray worker range) are left out (see ``deployed``).
    """
    opts = options_with_defaults(options)
    out = {}
    for party in _managed(plan):
        for host, node in plan['parties'][party]['nodes'].items():
            if opts['hosts'] is not None and host not in opts['hosts']:
                continue
            entries = [entry for entry in node['listeners']
                       if not (host in opts['deployed'] and entry['span'] == portlib.POOL)]
            out[host] = {'address': listen_any(node['node_ip']), 'ports': sorted(set(portlib.expand(entries)))}
    return out


def _target(host, port, expect, party, node, group, banner=None):
    target = {'host': host, 'port': port, 'expect': expect, 'party': party, 'node': node, 'group': group,
              'label': '%s%s %s' % (party, '/' + node if node else '', group)}
    if banner:
        target['banner'] = banner
    return target


def probes(plan, source, phase, options=None):
    """The targets ``source`` (a managed host) probes in ``phase`` ('preflight' or 'verify').

    Each target: host, port, expect ('open', 'closed' or 'answers'), party, node, group, label.
    """
    if phase not in PHASES:
        raise ValueError('reachability phase %r: must be one of %s' % (phase, ', '.join(PHASES)))
    opts = options_with_defaults(options)
    src_party = plan['hosts'].get(source)
    if src_party is None:
        raise ValueError("reachability: host '%s' is not a managed host of the plan" % source)
    src_node = plan['parties'][src_party]['nodes'][source]
    wanted = opts['hosts']
    out = []
    for party in plan['party_order']:
        p = plan['parties'][party]
        if party == src_party:
            # Inside the party: every other node's private ports (and the head's GCS/Redis) must be reachable.
            for host in sorted(p['nodes']):
                if host == source or (wanted is not None and host not in wanted):
                    continue
                node = p['nodes'][host]
                for port, group, expect in _private_ports(node, opts['worker_ports'], host in opts['deployed']):
                    out.append(_target(node['node_ip'], port, expect, party, host, group))
            continue
        if src_node['role'] == 'head' or opts['cross_party_sources'] == 'all':
            # What other parties reach (the fed and SPU ranges), at the party's external address. Nothing of ours
            # listens there for a peer party between jobs: its expectation is peer_expect.
            managed = p.get('managed')
            if not managed or wanted is None or p['head'] in wanted:
                for entry in p['listeners']:
                    for port in portlib.expand([entry], opts['worker_ports']):
                        out.append(_target(p['external_ip'], port, 'open' if managed else opts['peer_expect'], party,
                                           p['head'] if managed else None, entry['group']))
        if phase == 'verify' and p.get('managed'):
            # Another party's Ray and Redis must stay closed to us, at every address of every node.
            for host in sorted(p['nodes']):
                if wanted is not None and host not in wanted:
                    continue
                node = p['nodes'][host]
                for address in _addresses(node):
                    for port, group, _expect in _private_ports(node, opts['worker_ports']):
                        out.append(_target(address, port, 'closed', party, host, group))
    return out


def _cell(results):
    total = len(results)
    bad = [r for r in results if not r.get('ok')]
    expects = set(r['expect'] for r in results)
    if not bad:
        return '%s %d' % (expects.pop() if len(expects) == 1 else 'ok', total)
    kinds = sorted(set((r.get('error') or 'connected') for r in bad))
    word = 'OPEN' if all(r['expect'] == 'closed' for r in bad) else 'FAIL'
    return '%s %d/%d %s' % (word, len(bad), total, ','.join(kinds))


def matrix_lines(plan, results_by_source):
    """The matrix as text lines.

    ``results_by_source``: {source host: [result, ...]} where each result is a target of :func:`probes` merged with
    what ``port_reachable`` returned for it (at least ``ok``, ``expect``, ``error``).
    """
    columns = []
    cells = {}
    for source in sorted(results_by_source):
        for result in results_by_source[source] or []:
            column = (result['party'], result['group'])
            if column not in columns:
                columns.append(column)
            cells.setdefault((source, column), []).append(result)
    order = dict((name, i) for i, name in enumerate(plan['party_order']))
    columns.sort(key=lambda c: (order.get(c[0], len(order)), GROUPS.index(c[1]) if c[1] in GROUPS else len(GROUPS)))
    header = ['source \\ destination'] + ['%s:%s' % column for column in columns]
    rows = []
    for source in sorted(results_by_source, key=lambda h: (order.get(plan['hosts'].get(h), len(order)), h)):
        row = ['%s/%s' % (plan['hosts'].get(source, '?'), source)]
        for column in columns:
            row.append(_cell(cells[(source, column)]) if (source, column) in cells else '-')
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def fmt(row):
        return '  '.join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()

    return [fmt(header), fmt(['-' * w for w in widths])] + [fmt(row) for row in rows]


def merge_results(targets, results):
    """Zip the planned targets with the module's per-target results (same order, same length)."""
    if len(targets) != len(results):
        raise ValueError('reachability: %d targets but %d results' % (len(targets), len(results)))
    merged = []
    for target, result in zip(targets, results):
        entry = dict(target)
        entry.update(result)
        merged.append(entry)
    return merged


def module_targets(targets):
    """What ``port_reachable`` takes: host, port, expect, label (and banner) of each planned target."""
    keys = ('host', 'port', 'expect', 'label', 'banner')
    return [dict((k, t[k]) for k in keys if k in t) for t in targets]
