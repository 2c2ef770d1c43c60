# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin: the reachability matrix and every problem, from what each host's listeners and probes returned.

Runs on the controller (once); reads each host's registered results from hostvars. All logic lives in
module_utils/_reachability.py (:func:`report`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.sfops.secretflow.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.sfops.secretflow.plugins.module_utils import _reachability as reachability

ARGUMENT_SPEC = {
    'plan': {'type': 'dict', 'required': True},
    'phase': {'type': 'str', 'required': True, 'choices': list(reachability.PHASES)},
    'options': {'type': 'dict'},
    'hosts': {'type': 'list', 'elements': 'str'},
    'listener_var': {'type': 'str', 'default': '_reachability_listener'},
    'probe_var': {'type': 'str', 'default': '_reachability_probe'},
}


class ActionModule(ControllerAction):

    argument_spec = ARGUMENT_SPEC

    def run_on_controller(self, args, task_vars, result):
        hosts = args['hosts'] if args['hosts'] is not None else list(task_vars.get('ansible_play_hosts_all') or [])
        hostvars = task_vars.get('hostvars') or {}
        listeners, probes = {}, {}
        for host in hosts:
            if host not in hostvars:
                raise AnsibleActionFail("reachability_report: host '%s' is not in the inventory" % host)
            host_vars = hostvars[host]
            listeners[host] = host_vars.get(args['listener_var'])
            probes[host] = host_vars.get(args['probe_var'])
        try:
            report = reachability.report(args['plan'], args['phase'], hosts, listeners, probes, args['options'])
        except (KeyError, TypeError, ValueError) as exc:
            raise AnsibleActionFail('reachability_report: %s' % to_text(exc))
        result.update(report)
        result['changed'] = False
        return result
