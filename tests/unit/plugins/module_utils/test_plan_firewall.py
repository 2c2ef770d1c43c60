# -*- coding: utf-8 -*-
"""A node without its firewall is refused by the plan - before any host is touched - unless acknowledged (#12).

Ray's GCS, client server and raylets have no authentication: the firewall role is what keeps the other parties out.
firewall_enabled: false needs firewall_disabled_i_understand_ray_is_exposed: true as well, and is warned about in
every run.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.sfops.secretflow.plugins.action.deployment_plan import load_defaults
from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib

from test_plan import errors_of, two_parties  # pylint: disable=import-error

ACK = 'firewall_disabled_i_understand_ray_is_exposed'


def inventory(**hosts):
    inv = two_parties()
    for host, values in hosts.items():
        inv['hosts'][host].update(values)
    return inv


def test_defaults_are_the_firewall_roles():
    defaults = load_defaults()
    assert defaults['firewall_enabled'] is True and defaults[ACK] is False
    assert planlib.FIREWALL_VARS == ('firewall_enabled', ACK)
    assert set(planlib.FIREWALL_VARS) <= set(planlib.HOST_VARS)


def test_firewall_off_without_the_acknowledgement_is_refused_naming_host_and_both_variables():
    errors = errors_of(inventory(**{'alice-2': {'firewall_enabled': False}}))
    assert len(errors) == 1, errors
    assert errors[0].startswith("party 'alice', host 'alice-2': firewall_enabled is false")
    assert ACK + ': true' in errors[0] and 'docs/operations/firewall.md' in errors[0]


@pytest.mark.parametrize('off', [False, 'false', 'no', 'off', '0', 0])
def test_ini_words_for_off_are_refused_too(off):
    assert [e for e in errors_of(inventory(**{'bob-1': {'firewall_enabled': off}})) if ACK in e]


def test_every_host_is_named_at_once():
    errors = errors_of(inventory(**{'alice-1': {'firewall_enabled': False}, 'bob-1': {'firewall_enabled': 'no'}}))
    assert [e.split(':')[0] for e in errors] == ["party 'alice', host 'alice-1'", "party 'bob', host 'bob-1'"]


def test_acknowledged_it_is_planned_and_warned_about_naming_the_hosts():
    plan = planlib.build_plan_or_raise(inventory(**{'alice-2': {'firewall_enabled': False, ACK: True}}))
    assert plan['firewall_off'] == ['alice-2']
    assert plan['parties']['alice']['nodes']['alice-2']['firewall'] is False
    assert plan['parties']['alice']['nodes']['alice-1']['firewall'] is True
    warnings = [w for w in planlib.plan_warnings(plan) if 'firewall' in w]
    assert len(warnings) == 1 and 'on alice-2:' in warnings[0]
    assert 'firewall_enabled: false' in warnings[0] and ACK in warnings[0]
    assert '  firewall: OFF on alice-2 (firewall_enabled: false)' in planlib.summary_lines(plan)


def test_firewall_on_is_silent_and_the_acknowledgement_alone_changes_nothing():
    plan = planlib.build_plan_or_raise(inventory(**{'alice-1': {ACK: True}}))
    assert plan['firewall_off'] == []
    assert not [w for w in planlib.plan_warnings(plan) if 'firewall' in w.lower()]
    assert all(n['firewall'] for p in plan['parties'].values() for n in p['nodes'].values())


def test_bad_values_are_named():
    errors = errors_of(inventory(**{'alice-1': {'firewall_enabled': 'perhaps'}, 'bob-1': {ACK: 'sure'}}))
    assert "party 'alice', host 'alice-1': firewall_enabled='perhaps' must be true or false" in errors
    assert "party 'bob', host 'bob-1': %s='sure' must be true or false" % ACK in errors
