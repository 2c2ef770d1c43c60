# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: supervisor_command
short_description: Quote an argument list for a supervisord C(command=) line
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Shell-quotes every argument (JSON arguments end up in single quotes, which supervisord keeps intact) and doubles
    every C(%) (supervisord expands C(%(name)s) expressions before splitting the command).
options:
  _input:
    description: The argument vector, for example a node's C(ray_start_argv) from the deployment plan.
    type: list
    elements: str
    required: true
'''

EXAMPLES = r'''
- name: Render the ray program of supervisord.conf
  ansible.builtin.debug:
    msg: "command={{ ['ray', 'start', '--labels={\"sf_node_id\":\"a\"}', '--block'] | sfops.secretflow.supervisor_command }}"
  # command=ray start '--labels={"sf_node_id":"a"}' --block
'''

RETURN = r'''
_value:
  description: The command line for supervisord.
  type: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils._supervisor import supervisor_command


def _supervisor_command(argv):
    try:
        return supervisor_command(argv)
    except TypeError as exc:
        raise AnsibleFilterError(to_native(exc))


class FilterModule(object):
    def filters(self):
        return {'supervisor_command': _supervisor_command}
