# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Temporary TCP listener sets (``port_listener``; Linux, standard library only).

* :func:`parse_ports` reads ports given as numbers, strings and ranges;
* :func:`busy_ports` says which ports cannot be bound on an address and which processes hold them (``_sockets.py``
  reads them from ``/proc``); :func:`classify` sorts those holders into allowed ones (the deployment's own
  containers and processes) and the others;
* :func:`start_listeners` binds every port first (so a conflict is reported before anything starts), then hands
  the sockets to a detached daemon (``_daemon.py``) that answers each connection with a banner line and exits by
  itself; :func:`stop_listeners` stops it after checking the pid is still that daemon;
* :func:`run` is what the module does with its parameters: the result it returns, or the failure.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import errno
import ipaddress
import os
import re
import socket

from ansible_collections.sfops.secretflow.plugins.module_utils import _daemon as daemon
from ansible_collections.sfops.secretflow.plugins.module_utils import _sockets as sockets

MAX_LIFETIME = 86400
NAME_RE = re.compile(r'^[A-Za-z0-9_.-]+$')
HEX_RE = re.compile(r'^[0-9a-f]{12,64}$')
_RANGE_RE = re.compile(r'^(\d+)\s*-\s*(\d+)$')


class ListenerError(Exception):
    """A listener set could not be started or stopped; ``busy`` lists the ports in use (see :func:`busy_ports`)."""

    def __init__(self, message, busy=None):
        super(ListenerError, self).__init__(message)
        self.busy = busy or []


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


def start_listeners(ports, address, banner, lifetime, state_file, ready_timeout=15.0):
    """Listen on every port of ``ports`` on ``address`` in a detached daemon; returns its state dict.

    All ports are bound (SO_REUSEADDR, backlog 64) before anything else: if one cannot be bound, every socket is
    closed again and ListenerError names each busy port and its holder. Then the sockets go to the daemon
    (:func:`_daemon.spawn`), which writes ``banner hostname port`` to each connection and closes it, and exits after
    ``lifetime`` seconds or on SIGTERM, removing ``state_file``. This function returns once the daemon has written
    ``state_file`` (JSON: pid, ports, address, banner, started, lifetime, starttime, token).
    """
    ports = parse_ports(ports)
    lifetime = int(lifetime)
    if not 1 <= lifetime <= MAX_LIFETIME:
        raise ListenerError('lifetime %d: must be between 1 and %d seconds' % (lifetime, MAX_LIFETIME))
    _ip(address)
    existing = daemon.read_state(state_file)
    if existing and daemon.alive(existing):
        raise ListenerError('a listener set already runs from %s (pid %s); stop it first'
                            % (state_file, existing['pid']))
    state_dir = os.path.dirname(os.path.abspath(state_file))
    if not os.path.isdir(state_dir):
        os.makedirs(state_dir, 0o755)
    try:
        daemon.raise_nofile(len(ports) + 64)
    except daemon.DaemonError as e:
        raise ListenerError(str(e))

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
            sock.listen(daemon.LISTEN_BACKLOG)
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
    try:
        return daemon.spawn(socks, state, state_file, ready_timeout)
    except daemon.DaemonError as e:
        raise ListenerError(str(e))


def stop_listeners(state_file, timeout=10.0):
    """Stop the daemon of ``state_file`` and remove the file (see :func:`_daemon.stop`).

    Returns a dict: ``stopped`` (bool), ``pid`` and ``ports`` of the state file (None/[] without one).
    """
    try:
        return daemon.stop(state_file, timeout)
    except daemon.DaemonError as e:
        raise ListenerError(str(e))


# ------------------------------------------------------------------------------------------------------- the module

def holder_matches(holder, allowed):
    """Whether a holder (see sockets.port_holders) is one of ``allowed`` (container ids/prefixes or names)."""
    if holder.get('pid') is None:
        return False
    ids = holder.get('container_ids') or ([holder['container_id']] if holder.get('container_id') else [])
    names = set()
    if holder.get('process'):
        names.add(holder['process'])
    if holder.get('cmdline'):
        names.add(os.path.basename(holder['cmdline'].split(' ', 1)[0]))
    for item in allowed:
        item = item.strip()
        if not item:
            continue
        if HEX_RE.match(item.lower()) and any(cid.startswith(item.lower()) for cid in ids):
            return True
        # comm holds at most 15 characters
        if item in names or (len(item) > 15 and holder.get('process') == item[:15]):
            return True
    return False


def classify(busy, allowed):
    """(in_use entries, allowed ports, not allowed busy entries) of busy_ports() output."""
    in_use, held, bad = [], [], []
    for entry in busy:
        by_socket = {}
        for holder in entry['holders']:
            by_socket.setdefault(holder.get('inode'), []).append(holder)
        ok_sockets = set(inode for inode, hs in by_socket.items() if any(holder_matches(h, allowed) for h in hs))
        port_ok = bool(by_socket) and len(ok_sockets) == len(by_socket)
        if not entry['holders']:
            in_use.append({'port': entry['port'], 'address': entry['address'], 'pid': None, 'process': None,
                           'cmdline': None, 'container_id': None, 'allowed': False})
        for holder in entry['holders']:
            in_use.append({'port': entry['port'], 'address': holder['address'], 'pid': holder['pid'],
                           'process': holder['process'], 'cmdline': holder['cmdline'],
                           'container_id': holder['container_id'], 'allowed': holder.get('inode') in ok_sockets})
        if port_ok:
            held.append(entry['port'])
        else:
            bad.append(entry)
    return in_use, held, bad


class _Failed(Exception):
    pass


def _absent(params, check_mode, result, state_file):
    state = daemon.read_state(state_file)
    running = bool(state) and daemon.alive(state)
    result['pid'] = state.get('pid') if running else None
    if check_mode:
        result['msg'] = ('listener set %s runs (pid %s, %d ports); it would be stopped'
                         % (params['name'], result['pid'], len(state.get('ports') or []))
                         if running else 'no listener set %s runs' % params['name'])
        return
    try:
        stopped = stop_listeners(state_file)
    except (ListenerError, OSError) as e:
        raise _Failed(str(e))
    result['stopped'] = stopped['stopped']
    result['pid'] = stopped['pid'] if stopped['stopped'] else None
    result['msg'] = ('stopped listener set %s (pid %s)' % (params['name'], stopped['pid'])
                     if stopped['stopped'] else 'no listener set %s runs' % params['name'])


def _present(params, check_mode, result, state_file):
    p = params
    if not p['ports']:
        raise _Failed('ports is required with state=present')
    try:
        ports = parse_ports(p['ports'])
    except ValueError as e:
        raise _Failed('ports: %s' % e)
    if not 1 <= p['lifetime'] <= MAX_LIFETIME:
        raise _Failed('lifetime %d: must be between 1 and %d seconds' % (p['lifetime'], MAX_LIFETIME))
    existing = daemon.read_state(state_file)
    old_pid = existing.get('pid') if existing and daemon.alive(existing) else None
    try:
        if old_pid is not None and not check_mode:
            stop_listeners(state_file)
        # In check mode, the running set of this name would be stopped first: its ports count as free.
        busy = busy_ports(ports, p['address'], ignore_pids=[old_pid] if check_mode else [])
    except ValueError as e:
        raise _Failed('address: %s' % e)
    except (ListenerError, OSError) as e:
        raise _Failed(str(e))

    in_use, held, bad = classify(busy, p['allowed_holders'] or [])
    result['in_use'] = in_use
    result['held_by_deployment'] = held
    busy_set = set(entry['port'] for entry in busy)
    result['free'] = [port for port in ports if port not in busy_set]
    if bad and p['in_use'] == 'fail':
        raise _Failed('%d of %d ports are in use on %s: %s' % (
            len(bad), len(ports), p['address'], '; '.join(describe_busy(e) for e in bad)))
    result['not_listened'] = sorted(held + [entry['port'] for entry in bad])
    todo = result['free']
    summary = '%d ports free, %d held by the deployment, %d busy and skipped' % (len(todo), len(held), len(bad))
    if check_mode:
        result['msg'] = 'check mode: %s; nothing started' % summary
        return
    if not todo:
        result['msg'] = '%s; nothing to listen on' % summary
        return
    try:
        started = start_listeners(todo, p['address'], p['banner'], p['lifetime'], state_file)
    except (ListenerError, OSError) as e:
        raise _Failed(str(e))
    result['listening'] = started['ports']
    result['pid'] = started['pid']
    result['msg'] = '%s; listening on %d ports for %d s (pid %s)' % (summary, len(started['ports']), p['lifetime'],
                                                                     started['pid'])


def run(params, check_mode):
    """What ``port_listener`` does with its (validated) parameters: returns its result; on failure the result has
    ``failed`` and ``msg`` (with everything found so far, e.g. the busy ports)."""
    if not NAME_RE.match(params['name']):
        return dict(changed=False, failed=True,
                    msg='name %r: use letters, digits, ".", "_" and "-" only' % params['name'])
    state_file = os.path.join(params['state_dir'], params['name'] + '.json')
    result = dict(changed=False, listening=[], free=[], in_use=[], held_by_deployment=[], not_listened=[], pid=None,
                  stopped=False, state_file=state_file)
    try:
        if params['state'] == 'absent':
            _absent(params, check_mode, result, state_file)
        else:
            _present(params, check_mode, result, state_file)
    except _Failed as e:
        result.update(failed=True, msg=str(e))
    return result
