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
which targets each server probes (``port_reachable``), both from the listeners the plan publishes per node (the
port table, ``_ports.py``, classifies them); :func:`report` turns what every server returned into the matrix
(rows: source party/host, columns: destination party and port group) and the list of problems (the
``reachability_report`` action). Nothing here touches the network.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.sfops.secretflow.plugins.module_utils import _ports as portlib
from ansible_collections.sfops.secretflow.plugins.module_utils._plan import listen_any

PHASES = ('preflight', 'verify')

# Column order of the matrix (a group the port table adds later comes last).
GROUPS = ('fed', 'spu', 'gcs', 'redis', 'ray')

DEFAULT_OPTIONS = {
    # 'all': every managed server of the other parties probes a managed party's fed/SPU ports (what the issue of
    # record and a strict network policy want); 'heads': only the heads, which are the only servers that open
    # cross-party connections (the worker pins RayFed proxies and SPU runtimes to the head). A peer party (another
    # organisation's inventory) is probed by the heads only either way: its firewall admits only our head.
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
        # A peer party's firewall knows only our head (its sf_peer_parties entry for us is our head's external
        # address), and only the head opens cross-party connections: only the head probes a peer party.
        if src_node['role'] == 'head' or (opts['cross_party_sources'] == 'all' and p.get('managed')):
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
    columns.sort(key=lambda c: (order.get(c[0], len(order)), GROUPS.index(c[1]) if c[1] in GROUPS else len(GROUPS),
                                c[1]))
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


def module_targets(targets):
    """What ``port_reachable`` takes: host, port, expect, label (and banner) of each planned target, and as ``meta``
    its party, node and group - they come back with each result, so the report needs nothing else to place it."""
    keys = ('host', 'port', 'expect', 'label', 'banner')
    out = []
    for target in targets:
        entry = dict((k, target[k]) for k in keys if k in target)
        entry['meta'] = {'party': target['party'], 'node': target['node'], 'group': target['group']}
        out.append(entry)
    return out


# ------------------------------------------------------------------------------------------------------ the report

LEGEND = ('open/closed/answers N = N probes as expected; FAIL k/N why = k of N must-reach probes failed; OPEN k/N = k '
          'of N must-NOT-reach probes connected; why = timeout, refused, no_route, dns, no_result '
          '(docs/operations/reachability.md)')


def _placed(source, result):
    """A ``port_reachable`` result with the party and group of its target (from its ``meta``)."""
    meta = result.get('meta')
    if not isinstance(meta, dict) or 'party' not in meta or 'group' not in meta:
        raise ValueError("host '%s': a probe result without meta.party/meta.group (%s:%s); probe the targets of "
                         "the reachability_targets filter" % (source, result.get('host'), result.get('port')))
    entry = dict(result)
    entry.update(party=meta['party'], group=meta['group'], node=meta.get('node'))
    return entry


def taken_message(host, entry):
    """The problem of a planned port held by a process that is not the deployment's (a ``port_listener``
    ``in_use`` entry)."""
    if entry.get('pid'):
        holder = 'pid %s (%s)' % (entry['pid'], entry.get('process'))
    else:
        holder = 'a process whose pid is not visible'
    if entry.get('container_id'):
        holder += ' in container %s' % entry['container_id'][:12]
    return '%s: planned port %s is taken: in use on %s by %s' % (host, entry['port'], entry['address'], holder)


def problems(hosts, listener_results, probe_results):
    """Every problem of a run, host by host: listeners that failed, planned ports taken by foreign processes, hosts
    that did not probe, unmet expectations (the messages of ``port_reachable``)."""
    out = []
    for host in hosts:
        listener = listener_results.get(host) or {}
        if listener.get('failed'):
            out.append('%s: temporary listeners: %s' % (host, listener.get('msg')))
        for entry in listener.get('in_use') or []:
            if not entry.get('allowed'):
                out.append(taken_message(host, entry))
        probe = probe_results.get(host) or {}
        if probe.get('results') is None:
            out.append('%s: did not probe (unreachable, or it failed before)' % host)
        out.extend(probe.get('failures') or [])
    return out


def report(plan, phase, hosts, listener_results, probe_results, options=None):
    """The matrix and every problem of a reachability run.

    ``hosts``: the hosts that took part (rows of the matrix, order of the problems); ``listener_results`` and
    ``probe_results``: host -> what ``port_listener`` and ``port_reachable`` returned there (None/absent when the
    host did not get that far). Each probe result is placed by its own ``meta`` (see :func:`module_targets`); a
    host without results counts every target it should have probed as failed (``no_result``) - ``options`` says
    which, as for :func:`probes`.

    Returns ``lines`` (the matrix), ``problems``, ``unmet`` (the number of unmet expectations; not called ``failed``,
    which Ansible would take for the task's state) and ``text`` (the matrix, the legend and the count, as printed).
    """
    placed = {}
    unmet = 0
    for source in hosts:
        results = (probe_results.get(source) or {}).get('results')
        if results:
            entries = [_placed(source, result) for result in results]
        else:
            entries = [dict(target, ok=False, reachable=None, error='no_result')
                       for target in probes(plan, source, phase, options)]
        placed[source] = entries
        unmet += sum(1 for entry in entries if not entry.get('ok'))
    lines = matrix_lines(plan, placed)
    return {
        'lines': lines,
        'problems': problems(hosts, listener_results, probe_results),
        'unmet': unmet,
        'text': '\n'.join(lines + ['', LEGEND, '%d unmet expectation(s)' % unmet]),
    }
