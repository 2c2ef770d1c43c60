#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: port_listener
short_description: Start or stop temporary TCP listeners, to check ports are free and reachable
version_added: 0.1.0
description:
  - With O(state=present), checks that every port of O(ports) is free on O(address), then starts a small
    detached daemon that listens on them, answers each connection with one line
    C(<banner> <hostname> <port>) and closes it. Another task (on other hosts) probes the ports with
    M(sfops.secretflow.port_reachable); O(state=absent) stops the daemon afterwards.
  - All ports are bound before the daemon starts, so a conflict is reported at once. A busy port is reported with
    the process that holds it (pid, name, command line and Docker container, read from C(/proc)); with
    O(in_use=fail) the module fails with one message naming every busy port that O(allowed_holders) does not
    allow.
  - The daemon exits by itself after O(lifetime) seconds, even when the playbook is interrupted, or when stopped
    with O(state=absent). It detaches completely (new session, standard streams on C(/dev/null), every inherited
    file descriptor closed), so it does not keep an SSH session open.
  - One listener set runs per O(name); its pid, ports, start time and a random token are kept in
    C(<state_dir>/<name>.json). O(state=present) stops a running set of the same name first. A pid is only
    signalled while it is still that daemon (same process start time).
  - The module never reports C(changed) - the listeners are temporary and vanish after O(lifetime) or
    O(state=absent), so a deployment re-run stays at C(changed=0).
  - Linux only (reads C(/proc)). Seeing the holders of ports of other users' processes needs root.
options:
  ports:
    description:
      - The ports, as numbers, strings C("17000") or ranges C("17000-17199") (also comma separated).
      - Required with O(state=present).
    type: list
    elements: raw
  address:
    description:
      - The address to listen on. V(0.0.0.0) is every IPv4 address; V(::) is every IPv6 and IPv4 address.
    type: str
    default: 0.0.0.0
  state:
    description:
      - V(present) starts the listener set (after stopping a running set of the same O(name)); V(absent) stops it.
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - Identifies the listener set (its state file is C(<state_dir>/<name>.json)).
      - Letters, digits, C(.), C(_) and C(-).
    type: str
    default: sfops
  state_dir:
    description:
      - Directory of the state files; created when missing.
    type: path
    default: /run/sfops-listeners
  lifetime:
    description:
      - Seconds after which the listeners exit by themselves (1 to 86400).
    type: int
    default: 600
  banner:
    description:
      - First word of the line written to each connection (C(<banner> <hostname> <port>)); probe with
        O(sfops.secretflow.port_reachable#module:targets[].banner) to prove the answer came from this listener.
    type: str
    default: sfops-listener
  in_use:
    description:
      - What to do with a busy port that O(allowed_holders) does not allow.
      - V(fail) fails the task with one message naming every such port and its holder; nothing is started.
      - V(skip) does not listen on it and reports it in RV(in_use) and RV(not_listened).
    type: str
    choices: [fail, skip]
    default: fail
  allowed_holders:
    description:
      - Processes that may hold ports of O(ports), such as the deployment's own services on a deployed host -
        Docker container ids (full, or a prefix of at least 12 characters) or process names (as in
        C(/proc/<pid>/comm), or the base name of the program).
      - A busy port whose every listening socket is held by such a process is reported in
        RV(held_by_deployment) and RV(not_listened), is not listened on and is no error.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description:
      - Only reports which ports are free and which are busy (and still fails on busy ports that are not
        allowed); starts and stops nothing, RV(listening) is empty. With O(state=absent), only reports the
        running set.
  diff_mode:
    support: none
    description: The listeners are temporary; there is nothing to diff.
notes:
  - The daemon is a fork of the module's Python process; its name in C(/proc/<pid>/comm) is C(sfops-listener).
seealso:
  - module: sfops.secretflow.port_reachable
author:
  - sfops.secretflow contributors (@sfops)
'''

EXAMPLES = r'''
- name: Listen on the planned ports (fails naming the holder of any busy port)
  sfops.secretflow.port_listener:
    ports: [6379, 16380, "17000-17199"]
    lifetime: 300

- name: On a deployed host, ports held by the deployment's containers are fine
  sfops.secretflow.port_listener:
    ports: "{{ sf_listen_ports }}"
    allowed_holders: [raylet, gcs_server, redis-server, "{{ sf_container_id }}"]
  register: _listen

- name: Probe from the other servers
  sfops.secretflow.port_reachable:
    targets:
      - host: 172.31.0.11
        port: 16380
        banner: sfops-listener

- name: Stop the listeners
  sfops.secretflow.port_listener:
    state: absent
'''

RETURN = r'''
listening:
  description: The ports the daemon now listens on (empty in check mode and with O(state=absent)).
  returned: always
  type: list
  elements: int
  sample: [16380, 17000, 17001]
free:
  description: The ports that were free (with O(state=present); in check mode, the ports it would listen on).
  returned: always
  type: list
  elements: int
in_use:
  description: One entry per process holding a busy port of O(ports).
  returned: always
  type: list
  elements: dict
  contains:
    port:
      description: The port.
      type: int
    address:
      description: The local address of the holder's listening socket.
      type: str
    pid:
      description: The holder's pid; null when it is not visible (another user, a kernel socket).
      type: int
    process:
      description: The holder's name (C(/proc/<pid>/comm)).
      type: str
    cmdline:
      description: The holder's command line.
      type: str
    container_id:
      description: The Docker container of the holder (full id), if any.
      type: str
    allowed:
      description: Whether O(allowed_holders) allows this holder.
      type: bool
  sample:
    - port: 16380
      address: 0.0.0.0
      pid: 4242
      process: raylet
      cmdline: /usr/local/lib/python3.10/site-packages/ray/core/src/ray/raylet/raylet --node_manager_port=16380
      container_id: 3f4e0c2b9a1d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f
      allowed: true
held_by_deployment:
  description: Busy ports held only by O(allowed_holders); not listened on.
  returned: always
  type: list
  elements: int
not_listened:
  description:
    - The ports not listened on (held by the deployment, or busy with O(in_use=skip)).
    - Not called C(skipped) - Ansible would take a result key of that name for a skipped task.
  returned: always
  type: list
  elements: int
pid:
  description: The daemon's pid (the started one; with O(state=absent) the stopped or running one); null if none.
  returned: always
  type: int
stopped:
  description: With O(state=absent), whether a running daemon was stopped.
  returned: always
  type: bool
state_file:
  description: The state file of this listener set.
  returned: always
  type: str
  sample: /run/sfops-listeners/sfops.json
msg:
  description: What was done.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sfops.secretflow.plugins.module_utils import _listener as listener


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ports=dict(type='list', elements='raw'),
            address=dict(type='str', default='0.0.0.0'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            name=dict(type='str', default='sfops'),
            state_dir=dict(type='path', default='/run/sfops-listeners'),
            lifetime=dict(type='int', default=600),
            banner=dict(type='str', default='sfops-listener'),
            in_use=dict(type='str', choices=['fail', 'skip'], default='fail'),
            allowed_holders=dict(type='list', elements='str', default=[]),
        ),
        required_if=[('state', 'present', ['ports'])],
        supports_check_mode=True,
    )
    result = listener.run(module.params, module.check_mode)
    if result.pop('failed', False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
