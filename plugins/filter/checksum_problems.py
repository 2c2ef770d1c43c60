# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: checksum_problems
short_description: Package files against the sha256 checksums the inventory pins
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Every file needs a valid pin (64 hex digits, optionally C(sha256:)) unless O(allow_unverified); a pin naming a
    file that is not installed is an error (a typo would leave the real file unpinned); with O(actual), every pinned
    file's computed sha256 must equal its pin.
options:
  _input:
    description: The file names to install.
    type: list
    elements: str
    required: true
  expected:
    description: The pins, file name to sha256.
    type: dict
    required: true
  actual:
    description: Computed checksums, file name to sha256; omitted = check only the pins.
    type: dict
  allow_unverified:
    description: A file without a pin is not an error.
    type: bool
    default: false
  variable:
    description: Variable named in the messages.
    type: str
    default: docker_offline_checksums
notes:
  - The logic lives in the collection's C(plugins/module_utils/_supply_chain.py).
'''

EXAMPLES = r'''
- name: Every offline package is pinned
  ansible.builtin.assert:
    that: _problems | length == 0
    fail_msg: "{{ _problems | join('; ') }}"
  vars:
    _problems: "{{ ['docker.io_20.10.24.deb'] | sfops.secretflow.checksum_problems(docker_offline_checksums) }}"
'''

RETURN = r'''
_value:
  description: The problems, one string each; empty = fine.
  type: list
  elements: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils._supply_chain import checksum_problems


def _checksum_problems(files, expected, actual=None, allow_unverified=False, variable='docker_offline_checksums'):
    if not isinstance(expected, dict):
        raise AnsibleFilterError('%s must be a mapping of file name to sha256, got %s' % (variable, type(expected).__name__))
    try:
        return checksum_problems(list(files), dict(expected), None if actual is None else dict(actual),
                                 allow_unverified=bool(allow_unverified), variable=variable)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(to_native(exc))


class FilterModule(object):
    def filters(self):
        return {'checksum_problems': _checksum_problems}
