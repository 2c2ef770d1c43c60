# -*- coding: utf-8 -*-
"""Unit tests of the reachability matrix derived from the plan (who probes what, with which expectation)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib
from ansible_collections.sfops.secretflow.plugins.module_utils import _reachability as reach

from test_plan import model  # pylint: disable=import-error


def build(peers=None, **extra_bob):
    bob = {'ansible_host': '10.0.0.21', 'sf_node_id': 'bob-head'}
    bob.update(extra_bob)
    inv = model(
        alice={'alice-1': {'ansible_host': '10.0.0.11', 'sf_node_id': 'alice-head'},
               'alice-2': {'ansible_host': '10.0.0.12', 'sf_node_id': 'alice-w1'}},
        bob={'bob-1': bob},
    )
    if peers:
        for host in inv['hosts'].values():
            host['sf_peer_parties'] = peers
    errors, plan = planlib.build_plan(inv)
    assert not errors, errors
    return plan


@pytest.fixture(name='plan')
def plan_fixture():
    return build()


def by(targets, **match):
    return [t for t in targets if all(t[k] == v for k, v in match.items())]


def test_preflight_cross_party_is_fed_and_spu_ranges_of_the_other_head_only(plan):
    targets = reach.probes(plan, 'bob-1', 'preflight')
    fed = by(targets, party='alice', group='fed')
    assert [t['port'] for t in fed] == list(range(19000, 19010))
    assert {t['host'] for t in fed} == {'10.0.0.11'}
    assert [t['port'] for t in by(targets, party='alice', group='spu')] == list(range(19500, 19510))
    assert all(t['expect'] == 'open' for t in targets)
    # bob has no other node: in preflight it probes nothing private of alice, and nothing of its own.
    assert {t['group'] for t in targets} == {'fed', 'spu'}


def test_preflight_inside_the_party_every_private_port_of_the_other_nodes(plan):
    targets = reach.probes(plan, 'alice-2', 'preflight')
    own = by(targets, party='alice')
    assert {t['node'] for t in own} == {'alice-1'}
    ports = {t['port']: t['group'] for t in own}
    assert ports[16380] == 'gcs' and ports[16379] == 'redis' and ports[16384] == 'ray'
    assert 16383 not in ports   # no Ray client server unless sf_ray_client_server_enabled
    assert ports[16381] == 'ray' and ports[16382] == 'ray'
    # worker range: first and last only by default
    assert 17000 in ports and 17199 in ports and 17100 not in ports
    # and the head probes the worker node's ports (no head-only ports there)
    back = by(reach.probes(plan, 'alice-1', 'preflight'), party='alice')
    assert {t['node'] for t in back} == {'alice-2'}
    assert 16380 not in {t['port'] for t in back} and 16381 in {t['port'] for t in back}
    assert all(t['host'] == '10.0.0.12' and t['expect'] == 'open' for t in back)


def test_idle_worker_ports_of_a_deployed_node_only_need_to_answer(plan):
    targets = by(reach.probes(plan, 'alice-2', 'verify', {'deployed': ['alice-1']}), node='alice-1')
    assert {t['port']: t['expect'] for t in targets if t['port'] in (17000, 17199, 16381)} == {
        17000: 'answers', 17199: 'answers', 16381: 'open'}
    fresh = by(reach.probes(plan, 'alice-2', 'verify'), node='alice-1', port=17000)
    assert fresh[0]['expect'] == 'open'


def test_worker_ports_all_probes_the_whole_range(plan):
    targets = reach.probes(plan, 'alice-2', 'preflight', {'worker_ports': 'all'})
    ports = {t['port'] for t in targets}
    assert set(range(17000, 17200)) <= ports


def test_verify_adds_must_not_reach_every_private_port_of_other_parties(plan):
    targets = reach.probes(plan, 'bob-1', 'verify')
    closed = by(targets, expect='closed')
    assert {t['party'] for t in closed} == {'alice'}
    assert {t['node'] for t in closed} == {'alice-1', 'alice-2'}
    head = {t['port'] for t in by(closed, node='alice-1')}
    assert {16379, 16380, 16381, 16382, 16384, 16385, 16386, 16387, 17000, 17199} <= head
    assert 16383 not in head   # the Ray client server does not run
    assert not head & set(range(19000, 19010))
    worker = {t['port'] for t in by(closed, node='alice-2')}
    assert 16379 not in worker and 16380 not in worker and 16381 in worker
    # fed/spu still must be reachable
    assert len(by(targets, expect='open', group='fed')) == 10


def test_verify_probes_the_external_address_too_when_it_differs():
    plan = build(sf_external_ip='203.0.113.21')
    closed = by(reach.probes(plan, 'alice-1', 'verify'), expect='closed', node='bob-1')
    assert {t['host'] for t in closed} == {'10.0.0.21', '203.0.113.21'}
    fed = by(reach.probes(plan, 'alice-1', 'verify'), group='fed')
    assert {t['host'] for t in fed} == {'203.0.113.21'}


def test_cross_party_sources_heads_only(plan):
    assert not by(reach.probes(plan, 'alice-2', 'preflight', {'cross_party_sources': 'heads'}), party='bob')
    assert by(reach.probes(plan, 'alice-1', 'preflight', {'cross_party_sources': 'heads'}), party='bob')
    # must-NOT-reach is checked from every server regardless
    assert by(reach.probes(plan, 'alice-2', 'verify', {'cross_party_sources': 'heads'}), party='bob',
              expect='closed')


def test_peer_parties_are_probed_as_they_are():
    plan = build(peers={'carol': {'external_ip': '198.51.100.7', 'fed_port': 29000, 'spu_port': 29500}})
    carol = by(reach.probes(plan, 'bob-1', 'verify'), party='carol')
    assert {t['host'] for t in carol} == {'198.51.100.7'}
    assert {t['expect'] for t in carol} == {'answers'}
    assert [t['port'] for t in carol if t['group'] == 'fed'] == list(range(29000, 29010))
    strict = by(reach.probes(plan, 'bob-1', 'verify', {'peer_expect': 'open'}), party='carol')
    assert {t['expect'] for t in strict} == {'open'}
    # nobody listens for a peer
    assert 'carol' not in str(reach.listeners(plan))


def test_only_the_heads_probe_a_peer_party():
    # carol's firewall (her organisation's inventory) admits only our heads' external addresses
    plan = build(peers={'carol': {'external_ip': '198.51.100.7', 'fed_port': 29000, 'spu_port': 29500}})
    assert by(reach.probes(plan, 'alice-1', 'preflight'), party='carol')
    assert not by(reach.probes(plan, 'alice-2', 'preflight'), party='carol')
    assert not by(reach.probes(plan, 'alice-2', 'verify'), party='carol')
    # a managed party's ports are still probed from every server (cross_party_sources: all)
    assert by(reach.probes(plan, 'alice-2', 'preflight'), party='bob', group='fed')


def test_listeners_cover_every_planned_port_and_skip_the_worker_range_when_deployed(plan):
    lst = reach.listeners(plan)
    assert set(lst) == {'alice-1', 'alice-2', 'bob-1'}
    head = set(lst['alice-1']['ports'])
    assert {16379, 16380, 16384} <= head and set(range(17000, 17200)) <= head and 16383 not in head
    assert set(range(19000, 19010)) <= head and set(range(19500, 19510)) <= head
    assert lst['alice-1']['address'] == '0.0.0.0'
    worker = set(lst['alice-2']['ports'])
    assert 16380 not in worker and 19000 not in worker and 16381 in worker
    deployed = reach.listeners(plan, {'deployed': ['alice-1']})
    assert not set(range(17000, 17200)) & set(deployed['alice-1']['ports'])
    assert 19000 in deployed['alice-1']['ports']
    assert set(range(17000, 17200)) <= set(deployed['alice-2']['ports'])


def test_hosts_option_restricts_listeners_and_destinations(plan):
    assert set(reach.listeners(plan, {'hosts': ['bob-1']})) == {'bob-1'}
    targets = reach.probes(plan, 'bob-1', 'verify', {'hosts': ['bob-1', 'alice-2']})
    assert {t['node'] for t in targets} == {'alice-2'}


def test_bad_options_and_phase_are_named(plan):
    with pytest.raises(ValueError, match='worker_ports'):
        reach.probes(plan, 'bob-1', 'verify', {'worker_ports': 'some'})
    with pytest.raises(ValueError, match='unknown reachability option'):
        reach.listeners(plan, {'colour': 'red'})
    with pytest.raises(ValueError, match='phase'):
        reach.probes(plan, 'bob-1', 'deploy')
    with pytest.raises(ValueError, match="'carol-9' is not a managed host"):
        reach.probes(plan, 'carol-9', 'verify')


def fake_results(targets, fail=()):
    """What port_reachable returns for the targets of the reachability_targets filter (results carry meta)."""
    out = []
    for t in reach.module_targets(targets):
        bad = (t['host'], t['port']) in fail
        if t['expect'] == 'closed':
            result = {'ok': not bad, 'reachable': bad, 'error': None if bad else 'timeout'}
        else:
            result = {'ok': not bad, 'reachable': not bad, 'error': 'timeout' if bad else None}
        result.update(host=t['host'], port=t['port'], expect=t['expect'], label=t['label'], meta=t['meta'])
        out.append(result)
    return out


HOSTS = ('alice-1', 'alice-2', 'bob-1')


def probed(plan, phase='verify', fail=None, options=None):
    """host -> the registered port_reachable result of each host."""
    fail = fail or {}
    out = {}
    for host in HOSTS:
        results = fake_results(reach.probes(plan, host, phase, options), fail.get(host, ()))
        failures = ['%s: failure %d' % (host, i) for i, r in enumerate(results) if not r['ok']]
        out[host] = {'results': results, 'failures': failures}
    return out


def test_targets_carry_their_party_node_and_group_as_meta(plan):
    targets = reach.probes(plan, 'bob-1', 'verify')
    module = reach.module_targets(targets)
    assert len(module) == len(targets)
    for target, entry in zip(targets, module):
        assert entry['meta'] == {'party': target['party'], 'node': target['node'], 'group': target['group']}
        assert set(entry) == {'host', 'port', 'expect', 'label', 'meta'}


def test_matrix_shows_every_source_and_column_and_names_failures(plan):
    fail = {'bob-1': {('10.0.0.11', 19003), ('10.0.0.11', 16380)}}
    report = reach.report(plan, 'verify', HOSTS, {}, probed(plan, fail=fail))
    lines = report['lines']
    header = lines[0].split()
    # columns: destination party in plan order, then fed, spu, gcs, redis, ray
    assert header[3:] == ['alice:fed', 'alice:spu', 'alice:gcs', 'alice:redis', 'alice:ray',
                          'bob:fed', 'bob:spu', 'bob:gcs', 'bob:redis', 'bob:ray']
    text = '\n'.join(lines)
    rows = {line.split()[0]: line for line in lines[2:]}
    assert set(rows) == {'alice/alice-1', 'alice/alice-2', 'bob/bob-1'}
    assert 'FAIL 1/10 timeout' in rows['bob/bob-1']
    assert 'OPEN 1/1 connected' in rows['bob/bob-1']   # alice's GCS accepted bob
    assert 'closed' in rows['alice/alice-1'] and 'open 10' in rows['alice/alice-1']
    assert text.count('FAIL') == 1 and text.count('OPEN') == 1
    assert report['unmet'] == 2
    assert report['problems'] == ['bob-1: failure %d' % i for i, r in enumerate(
        probed(plan, fail=fail)['bob-1']['results']) if not r['ok']]
    assert report['text'] == '\n'.join(lines + ['', reach.LEGEND, '2 unmet expectation(s)'])


def test_the_matrix_of_the_readme(plan):
    """The format operators read (README.md, docs/operations/reachability.md), to the character."""
    report = reach.report(plan, 'verify', HOSTS, {}, probed(plan))
    assert report['lines'] == [
        'source \\ destination  alice:fed  alice:spu  alice:gcs  alice:redis  alice:ray  bob:fed  bob:spu  bob:gcs   '
        'bob:redis  bob:ray',
        '--------------------  ---------  ---------  ---------  -----------  ---------  -------  -------  --------  '
        '---------  --------',
        'alice/alice-1         -          -          -          -            open 8     open 10  open 10  closed 1  '
        'closed 1   closed 8',
        'alice/alice-2         -          -          open 1     open 1       open 8     open 10  open 10  closed 1  '
        'closed 1   closed 8',
        'bob/bob-1             open 10    open 10    closed 1   closed 1     closed 16  -        -        -         '
        '-          -',
    ]
    assert report['unmet'] == 0 and report['problems'] == []


def test_results_are_placed_by_their_meta_not_by_their_position(plan):
    results = probed(plan)
    shuffled = {host: dict(r, results=list(reversed(r['results']))) for host, r in results.items()}
    assert reach.report(plan, 'verify', HOSTS, {}, shuffled)['lines'] == \
        reach.report(plan, 'verify', HOSTS, {}, results)['lines']
    # results of another run's targets (fewer of them) are still counted where they belong
    partial = {host: dict(r, results=r['results'][:3]) for host, r in results.items()}
    rows = {line.split()[0]: line for line in reach.report(plan, 'verify', HOSTS, {}, partial)['lines'][2:]}
    assert 'open 3' in rows['bob/bob-1']


def test_a_result_without_meta_names_the_host(plan):
    results = probed(plan)
    del results['bob-1']['results'][0]['meta']
    with pytest.raises(ValueError, match="host 'bob-1': a probe result without meta"):
        reach.report(plan, 'verify', HOSTS, {}, results)


def test_a_host_without_results_counts_every_target_as_not_probed(plan):
    results = probed(plan)
    del results['alice-2']
    report = reach.report(plan, 'verify', HOSTS, {}, results)
    rows = {line.split()[0]: line for line in report['lines'][2:]}
    assert 'FAIL 10/10 no_result' in rows['alice/alice-2'] and 'FAIL 1/1 no_result' in rows['alice/alice-2']
    assert report['unmet'] == len(reach.probes(plan, 'alice-2', 'verify'))
    assert report['problems'] == ['alice-2: did not probe (unreachable, or it failed before)']


def test_problems_name_the_holder_of_a_taken_port_and_failed_listeners(plan):
    listeners = {
        'bob-1': {'in_use': [
            {'port': 19005, 'address': '0.0.0.0', 'pid': 685, 'process': 'python3', 'cmdline': 'python3 -c x',
             'container_id': None, 'allowed': False},
            {'port': 16379, 'address': '10.0.0.21', 'pid': 700, 'process': 'redis-server', 'cmdline': 'redis-server',
             'container_id': 'ab' * 32, 'allowed': True},
            {'port': 16380, 'address': '::', 'pid': None, 'process': None, 'cmdline': None,
             'container_id': None, 'allowed': False},
            {'port': 16381, 'address': '0.0.0.0', 'pid': 900, 'process': 'raylet', 'cmdline': 'raylet',
             'container_id': '0123456789abcdef' * 4, 'allowed': False}]},
        'alice-1': {'failed': True, 'msg': 'cannot bind port 19000 on 0.0.0.0: [Errno 13] Permission denied'},
        'alice-2': {'skipped': True},
    }
    report = reach.report(plan, 'preflight', HOSTS, listeners, probed(plan, 'preflight'))
    assert report['problems'] == [
        'alice-1: temporary listeners: cannot bind port 19000 on 0.0.0.0: [Errno 13] Permission denied',
        'bob-1: planned port 19005 is taken: in use on 0.0.0.0 by pid 685 (python3)',
        'bob-1: planned port 16380 is taken: in use on :: by a process whose pid is not visible',
        'bob-1: planned port 16381 is taken: in use on 0.0.0.0 by pid 900 (raylet) in container 0123456789ab',
    ]
