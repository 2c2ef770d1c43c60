# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: worker_config
short_description: The SecretFlow worker configuration of one host, derived from the deployment plan
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Returns the configuration file content of the sfworker running on O(host) (see docs/worker.md) - party, node ID
    and IP, the party's Ray head address, job slots, every party's external address with its fed and SPU ports,
    the SPU runtime config, C(spu_protocols) (the party's C(sf_spu_protocols) - the SPU protocols a task may choose),
    the broker, and C(tls) - V(null) when TLS between parties is off (C(sf_tls_enabled)),
    else the directory of the party's TLS files and the SPU link's C(verify_depth).
  - The worker turns C(parties) and a job's slot into the job's RayFed C(cluster_config) and SPU C(cluster_def) with
    the plan's own code (module_utils C(_topology), shipped in the worker package), so they are exactly the plan's
    for that slot.
options:
  _input:
    description: The deployment plan (the C(sf_plan) fact).
    type: dict
    required: true
  host:
    description: Inventory host name.
    type: str
    required: true
  settings:
    description:
      - What the plan does not hold - C(queue), C(data_dir), C(concurrency), C(peer_timeout_s), C(job_timeout_s),
        C(log_level), C(redis_url) (an external Redis, without its password; empty = the party's own Redis),
        C(redis_user) (the user in the own Redis' URL), C(redis_password_file) (where the password is; empty =
        none), and C(tls_dir) (the TLS files' directory as the container sees it).
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: Render the worker configuration
  ansible.builtin.copy:
    content: "{{ sf_plan | sfops.secretflow.worker_config(inventory_hostname, settings) | to_nice_yaml }}"
    dest: /etc/sfops/worker.yml
    mode: "0640"
  vars:
    settings: {queue: secretflow_queue, data_dir: /data, concurrency: 2, peer_timeout_s: 120, job_timeout_s: 3600,
               log_level: info, redis_user: sfworker, redis_password_file: /etc/sfops/redis.pw,
               tls_dir: /etc/sfops/tls}
'''

RETURN = r'''
_value:
  description: The worker configuration.
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils._plan import worker_config


def _worker_config(plan, host, settings):
    try:
        return worker_config(plan, host, settings)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('worker_config(%s): %s' % (host, to_native(exc)))


class FilterModule(object):
    def filters(self):
        return {'worker_config': _worker_config}
