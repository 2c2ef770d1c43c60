# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: reachability_matrix
short_description: The reachability matrix as a text table
version_added: 0.2.0
author: sfops.secretflow contributors (@sfops)
description:
  - Rows are the probing servers (party/host), columns the destination party and port group (fed, spu, gcs,
    redis, ray); a cell counts the probes that went as expected (C(open 10), C(closed 14)) or the ones that did not
    and why (C(FAIL 3/10 timeout), C(OPEN 1/14 connected)).
  - A server without results (unreachable, or it failed before probing) counts every target as failed
    (C(no_result)).
options:
  _input:
    description: Host -> the C(results) list M(sfops.secretflow.port_reachable) returned on it.
    type: dict
    required: true
  plan:
    description: The deployment plan (the C(sf_plan) fact).
    type: dict
    required: true
  phase:
    description: C(preflight) or C(verify) (what the results were probed for).
    type: str
    required: true
extends_documentation_fragment:
  - sfops.secretflow.reachability
'''

EXAMPLES = r'''
- name: Print the matrix
  ansible.builtin.debug:
    msg: "{{ (results | sfops.secretflow.reachability_matrix(sf_plan, 'verify')).lines }}"
'''

RETURN = r'''
_value:
  description: C(lines) (the table) and C(failed) (the number of unmet expectations).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils import _reachability as reachability


def reachability_matrix(results, plan, phase, options=None):
    try:
        merged = {}
        failed = 0
        for source, host_results in (results or {}).items():
            targets = reachability.probes(plan, source, phase, options)
            if not host_results:
                host_results = [{'ok': False, 'reachable': None, 'error': 'no_result'} for _t in targets]
            merged[source] = reachability.merge_results(targets, host_results)
            failed += sum(1 for r in merged[source] if not r.get('ok'))
        return {'lines': reachability.matrix_lines(plan, merged), 'failed': failed}
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('reachability_matrix: %s' % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {'reachability_matrix': reachability_matrix}
