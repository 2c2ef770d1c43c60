# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: firewall_table_problems
short_description: What verify.yml says about the firewall table of every server
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Judges what C(playbooks/verify.yml) read on every server - C(nft list table inet <table>) and whether the
    restore timer C(<service>-check.timer) is active - against the deployment plan.
  - A missing table, a table without its drop rule (flushed chain) or an inactive restore timer is a problem naming
    the party and host, what is exposed and how to fix it (runbook docs/operations/firewall.md).
  - Hosts whose firewall is off (C(firewall_enabled=false), acknowledged) are listed in C(off), not judged.
  - Returns C(problems), C(off), C(unchecked) (hosts without a state) and C(lines) (one per host).
options:
  _input:
    description: The deployment plan (the C(sf_plan) fact).
    type: dict
    required: true
  states:
    description: Host -> C({rc, stdout, stderr, timer}) (or null for a host that was not checked).
    type: dict
    required: true
  table:
    description: The nftables table (inet family) of the firewall role.
    type: str
    default: sfops_secretflow
  service:
    description: The firewall role's systemd unit name (the timer is C(<service>-check.timer)).
    type: str
    default: sfops-firewall
'''

EXAMPLES = r'''
- name: Judge every server
  ansible.builtin.set_fact:
    _verdict: "{{ sf_plan | sfops.secretflow.firewall_table_problems(states, 'sfops_secretflow', 'sfops-firewall') }}"
  run_once: true
'''

RETURN = r'''
_value:
  description: C({problems, off, unchecked, lines}).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils._firewall import table_problems


def _firewall_table_problems(plan, states, table='sfops_secretflow', service='sfops-firewall'):
    if not isinstance(plan, dict) or not isinstance(states, dict):
        raise AnsibleFilterError('firewall_table_problems: expects the plan and a mapping host -> state')
    try:
        return table_problems(plan, states, table, service)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('firewall_table_problems: %s' % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {'firewall_table_problems': _firewall_table_problems}
