# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network reachability checks: TCP probes with expectations, and temporary TCP listeners (standard library only).

Probing (``port_reachable``):

* :func:`probe` resolves a name first (a failure is error ``dns`` and takes no part in the connect time), then
  connects with a timeout that applies to the connect itself, and classifies what went wrong: ``refused``,
  ``timeout``, ``no_route``, ``dns`` or ``other``. With ``banner`` it also reads what the server sends first.
* :func:`probe_all` probes many targets in a thread pool, keeps their order and checks each expectation
  (``open``, ``closed`` or ``answers``), returning the results and one human message per unmet expectation.

Listening (``port_listener``):

* :func:`busy_ports` says which ports cannot be bound on an address and which processes hold them;
* :func:`start_listeners` binds every port first (so a conflict is reported before anything starts), then hands
  the sockets to a detached daemon that answers each connection with a banner line and exits by itself after
  ``lifetime`` seconds or on SIGTERM; its pid, start time and a random token are kept in a JSON state file;
* :func:`stop_listeners` stops the daemon of a state file after checking the pid is still that daemon.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import errno
import gc
import ipaddress
import json
import os
import re
import select
import selectors
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

try:
    import resource
except ImportError:  # pragma: no cover - not Unix
    resource = None

try:
    import ctypes
    import ctypes.util
except ImportError:  # pragma: no cover
    ctypes = None

from ansible_collections.sfops.secretflow.plugins.module_utils import _sockets as sockets

EXPECTATIONS = ('open', 'closed', 'answers')
ERROR_KINDS = ('refused', 'timeout', 'no_route', 'dns', 'other')
DEFAULT_PARALLEL = 32
BANNER_MAX = 256
LISTEN_BACKLOG = 64
MAX_LIFETIME = 86400
DAEMON_NAME = 'sfops-listener'

_RANGE_RE = re.compile(r'^(\d+)\s*-\s*(\d+)$')


# --------------------------------------------------------------------------------------------------------- ports

def _check_port(port, text):
    if not 1 <= port <= 65535:
        raise ValueError('port %s: must be between 1 and 65535' % text)
    return port


def _parse_port_item(item, out):
    if isinstance(item, (list, tuple, set, frozenset)):
        for sub in item:
            _parse_port_item(sub, out)
        return
    if isinstance(item, bool):
        raise ValueError('invalid port %r: expected a number or a range "first-last"' % (item,))
    if isinstance(item, int):
        out.add(_check_port(item, str(item)))
        return
    if isinstance(item, float):
        if item.is_integer():
            out.add(_check_port(int(item), repr(item)))
            return
        raise ValueError('invalid port %r: not a whole number' % (item,))
    if not isinstance(item, str):
        raise ValueError('invalid port %r: expected a number or a range "first-last"' % (item,))
    text = item.strip()
    if ',' in text:
        for part in text.split(','):
            _parse_port_item(part, out)
        return
    if text.isdigit():
        out.add(_check_port(int(text), repr(item)))
        return
    m = _RANGE_RE.match(text)
    if not m:
        raise ValueError('invalid port %r: expected a number or a range "first-last"' % (item,))
    first, last = int(m.group(1)), int(m.group(2))
    _check_port(first, 'range %r' % item)
    _check_port(last, 'range %r' % item)
    if first > last:
        raise ValueError('port range %r: the first port (%d) is greater than the last (%d)' % (item, first, last))
    out.update(range(first, last + 1))


def parse_ports(spec):
    """Sorted unique ports of ``spec``: an int, a string ``"17000"``, ``"17000-17199"`` or ``"1,2"``, or a list
    of them. Raises ValueError naming the bad item (not a number, out of 1-65535, first > last, nothing given)."""
    out = set()
    _parse_port_item(spec, out)
    if not out:
        raise ValueError('no ports given')
    return sorted(out)


# -------------------------------------------------------------------------------------------------------- probes

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
            'banner': target.get('banner')}


def probe_all(targets, timeout, parallel=DEFAULT_PARALLEL, source=None):
    """Probe every target (``host``, ``port``, ``expect``, optional ``label`` and ``banner``) with up to
    ``parallel`` probes at a time.

    Returns ``(results, failures)``: ``results`` in the order of ``targets``, each a :func:`probe` result plus
    ``label``, ``expect`` and ``ok``; ``failures`` the messages of the unmet expectations (see
    :func:`failure_message`), naming ``source`` (default: this host's name).
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
        out = {'host': res['host'], 'port': res['port'], 'label': target['label'], 'expect': target['expect']}
        out.update((k, v) for k, v in res.items() if k not in out)
        out['ok'] = expectation_met(res, target['expect'])
        if not out['ok']:
            failures.append(failure_message(source, target, res, timeout))
        results.append(out)
    return results, failures


# ----------------------------------------------------------------------------------------------------- listeners

class ListenerError(Exception):
    """A listener set could not be started or stopped; ``busy`` lists the ports in use (see :func:`busy_ports`)."""

    def __init__(self, message, busy=None):
        super(ListenerError, self).__init__(message)
        self.busy = busy or []


class _Stop(Exception):
    pass


def _ip(address):
    try:
        return ipaddress.ip_address(str(address).split('%', 1)[0])
    except ValueError:
        raise ValueError('address %r is not an IP address (use 0.0.0.0, :: or an address of this host)' % (address,))


def _bind(address, port):
    """A TCP socket bound to address:port with SO_REUSEADDR (``::`` also takes IPv4); raises OSError."""
    ip = _ip(address)
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and ip.is_unspecified and hasattr(socket, 'IPV6_V6ONLY'):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((address, port))
    except Exception:
        sock.close()
        raise
    return sock


def _conflicts(bind_address, holder_address):
    """Whether a socket listening on ``holder_address`` keeps a bind on ``bind_address`` (same port) from working."""
    try:
        b, h = _ip(bind_address), _ip(holder_address)
    except ValueError:
        return True
    if h.version == 6 and h.ipv4_mapped is not None:
        h = h.ipv4_mapped
    if b.version != h.version:
        return (b.version == 6 and b.is_unspecified) or (h.version == 6 and h.is_unspecified)
    return b.is_unspecified or h.is_unspecified or b == h


def _holders_of(port, address, error, holders, ignore_pids):
    relevant = [h for h in holders if _conflicts(address, h['address'])] or list(holders)
    if ignore_pids and relevant and all(h['pid'] in ignore_pids for h in relevant):
        return None
    relevant = [h for h in relevant if h['pid'] not in ignore_pids]
    return {'port': port, 'address': address, 'error': error, 'holders': relevant}


def describe_holder(holder):
    """``port 16380 on 0.0.0.0 is in use by pid 123 (raylet) in container 0123456789ab``."""
    text = 'port %s on %s is in use by ' % (holder['port'], holder['address'])
    if holder.get('pid') is None:
        return text + 'a process whose pid is not visible (another user, another pid namespace or a kernel socket)'
    text += 'pid %s' % holder['pid']
    if holder.get('process'):
        text += ' (%s)' % holder['process']
    if holder.get('container_id'):
        text += ' in container %s' % holder['container_id'][:12]
    return text


def describe_busy(entry):
    """One line for a :func:`busy_ports` entry, naming every process that holds the port."""
    if not entry['holders']:
        return 'port %s on %s is in use (%s; no listening socket found, e.g. a connection uses it)' % (
            entry['port'], entry['address'], entry['error'])
    texts = []
    for holder in entry['holders']:
        text = describe_holder(holder)
        if text not in texts:
            texts.append(text)
    return '; '.join(texts)


def busy_ports(ports, address, ignore_pids=(), proc_root='/proc'):
    """The ports of ``ports`` that cannot be bound on ``address`` because something uses them.

    Each port is bound (and closed at once) to find out. Returns a list, by port, of dicts: ``port``, ``address``
    (the bind address), ``error`` (the bind error), ``holders`` (see :func:`sockets.port_holders`; only those whose
    address conflicts with ``address``; empty when no listening socket was found). Ports held only by a pid of
    ``ignore_pids`` count as free. Other bind errors (permission, address not on this host) raise ListenerError.
    """
    ignore_pids = set(p for p in ignore_pids if p is not None)
    failed = {}
    errors = []
    for port in parse_ports(ports):
        try:
            _bind(address, port).close()
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                failed[port] = str(e.strerror or e)
            else:
                errors.append('cannot bind port %s on %s: [Errno %s] %s' % (port, address, e.errno, e.strerror))
    if errors:
        raise ListenerError('; '.join(errors))
    holders = sockets.port_holders(sorted(failed), proc_root) if failed else {}
    out = []
    for port in sorted(failed):
        entry = _holders_of(port, address, failed[port], holders.get(port, []), ignore_pids)
        if entry is not None:
            out.append(entry)
    return out


def _proc_stat(pid, proc_root='/proc'):
    """(state letter, start time in clock ticks) of a pid, or None when it does not exist."""
    try:
        with open(os.path.join(proc_root, str(pid), 'stat')) as f:
            text = f.read()
    except (IOError, OSError):
        return None
    rest = text[text.rfind(')') + 2:].split()
    try:
        return rest[0], int(rest[19])
    except (IndexError, ValueError):
        return None


def read_state(state_file):
    """The JSON of a state file; None when it does not exist, ``{}`` when it cannot be parsed."""
    try:
        with open(state_file) as f:
            data = json.load(f)
    except (IOError, OSError) as e:
        if e.errno == errno.ENOENT:
            return None
        raise
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def daemon_alive(state, proc_root='/proc'):
    """Whether the daemon of a state dict still runs: its pid exists, is no zombie and started when it says."""
    if not state or not isinstance(state.get('pid'), int) or state['pid'] <= 0:
        return False
    stat = _proc_stat(state['pid'], proc_root)
    if stat is None or stat[0] in ('Z', 'X', 'x'):
        return False
    return stat[1] == state.get('starttime')


def _raise_nofile(needed):
    if resource is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or needed <= soft:
        return
    new = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    except (ValueError, OSError):
        new = soft
    if new < needed:
        raise ListenerError('%d ports need about %d open files, but the limit is %d (ulimit -n)'
                            % (needed - 64, needed, new))


def _set_process_name(name):
    if ctypes is None:
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
        libc.prctl(15, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)  # PR_SET_NAME
    except Exception:  # pragma: no cover - best effort
        pass


def _close_fds(keep):
    try:
        fds = [int(fd) for fd in os.listdir('/proc/self/fd')]
    except OSError:  # pragma: no cover - no /proc
        fds = range(3, os.sysconf('SC_OPEN_MAX') if hasattr(os, 'sysconf') else 1024)
    for fd in fds:
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _write_json(path, data):
    tmp = '%s.%d.tmp' % (path, os.getpid())
    with open(tmp, 'w') as f:
        json.dump(data, f, sort_keys=True)
        f.write('\n')
    os.rename(tmp, path)


def _remove_if_ours(state_file, token):
    try:
        current = read_state(state_file)
        if current is not None and current.get('token') == token:
            os.unlink(state_file)
    except (IOError, OSError):
        pass


def _serve(socks, ready_w, state_file, state, hostname):
    """The daemon (the grandchild): detach from everything, announce itself, answer connections until the end."""
    os.chdir('/')
    os.umask(0o022)
    gc.disable()  # objects of the parent wrap fds closed below; never let a collection close a reused fd number
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if fd != null:
            os.dup2(null, fd)
    keep = set([0, 1, 2, ready_w] + [s.fileno() for s in socks])
    if null not in keep:
        os.close(null)
    _close_fds(keep)

    def on_term(_signum, _frame):
        raise _Stop()

    signal.signal(signal.SIGTERM, on_term)
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    _set_process_name(DAEMON_NAME)

    state = dict(state, pid=os.getpid(), started=time.time())
    stat = _proc_stat(state['pid'])
    state['starttime'] = stat[1] if stat else None
    deadline = time.monotonic() + state['lifetime']
    banners = {}
    sel = selectors.DefaultSelector()
    for sock in socks:
        port = sock.getsockname()[1]
        banners[sock.fileno()] = ('%s %s %d\n' % (state['banner'], hostname, port)).encode('utf-8', 'replace')
        sel.register(sock, selectors.EVENT_READ)
    _write_json(state_file, state)
    os.write(ready_w, ('ok %d\n' % state['pid']).encode())
    os.close(ready_w)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _events in sel.select(min(remaining, 3600)):
                for _i in range(LISTEN_BACKLOG):
                    try:
                        conn, _peer = key.fileobj.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    try:
                        conn.setblocking(False)
                        conn.send(banners[key.fd])
                        conn.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    finally:
                        conn.close()
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for sock in socks:
            try:
                sock.close()
            except OSError:
                pass
        _remove_if_ours(state_file, state['token'])


def _wait_ready(ready_r, timeout):
    data = b''
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        readable, _w, _x = select.select([ready_r], [], [], remaining)
        if not readable:
            continue
        chunk = os.read(ready_r, 4096)
        if not chunk:
            return data.decode('utf-8', 'replace')
        data += chunk


def start_listeners(ports, address, banner, lifetime, state_file, ready_timeout=15.0):
    """Listen on every port of ``ports`` on ``address`` in a detached daemon; returns its state dict.

    All ports are bound (SO_REUSEADDR, backlog 64) before anything else: if one cannot be bound, every socket is
    closed again and ListenerError names each busy port and its holder. Then the process double-forks; the
    daemon (session leader of its own session, stdin/stdout/stderr on /dev/null, every other inherited fd closed)
    writes ``banner hostname port`` to each connection and closes it, and exits after ``lifetime`` seconds or on
    SIGTERM, removing ``state_file``. This function returns once the daemon has written ``state_file`` (JSON:
    pid, ports, address, banner, started, lifetime, starttime, token).
    """
    ports = parse_ports(ports)
    lifetime = int(lifetime)
    if not 1 <= lifetime <= MAX_LIFETIME:
        raise ListenerError('lifetime %d: must be between 1 and %d seconds' % (lifetime, MAX_LIFETIME))
    _ip(address)
    existing = read_state(state_file)
    if existing and daemon_alive(existing):
        raise ListenerError('a listener set already runs from %s (pid %s); stop it first' % (state_file, existing['pid']))
    state_dir = os.path.dirname(os.path.abspath(state_file))
    if not os.path.isdir(state_dir):
        os.makedirs(state_dir, 0o755)
    _raise_nofile(len(ports) + 64)

    socks, busy, errors = [], [], []
    try:
        for port in ports:
            try:
                sock = _bind(address, port)
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    busy.append((port, str(e.strerror or e)))
                else:
                    errors.append('cannot bind port %s on %s: [Errno %s] %s' % (port, address, e.errno, e.strerror))
                continue
            socks.append(sock)
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
    except Exception:
        for sock in socks:
            sock.close()
        raise
    if busy or errors:
        for sock in socks:
            sock.close()
        entries = []
        if busy:
            holders = sockets.port_holders([p for p, _e in busy])
            entries = [_holders_of(port, address, err, holders.get(port, []), ()) for port, err in busy]
        msgs = [describe_busy(e) for e in entries] + errors
        count = len(busy) + len(errors)
        message = 'cannot listen on %d of %d ports on %s: %s' % (count, len(ports), address, '; '.join(msgs))
        raise ListenerError(message, busy=entries)

    state = {'ports': ports, 'address': address, 'banner': banner, 'lifetime': lifetime,
             'token': binascii.hexlify(os.urandom(16)).decode('ascii')}
    hostname = socket.gethostname()
    ready_r, ready_w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        for sock in socks:
            sock.close()
        os.close(ready_r)
        os.close(ready_w)
        raise
    if pid == 0:  # pragma: no cover - runs in the forked processes (tested through the daemon's behaviour)
        code = 1
        try:
            os.close(ready_r)
            os.setsid()
            if os.fork() == 0:
                try:
                    _serve(socks, ready_w, state_file, state, hostname)
                    code = 0
                except BaseException as e:
                    try:
                        os.write(ready_w, ('error %s: %s\n' % (e.__class__.__name__, e)).encode('utf-8', 'replace'))
                    except OSError:
                        pass
            else:
                code = 0
        finally:
            os._exit(code)
    # The parent: the daemon owns the sockets now.
    os.close(ready_w)
    for sock in socks:
        sock.close()
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass
    try:
        answer = _wait_ready(ready_r, ready_timeout)
    finally:
        os.close(ready_r)
    if answer is None:
        raise ListenerError('the listener daemon did not report ready within %s s' % ready_timeout)
    if not answer.startswith('ok '):
        raise ListenerError('the listener daemon failed to start: %s' % (answer.strip() or 'it exited without a word'))
    result = read_state(state_file)
    if not result or result.get('token') != state['token']:
        raise ListenerError('the listener daemon reported ready but %s is not its state file' % state_file)
    result['state_file'] = state_file
    return result


def stop_listeners(state_file, timeout=10.0):
    """Stop the daemon of ``state_file`` (SIGTERM, SIGKILL after ``timeout`` s) and remove the file.

    The pid is signalled only while it is still that daemon (same start time as recorded). A missing file, an
    unreadable file or a daemon that is gone means there is nothing to stop (a stale file is removed). Returns a
    dict: ``stopped`` (bool), ``pid`` and ``ports`` of the state file (None/[] without one).
    """
    state = read_state(state_file)
    out = {'stopped': False, 'pid': None, 'ports': []}
    if state is None:
        return out
    out['pid'] = state.get('pid')
    out['ports'] = state.get('ports') or []
    if daemon_alive(state):
        pid = state['pid']
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.kill(pid, sig)
            except OSError as e:
                if e.errno == errno.ESRCH:
                    break
                raise ListenerError('cannot stop the listener daemon pid %s: %s' % (pid, e.strerror))
            deadline = time.monotonic() + wait
            while daemon_alive(state) and time.monotonic() < deadline:
                time.sleep(0.01)
            if not daemon_alive(state):
                break
        if daemon_alive(state):
            raise ListenerError('the listener daemon pid %s did not stop' % pid)
        out['stopped'] = True
    try:
        os.unlink(state_file)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise
    return out
