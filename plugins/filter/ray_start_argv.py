# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: ray_start_argv
short_description: The complete C(ray start) argument list of one node, from the deployment plan
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Rebuilds the node's C(ray start) arguments from the plan with the plan's own function, so the result is the
    plan's C(ray_start_argv) of the node (head or worker node, every port from the port table, labels, the node's
    C(ray_start_extra_args), C(--block) last).
  - With O(object_store_memory), C(--object-store-memory=<bytes>) comes after the extra arguments and before
    C(--block). The node role sizes it from the server's memory (filter C(sfops.secretflow.memory_sizing)), which the
    plan, computed on the controller without facts, cannot know.
options:
  _input:
    description: The deployment plan (the fact C(sf_plan)).
    type: dict
    required: true
  host:
    description: Inventory name of the node.
    type: str
    required: true
  object_store_memory:
    description: Ray's object store in bytes; omitted = no C(--object-store-memory).
    type: int
'''

EXAMPLES = r'''
- name: The node's ray start command for supervisord
  ansible.builtin.debug:
    msg: >-
      {{ sf_plan | sfops.secretflow.ray_start_argv(inventory_hostname, object_store_memory=536870912)
         | sfops.secretflow.supervisor_command }}
  # ray start --head --port=16380 ... --disable-usage-stats --object-store-memory=536870912 --block
'''

RETURN = r'''
_value:
  description: The argument list, starting with C(ray), C(start).
  type: list
  elements: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils import _plan as planlib


def _ray_start_argv(plan, host, object_store_memory=None):
    if not isinstance(plan, dict) or host not in plan.get('hosts', {}):
        raise AnsibleFilterError("ray_start_argv: host '%s' is not in the deployment plan" % host)
    try:
        return planlib.node_ray_start_argv(plan, host, object_store_memory=object_store_memory)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("ray_start_argv: host '%s': %s" % (host, to_native(exc)))


class FilterModule(object):
    def filters(self):
        return {'ray_start_argv': _ray_start_argv}
