# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin: the table and every problem of verify.yml's TLS checks, from what each head's probes and
temporary listeners returned.

Runs on the controller (once); reads each head's registered results from hostvars. All logic lives in
module_utils/_tls_verify.py (:func:`report`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.sfops.secretflow.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.sfops.secretflow.plugins.module_utils import _tls_verify as tls_verify

ARGUMENT_SPEC = {
    'checks': {'type': 'dict', 'required': True},
    'probe_var': {'type': 'str', 'default': '_verify_tls_probe'},
    'listener_var': {'type': 'str', 'default': '_verify_tls_listen'},
}


class ActionModule(ControllerAction):

    argument_spec = ARGUMENT_SPEC

    def run_on_controller(self, args, task_vars, result):
        checks = args['checks']
        hostvars = task_vars.get('hostvars') or {}
        probes, listeners = {}, {}
        try:
            for host in set(checks.get('probes') or {}) | set(checks.get('listeners') or {}):
                if host not in hostvars:
                    raise AnsibleActionFail("tls_verify_report: host '%s' is not in the inventory" % host)
                probes[host] = hostvars[host].get(args['probe_var'])
                listeners[host] = hostvars[host].get(args['listener_var'])
            report = tls_verify.report(checks, probes, listeners)
        except (KeyError, TypeError, ValueError) as exc:
            raise AnsibleActionFail('tls_verify_report: %s' % to_text(exc))
        result.update(report)
        result['changed'] = False
        return result
