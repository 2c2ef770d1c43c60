# -*- coding: utf-8 -*-
"""module_utils/_redis.py: the Redis password rule, the ACL lines of redis.conf, the URL split (#12)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

import pytest

from ansible_collections.sfops.secretflow.plugins.filter.redis_acl import FilterModule as AclFilter
from ansible_collections.sfops.secretflow.plugins.filter.redis_password_problems import FilterModule as ProblemsFilter
from ansible_collections.sfops.secretflow.plugins.filter.redis_url_split import FilterModule as SplitFilter
from ansible_collections.sfops.secretflow.plugins.module_utils import _redis as redislib

WHERE = "party 'alice', host 'alice-1': "


def problems(password):
    return redislib.password_problems(password, party='alice', host='alice-1')


@pytest.mark.parametrize('password', ['a' * 16, 'Zq3-vT9.x_Kp~w2!rS8$', 'p@ss:w/rd#%&*()[]{}<>?=+;,\'"`^|\\' + 'x' * 8,
                                      'x' * 512])
def test_good_passwords(password):
    assert problems(password) == []


def test_too_short_names_the_length_not_the_password():
    assert problems('s3cr3t') == [WHERE + 'node_redis_password is shorter than 16 characters (6); leave it empty to '
                                          'have a strong one generated']


def test_too_long():
    assert problems('x' * 513) == [WHERE + 'node_redis_password is longer than 512 characters']


@pytest.mark.parametrize('password,what', [
    ('Long-enough-passw\nappendonly no', 'a newline, a space'),
    ('Long-enough-password\r', 'a carriage return'),
    ('Long-enough\tpassword', 'a tab'),
    (u'Long-enough-pass\u00e9word', 'U+00E9'),
    ('Long-enough-pass\x00word', 'U+0000'),
])
def test_whitespace_control_and_non_ascii_are_refused(password, what):
    found = problems(password)
    assert found == [WHERE + 'node_redis_password may contain only printable ASCII characters without spaces (it has '
                     '%s)' % what]
    assert password not in found[0]


def test_not_a_string():
    assert problems(12345678901234567) == [WHERE + 'node_redis_password must be a string, got int']


def test_acl_lines_disable_default_and_hash_the_password():
    password = 'Zq3-vT9.x_Kp~w2!rS8$'
    default, worker = redislib.acl_lines(password)
    assert default == 'user default reset'
    assert worker.startswith('user sfworker reset on #%s ~* &* -@all +' % hashlib.sha256(password.encode()).hexdigest())
    allowed = [word[1:] for word in worker.split() if word.startswith('+')]
    assert allowed == list(redislib.WORKER_COMMANDS)
    assert password not in worker


def test_denied_examples_are_not_in_the_allow_list():
    for command in redislib.DENIED_EXAMPLES:
        assert command not in redislib.WORKER_COMMANDS, command
    assert not [c for c in redislib.WORKER_COMMANDS if c.startswith('@')], 'categories grant too much'


def test_acl_lines_refuse_a_bad_password_without_quoting_it():
    with pytest.raises(ValueError) as err:
        redislib.acl_lines('short\n')
    assert 'short\n' not in str(err.value)


def test_filters():
    assert AclFilter().filters()['redis_acl']('a' * 16, user='w')[1].startswith('user w reset on #')
    assert ProblemsFilter().filters()['redis_password_problems']('x', party='p', host='h') == [
        "party 'p', host 'h': node_redis_password is shorter than 16 characters (1); leave it empty to have a "
        "strong one generated"]
    split = SplitFilter().filters()['redis_url_split']('redis://:pw@h:1/0')
    assert split == {'url': 'redis://h:1/0', 'password': 'pw'}


@pytest.mark.parametrize('url,expected', [
    ('redis://10.0.0.1:6379/0', {'url': 'redis://10.0.0.1:6379/0', 'password': None}),
    ('redis://app@10.0.0.1:6379/0', {'url': 'redis://app@10.0.0.1:6379/0', 'password': None}),
    ('redis://:s3cret@10.0.0.1:6379/0', {'url': 'redis://10.0.0.1:6379/0', 'password': 's3cret'}),
    ('rediss://app:p%40ss%2Fw@redis.internal:6380/2?ssl_cert_reqs=required',
     {'url': 'rediss://app@redis.internal:6380/2?ssl_cert_reqs=required', 'password': 'p@ss/w'}),
    ('redis://:pw@[fd00::1]:6379/0', {'url': 'redis://[fd00::1]:6379/0', 'password': 'pw'}),
    ('redis://:pw@redis.internal/0', {'url': 'redis://redis.internal/0', 'password': 'pw'}),
])
def test_split_url(url, expected):
    assert redislib.split_url(url) == expected


def test_split_url_refuses_other_schemes_without_quoting_the_url():
    with pytest.raises(Exception) as err:
        SplitFilter().filters()['redis_url_split']('http://:s3cret@h/')
    assert 's3cret' not in str(err.value) and 'node_redis_url must be a redis://' in str(err.value)
