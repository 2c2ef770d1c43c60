# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: firewall_rules
short_description: The firewall rules of one server, derived from the deployment plan
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Private ports (every Ray port the node binds, and the head's GCS and Redis ports) are open only to the
    party's own nodes plus O(private_sources).
  - Public ports (the head's fed and SPU port ranges) are open to the other parties (the external IPs of their
    nodes, or O(peer_sources) for a party) plus the party's own nodes and O(extra_peer_sources).
  - Returns C(party), C(role), C(private_ports) and C(public_ports) (lists of [first, last]), and the source
    addresses per family (C(private_v4), C(private_v6), C(public_v4), C(public_v6)).
  - Fails naming the host, party and variable when an address is not usable (for example a peer whose external
    address is a DNS name and that has no O(peer_sources) entry).
options:
  _input:
    description: The deployment plan (the C(sf_plan) fact).
    type: dict
    required: true
  host:
    description: The inventory hostname.
    type: str
    required: true
  peer_sources:
    description: Party name -> list of addresses or CIDRs its traffic comes from (replaces the derived list).
    type: dict
  extra_peer_sources:
    description: Addresses or CIDRs added to the sources allowed to the public ports.
    type: list
    elements: str
  private_sources:
    description: Addresses or CIDRs added to the sources allowed to the private ports.
    type: list
    elements: str
  ssh_port:
    description: The SSH port; it must not be one of the deployment's ports.
    type: int
    default: 22
'''

EXAMPLES = r'''
- name: Rules of this server
  ansible.builtin.set_fact:
    _rules: "{{ sf_plan | sfops.secretflow.firewall_rules(inventory_hostname, firewall_peer_sources) }}"
'''

RETURN = r'''
_value:
  description: The rules (see description).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils._firewall import firewall_rules


def _firewall_rules(plan, host, peer_sources=None, extra_peer_sources=None, private_sources=None, ssh_port=22):
    try:
        return firewall_rules(plan, host, peer_sources, extra_peer_sources, private_sources, int(ssh_port))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('firewall_rules(%s): %s' % (host, to_native(exc)))


class FilterModule(object):
    def filters(self):
        return {'firewall_rules': _firewall_rules}
