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
    assert ports[16380] == 'gcs' and ports[16379] == 'redis' and ports[16383] == 'ray'
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
    assert {16379, 16380, 16381, 16382, 16383, 16384, 16385, 16386, 16387, 17000, 17199} <= head
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


def test_listeners_cover_every_planned_port_and_skip_the_worker_range_when_deployed(plan):
    lst = reach.listeners(plan)
    assert set(lst) == {'alice-1', 'alice-2', 'bob-1'}
    head = set(lst['alice-1']['ports'])
    assert {16379, 16380, 16383} <= head and set(range(17000, 17200)) <= head
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
    out = []
    for t in targets:
        bad = (t['host'], t['port']) in fail
        if t['expect'] == 'closed':
            out.append({'ok': not bad, 'expect': 'closed', 'reachable': bad, 'error': None if bad else 'timeout'})
        else:
            out.append({'ok': not bad, 'expect': t['expect'], 'reachable': not bad, 'error': 'timeout' if bad else None})
    return out


def test_matrix_shows_every_source_and_column_and_names_failures(plan):
    results = {}
    for host in ('alice-1', 'alice-2', 'bob-1'):
        targets = reach.probes(plan, host, 'verify')
        fail = {('10.0.0.11', 19003)} if host == 'bob-1' else set()
        if host == 'bob-1':
            fail.add(('10.0.0.11', 16380))
        results[host] = reach.merge_results(targets, fake_results(targets, fail))
    lines = reach.matrix_lines(plan, results)
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


def test_merge_results_refuses_a_length_mismatch(plan):
    with pytest.raises(ValueError, match='targets but'):
        reach.merge_results(reach.probes(plan, 'bob-1', 'verify'), [])
