# -*- coding: utf-8 -*-
"""Unit tests of module_utils/_redact.py (logs.yml's bundle must carry no secret)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.sfops.secretflow.plugins.filter.redact_secrets import FilterModule
from ansible_collections.sfops.secretflow.plugins.module_utils._redact import REDACTED, redact


def test_a_container_inspect_keeps_everything_but_secrets():
    inspect = {
        'Name': '/sf-node',
        'Config': {'Env': ['SFWORKER_CONFIG=/etc/sfops/worker.yml', 'DB_PASSWORD=hunter2', 'API_TOKEN=abc',
                           'EMPTY_SECRET=', 'PATH=/usr/bin'],
                   'Cmd': ['supervisord', '-c', '/etc/sfops/supervisord.conf'],
                   'Labels': {'sfops.party': 'alice', 'sfops.config-sha256': 'ab12'},
                   'Healthcheck': {'Test': ['CMD-SHELL', 'REDISCLI_AUTH="$(cat /etc/sfops/redis.pw)" redis-cli ping']}},
        'HostConfig': {'Memory': 1024, 'Auth': None},
    }
    out = redact(inspect)
    assert out['Config']['Env'] == ['SFWORKER_CONFIG=/etc/sfops/worker.yml', 'DB_PASSWORD=' + REDACTED,
                                    'API_TOKEN=' + REDACTED, 'EMPTY_SECRET=', 'PATH=/usr/bin']
    assert out['Config']['Cmd'] == inspect['Config']['Cmd'] and out['Config']['Labels'] == inspect['Config']['Labels']
    assert out['Config']['Healthcheck'] == inspect['Config']['Healthcheck']   # names a file, holds no password
    assert out['HostConfig'] == {'Memory': 1024, 'Auth': None} and out['Name'] == '/sf-node'
    assert inspect['Config']['Env'][1] == 'DB_PASSWORD=hunter2'   # a copy: the input is unchanged


@pytest.mark.parametrize('value, expected', [
    ({'password': 's3cret', 'user': 'sfworker'}, {'password': REDACTED, 'user': 'sfworker'}),
    ({'redis_password_file': '/etc/sfops/redis.pw'}, {'redis_password_file': REDACTED}),
    ({'tls': {'key_passphrase': 'x', 'cert': '/c.pem'}}, {'tls': {'key_passphrase': REDACTED, 'cert': '/c.pem'}}),
    ({'secrets': ['a', 'b']}, {'secrets': ['a', 'b']}),   # a list under a secret-ish name is walked, not replaced
    ({'port': 6379, 'auth_enabled': True}, {'port': 6379, 'auth_enabled': True}),
    ('redis://sfworker:p%40ss@10.0.0.1:6380/0', 'redis://sfworker:%s@10.0.0.1:6380/0' % REDACTED),
    ('broker redis://:pw@h:1/0 and http://u:p@x/y', 'broker redis://:%s@h:1/0 and http://u:%s@x/y'
     % (REDACTED, REDACTED)),
    ('redis://sfworker@10.0.0.1:6380/0', 'redis://sfworker@10.0.0.1:6380/0'),
    ('10.0.0.1:19000', '10.0.0.1:19000'),
    (42, 42),
])
def test_values(value, expected):
    assert redact(value) == expected


def test_name_value_strings_count_only_in_an_environment():
    assert redact(['TOKEN=x']) == ['TOKEN=x']   # a list of strings elsewhere: no guessing
    assert redact({'env': ['TOKEN=x']}) == {'env': ['TOKEN=' + REDACTED]}


def test_the_filter_is_the_function():
    assert FilterModule().filters()['redact_secrets'] is redact
