# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: reachability_listeners
short_description: The ports each server opens temporary listeners on, derived from the deployment plan
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Per managed host, the wildcard address of its node IP's family and every planned port - the ports of the node's
    listeners in the plan (Ray ports, worker range, and on heads GCS, Ray client, Redis, fed and SPU ranges) - for
    M(sfops.secretflow.port_listener).
  - On hosts listed in C(deployed) the Ray worker range is left out (Ray binds those ports at any time).
options:
  _input:
    description: The deployment plan (the C(sf_plan) fact).
    type: dict
    required: true
extends_documentation_fragment:
  - sfops.secretflow.reachability
'''

EXAMPLES = r'''
- name: Listen on every planned port of this host
  sfops.secretflow.port_listener:
    ports: "{{ (sf_plan | sfops.secretflow.reachability_listeners)[inventory_hostname].ports }}"
'''

RETURN = r'''
_value:
  description: Host name -> C(address) and C(ports).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils import _reachability as reachability


def reachability_listeners(plan, options=None):
    try:
        return reachability.listeners(plan, options)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError('reachability_listeners: %s' % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {'reachability_listeners': reachability_listeners}
