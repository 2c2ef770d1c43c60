# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The party's Redis: its password rule and the ACL of the worker's user.

The node role writes the password once, to a file (``redis.pw``, 0600, read by the worker and the healthcheck),
and puts only its SHA-256 into ``redis.conf`` (``user sfworker on #<sha256>``): the configuration never holds the
password, and no password character can end the line and inject a directive. The ``default`` user is disabled, so
every client authenticates as ``sfworker``, which may run only what the worker uses (``WORKER_COMMANDS``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

try:
    from urllib.parse import unquote, urlsplit, urlunsplit
except ImportError:  # pragma: no cover - Python 2 (ansible-test's controller sanity only)
    from urllib import unquote
    from urlparse import urlsplit, urlunsplit

from ansible_collections.sfops.secretflow.plugins.module_utils._messages import where

# The user the party's workers (and the healthcheck, and `sfworker submit`) authenticate as.
WORKER_USER = 'sfworker'

PASSWORD_VAR = 'node_redis_password'
MIN_LENGTH = 16
MAX_LENGTH = 512
# Printable ASCII without space: the password goes into a file read back with strip(), into the worker's Redis URL
# (percent-quoted there) and into the REDISCLI_AUTH environment of the healthcheck; whitespace, control characters
# (a newline) or non-ASCII would break one of them or be ambiguous.
PASSWORD_CHARS = re.compile(r'^[!-~]+$')

# What the worker's user may run, and why (read from kombu 5.x's Redis transport, Celery 5.x's Redis result
# backend, redis-py's client and the worker's own code: sfworker/status.py, slots.py, health.py). Each is proven
# needed by tests/unit/test_redis_acl.py, which runs a real Celery worker against this ACL and requires an empty
# ACL LOG. Everything else is denied - notably CONFIG, MODULE, DEBUG, FLUSHALL, FLUSHDB, SHUTDOWN, ACL, KEYS, SCAN,
# INFO, MONITOR, CLIENT KILL, SAVE, REPLICAOF, MIGRATE, RESTORE, FUNCTION, SORT.
WORKER_COMMANDS = (
    # connection: health checks of redis-py and the container, db selection from the URL
    'ping', 'select', 'echo',
    # kombu: the queues (lists, one per priority), BRPOP to consume, LPUSH to publish
    'brpop', 'lpush', 'rpush', 'rpop', 'llen', 'ltrim', 'lrange',
    # kombu: unacked messages (hash + sorted-set index) and their restore; exchange bindings (sets)
    'hset', 'hget', 'hdel', 'zadd', 'zrem', 'zrange', 'zrangebyscore', 'zcount', 'sadd', 'srem', 'smembers',
    # keys: results (Celery), slot locks and status lists (worker), kombu's mutex and queue expiry
    'get', 'mget', 'set', 'setex', 'del', 'exists', 'expire', 'pexpire', 'pttl', 'incr',
    # kombu's binding-table scripts read the server clock
    'time',
    # pipelines and kombu's WATCH-based restore transaction
    'multi', 'exec', 'discard', 'watch', 'unwatch',
    # results pushed to waiting clients, kombu's fanout, the worker's status events
    'publish', 'subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe',
    # the worker's slot locks (sfworker/slots.py) and redis-py's Lock (kombu's unacked mutex): Lua scripts whose
    # inner commands are checked against this same list
    'eval', 'evalsha', 'script|load', 'script|exists',
)

# Dangerous commands that must stay denied (the unit tests check each against WORKER_COMMANDS and a real server).
DENIED_EXAMPLES = ('config', 'module', 'debug', 'flushall', 'flushdb', 'shutdown', 'acl', 'keys', 'scan', 'info',
                   'monitor', 'save', 'bgsave', 'replicaof', 'slaveof', 'migrate', 'restore', 'client', 'function',
                   'sort', 'swapdb', 'script|flush', 'script|kill')


def password_problems(password, party=None, host=None, var=PASSWORD_VAR):
    """Problems of a Redis password (empty list when fine); never quotes the password itself."""
    prefix = (where(party, host) + ': ') if party is not None or host is not None else ''
    if not isinstance(password, str):
        return ['%s%s must be a string, got %s' % (prefix, var, type(password).__name__)]
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append('%s%s is shorter than %d characters (%d); leave it empty to have a strong one generated'
                        % (prefix, var, MIN_LENGTH, len(password)))
    elif len(password) > MAX_LENGTH:
        problems.append('%s%s is longer than %d characters' % (prefix, var, MAX_LENGTH))
    if password and not PASSWORD_CHARS.match(password):
        bad = sorted(set(ch for ch in password if not PASSWORD_CHARS.match(ch)))
        problems.append('%s%s may contain only printable ASCII characters without spaces (it has %s)'
                        % (prefix, var, ', '.join(_describe(ch) for ch in bad)))
    return problems


def _describe(ch):
    names = {'\n': 'a newline', '\r': 'a carriage return', '\t': 'a tab', ' ': 'a space'}
    return names.get(ch, 'U+%04X' % ord(ch))


def password_sha256(password):
    """The SHA-256 (hex) Redis compares an AUTH password with (ACL ``#<hash>``)."""
    return hashlib.sha256(password.encode('utf-8')).hexdigest()


def acl_lines(password, user=WORKER_USER, commands=WORKER_COMMANDS):
    """redis.conf ``user`` directives: ``default`` disabled, ``user`` allowed only ``commands`` on every key and
    channel, authenticated by the password's SHA-256. Raises ValueError for a password with problems."""
    problems = password_problems(password)
    if problems:
        raise ValueError('; '.join(problems))
    return [
        # off, no password, no command: nobody can authenticate as default; an unauthenticated client gets NOAUTH
        'user default reset',
        'user %s reset on #%s ~* &* -@all %s' % (user, password_sha256(password),
                                                 ' '.join('+' + c for c in commands)),
    ]


def split_url(url):
    """``{url, password}``: a Redis URL without its password (the user, host, port and db stay), and the password,
    percent-decoded (None when the URL has none). The node role writes the password to a file instead of the worker's
    configuration. Raises ValueError for a URL that is not redis:// or rediss://."""
    parts = urlsplit(url)
    if parts.scheme not in ('redis', 'rediss'):
        raise ValueError('must be a redis:// or rediss:// URL')
    password = parts.password
    if password is None:
        return {'url': url, 'password': None}
    host = parts.hostname or ''
    if ':' in host:
        host = '[%s]' % host
    netloc = (parts.username + '@' if parts.username else '') + host + (':%d' % parts.port if parts.port else '')
    return {'url': urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)),
            'password': unquote(password)}
