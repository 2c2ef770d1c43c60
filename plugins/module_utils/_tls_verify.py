# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TLS checks of playbooks/verify.yml (docs/operations/tls.md, "What verify checks"): which head listens
where, which head probes what with which client certificate and what it must get, and the report.

From the head of every managed party in the play (the only server that opens connections to other parties), each
other party's fed and SPU port of job slot 0 is dialled three times, with ``sfworker tls-probe`` in the node
container:

    none      no client certificate (--no-cert)                       must be refused (tls-probe exit 1)
    stranger  a certificate from a CA nobody trusts (--stranger)      must be refused (exit 1)
    own       the party's own certificate                             must be accepted (exit 0)

A managed party whose head is in the play gets a temporary listener (``sfworker tls-listen``, the node's own
certificate and the peers' CAs) on each of those ports for the time of the checks; a port already in use (a job
holds slot 0: tls-listen exit 1) is answered by the job's own listener, which is probed instead. Parties with no
listener of ours (foreign parties, managed parties whose head is outside the play) are checked only where something
answers: "nothing answers" (exit 3) there is "not checked", not a failure. Wherever a reachability listener of a
concurrent site.yml/verify.yml preflight answers instead (exit 4: its banner line, no TLS), the probe retries within
its wait and then reports "not checked" too: that is no verdict about the party's TLS. A plaintext server that is
not one of those listeners stays a failure.

Standard library only; no ansible import (the filter and the action plugin wrap it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.sfops.secretflow.plugins.module_utils._topology import hostport

LINKS = ('fed', 'spu')
CLIENTS = ('none', 'stranger', 'own')
EXPECT = {'none': 'refused', 'stranger': 'refused', 'own': 'accepted'}
CLIENT_FLAGS = {'none': ['--no-cert'], 'stranger': ['--stranger'], 'own': []}
CLIENT_WORDS = {
    'none': 'a client without a certificate',
    'stranger': 'a certificate from an unknown CA (--stranger)',
    'own': "%s's own certificate",
}
HEADINGS = {'none': 'no certificate', 'stranger': 'unknown CA', 'own': 'own certificate'}
# tls-probe exit codes (worker/sfworker/tlscli.py)
PROBE_RC = {0: 'accepted', 1: 'refused', 3: 'no answer', 4: 'preflight listener'}
# tls-listen exit codes
LISTEN_RC = {0: 'listened', 1: 'busy'}
DEFAULTS = {
    # managed targets: how long a probe retries while nothing answers yet (the listener is starting)
    'wait_s': 20,
    # how long a temporary listener waits for its connections at most (it stops after the last expected one)
    'listen_s': 120,
}


def options_with_defaults(options):
    opts = dict(DEFAULTS)
    for key, value in (options or {}).items():
        if key not in DEFAULTS:
            raise ValueError('unknown option %r (known: %s)' % (key, ', '.join(sorted(DEFAULTS))))
        if value is not None:
            opts[key] = value
    for key in DEFAULTS:
        opts[key] = int(opts[key])
        if opts[key] < 1:
            raise ValueError('option %s=%r must be at least 1' % (key, opts[key]))
    return opts


def _port(party, link):
    """Slot 0's port of ``link``: the first port of the party's range (the plan's fed_port / spu_port)."""
    return int(party['%s_port' % link])


def checks(plan, hosts, options=None):
    """What verify.yml runs, from the plan and the hosts of the play.

    Returns ``{enabled, skip, heads, listeners, probes}``: ``skip`` a sentence when there is nothing to check (TLS
    off, a single party, no head in the play), else None; ``heads`` managed party -> its head (in the play);
    ``listeners`` host -> [{party, link, port, address, count, argv}]; ``probes`` host -> [{id, source, target,
    link, client, port, address, expect, listener, argv}] (``listener``: we run one there, so "nothing answers"
    is a failure)."""
    opts = options_with_defaults(options)
    parties = plan['parties']
    in_play = set(hosts)
    heads = dict((name, p['head']) for name, p in sorted(parties.items()) if p['managed'] and p['head'] in in_play)
    out = {'enabled': bool((plan.get('tls') or {}).get('enabled')), 'skip': None, 'heads': heads,
           'listeners': {}, 'probes': {}}
    if not out['enabled']:
        out['skip'] = 'TLS between parties is off (sf_tls_enabled: false): no TLS check'
        return out
    if not heads:
        out['skip'] = 'no head of a managed party is in this play: no TLS check (the checks run on the heads)'
        return out
    if len(parties) < 2:
        out['skip'] = 'only one party (%s): no link between parties to check' % ', '.join(sorted(parties))
        return out
    for target in sorted(heads):
        probers = [p for p in heads if p != target]
        if not probers:
            continue
        for link in LINKS:
            port = _port(parties[target], link)
            count = len(probers) * len(CLIENTS)
            out['listeners'].setdefault(heads[target], []).append({
                'party': target, 'link': link, 'port': port, 'count': count,
                'address': hostport(parties[target]['external_ip'], port),
                'argv': ['sfworker', 'tls-listen', '--port', str(port), '--seconds', str(opts['listen_s']),
                         '--count', str(count)],
            })
    for source in sorted(heads):
        for target in sorted(parties):
            if target == source:
                continue
            listener = target in heads
            for link in LINKS:
                port = _port(parties[target], link)
                for client in CLIENTS:
                    out['probes'].setdefault(heads[source], []).append({
                        'id': '%s>%s:%s:%s' % (source, target, link, client),
                        'source': source, 'target': target, 'link': link, 'client': client, 'port': port,
                        'address': hostport(parties[target]['external_ip'], port),
                        'expect': EXPECT[client], 'listener': listener,
                        'argv': ['sfworker', 'tls-probe', '--party', target, '--link', link, '--port', str(port),
                                 '--wait', str(opts['wait_s'] if listener else 1)] + CLIENT_FLAGS[client],
                    })
    if not out['probes']:
        out['skip'] = 'nothing to check'
    return out


def _json(text):
    try:
        value = json.loads(text or '')
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _first_line(text):
    lines = [line.strip() for line in (text or '').splitlines() if line.strip()]
    return lines[-1] if lines else ''


def listener_state(result):
    """What one temporary listener did, from its async_status result (None: no result) -> {state, detail}:
    state listened | busy | error | none."""
    if not result:
        return {'state': 'none', 'detail': 'no result (its head was unreachable, or failed before)'}
    if not result.get('finished', 1) and 'rc' not in result:
        return {'state': 'error', 'detail': 'still running when collected'}
    rc = result.get('rc')
    if rc is None:
        return {'state': 'error', 'detail': result.get('msg') or 'no exit code'}
    state = LISTEN_RC.get(rc, 'error')
    report = _json(result.get('stdout'))
    if state == 'listened':
        conns = report.get('connections') or []
        accepted = len([c for c in conns if c.get('result') == 'accepted'])
        detail = '%d connection(s), %d accepted' % (len(conns), accepted)
    elif state == 'busy':
        detail = ('could not listen (%s): a job holds slot 0? Its own listener was probed'
                  % (report.get('error') or 'port in use'))
    else:
        detail = 'sfworker tls-listen exit %s: %s' % (rc, _first_line(result.get('stderr')) or report.get('error', ''))
    return {'state': state, 'detail': detail}


def probe_outcome(check, result, listener=None):
    """Judge one probe. ``result``: the docker_container_exec result of its ``tls-probe`` (None: it did not run);
    ``listener``: the target port's listener_state (None: no listener of ours).
    Returns {cell, problem, note} (problem/note a sentence or None)."""
    where = '%s -> %s %s at %s' % (check['source'], check['target'], check['link'], check['address'])
    words = CLIENT_WORDS[check['client']]
    if check['client'] == 'own':
        words = words % check['source']
    if result is None:
        return {'cell': 'NO RESULT', 'problem': '%s: %s - did not probe (the head was unreachable, or failed '
                                                'before)' % (where, words), 'note': None}
    if result.get('rc') is None:
        return {'cell': 'ERROR', 'problem': '%s: %s - cannot run sfworker tls-probe in the node container: %s'
                                            % (where, words, result.get('msg') or 'no exit code'), 'note': None}
    got = PROBE_RC.get(result['rc'])
    out = _json(result.get('stdout'))
    message = out.get('message') or ''
    if got is None:
        return {'cell': 'ERROR', 'problem': '%s: %s - sfworker tls-probe exit %s: %s'
                                            % (where, words, result['rc'], _first_line(result.get('stderr'))),
                'note': None}
    if got == 'preflight listener':
        # another run's reachability preflight holds the port for a few seconds (two organisations' site.yml at
        # the same time): no verdict about TLS, whoever listens normally
        return {'cell': 'not checked', 'problem': None,
                'note': "%s: a reachability listener of %s's preflight answers there (its site.yml or verify.yml "
                        "is probing its ports): not checked - run verify.yml again when it is done"
                        % (where, check['target'])}
    if got == 'no answer' and not check['listener']:
        return {'cell': 'not checked', 'problem': None,
                'note': '%s: nothing answers (no listener there now): not checked' % where}
    if got == check['expect']:
        return {'cell': got, 'problem': None, 'note': None}
    busy = listener is not None and listener['state'] == 'busy'
    if check['client'] == 'own' and got == 'refused' and out.get('kind') == 'peer_rejected_us' and busy:
        # a running job's receiver trusts only the CAs of that job's parties: not necessarily ours
        return {'cell': 'refused (job)', 'problem': None,
                'note': "%s: %s refused by a running job's listener (it trusts only its own job's parties): "
                        "own certificate not checked" % (where, words)}
    hint = ''
    if got == 'no answer':
        hint = ' (our temporary listener there: %s)' % (listener['detail'] if listener else 'none')
    elif check['client'] == 'own' and not check['listener']:
        hint = (" (nothing of ours listens there: if a job of %s's with other parties holds that port, its "
                "listener trusts only those parties)" % check['target'])
    said = ': ' + message if message and message != 'ok' else ''
    problem = '%s: %s was %s, must be %s%s%s' % (where, words, got, check['expect'], said, hint)
    return {'cell': 'FAIL: %s' % got, 'problem': problem, 'note': None}


def _by_id(results):
    """Loop results keyed by their item's id (never by position)."""
    out = {}
    for result in (results or {}).get('results') or []:
        item = result.get('item')
        if isinstance(item, dict) and 'id' in item and not result.get('skipped'):
            out[item['id']] = result
    return out


def _listeners_by_key(results):
    """async_status loop results (each item: the start result, whose item is the listener) -> (party, link) ->
    result."""
    out = {}
    for result in (results or {}).get('results') or []:
        start = result.get('item') or {}
        listener = start.get('item') if isinstance(start, dict) else None
        if isinstance(listener, dict) and 'party' in listener and not result.get('skipped'):
            out[(listener['party'], listener['link'])] = result
    return out


def report(checks_, probe_results, listener_results):
    """The table, the problems and the notes.

    ``checks_``: what :func:`checks` returned; ``probe_results`` / ``listener_results``: host -> the registered
    loop result of its tls-probe tasks / of the async_status of its listeners (None: the host registered nothing).
    Returns {lines, problems, notes, text, unmet}."""
    if checks_.get('skip'):
        return {'lines': [], 'problems': [], 'notes': [], 'unmet': 0, 'text': 'TLS checks: ' + checks_['skip']}
    problems, notes = [], []
    listeners = {}
    for host, entries in sorted(checks_['listeners'].items()):
        got = _listeners_by_key(listener_results.get(host))
        for entry in entries:
            key = (entry['party'], entry['link'])
            state = listener_state(got.get(key))
            listeners[key] = state
            line = '%s %s %s on %s: %s' % (entry['party'], entry['link'], entry['address'], host, state['detail'])
            if state['state'] in ('error', 'none'):
                problems.append('temporary listener ' + line)
            else:
                notes.append('listener ' + line)
    rows = []
    for host, entries in sorted(checks_['probes'].items()):
        got = _by_id(probe_results.get(host))
        row = None
        for check in entries:
            key = (check['source'], check['target'], check['link'])
            if row is None or row['key'] != key:
                row = {'key': key, 'address': check['address'], 'cells': {}}
                rows.append(row)
            outcome = probe_outcome(check, got.get(check['id']),
                                    listeners.get((check['target'], check['link'])) if check['listener'] else None)
            row['cells'][check['client']] = outcome['cell']
            if outcome['problem']:
                problems.append(outcome['problem'])
            if outcome['note']:
                notes.append(outcome['note'])
    header = ['from', 'to:link', 'address'] + [HEADINGS[c] for c in CLIENTS]
    table = [header] + [[r['key'][0], '%s:%s' % (r['key'][1], r['key'][2]), r['address']]
                        + [r['cells'].get(c, '-') for c in CLIENTS] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ['  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, '  '.join('-' * width for width in widths))
    text = '\n'.join(
        ['TLS between parties (slot 0 ports; must be: no certificate refused, unknown CA refused, own certificate '
         'accepted):'] + lines + notes
        + ['%d TLS problem(s)' % len(problems) if problems else 'all TLS checks passed'])
    return {'lines': lines, 'problems': problems, 'notes': notes, 'unmet': len(problems), 'text': text}
