#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: port_reachable
short_description: Check from a server which TCP ports it can and cannot reach
version_added: 0.1.0
description:
  - Connects from the managed server to every target of O(targets) (up to O(parallel) at a time) and checks the
    expectation of each - the port accepts a connection (V(open)), it does not (V(closed)), or the address at
    least answers, with a connection or a refusal (V(answers)).
  - A name is resolved first; a name that does not resolve is error C(dns), fails V(open) and also fails
    V(closed) (it proves nothing). O(timeout) applies to the connect itself, not to the name lookup.
  - Each failed connect is classified as C(refused), C(timeout) (no answer - typically a firewall dropping
    packets), C(no_route) (host or network unreachable), C(dns) or C(other).
  - Fails only when an expectation is not met, with one message per target naming the source, the target and its
    label, what was expected and what happened. Never reports C(changed).
  - Pair it with M(sfops.secretflow.port_listener), which listens on ports that are not in use yet and answers
    with a banner line.
options:
  targets:
    description: What to probe.
    type: list
    elements: dict
    required: true
    suboptions:
      host:
        description: Name or IP address to connect to.
        type: str
        required: true
      port:
        description: TCP port (1 to 65535).
        type: int
        required: true
      expect:
        description:
          - V(open) - the connection must succeed (and send O(targets[].banner) if given).
          - V(closed) - it must not succeed (refused, timeout, no route); the name must resolve.
          - V(answers) - the address must answer, by accepting or refusing the connection (a timeout fails).
        type: str
        choices: [open, closed, answers]
        default: open
      label:
        description: A name for the target in results and messages (for example C(bob fed)).
        type: str
      banner:
        description:
          - Text the server must send first (within O(timeout)) for V(open) to be met; a substring match on up to
            256 bytes or the first line. A connection that does not send it is C(reachable) but not C(banner_ok).
        type: str
      meta:
        description:
          - Any data about the target, returned unchanged with its result (RV(results[].meta)) - for example the
            party, node and port group M(sfops.secretflow.reachability_report) groups the results by.
        type: dict
  timeout:
    description: Seconds to wait for each connection (and for the banner).
    type: float
    default: 2.0
  parallel:
    description: How many targets are probed at the same time.
    type: int
    default: 32
  source:
    description: How this server is named in the messages; default its host name.
    type: str
attributes:
  check_mode:
    support: full
    description: The module only reads (connects and disconnects); it probes in check mode too.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
seealso:
  - module: sfops.secretflow.port_listener
author:
  - sfops.secretflow contributors (@sfops)
'''

EXAMPLES = r'''
- name: Alice's head reaches Bob's fed port, and Bob's Redis stays closed to it
  sfops.secretflow.port_reachable:
    source: "{{ inventory_hostname }}"
    timeout: 2
    targets:
      - host: 172.31.0.21
        port: 19000
        label: bob fed
        banner: sfops-listener
      - host: 172.31.0.21
        port: 16380
        expect: closed
        label: bob redis

- name: The targets computed from the deployment plan
  sfops.secretflow.port_reachable:
    targets: "{{ sf_plan | sfops.secretflow.reachability_targets(inventory_hostname, 'verify') }}"
  register: _reach
'''

RETURN = r'''
results:
  description: One entry per target, in the order of O(targets).
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: The target's host.
      type: str
    port:
      description: The target's port.
      type: int
    label:
      description: The target's label (null if none).
      type: str
    meta:
      description: The target's O(targets[].meta), unchanged (null if none).
      type: dict
    expect:
      description: The expectation.
      type: str
    address:
      description: The IP address connected to (the last one tried if none connected); null when the name did not
        resolve.
      type: str
    reachable:
      description: Whether a connection was established.
      type: bool
    latency_ms:
      description: Connect time in milliseconds; null when not connected.
      type: float
    error:
      description: Null when connected, else C(refused), C(timeout), C(no_route), C(dns) or C(other).
      type: str
    error_detail:
      description: Details of the error (empty when connected).
      type: str
    banner_ok:
      description: Null without O(targets[].banner); else whether the server sent it.
      type: bool
    banner_received:
      description: What the server sent first (with O(targets[].banner) and a connection); null otherwise.
      type: str
    ok:
      description: Whether the expectation is met.
      type: bool
  sample:
    - host: 172.31.0.21
      port: 19000
      label: bob fed
      expect: open
      meta: null
      address: 172.31.0.21
      reachable: true
      latency_ms: 0.42
      error: null
      error_detail: ''
      banner_ok: true
      banner_received: sfops-listener bob-1 19000
      ok: true
failures:
  description: One message per unmet expectation.
  returned: always
  type: list
  elements: str
  sample:
    - 'alice-1 -> 172.31.0.21:19000 (bob fed): expected open, got timeout after 2.0 s'
    - 'bob-1 -> 172.31.0.11:16380 (alice gcs): expected closed, but it accepted a connection (1.2 ms)'
summary:
  description: Counts of targets.
  returned: always
  type: dict
  contains:
    total:
      description: Number of targets.
      type: int
    ok:
      description: Targets whose expectation is met.
      type: int
    failed:
      description: Targets whose expectation is not met.
      type: int
  sample: {total: 12, ok: 11, failed: 1}
'''

import socket

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils import _probe as probelib


def main():
    module = AnsibleModule(
        argument_spec=dict(
            targets=dict(type='list', elements='dict', required=True, options=dict(
                host=dict(type='str', required=True),
                port=dict(type='int', required=True),
                expect=dict(type='str', choices=list(probelib.EXPECTATIONS), default='open'),
                label=dict(type='str'),
                banner=dict(type='str'),
                meta=dict(type='dict'),
            )),
            timeout=dict(type='float', default=2.0),
            parallel=dict(type='int', default=probelib.DEFAULT_PARALLEL),
            source=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, results=[], failures=[], summary=dict(total=len(p['targets']), ok=0, failed=0))
    if p['timeout'] <= 0:
        module.fail_json(msg='timeout must be greater than 0 (got %s)' % p['timeout'], **result)
    if p['parallel'] < 1:
        module.fail_json(msg='parallel must be at least 1 (got %s)' % p['parallel'], **result)
    source = p['source'] or socket.gethostname()
    try:
        results, failures = probelib.probe_all(p['targets'], p['timeout'], p['parallel'], source=source)
    except ValueError as e:
        module.fail_json(msg='targets: %s' % to_native(e), **result)
    ok = sum(1 for r in results if r['ok'])
    result.update(results=results, failures=failures, summary=dict(total=len(results), ok=ok, failed=len(failures)))
    if failures:
        module.fail_json(msg='%d of %d reachability expectations not met: %s'
                         % (len(failures), len(results), '; '.join(failures)), **result)
    module.exit_json(msg='all %d reachability expectations met' % len(results), **result)


if __name__ == '__main__':
    main()
