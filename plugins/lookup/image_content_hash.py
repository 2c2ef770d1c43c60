# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: image_content_hash
short_description: Content hash of a container image's inputs on the controller, for use as its tag
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Returns the first O(length) hex digits of one sha256 over literal texts (for example the rendered Dockerfile and
    the base image reference and ID) and over files and directory trees read on the controller.
  - Directory trees are walked in sorted order; files and directories whose name matches an O(exclude) pattern are
    skipped. Each item is framed by its label (or label/relative path) and length, and labels are sorted, so the
    result does not depend on dictionary order.
  - A lookup, like every lookup it runs on the controller and reads controller paths; it takes no terms. The role
    C(sfops.secretflow.image) tags the worker image with it.
options:
  texts:
    description: Literal texts, label to string (numbers are hashed as their decimal text, null as empty).
    type: dict
    default: {}
  paths:
    description: Files or directories on the controller, label to path. C(~) is expanded; relative paths are relative
      to the current directory of C(ansible-playbook).
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
notes:
  - The logic lives in the collection's C(plugins/module_utils/_image_hash.py).
'''

EXAMPLES = r'''
- name: Tag the worker image by its content
  ansible.builtin.set_fact:
    worker_tag: >-
      {{ lookup('sfops.secretflow.image_content_hash',
                texts={'Dockerfile': lookup('ansible.builtin.template', 'Dockerfile.j2'),
                       'base': 'sfops/debian-base@sha256:...'},
                paths={'worker': playbook_dir ~ '/../worker'}) }}

- name: Hash a single file, 16 digits
  ansible.builtin.debug:
    msg: "{{ lookup('sfops.secretflow.image_content_hash', paths={'requirements': '/srv/build/requirements.txt'}, length=16) }}"
'''

RETURN = r'''
_raw:
  description: One element, the lowercase hex digits of the sha256.
  type: list
  elements: str
'''

from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.lookup import LookupBase

from ansible_collections.sfops.secretflow.plugins.module_utils._image_hash import content_hash


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        if terms:
            raise AnsibleLookupError('image_content_hash takes no terms: pass texts=... and paths=...')
        self.set_options(var_options=variables, direct=kwargs)
        try:
            digest = content_hash(texts=dict(self.get_option('texts') or {}),
                                  paths=dict(self.get_option('paths') or {}),
                                  exclude=tuple(self.get_option('exclude')),
                                  length=self.get_option('length'))
        except (TypeError, ValueError, OSError) as exc:
            raise AnsibleLookupError('image_content_hash: %s' % to_native(exc))
        return [digest]
