# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: redis_acl
short_description: The ACL directives of a party's Redis, for its redis.conf
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - Returns the C(user) lines of C(redis.conf) - the C(default) user disabled (an unauthenticated client gets
    NOAUTH, nobody can log in as it) and the worker's user (C(sfworker)), allowed only the commands Celery's Redis
    transport and result backend and the worker's status events and job slots use, on every key and channel.
  - The user's password appears only as its SHA-256 (C(#<hex>)), so C(redis.conf) never holds it and no character of
    it can end the line and inject a directive.
  - Fails, without quoting the password, when it breaks the rule of the filter C(sfops.secretflow.redis_password_problems).
options:
  _input:
    description: The password of the worker's user (the node role's C(node_redis_password) or the generated one).
    type: str
    required: true
  user:
    description: The worker's user name.
    type: str
    default: sfworker
'''

EXAMPLES = r'''
- name: Render redis.conf
  ansible.builtin.copy:
    content: "{{ (node_redis_password | sfops.secretflow.redis_acl) | join('\n') }}\n"
    dest: /etc/sfops/redis-acl.conf
    mode: "0600"
  no_log: true
'''

RETURN = r'''
_value:
  description: The C(user) directives, one per element.
  type: list
  elements: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.sfops.secretflow.plugins.module_utils import _redis as redislib


def _redis_acl(password, user=redislib.WORKER_USER):
    try:
        return redislib.acl_lines(password, user=user)
    except ValueError as exc:
        raise AnsibleFilterError('redis_acl: %s' % to_native(exc))


class FilterModule(object):
    def filters(self):
        return {'redis_acl': _redis_acl}
