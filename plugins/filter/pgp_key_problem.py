# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: pgp_key_problem
short_description: Whether an OpenPGP public key file is exactly the pinned key
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Computes the v4 fingerprints of the primary keys in the file (ASCII-armoured) in Python, without gpg, and compares
    them with the pinned fingerprint(s). An extra primary key in the file is a mismatch too (apt and rpm would trust it).
options:
  _input:
    description: The key file's content (ASCII-armoured).
    type: str
    required: true
  expected:
    description: The pinned fingerprint or fingerprints (40 hex digits; spaces and a C(0x) prefix are ignored).
    type: raw
    required: true
notes:
  - The logic lives in the collection's C(plugins/module_utils/_supply_chain.py).
'''

EXAMPLES = r'''
- name: Refuse a repository key that is not the pinned one
  ansible.builtin.assert:
    that: (_key.content | sfops.secretflow.pgp_key_problem(docker_ce_gpg_fingerprint)) | length == 0
'''

RETURN = r'''
_value:
  description: Empty when the key matches, else the reason (fingerprints found and expected).
  type: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils._supply_chain import pgp_key_problem


def _pgp_key_problem(key, expected):
    try:
        return pgp_key_problem(key, expected)
    except ValueError as exc:
        raise AnsibleFilterError('pgp_key_problem: %s' % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {'pgp_key_problem': _pgp_key_problem}
