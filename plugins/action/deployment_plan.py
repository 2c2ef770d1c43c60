# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin: validate the inventory and compute the deployment plan on the controller.

It reads the inventory (the party groups under ``secretflow`` and the ``sf_*`` variables of every
host); it never connects to a host. All logic lives in module_utils/_plan.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import yaml

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib

_HOST_KEYS = ('inventory_hostname', 'ansible_host') + planlib.HOST_VARS + planlib.DEPLOYMENT_VARS
# The one place the defaults are written down; the same file serves as the plan role's defaults.
DEFAULTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'roles', 'plan', 'defaults',
                             'main.yml')
# The firewall role's switch and its acknowledgement have the firewall role's defaults (the plan refuses a node
# without its firewall unless acknowledged).
FIREWALL_DEFAULTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'roles', 'firewall',
                                      'defaults', 'main.yml')


def load_defaults(path=DEFAULTS_FILE, firewall_path=FIREWALL_DEFAULTS_FILE):
    with open(path) as handle:
        data = yaml.safe_load(handle) or {}
    defaults = {key: data[key] for key in planlib.DEFAULTED_VARS if key in data}
    with open(firewall_path) as handle:
        data = yaml.safe_load(handle) or {}
    defaults.update((key, data[key]) for key in planlib.FIREWALL_VARS if key in data)
    return defaults


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def _inventory_model(self, task_vars, group_name):
        errors = []
        hostvars = task_vars.get('hostvars')
        inventory = getattr(hostvars, '_inventory', None)
        if inventory is None:
            raise AnsibleError('deployment_plan needs the inventory (hostvars); run it as an ordinary task')
        model = {'parties': {}, 'stray_hosts': [], 'hosts': {}, 'defaults': load_defaults()}
        group = inventory.groups.get(group_name)
        if group is not None:
            in_party = set()
            for child in sorted(group.child_groups, key=lambda g: g.name):
                members = [h.name for h in child.get_hosts()]
                model['parties'][child.name] = members
                in_party.update(members)
            model['stray_hosts'] = [h.name for h in group.hosts if h.name not in in_party]
        wanted = set(n for members in model['parties'].values() for n in members)
        for name in sorted(wanted):
            hv = hostvars[name]
            raw = {}
            for key in _HOST_KEYS:
                if key not in hv:
                    continue
                try:
                    raw[key] = hv[key]
                except Exception as exc:  # an undefined variable inside a template, a bad lookup, ...
                    errors.append("host '%s': %s could not be evaluated: %s" % (name, key, to_text(exc)))
            model['hosts'][name] = raw
        return model, errors

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        validation = self.validate_argument_spec(argument_spec={
            'group': {'type': 'str', 'default': 'secretflow'},
        })[0]
        group_name = validation.validated_parameters['group']

        model, errors = self._inventory_model(task_vars, group_name)
        plan_errors, plan = planlib.build_plan(model)
        errors.extend(plan_errors)
        result['changed'] = False
        result['errors'] = errors
        if errors:
            result['failed'] = True
            result['msg'] = ('The inventory has %d problem(s); nothing was changed on any host:\n- %s'
                             % (len(errors), '\n- '.join(errors)))
            return result
        result['plan'] = plan
        result['summary'] = planlib.summary_lines(plan)
        # every run: plaintext between organisations, or an SPU protocol without security, must never go unnoticed
        warnings = planlib.plan_warnings(plan)
        if warnings:
            result['warnings'] = warnings
        return result
