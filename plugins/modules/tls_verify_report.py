#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: tls_verify_report
short_description: The table and every problem of verify.yml's TLS checks, from what the heads' probes returned
version_added: 0.1.0
description:
  - Runs on the controller only (it is an action plugin; this file documents it), once; it reads what every head
    of O(checks) registered and sends no network traffic.
  - For each head, reads the results of its C(sfworker tls-probe) runs registered under O(probe_var) (a loop over
    the C(probes) of O(checks), with community.docker.docker_container_exec) and the C(async_status) results of
    its temporary C(sfworker tls-listen) runs registered under O(listener_var). Probe results are found by the
    C(id) of their loop item, never by position.
  - Judges each probe - tls-probe exit 0 accepted, 1 refused, 3 nothing answers - against what it must get (no
    client certificate and a certificate from an unknown CA refused, the party's own certificate accepted). Where
    no listener of ours runs (foreign parties), "nothing answers" is not checked, not a failure. Where a running
    job held the port (its listener answered instead of ours), a refusal of our own certificate is a note (the
    job trusts only its own parties), not a failure.
  - Never fails because of what it reports; the caller decides (verify.yml fails listing RV(problems)).
options:
  checks:
    description: What the C(sfops.secretflow.tls_verify_checks) filter returned.
    type: dict
    required: true
  probe_var:
    description: The variable each head registered its tls-probe loop in.
    type: str
    default: _verify_tls_probe
  listener_var:
    description: The variable each head registered the C(async_status) loop of its listeners in.
    type: str
    default: _verify_tls_listen
extends_documentation_fragment:
  - sfops.secretflow.controller_action
seealso:
  - module: sfops.secretflow.reachability_report
author:
  - sfops.secretflow contributors (@sfops)
'''

EXAMPLES = r'''
- name: Probe the other parties' fed and SPU ports
  community.docker.docker_container_exec:
    container: sf-node
    argv: "{{ item.argv }}"
  loop: "{{ _checks.probes[inventory_hostname] | default([]) }}"
  register: _verify_tls_probe
  failed_when: false

- name: The table and every problem
  sfops.secretflow.tls_verify_report:
    checks: "{{ _checks }}"
  register: _report
  run_once: true
'''

RETURN = r'''
lines:
  description: The table, one line per (from party, to party, link) - a header, a rule, then the rows.
  returned: success
  type: list
  elements: str
  sample:
    - 'from   to:link    address           no certificate  unknown CA  own certificate'
    - '-----  ---------  ----------------  --------------  ----------  ---------------'
    - 'alice  bob:fed    10.0.0.21:19000   refused         refused     accepted'
problems:
  description: Every check that does not hold, naming the parties, the link, the address and the wrong verdict.
  returned: success
  type: list
  elements: str
  sample:
    - 'bob -> alice fed at 10.0.0.11:19000: a client without a certificate was accepted, must be refused'
notes:
  description: What the listeners did, and the checks not made (nothing answers at a foreign party's port).
  returned: success
  type: list
  elements: str
unmet:
  description: The number of problems (not called C(failed), which Ansible would take for the task's own state).
  returned: success
  type: int
text:
  description: The table, the notes and the number of problems, as one printable block.
  returned: success
  type: str
'''
