# -*- coding: utf-8 -*-
"""Every role's meta/argument_specs.yml mirrors its defaults/main.yml: same variables, same defaults."""
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


@pytest.mark.parametrize('role', ROLES)
def test_argument_specs_mirror_defaults(role):
    defaults = load(role, 'defaults', 'main.yml')
    spec_path = os.path.join(ROOT, 'roles', role, 'meta', 'argument_specs.yml')
    assert os.path.isfile(spec_path), 'role %s has no meta/argument_specs.yml' % role
    options = load(role, 'meta', 'argument_specs.yml')['argument_specs']['main']['options']
    public = {k: v for k, v in defaults.items() if not k.startswith('_')}
    assert sorted(public) == sorted(options), 'defaults and argument_specs list different variables'
    for name, value in public.items():
        assert 'description' in options[name], name
        if isinstance(value, str) and '{{' in value:
            continue  # templated defaults are documented, not compared
        assert options[name].get('default') == value, name


def test_there_is_at_least_the_plan_role():
    assert 'plan' in ROLES
