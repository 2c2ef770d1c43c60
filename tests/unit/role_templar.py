# -*- coding: utf-8 -*-
"""Render a role's templates and variables with ansible-core's own Templar, for the role template tests."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

try:  # lookups (fileglob, ...) need the plugin loader, which only the CLIs initialise
    from ansible.plugins.loader import init_plugin_loader
    init_plugin_loader()
except ImportError:  # pragma: no cover - older ansible-core
    pass

try:  # ansible-core >= 2.19: strings from files must be marked trusted to be templated
    from ansible.template import trust_as_template
except ImportError:  # pragma: no cover - older ansible-core templates every string
    def trust_as_template(value):
        return value

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def trust(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: trust(v) for k, v in value.items()}
    if isinstance(value, list):
        return [trust(v) for v in value]
    return value


class RoleTemplar(object):
    """A role's defaults + vars (+ overrides, like inventory vars, and facts), templated lazily by Ansible.

    The defaults of roles/_common come first: the roles import it, which makes them visible (as in a play)."""

    def __init__(self, role, facts=None, **overrides):
        self.path = os.path.join(ROOT, 'roles', role)
        self.variables = {}
        for path in (os.path.join(ROOT, 'roles', '_common', 'defaults', 'main.yml'),
                     os.path.join(self.path, 'defaults', 'main.yml'), os.path.join(self.path, 'vars', 'main.yml')):
            if not os.path.exists(path):
                continue
            with open(path) as handle:
                self.variables.update(trust(yaml.safe_load(handle) or {}))
        self.variables.update(trust(overrides))
        self.variables['role_path'] = self.path
        self.variables['ansible_managed'] = 'Ansible managed: do not edit'
        if facts is not None:
            self.variables['ansible_facts'] = facts
        self.templar = Templar(loader=DataLoader(), variables=self.variables)

    def var(self, name):
        return self.templar.template(self.variables[name])

    def render(self, template):
        with open(os.path.join(self.path, 'templates', template)) as handle:
            return self.templar.template(trust_as_template(handle.read()))
