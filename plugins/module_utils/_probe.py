# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""TCP probes with expectations (``port_reachable``; standard library only).

* :func:`probe` resolves a name first (a failure is error ``dns`` and takes no part in the connect time), then
  connects with a timeout that applies to the connect itself, and classifies what went wrong: ``refused``,
  ``timeout``, ``no_route``, ``dns`` or ``other``. With ``banner`` it also reads what the server sends first.
* :func:`probe_all` probes many targets in a thread pool, keeps their order and checks each expectation
  (``open``, ``closed`` or ``answers``), returning the results and one human message per unmet expectation.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import socket
import time
from concurrent.futures import ThreadPoolExecutor

EXPECTATIONS = ('open', 'closed', 'answers')
ERROR_KINDS = ('refused', 'timeout', 'no_route', 'dns', 'other')
DEFAULT_PARALLEL = 32
BANNER_MAX = 256


def _classify(exc, timeout):
    """(kind, detail) of a failed connect."""
    err = getattr(exc, 'errno', None)
    if isinstance(exc, socket.timeout) or err == errno.ETIMEDOUT:
        return 'timeout', 'no answer within %s s' % float(timeout)
    text = getattr(exc, 'strerror', None) or str(exc) or exc.__class__.__name__
    if err == errno.ECONNREFUSED:
        return 'refused', 'connection refused'
    if err in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return 'no_route', '[Errno %d] %s' % (err, text)
    if err is not None:
        return 'other', '[Errno %s] %s' % (err, text)
    return 'other', text


def _read_banner(sock, timeout):
    data = b''
    deadline = time.monotonic() + timeout
    while len(data) < BANNER_MAX and b'\n' not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(BANNER_MAX - len(data))
        except (socket.timeout, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data.decode('utf-8', 'replace')


def probe(host, port, timeout, banner=None):
    """Connect to ``host:port`` once (each resolved address in turn until one connects).

    Returns a dict: ``host``, ``port``, ``address`` (the IP tried last), ``reachable`` (bool), ``latency_ms``
    (connect time, None when not connected), ``error`` (None or one of :data:`ERROR_KINDS`), ``error_detail``
    (str), ``banner_ok`` (None without ``banner``; else whether what the server sent first contains it) and
    ``banner_received`` (what it sent, up to 256 bytes or the first line).
    """
    result = {'host': host, 'port': port, 'address': None, 'reachable': False, 'latency_ms': None,
              'error': None, 'error_detail': '', 'banner_ok': None, 'banner_received': None}
    timeout = float(timeout)
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except (socket.gaierror, socket.herror, UnicodeError, OSError) as e:
        detail = getattr(e, 'strerror', None) or str(e)
        result.update(error='dns', error_detail='cannot resolve %s: %s' % (host, detail))
        return result
    tried = []
    for family, socktype, proto, _canon, sockaddr in infos:
        if sockaddr in tried:
            continue
        tried.append(sockaddr)
        result['address'] = sockaddr[0]
        try:
            sock = socket.socket(family, socktype, proto)
        except OSError as e:
            kind, detail = _classify(e, timeout)
            result.update(error=kind, error_detail=detail)
            continue
        try:
            sock.settimeout(timeout)
            start = time.monotonic()
            try:
                sock.connect(sockaddr)
            except (socket.timeout, OSError) as e:
                kind, detail = _classify(e, timeout)
                result.update(error=kind, error_detail=detail)
                continue
            result.update(reachable=True, error=None, error_detail='',
                          latency_ms=round((time.monotonic() - start) * 1000.0, 3))
            if banner is not None:
                received = _read_banner(sock, timeout)
                result['banner_received'] = received.rstrip('\r\n')
                result['banner_ok'] = banner in received
            return result
        finally:
            sock.close()
    return result


def expectation_met(result, expect):
    """Whether a :func:`probe` result meets ``expect``.

    ``open``: it connected (and sent the banner, if one was asked for); ``closed``: it did not connect and the
    name resolved (a name that does not resolve proves nothing); ``answers``: the address answered - it connected
    or refused the connection (nothing needs to listen, but no firewall may drop the packets).
    """
    if expect == 'open':
        return bool(result['reachable']) and result.get('banner_ok') is not False
    if expect == 'closed':
        return not result['reachable'] and result['error'] != 'dns'
    if expect == 'answers':
        return bool(result['reachable']) or result['error'] == 'refused'
    raise ValueError('expect %r: must be one of %s' % (expect, ', '.join(EXPECTATIONS)))


def _endpoint(host, port):
    return '[%s]:%s' % (host, port) if ':' in str(host) else '%s:%s' % (host, port)


def _got(result, timeout):
    kind = result['error']
    if kind == 'timeout':
        return 'timeout after %s s' % float(timeout)
    if kind == 'refused':
        return 'refused (connection refused)'
    if kind == 'dns':
        return 'dns error (%s)' % result['error_detail']
    return '%s (%s)' % (kind, result['error_detail'])


def failure_message(source, target, result, timeout):
    """The message of an unmet expectation: ``source -> host:port (label): expected ..., got ...``."""
    where = '%s -> %s' % (source, _endpoint(target['host'], target['port']))
    if target.get('label'):
        where += ' (%s)' % target['label']
    expect = target.get('expect', 'open')
    if result['reachable']:
        latency = '%.1f ms' % result['latency_ms']
        if expect == 'closed':
            return '%s: expected closed, but it accepted a connection (%s)' % (where, latency)
        received = result.get('banner_received')
        sent = "sent %r" % received if received else 'sent nothing'
        return '%s: expected open with banner %r, it accepted a connection (%s) but %s' % (
            where, target.get('banner'), latency, sent)
    if result['error'] == 'dns':
        if expect == 'closed':
            return '%s: expected closed, but the name does not resolve, which proves nothing (%s)' % (
                where, result['error_detail'])
        return '%s: expected %s, but the name does not resolve (%s)' % (
            where, expect if expect == 'open' else 'an answer', result['error_detail'])
    if expect == 'answers':
        return '%s: expected an answer (open or refused), got %s' % (where, _got(result, timeout))
    return '%s: expected open, got %s' % (where, _got(result, timeout))


def _normalise_target(target, index):
    if not isinstance(target, dict):
        raise ValueError('target %d: must be a dict with host and port, got %r' % (index, target))
    host = target.get('host')
    if not host or not isinstance(host, str):
        raise ValueError('target %d: host is required (a name or an IP address)' % index)
    port = target.get('port')
    try:
        if isinstance(port, bool):
            raise ValueError()
        port = int(port)
    except (TypeError, ValueError):
        raise ValueError('target %d (%s): port %r is not a number' % (index, host, target.get('port')))
    if not 1 <= port <= 65535:
        raise ValueError('target %d (%s): port %d must be between 1 and 65535' % (index, host, port))
    expect = target.get('expect') or 'open'
    if expect not in EXPECTATIONS:
        raise ValueError('target %d (%s:%d): expect %r must be one of %s'
                         % (index, host, port, expect, ', '.join(EXPECTATIONS)))
    return {'host': host, 'port': port, 'expect': expect, 'label': target.get('label'),
            'banner': target.get('banner'), 'meta': target.get('meta')}


def probe_all(targets, timeout, parallel=DEFAULT_PARALLEL, source=None):
    """Probe every target (``host``, ``port``, ``expect``, optional ``label``, ``banner`` and ``meta``) with up to
    ``parallel`` probes at a time.

    Returns ``(results, failures)``: ``results`` in the order of ``targets``, each a :func:`probe` result plus
    ``label``, ``expect``, ``meta`` (the target's, unchanged) and ``ok``; ``failures`` the messages of the unmet
    expectations (see :func:`failure_message`), naming ``source`` (default: this host's name).
    """
    norm = [_normalise_target(t, i) for i, t in enumerate(targets or [])]
    if source is None:
        source = socket.gethostname()
    if not norm:
        return [], []
    workers = max(1, min(int(parallel), len(norm)))

    def one(target):
        return probe(target['host'], target['port'], timeout, target['banner'])

    with ThreadPoolExecutor(max_workers=workers) as pool:
        raw = list(pool.map(one, norm))
    results, failures = [], []
    for target, res in zip(norm, raw):
        out = {'host': res['host'], 'port': res['port'], 'label': target['label'], 'expect': target['expect'],
               'meta': target['meta']}
        out.update((k, v) for k, v in res.items() if k not in out)
        out['ok'] = expectation_met(res, target['expect'])
        if not out['ok']:
            failures.append(failure_message(source, target, res, timeout))
        results.append(out)
    return results, failures
