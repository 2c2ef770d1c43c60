# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: redis_password_problems
short_description: What is wrong with a party's Redis password, naming the party, the host and the variable
version_added: 0.1.0
author: sfops.secretflow contributors (@sfops)
description:
  - At least 16 and at most 512 characters, printable ASCII without spaces - the password goes into a file the
    worker reads back, percent-quoted into the worker's Redis URL and into the healthcheck's C(REDISCLI_AUTH); a
    newline, a control character or a space would break one of them.
  - The messages never quote the password. An empty list when it is fine.
options:
  _input:
    description: The password.
    type: str
    required: true
  party:
    description: The party, named in each problem.
    type: str
  host:
    description: The inventory host, named in each problem.
    type: str
  var:
    description: The variable named in each problem.
    type: str
    default: node_redis_password
'''

EXAMPLES = r'''
- name: Check the Redis password before any host is touched
  ansible.builtin.assert:
    that: _problems | length == 0
    fail_msg: "{{ _problems | join('; ') }}"
  vars:
    _problems: "{{ node_redis_password | sfops.secretflow.redis_password_problems(party='alice', host='alice-1') }}"
'''

RETURN = r'''
_value:
  description: One message per problem.
  type: list
  elements: str
'''

from ansible_collections.sfops.secretflow.plugins.module_utils import _redis as redislib


def _redis_password_problems(password, party=None, host=None, var=redislib.PASSWORD_VAR):
    return redislib.password_problems(password, party=party, host=host, var=var)


class FilterModule(object):
    def filters(self):
        return {'redis_password_problems': _redis_password_problems}
