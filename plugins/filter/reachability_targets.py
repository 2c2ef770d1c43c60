# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: reachability_targets
short_description: What one server must (and must not) reach, derived from the deployment plan
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - The targets a managed host probes with M(sfops.secretflow.port_reachable), derived from the listeners the plan
    publishes per node (classified by the collection's port table).
  - C(preflight) - must reach only - the other parties' fed and SPU port ranges (at their head's external IP);
    inside the party, every other node's Ray ports and the head's GCS and Redis.
  - C(verify) - the same, plus must NOT reach - every Ray and Redis port of every other party, at every address
    of each of its nodes.
  - Peer parties (C(sf_peer_parties)) are probed as they are, with the expectation C(peer_expect).
options:
  _input:
    description: The deployment plan (the C(sf_plan) fact).
    type: dict
    required: true
  source:
    description: The probing host (inventory hostname).
    type: str
    required: true
  phase:
    description: C(preflight) or C(verify).
    type: str
    required: true
extends_documentation_fragment:
  - sfops.secretflow.reachability
'''

EXAMPLES = r'''
- name: Probe what this host must (not) reach
  sfops.secretflow.port_reachable:
    targets: "{{ sf_plan | sfops.secretflow.reachability_targets(inventory_hostname, 'verify') }}"
'''

RETURN = r'''
_value:
  description:
    - The targets - C(host), C(port), C(expect) (C(open), C(closed) or C(answers)), C(label) and C(meta) (C(party),
      C(node) and C(group) of the destination; M(sfops.secretflow.port_reachable) returns it with each result, and
      M(sfops.secretflow.reachability_report) places the result in the matrix by it).
  type: list
  elements: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils import _reachability as reachability


def reachability_targets(plan, source, phase, options=None):
    try:
        return reachability.module_targets(reachability.probes(plan, source, phase, options))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('reachability_targets(%s, %s): %s' % (source, phase, to_native(exc)))


class FilterModule(object):
    def filters(self):
        return {'reachability_targets': reachability_targets}
