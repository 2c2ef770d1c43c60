# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: image_content_hash
short_description: Content hash of a container image's inputs, for use as its tag
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Returns the first O(length) hex digits of one sha256 over literal texts (for example the rendered Dockerfile and
    the base image reference and ID) and over files and directory trees read on the controller.
  - Directory trees are walked in sorted order; files and directories whose name matches an O(exclude) pattern are
    skipped. Each item is framed by its label (or label/relative path) and length, and labels are sorted, so the
    result does not depend on dictionary order.
  - Runs on the controller, like every filter; paths are controller paths.
options:
  _input:
    description: Literal texts, label to string.
    type: dict
    required: true
  paths:
    description: Files or directories on the controller, label to path. C(~) is expanded.
    type: dict
    default: {}
  exclude:
    description: Shell-style patterns matched against each file or directory name below a directory in O(paths).
    type: list
    elements: str
    default: [tests, __pycache__, build, dist, '*.egg-info', '*.pyc', '*.pyo', .pytest_cache, .mypy_cache, .git]
  length:
    description: Number of hex digits returned (1-64).
    type: int
    default: 12
'''

EXAMPLES = r'''
- name: Tag the worker image by its content
  ansible.builtin.set_fact:
    worker_tag: >-
      {{ {'Dockerfile': lookup('ansible.builtin.template', 'Dockerfile.j2'), 'base': 'sfops/debian-base@sha256:...'}
         | sfops.secretflow.image_content_hash(paths={'worker': playbook_dir ~ '/../worker'}) }}
'''

RETURN = r'''
_value:
  description: Lowercase hex digits of the sha256.
  type: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils._image_hash import DEFAULT_EXCLUDE, content_hash


def _image_content_hash(texts, paths=None, exclude=None, length=12):
    if not isinstance(texts, dict):
        raise AnsibleFilterError('image_content_hash: input must be a dict of label -> text, got %s'
                                 % type(texts).__name__)
    try:
        return content_hash(texts=dict(texts), paths=dict(paths or {}),
                            exclude=tuple(exclude) if exclude is not None else DEFAULT_EXCLUDE, length=length)
    except (TypeError, ValueError, OSError) as exc:
        raise AnsibleFilterError('image_content_hash: %s' % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {'image_content_hash': _image_content_hash}
