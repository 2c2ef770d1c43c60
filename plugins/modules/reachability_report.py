#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: reachability_report
short_description: The reachability matrix and every problem, from what the listeners and probes of each host returned
version_added: 0.1.0
description:
  - Runs on the controller only (it is an action plugin; this file documents it), once for all hosts; it reads what
    every host of O(hosts) registered and sends no network traffic.
  - For each host, reads the M(sfops.secretflow.port_listener) result registered under O(listener_var) and the
    M(sfops.secretflow.port_reachable) result registered under O(probe_var) (from C(hostvars)).
  - Each probe result is placed in the matrix by its own C(meta) (party, node and port group), which the
    C(sfops.secretflow.reachability_targets) filter puts on every target - results are never paired with targets by
    position. A host without probe results (unreachable, or it failed before probing) counts every target it
    should have probed as failed (C(no_result)); O(options) says which, as for the filters.
  - Rows of the matrix are the probing servers (party/host), columns the destination party and port group (fed,
    spu, gcs, redis, ray); a cell counts the probes that went as expected (C(open 10), C(closed 14)) or the ones
    that did not and why (C(FAIL 3/10 timeout), C(OPEN 1/14 connected)).
  - Never fails because of what it reports; the caller decides (the C(sfops.secretflow.reachability) role fails
    listing RV(problems)).
options:
  plan:
    description: The deployment plan (the C(sf_plan) fact).
    type: dict
    required: true
  phase:
    description: C(preflight) or C(verify) (what the hosts probed for).
    type: str
    required: true
    choices: [preflight, verify]
  hosts:
    description: The hosts that took part, in order; default C(ansible_play_hosts_all).
    type: list
    elements: str
  listener_var:
    description: The variable each host registered the M(sfops.secretflow.port_listener) result in.
    type: str
    default: _reachability_listener
  probe_var:
    description: The variable each host registered the M(sfops.secretflow.port_reachable) result in.
    type: str
    default: _reachability_probe
extends_documentation_fragment:
  - sfops.secretflow.controller_action
  - sfops.secretflow.reachability
seealso:
  - module: sfops.secretflow.port_listener
  - module: sfops.secretflow.port_reachable
author:
  - sfops.secretflow contributors (@sfops)
'''

EXAMPLES = r'''
- name: Probe what this host must (not) reach
  sfops.secretflow.port_reachable:
    targets: "{{ sf_plan | sfops.secretflow.reachability_targets(inventory_hostname, 'verify') }}"
  register: _reachability_probe
  failed_when: false

- name: The matrix and every problem
  sfops.secretflow.reachability_report:
    plan: "{{ sf_plan }}"
    phase: verify
  register: _report
  run_once: true

- name: Print the matrix
  ansible.builtin.debug:
    msg: "{{ _report.text }}"
  run_once: true
'''

RETURN = r'''
lines:
  description: The matrix, one line per row (a header, a rule, one row per host).
  returned: success
  type: list
  elements: str
  sample:
    - 'source \ destination  alice:fed  alice:spu  alice:gcs  alice:redis  alice:ray  bob:fed  bob:spu'
    - '--------------------  ---------  ---------  ---------  -----------  ---------  -------  -------'
    - 'alice/alice-1         -          -          -          -            open 8     open 10  open 10'
problems:
  description:
    - Every problem, host by host - its temporary listeners failed, a planned port is taken by another program, it
      did not probe (unreachable, or it failed before) - and one line per unmet expectation as
      M(sfops.secretflow.port_reachable) words it.
  sample:
    - 'bob-1: planned port 19005 is taken: in use on 0.0.0.0 by pid 685 (python3)'
    - 'alice-2: did not probe (unreachable, or it failed before)'
    - 'bob/bob-1 -> 172.31.0.11:19003 (alice/alice-1 fed): expected open, got timeout after 2.0 s'
  returned: success
  type: list
  elements: str
unmet:
  description:
    - The number of unmet expectations in the matrix (probes that failed or were not made).
    - Not called C(failed) - Ansible would take a result key of that name for the task's own state.
  returned: success
  type: int
text:
  description: The matrix, a legend and the number of unmet expectations, as one printable block.
  returned: success
  type: str
'''
