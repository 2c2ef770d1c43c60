# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin: the parties' TLS material - what is brought, what the tls role generates, and the checks.

Runs on the controller; reads the bring-your-own variables of every managed host and ``sf_peer_parties`` from
hostvars and the files of ``sf_tls_dir``; connects to nothing. All logic lives in module_utils/_tls.py
(:func:`examine`). Never returns a private key: keys stay in their variables and files.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.sfops.secretflow.plugins.plugin_utils._controller_action import ControllerAction
from ansible_collections.sfops.secretflow.plugins.module_utils import _tls as tlslib

ARGUMENT_SPEC = {
    'stage': {'type': 'str', 'required': True, 'choices': list(tlslib.STAGES)},
    'plan': {'type': 'dict', 'required': True},
    'dir': {'type': 'str', 'required': True},
    'renew_days': {'type': 'int', 'required': True},
    'renew': {'type': 'list', 'elements': 'str', 'default': []},
    'dry': {'type': 'bool', 'default': False},
    'peers_required': {'type': 'bool', 'default': True},
    'layout': {'type': 'dict', 'default': {}},
    'party': {'type': 'str', 'default': ''},
    'ca_file': {'type': 'str', 'default': ''},
}


def _plain(value):
    """Plain Python data: vaulted strings (decrypted on conversion) and Ansible's string types become ``str``."""
    if isinstance(value, dict):
        return dict((to_text(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return to_text(value)


def _value(hostvars, host, var):
    """A variable of ``host`` (templated and, if vaulted, decrypted), or None when it is unset."""
    host_vars = hostvars[host]
    if var not in host_vars:
        return None
    return _plain(host_vars[var])


def brought_material(plan, hostvars):
    """party -> {BYO variable: value} from the party's head, and the errors of hosts that disagree with it (the
    variables are party-wide; values are never put in a message)."""
    byo, errors = {}, []
    for party in sorted(plan['parties']):
        p = plan['parties'][party]
        if not p.get('managed'):
            continue
        head = p['head']
        byo[party] = {}
        for var in tlslib.BYO_VARS:
            try:
                byo[party][var] = _value(hostvars, head, var)
            except Exception as exc:  # an undefined variable inside a template, a vault that cannot be opened, ...
                errors.append("%s: %s could not be evaluated: %s" % (tlslib.where(party, head), var, to_text(exc)))
                continue
            for host in sorted(p['nodes']):
                if host == head:
                    continue
                try:
                    other = _value(hostvars, host, var)
                except Exception as exc:
                    errors.append("%s: %s could not be evaluated: %s"
                                  % (tlslib.where(party, host), var, to_text(exc)))
                    continue
                if other != byo[party][var]:
                    errors.append("%s: %s differs from the party head '%s'; it is a party-wide setting: set it in "
                                  "group_vars/%s" % (tlslib.where(party, host), var, head, party))
    return byo, errors


class ActionModule(ControllerAction):

    argument_spec = ARGUMENT_SPEC

    def run_on_controller(self, args, task_vars, result):
        result['changed'] = False
        missing = tlslib.cryptography_error()
        if missing:
            raise AnsibleActionFail(missing)
        tls_dir = os.path.expanduser(args['dir'])
        if not os.path.isabs(tls_dir):
            raise AnsibleActionFail('sf_tls_dir=%r must be an absolute path on the controller (for instance '
                                    '"{{ inventory_dir }}/credentials/tls")' % args['dir'])
        plan = args['plan']
        hostvars = task_vars.get('hostvars')
        if hostvars is None or 'parties' not in plan:
            raise AnsibleActionFail('tls_material needs the deployment plan (sf_plan) and the inventory (hostvars)')
        byo, errors = brought_material(plan, hostvars) if args['stage'] != 'import' else ({}, [])
        peers = {}
        heads = [p['head'] for p in plan['parties'].values() if p.get('managed')]
        if heads:
            peers = _value(hostvars, sorted(heads)[0], 'sf_peer_parties') or {}
        if args['stage'] == 'import':
            report, data = tlslib.check_import(plan, os.path.normpath(tls_dir), args['party'], args['ca_file'], peers,
                                               tlslib.now_utc(), args['renew_days'])
            return self._finish(result, report.errors, report.warnings, data)
        try:
            report, data = tlslib.examine(args['stage'], plan, os.path.normpath(tls_dir), byo, peers,
                                          tlslib.now_utc(), args['renew_days'], renew=args['renew'],
                                          dry=args['dry'], peers_required=args['peers_required'])
        except (KeyError, TypeError, ValueError) as exc:
            raise AnsibleActionFail('tls_material: %s' % to_text(exc))
        if args['stage'] == 'final' and not (errors or report.errors):
            data = {'tls': data, 'summary': tlslib.summary_lines(data),
                    'renewed': tlslib.renewed_lines(args['renew'], args['layout'], data)}
        return self._finish(result, errors + report.errors, report.warnings, data)

    @staticmethod
    def _finish(result, errors, warnings, data):
        result['errors'] = errors
        if warnings:
            result['warnings'] = list(warnings)
        if errors:
            result['failed'] = True
            result['msg'] = ('The TLS material has %d problem(s); nothing was changed on any host:\n- %s'
                             % (len(errors), '\n- '.join(errors)))
            return result
        result.update(data)
        return result
