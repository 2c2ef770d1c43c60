# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: tls_verify_checks
short_description: The TLS checks of verify.yml - temporary listeners and probes per head - derived from the plan
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - From the deployment plan and the hosts of the play, what every party head runs in the TLS checks of
    C(playbooks/verify.yml) (docs/operations/tls.md).
  - C(listeners) - on the head of every managed party in the play that another head in the play will probe, one
    C(sfworker tls-listen) per link (fed, SPU) on the first port of the party's range (job slot 0), stopping after
    the expected number of connections (three per probing head).
  - C(probes) - from the head of every managed party in the play, to every other party (managed or foreign) and
    link, three C(sfworker tls-probe) runs - no client certificate (must be refused), a certificate from a CA
    nobody trusts (C(--stranger), must be refused), the party's own certificate (must be accepted). Each probe
    carries an C(id) by which the C(sfops.secretflow.tls_verify_report) action finds its result.
  - C(skip) is a sentence when there is nothing to check (TLS off, a single party, no head in the play).
options:
  _input:
    description: The deployment plan (the C(sf_plan) fact).
    type: dict
    required: true
  hosts:
    description: The hosts of the play (C(ansible_play_hosts_all)); only heads among them listen and probe.
    type: list
    elements: str
    required: true
  options:
    description:
      - C(wait_s) - how long a probe of a party we run a listener for retries while nothing answers yet (default 20).
      - C(listen_s) - how long a temporary listener waits for its connections at most (default 120).
    type: dict
'''

EXAMPLES = r'''
- name: Derive the TLS checks
  ansible.builtin.set_fact:
    _checks: "{{ sf_plan | sfops.secretflow.tls_verify_checks(ansible_play_hosts_all, {'wait_s': 20}) }}"
  run_once: true
'''

RETURN = r'''
_value:
  description:
    - C(enabled), C(skip) (a sentence or null), C(heads) (party -> head host), C(listeners) (host -> list of
      C(party), C(link), C(port), C(address), C(count), C(argv)) and C(probes) (host -> list of C(id), C(source),
      C(target), C(link), C(client) none/stranger/own, C(port), C(address), C(expect) accepted/refused,
      C(listener), C(argv)).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils import _tls_verify as tls_verify


def tls_verify_checks(plan, hosts, options=None):
    try:
        return tls_verify.checks(plan, hosts, options)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('tls_verify_checks: %s' % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {'tls_verify_checks': tls_verify_checks}
