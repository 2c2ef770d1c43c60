#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: deployment_plan
short_description: Validate a SecretFlow inventory and compute the deployment plan
version_added: 0.1.0
description:
  - Runs on the controller only (it is an action plugin; this file documents it). It reads the inventory, never
    connects to a host and sends no network traffic.
  - Each direct child group of O(group) is a party; its hosts are the party's servers. Parties run by other
    organisations are declared in C(sf_peer_parties).
  - Reports B(every) problem of the inventory in one run, each message naming the party and/or host and the
    variable, and fails. On success returns the plan, which is the single source of every port, address and
    C(ray start) command line the other roles use.
  - See the collection README for the inventory model and the variables (C(sf_node_id), C(sf_node_ip),
    C(sf_external_ip), C(sf_ray_role), the C(sf_*_port) variables, C(sf_job_slots), C(sf_worker_env),
    C(sf_ray_start_extra_args), C(sf_peer_parties), C(sf_spu_runtime_config), C(sf_spu_protocols),
    C(sf_tls_enabled), C(sf_tls_verify_depth)). Defaults come from the C(sfops.secretflow.plan) role.
  - With C(sf_tls_enabled=false) every run returns a warning, since the links between parties are then in clear.
  - C(sf_spu_protocols) (party-wide; default SEMI2K, ABY3, CHEETAH) is the list of SPU protocols the party's workers
    let a task choose; an unknown name is an error naming the party, host and variable, and a list without the
    protocol of C(sf_spu_runtime_config) too. REF2K ("no security guarantee") is allowed only when listed, and every
    run then returns a warning naming the party.
    The certificates are not part of the plan (role C(sfops.secretflow.tls) makes and checks them); the plan only
    checks that a peer's C(ca_cert) is a string (PEM text or a controller path).
options:
  group:
    description:
      - The inventory group whose direct child groups are the parties.
    type: str
    default: secretflow
extends_documentation_fragment:
  - sfops.secretflow.controller_action
author:
  - sfops.secretflow contributors (@sfops)
'''

EXAMPLES = r'''
- name: Validate the inventory and compute the plan
  sfops.secretflow.deployment_plan:
  register: _plan
  run_once: true
  delegate_to: localhost

- name: Show the ray start command of this host
  ansible.builtin.debug:
    msg: "{{ _plan.plan.parties[sf_party].nodes[inventory_hostname].ray_start_argv | join(' ') }}"
'''

RETURN = r'''
plan:
  description: The deployment plan (absent when validation fails).
  returned: success
  type: dict
  contains:
    version:
      description: Version of the plan format.
      type: int
    job_slots:
      description: How many multi-party jobs every party runs at once.
      type: int
    party_order:
      description: All party names, sorted.
      type: list
      elements: str
    parties:
      description:
        - Party name to C(managed), C(head), C(external_ip), C(fed_port), C(spu_port), C(fed_ports), C(spu_ports),
          C(listeners), C(ray_address), C(redis), C(spu_protocols), C(cluster_config) and C(nodes) (host name to
          C(node_id), C(node_ip), C(external_ip), C(role), C(listeners), C(ports), C(worker_env), C(ray_start_argv)).
          Peer parties have C(managed=false) and no nodes.
        - A node's C(listeners) are the ports it binds, one entry per row of the collection's port table
          (C(plugins/module_utils/_ports.py)) - C(name), C(variables) (the inventory variables), C(first), C(last),
          C(group) (its column in the reachability matrix - C(gcs), C(redis), C(ray), C(fed), C(spu)), C(reach)
          (C(party) - only the party's own nodes may connect - or C(peers) - other parties connect) and C(span)
          (C(port), C(pool) - the Ray worker range - or C(slots) - one port per job slot). The firewall rules, the
          reachability checks and the C(ray start) port flags are derived from them. A party's C(listeners) are
          what other parties reach of it at its C(external_ip) (the head's C(peers) listeners, or what a peer party
          declares). C(ports) are the same ports by variable name without C(sf_).
      type: dict
    spu_cluster_def:
      description: The SPU cluster definition for job slot 0 (nodes with C(party), C(address), C(listen_address)).
      type: dict
    tls:
      description:
        - Mutual TLS between parties, C(enabled) (C(sf_tls_enabled)) and C(verify_depth) (C(sf_tls_verify_depth),
          the SPU link's chain depth); the same for the whole deployment.
      type: dict
      sample: {enabled: true, verify_depth: 2}
  sample:
    version: 1
    job_slots: 10
    party_order: [alice, bob]
    parties:
      alice:
        managed: true
        head: alice-1
        external_ip: 203.0.113.10
        fed_port: 19000
        spu_port: 19500
summary:
  description: A short human summary of the plan, one line per party and node.
  returned: success
  type: list
  elements: str
errors:
  description: Every problem found; empty on success.
  returned: always
  type: list
  elements: str
'''
