# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: redis_url_split
short_description: A Redis URL without its password, and the password
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - The node role keeps the password of an external Redis (C(node_redis_url)) out of the worker's configuration and
    the logs - it goes into a 0600 file the worker reads (C(redis_password_file)); the URL keeps the user, host,
    port and database.
options:
  _input:
    description: A redis:// or rediss:// URL.
    type: str
    required: true
'''

EXAMPLES = r'''
- name: The URL the worker gets
  ansible.builtin.debug:
    msg: "{{ (node_redis_url | sfops.secretflow.redis_url_split).url }}"
  # redis://app:s3cret@redis.internal:6379/2 -> redis://app@redis.internal:6379/2
'''

RETURN = r'''
_value:
  description: The parts.
  type: dict
  contains:
    url:
      description: The URL without the password.
      type: str
    password:
      description: The password, percent-decoded; none when the URL has none.
      type: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils import _redis as redislib


def _redis_url_split(url):
    try:
        return redislib.split_url(url)
    except ValueError as exc:
        # never the URL itself: it may carry the password
        raise AnsibleFilterError('redis_url_split: node_redis_url %s' % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {'redis_url_split': _redis_url_split}
