# -*- coding: utf-8 -*-
"""Unit tests of verify.yml's TLS checks: who listens and probes what, and how the results are judged."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.sfops.secretflow.plugins.filter.tls_verify_checks import FilterModule
from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib
from ansible_collections.sfops.secretflow.plugins.module_utils import _tls_verify as tv

from test_plan import model  # pylint: disable=import-error

HOSTS = ['alice-1', 'alice-2', 'bob-1']


def build(peers=None, tls=True, **parties):
    parties = parties or {
        'alice': {'alice-1': {'ansible_host': '10.0.0.11', 'sf_node_id': 'alice-head'},
                  'alice-2': {'ansible_host': '10.0.0.12', 'sf_node_id': 'alice-w1'}},
        'bob': {'bob-1': {'ansible_host': '10.0.0.21', 'sf_node_id': 'bob-head'}},
    }
    inv = model(**parties)
    for host in inv['hosts'].values():
        host['sf_tls_enabled'] = tls
        if peers:
            host['sf_peer_parties'] = peers
    return planlib.build_plan_or_raise(inv)


CAROL = {'carol': {'external_ip': '10.0.0.31', 'fed_port': 29000, 'spu_port': 29500}}


def exec_result(check, rc, **out):
    """What docker_container_exec registers for one tls-probe run of the loop."""
    kinds = {0: 'ok', 1: 'peer_rejected_us', 3: 'unreachable', 4: 'preflight_listener'}
    stdout = json.dumps(dict({'kind': kinds.get(rc, 'x'),
                              'message': 'ok' if rc == 0 else 'peer party: some failure'}, **out))
    return {'item': check, 'rc': rc, 'stdout': stdout, 'stderr': '', 'failed': rc != 0}


def listen_result(listener, rc, connections=()):
    """What async_status registers for one listener (its item is the async start result, whose item is the
    listener)."""
    return {'item': {'ansible_job_id': 'j1', 'item': listener}, 'finished': 1, 'rc': rc, 'stderr': '',
            'stdout': json.dumps({'connections': [{'result': r} for r in connections]})}


def all_good(checks):
    """Every head's results as they are when everything holds."""
    probes = {host: {'results': [exec_result(c, 0 if c['expect'] == 'accepted' else 1) for c in entries]}
              for host, entries in checks['probes'].items()}
    listeners = {host: {'results': [listen_result(entry, 0, ['accepted', 'refused', 'refused'])
                                    for entry in entries]}
                 for host, entries in checks['listeners'].items()}
    return probes, listeners


def replace(results, check_id, **new):
    new.pop('item', None)   # keep the check the result belongs to
    for r in results['results']:
        if r['item']['id'] == check_id:
            r.update(new)
            return
    raise AssertionError(check_id)


def test_every_other_party_three_ways_on_both_links_from_the_heads_only():
    checks = tv.checks(build(), HOSTS)
    assert checks['skip'] is None and checks['heads'] == {'alice': 'alice-1', 'bob': 'bob-1'}
    assert set(checks['probes']) == {'alice-1', 'bob-1'}   # alice-2 is no head: it neither probes nor listens
    from_bob = checks['probes']['bob-1']
    assert [(c['target'], c['link'], c['client'], c['expect']) for c in from_bob] == [
        ('alice', 'fed', 'none', 'refused'), ('alice', 'fed', 'stranger', 'refused'),
        ('alice', 'fed', 'own', 'accepted'),
        ('alice', 'spu', 'none', 'refused'), ('alice', 'spu', 'stranger', 'refused'),
        ('alice', 'spu', 'own', 'accepted')]
    assert from_bob[0]['address'] == '10.0.0.11:19000' and from_bob[3]['address'] == '10.0.0.11:19500'
    assert from_bob[0]['argv'] == ['sfworker', 'tls-probe', '--party', 'alice', '--link', 'fed', '--port', '19000',
                                   '--wait', '20', '--no-cert']
    assert from_bob[1]['argv'][-1] == '--stranger' and from_bob[2]['argv'][-1] == '20'   # own: no flag
    assert len({c['id'] for hs in checks['probes'].values() for c in hs}) == 12


def test_listeners_on_slot_0_of_each_probed_head_expecting_three_connections_per_prober():
    plan = build(carol={'carol-1': {'ansible_host': '10.0.0.41', 'sf_node_id': 'carol-head'}},
                 alice={'alice-1': {'ansible_host': '10.0.0.11', 'sf_node_id': 'alice-head'}},
                 bob={'bob-1': {'ansible_host': '10.0.0.21', 'sf_node_id': 'bob-head',
                                'sf_fed_port': 21000, 'sf_spu_port': 21500}})
    checks = tv.checks(plan, ['alice-1', 'bob-1', 'carol-1'])
    bob = checks['listeners']['bob-1']
    assert [(x['link'], x['port'], x['count']) for x in bob] == [('fed', 21000, 6), ('spu', 21500, 6)]
    assert bob[0]['argv'] == ['sfworker', 'tls-listen', '--port', '21000', '--seconds', '120', '--count', '6']
    assert [c['port'] for c in checks['probes']['alice-1'] if c['target'] == 'bob'] == [21000] * 3 + [21500] * 3


def test_foreign_parties_are_probed_without_a_listener_and_without_waiting():
    checks = tv.checks(build(peers=CAROL), HOSTS, {'wait_s': 7, 'listen_s': 60})
    to_carol = [c for c in checks['probes']['alice-1'] if c['target'] == 'carol']
    assert len(to_carol) == 6 and not any(c['listener'] for c in to_carol)
    assert to_carol[0]['address'] == '10.0.0.31:29000' and to_carol[0]['argv'][-2:] == ['1', '--no-cert']
    assert 'carol' not in [x['party'] for hs in checks['listeners'].values() for x in hs]
    assert checks['probes']['bob-1'][0]['argv'][-2:] == ['7', '--no-cert']
    assert checks['listeners']['bob-1'][0]['argv'][5] == '60'


def test_a_managed_head_outside_the_play_is_treated_like_a_foreign_party():
    checks = tv.checks(build(), ['alice-1', 'alice-2'])
    assert list(checks['probes']) == ['alice-1'] and checks['listeners'] == {}
    assert {c['target'] for c in checks['probes']['alice-1']} == {'bob'}
    assert not any(c['listener'] for c in checks['probes']['alice-1'])


def alone():
    """A plan with one party (the plan itself refuses that; the checks do not rely on it)."""
    plan = build()
    del plan['parties']['bob']
    return plan


@pytest.mark.parametrize('plan, hosts, words', [
    (build(tls=False), HOSTS, 'TLS between parties is off (sf_tls_enabled: false)'),
    (build(), ['alice-2'], 'no head of a managed party is in this play'),
    (alone(), ['alice-1'], 'only one party (alice)'),
])
def test_nothing_to_check(plan, hosts, words):
    checks = tv.checks(plan, hosts)
    assert words in checks['skip'] and checks['probes'] == {} and checks['listeners'] == {}
    rep = tv.report(checks, {}, {})
    assert rep['problems'] == [] and rep['text'] == 'TLS checks: ' + checks['skip']


def test_one_managed_party_and_a_foreign_one_is_checked():
    plan = build(peers=CAROL, alice={'alice-1': {'ansible_host': '10.0.0.11', 'sf_node_id': 'alice-head'}})
    checks = tv.checks(plan, ['alice-1'])
    assert checks['skip'] is None and checks['listeners'] == {} and len(checks['probes']['alice-1']) == 6


def test_all_good_table():
    checks = tv.checks(build(), HOSTS)
    rep = tv.report(checks, *all_good(checks))
    assert rep['problems'] == [] and rep['unmet'] == 0
    assert rep['lines'][0].split() == ['from', 'to:link', 'address', 'no', 'certificate', 'unknown', 'CA', 'own',
                                       'certificate']
    assert rep['lines'][2].split() == ['alice', 'bob:fed', '10.0.0.21:19000', 'refused', 'refused', 'accepted']
    assert rep['lines'][5].split() == ['bob', 'alice:spu', '10.0.0.11:19500', 'refused', 'refused', 'accepted']
    assert len(rep['lines']) == 6
    assert 'listener alice fed 10.0.0.11:19000 on alice-1: 3 connection(s), 1 accepted' in rep['notes']
    assert rep['text'].endswith('all TLS checks passed')


@pytest.mark.parametrize('client, rc, expected', [
    ('none', 0, 'bob -> alice fed at 10.0.0.11:19000: a client without a certificate was accepted, must be refused'),
    ('stranger', 0, 'bob -> alice fed at 10.0.0.11:19000: a certificate from an unknown CA (--stranger) was '
                    'accepted, must be refused'),
    ('own', 1, "bob -> alice fed at 10.0.0.11:19000: bob's own certificate was refused, must be accepted: "
               "peer party: some failure"),
    ('own', 3, "bob -> alice fed at 10.0.0.11:19000: bob's own certificate was no answer, must be accepted: peer "
               "party: some failure (our temporary listener there: 3 connection(s), 1 accepted)"),
])
def test_a_wrong_verdict_is_a_problem_naming_parties_link_address_and_verdict(client, rc, expected):
    checks = tv.checks(build(), HOSTS)
    probes, listeners = all_good(checks)
    replace(probes['bob-1'], 'bob>alice:fed:%s' % client, **exec_result({}, rc))
    rep = tv.report(checks, probes, listeners)
    assert rep['problems'] == [expected] and rep['unmet'] == 1
    assert 'FAIL: ' in rep['lines'][4] and rep['lines'][4].startswith('bob')
    assert rep['text'].endswith('1 TLS problem(s)')


def test_results_are_matched_by_id_not_by_position():
    checks = tv.checks(build(), HOSTS)
    probes, listeners = all_good(checks)
    probes['bob-1']['results'].reverse()
    assert tv.report(checks, probes, listeners)['problems'] == []


def test_a_head_without_results_and_errors_running_the_cli():
    checks = tv.checks(build(), HOSTS)
    probes, listeners = all_good(checks)
    probes['bob-1'] = None   # unreachable: registered nothing
    listeners['alice-1'] = None
    replace(probes['alice-1'], 'alice>bob:spu:own', rc=None, msg='Could not find container "sf-node"')
    replace(probes['alice-1'], 'alice>bob:spu:stranger', rc=2, stdout='',
            stderr='sfworker: --stranger needs the Python package cryptography')
    rep = tv.report(checks, probes, listeners)
    assert len([p for p in rep['problems'] if 'did not probe' in p]) == 6
    assert ('alice -> bob spu at 10.0.0.21:19500: alice\'s own certificate - cannot run sfworker tls-probe in the '
            'node container: Could not find container "sf-node"') in rep['problems']
    assert ('alice -> bob spu at 10.0.0.21:19500: a certificate from an unknown CA (--stranger) - sfworker '
            'tls-probe exit 2: sfworker: --stranger needs the Python package cryptography') in rep['problems']
    assert ('temporary listener alice fed 10.0.0.11:19000 on alice-1: no result (its head was unreachable, or failed '
            'before)') in rep['problems']
    assert len(rep['problems']) == 6 + 2 + 2


def busy(results):
    """The first listener of a head's async_status results could not bind (tls-listen exit 1: a job holds it)."""
    results['results'][0].update(rc=1, stdout='{"error": "OSError: [Errno 98] Address already in use"}')


def row(rep, source, target_link):
    """The table row from ``source`` to ``target_link`` (e.g. 'carol:fed'), split into words."""
    return [line for line in rep['lines'] if line.startswith(source) and target_link in line][0].split()


def test_a_listener_that_could_not_start_is_a_problem():
    checks = tv.checks(build(), HOSTS)
    probes, listeners = all_good(checks)
    listeners['bob-1']['results'][1].update(rc=2, stderr='sfworker: no peer CA certificate under /etc/sfops/tls/peers')
    rep = tv.report(checks, probes, listeners)
    assert rep['problems'] == ['temporary listener bob spu 10.0.0.21:19500 on bob-1: sfworker tls-listen exit 2: '
                               'sfworker: no peer CA certificate under /etc/sfops/tls/peers']


def test_a_busy_port_is_probed_as_it_is_and_a_job_refusing_our_certificate_is_only_a_note():
    checks = tv.checks(build(), HOSTS)
    probes, listeners = all_good(checks)
    busy(listeners['alice-1'])   # alice fed: a job holds slot 0
    replace(probes['bob-1'], 'bob>alice:fed:own', **exec_result({}, 1))
    rep = tv.report(checks, probes, listeners)
    assert rep['problems'] == []
    assert ('listener alice fed 10.0.0.11:19000 on alice-1: could not listen (OSError: [Errno 98] Address already '
            'in use): a job holds slot 0? Its own listener was probed') in rep['notes']
    assert any("refused by a running job's listener" in n for n in rep['notes'])
    assert 'refused (job)' in rep['lines'][4]
    # ... but a job's listener accepting a client without a certificate still fails
    replace(probes['bob-1'], 'bob>alice:fed:none', **exec_result({}, 0))
    assert len(tv.report(checks, probes, listeners)['problems']) == 1
    # ... and so does our own certificate refused where OUR listener answered
    listeners['alice-1']['results'][0].update(rc=0)
    replace(probes['bob-1'], 'bob>alice:fed:none', **exec_result({}, 1))
    assert len(tv.report(checks, probes, listeners)['problems']) == 1


def test_a_foreign_party_where_nothing_answers_is_not_checked_but_a_wrong_verdict_there_fails():
    checks = tv.checks(build(peers=CAROL), HOSTS)
    probes, listeners = all_good(checks)
    for client in tv.CLIENTS:
        replace(probes['alice-1'], 'alice>carol:fed:%s' % client, **exec_result({}, 3))
    rep = tv.report(checks, probes, listeners)
    assert rep['problems'] == []
    assert 'alice -> carol fed at 10.0.0.31:29000: nothing answers (no listener there now): not checked' \
        in rep['notes']
    assert row(rep, 'alice', 'carol:fed')[3:] == ['not', 'checked'] * 3
    replace(probes['alice-1'], 'alice>carol:spu:stranger', **exec_result({}, 0))
    replace(probes['alice-1'], 'alice>carol:spu:own', **exec_result({}, 1))
    problems = tv.report(checks, probes, listeners)['problems']
    assert len(problems) == 2 and 'unknown CA (--stranger) was accepted' in problems[0]
    assert "alice's own certificate was refused" in problems[1] and "holds that port" in problems[1]


def test_another_runs_preflight_listener_is_not_checked_for_every_client_but_plaintext_fails():
    """Two organisations' site.yml at once: bob's verify probes alice's fed port while alice's preflight has a
    reachability listener there (tls-probe exit 4) - no verdict about alice's TLS, so not checked, not a failure;
    any other plaintext server there is a TLS verdict (exit 1), and our own certificate refused fails."""
    checks = tv.checks(build(), ['bob-1'])   # bob's organisation: alice is not in the play
    probes, listeners = all_good(checks)
    for client in tv.CLIENTS:
        replace(probes['bob-1'], 'bob>alice:fed:%s' % client, **exec_result({}, 4))
    rep = tv.report(checks, probes, listeners)
    assert rep['problems'] == [], rep['problems']
    assert ("bob -> alice fed at 10.0.0.11:19000: a reachability listener of alice's preflight answers there (its "
            "site.yml or verify.yml is probing its ports): not checked - run verify.yml again when it is done") \
        in rep['notes']
    assert row(rep, 'bob', 'alice:fed')[3:] == ['not', 'checked'] * 3
    replace(probes['bob-1'], 'bob>alice:fed:own', **exec_result({}, 1, kind='tls_error'))
    problems = tv.report(checks, probes, listeners)['problems']
    assert len(problems) == 1 and "bob's own certificate was refused, must be accepted" in problems[0], problems


def test_the_preflight_listener_on_a_managed_port_is_not_checked_either():
    checks = tv.checks(build(), HOSTS)
    probes, listeners = all_good(checks)
    busy(listeners['alice-1'])   # alice fed: a job holds slot 0
    replace(probes['bob-1'], 'bob>alice:fed:none', **exec_result({}, 4))
    rep = tv.report(checks, probes, listeners)
    assert rep['problems'] == [] and any("reachability listener of alice's preflight" in n for n in rep['notes'])


def test_options_are_checked():
    with pytest.raises(ValueError, match='unknown option'):
        tv.checks(build(), HOSTS, {'wait': 1})
    with pytest.raises(ValueError, match='at least 1'):
        tv.checks(build(), HOSTS, {'listen_s': 0})


def test_filter_wraps_errors():
    tls_verify_checks = FilterModule().filters()['tls_verify_checks']
    assert tls_verify_checks(build(), HOSTS)['heads'] == {'alice': 'alice-1', 'bob': 'bob-1'}
    with pytest.raises(AnsibleFilterError, match='tls_verify_checks: unknown option'):
        tls_verify_checks(build(), HOSTS, {'nope': 1})
