# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: image_base_check
short_description: Whether a build may use its base image reference (digest pinning policy)
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - A reference pinned by digest (C(name@sha256:...), optionally with a tag) is always accepted.
  - A mutable tag is refused when the image would be pulled from a registry (not on the builder) or came from one
    (it has RepoDigests), unless O(allow_mutable_tag); then it gives a warning instead.
  - A tag of an image that exists only locally (built or imported on the builder, no RepoDigests) is accepted.
options:
  _input:
    description: The base image reference.
    type: str
    required: true
  images:
    description: What C(community.docker.docker_image_info) found for the reference on the builder.
    type: list
    elements: dict
    required: true
  allow_mutable_tag:
    description: Accept a mutable tag from a registry (with a warning).
    type: bool
    default: false
  variable:
    description: Variable named in the messages.
    type: str
    default: image_base_image
notes:
  - The logic lives in the collection's C(plugins/module_utils/_supply_chain.py).
'''

EXAMPLES = r'''
- name: Refuse a base image pulled by a mutable tag
  ansible.builtin.assert:
    that: (_check.error | length) == 0
    fail_msg: "{{ _check.error }}"
  vars:
    _check: "{{ 'debian:12' | sfops.secretflow.image_base_check([]) }}"
'''

RETURN = r'''
_value:
  description: C(error) (non-empty = refuse) and C(warning) (non-empty = accepted, say so).
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils._supply_chain import base_image_check


def _image_base_check(ref, images, allow_mutable_tag=False, variable='image_base_image'):
    try:
        return base_image_check(ref, images, allow_mutable_tag=bool(allow_mutable_tag), variable=variable)
    except ValueError as exc:
        raise AnsibleFilterError('%s: %s' % (variable, to_native(exc)))


class FilterModule(object):
    def filters(self):
        return {'image_base_check': _image_base_check}
