# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: party_manifest
short_description: One party's manifest, derived from the deployment plan
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Returns the party's own plan in full (head, nodes, ports, ray start argv, cluster_config) and, for every party of
    the deployment, only what is visible from outside (external address, fed and SPU port ranges), plus the SPU
    cluster definition. Other parties' internal node IPs are not included.
options:
  _input:
    description: The deployment plan (the C(sf_plan) fact).
    type: dict
    required: true
  party:
    description: The party name.
    type: str
    required: true
'''

EXAMPLES = r'''
- name: Write the party manifest
  ansible.builtin.copy:
    content: "{{ sf_plan | sfops.secretflow.party_manifest('alice') | to_nice_json(indent=2) }}\n"
    dest: /etc/sfops/party.json
    mode: "0644"
'''

RETURN = r'''
_value:
  description: The manifest (version, party, job_slots, party_order, self, parties, spu_cluster_def).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils._plan import party_manifest


def _party_manifest(plan, party):
    try:
        return party_manifest(plan, party)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError('party_manifest(%s): %s' % (party, to_native(exc)))


class FilterModule(object):
    def filters(self):
        return {'party_manifest': _party_manifest}
