# -*- coding: utf-8 -*-
"""Every role's meta/argument_specs.yml mirrors its defaults/main.yml: same variables, same defaults.

A role may also document settings whose default lives in roles/_common (shared by several roles and playbooks;
the role imports _common, which makes them visible): those must carry _common's default.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(r for r in os.listdir(os.path.join(ROOT, 'roles'))
               if os.path.isfile(os.path.join(ROOT, 'roles', r, 'defaults', 'main.yml')))


def load(role, *path):
    with open(os.path.join(ROOT, 'roles', role, *path)) as handle:
        return yaml.safe_load(handle) or {}


def public(defaults):
    return {k: v for k, v in defaults.items() if not k.startswith('_')}


def imports_common(role):
    tasks = os.path.join(ROOT, 'roles', role, 'tasks')
    for name in os.listdir(tasks):
        with open(os.path.join(tasks, name)) as handle:
            if 'name: sfops.secretflow._common' in handle.read():
                return True
    return False


@pytest.mark.parametrize('role', ROLES)
def test_argument_specs_mirror_defaults(role):
    defaults = public(load(role, 'defaults', 'main.yml'))
    spec_path = os.path.join(ROOT, 'roles', role, 'meta', 'argument_specs.yml')
    assert os.path.isfile(spec_path), 'role %s has no meta/argument_specs.yml' % role
    options = load(role, 'meta', 'argument_specs.yml')['argument_specs']['main']['options']
    shared = public(load('_common', 'defaults', 'main.yml')) if role != '_common' and imports_common(role) else {}
    assert sorted(defaults) == sorted(k for k in options if k not in shared or k in defaults), \
        'defaults and argument_specs list different variables'
    assert not set(defaults) & set(shared), 'a default in both the role and roles/_common'
    for name, value in dict(shared, **defaults).items():
        if name not in options:
            continue  # a shared setting this role does not document
        assert 'description' in options[name], name
        if isinstance(value, str) and '{{' in value:
            continue  # templated defaults are documented, not compared
        assert options[name].get('default') == value, name


def test_common_entry_points_document_only_its_defaults():
    defaults = load('_common', 'defaults', 'main.yml')
    for entry, spec in load('_common', 'meta', 'argument_specs.yml')['argument_specs'].items():
        for name, option in spec.get('options', {}).items():
            assert name in defaults, (entry, name)
            assert option.get('default') == defaults[name], (entry, name)


def test_there_is_at_least_the_plan_role():
    assert 'plan' in ROLES
