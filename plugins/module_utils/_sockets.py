# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Listening TCP sockets and the processes that hold them, read from /proc (Linux, standard library only).

* :func:`listening_sockets` parses ``net/tcp`` and ``net/tcp6`` (state ``0A`` = LISTEN);
* :func:`socket_pids` maps socket inodes to pids by reading the ``fd`` links (``socket:[inode]``) of every process;
* :func:`process_info` gives the name (``comm``), command line and Docker container id (from ``cgroup``) of a pid;
* :func:`process_stat` gives the state and start time of a pid (to tell a pid from a later process that reuses it);
* :func:`port_holders` puts them together: for each busy port, who listens on it.

Every function takes ``proc_root`` (default ``/proc``) so tests can point it at a fake tree. Processes that cannot
be read (they exited, or belong to another user and we are not root) are skipped; a listening socket whose owner
is not found is still reported, with ``pid`` None (kernel sockets, sockets of other users, another pid namespace).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import os
import re
import socket
import sys

TCP_LISTEN = '0A'
NET_FILES = (('tcp', socket.AF_INET), ('tcp6', socket.AF_INET6))

_SOCKET_LINK_RE = re.compile(r'^socket:\[(\d+)\]$')
_HEX64 = r'[0-9a-f]{64}'
# Docker's own markers: cgroup v1 ``/docker/<id>``, systemd driver ``docker-<id>.scope`` (also nested below
# kubepods or another container's cgroup).
_DOCKER_ID_RE = re.compile(r'(?:/docker/|docker-)(' + _HEX64 + r')(?:\.scope)?(?=/|$)')
# Any other 64-hex path component (containerd/CRI ``cri-containerd-<id>.scope``, kubepods ``.../<id>``).
_ANY_ID_RE = re.compile(r'(?:^|/|-)(' + _HEX64 + r')(?:\.scope)?(?=/|$)')


def _read(path, mode='r'):
    with open(path, mode) as f:
        return f.read()


def decode_address(hexaddr, family=None):
    """The text form of an address of ``/proc/net/tcp{,6}`` (the kernel prints each 32-bit word in host order)."""
    raw = binascii.unhexlify(hexaddr)
    if family is None:
        family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    if sys.byteorder == 'little':
        raw = b''.join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, raw)


def listening_sockets(proc_root='/proc'):
    """Every listening TCP socket of this network namespace.

    Returns a list of dicts: ``proto`` ('tcp' or 'tcp6'), ``address`` (text), ``port`` (int), ``inode`` (int),
    ``uid`` (int). A missing ``net/tcp6`` (IPv6 disabled) is not an error.
    """
    out = []
    for proto, family in NET_FILES:
        try:
            text = _read(os.path.join(proc_root, 'net', proto))
        except (IOError, OSError):
            continue
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or fields[3] != TCP_LISTEN:
                continue
            try:
                hexaddr, hexport = fields[1].split(':')
                out.append({
                    'proto': proto,
                    'address': decode_address(hexaddr, family),
                    'port': int(hexport, 16),
                    'uid': int(fields[7]),
                    'inode': int(fields[9]),
                })
            except (ValueError, TypeError, binascii.Error):
                continue
    return out


def _pids(proc_root):
    try:
        names = os.listdir(proc_root)
    except OSError:
        return []
    return sorted(int(n) for n in names if n.isdigit())


def socket_pids(inodes=None, proc_root='/proc'):
    """``{inode: [pid, ...]}`` for the given socket inodes (all sockets if None), pids in ascending order.

    An inode held by no readable process is absent from the result.
    """
    wanted = None if inodes is None else set(inodes)
    out = {}
    for pid in _pids(proc_root):
        fd_dir = os.path.join(proc_root, str(pid), 'fd')
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # exited, or not ours to read
            continue
        seen = set()
        for fd in fds:
            try:
                link = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            m = _SOCKET_LINK_RE.match(link)
            if not m:
                continue
            inode = int(m.group(1))
            if (wanted is None or inode in wanted) and inode not in seen:
                seen.add(inode)
                out.setdefault(inode, []).append(pid)
    return out


def container_ids_from_cgroup(text):
    """Every container id in a ``/proc/<pid>/cgroup`` text, outermost first (nested containers give several)."""
    ids = []
    for line in (text or '').splitlines():
        path = line.split(':', 2)[-1]
        found = _DOCKER_ID_RE.findall(path) or _ANY_ID_RE.findall(path)
        for cid in found:
            if cid not in ids:
                ids.append(cid)
    return ids


def container_id_from_cgroup(text):
    """The id of the (innermost) container of a ``/proc/<pid>/cgroup`` text, or None."""
    ids = container_ids_from_cgroup(text)
    return ids[-1] if ids else None


def process_info(pid, proc_root='/proc'):
    """``pid``, ``process`` (comm), ``cmdline`` (str), ``container_id`` and ``container_ids`` of a process.

    Values that cannot be read are None (``container_ids``: empty list).
    """
    info = {'pid': pid, 'process': None, 'cmdline': None, 'container_id': None, 'container_ids': []}
    if pid is None:
        return info
    base = os.path.join(proc_root, str(pid))
    try:
        info['process'] = _read(os.path.join(base, 'comm')).strip() or None
    except (IOError, OSError):
        pass
    try:
        raw = _read(os.path.join(base, 'cmdline'), 'rb')
        args = [a.decode('utf-8', 'replace') for a in raw.split(b'\0') if a]
        info['cmdline'] = ' '.join(args) if args else None
    except (IOError, OSError):
        pass
    try:
        ids = container_ids_from_cgroup(_read(os.path.join(base, 'cgroup')))
        info['container_ids'] = ids
        info['container_id'] = ids[-1] if ids else None
    except (IOError, OSError):
        pass
    return info


def process_stat(pid, proc_root='/proc'):
    """(state letter, start time in clock ticks) of a pid, from ``stat``; None when it does not exist."""
    try:
        text = _read(os.path.join(proc_root, str(pid), 'stat'))
    except (IOError, OSError):
        return None
    rest = text[text.rfind(')') + 2:].split()
    try:
        return rest[0], int(rest[19])
    except (IndexError, ValueError):
        return None


def port_holders(ports, proc_root='/proc'):
    """``{port: [holder, ...]}`` for each of ``ports`` that has a listening socket (free ports are absent).

    A holder is a dict: ``port``, ``address`` (the socket's local address), ``proto``, ``inode``, ``uid``,
    ``pid``, ``process``, ``cmdline``, ``container_id``, ``container_ids``. A socket shared by several processes
    (inherited after fork) gives one holder per process; a socket whose process is not found gives one holder with
    ``pid``, ``process``, ``cmdline`` and ``container_id`` None.
    """
    wanted = set(int(p) for p in ports)
    socks = [s for s in listening_sockets(proc_root) if s['port'] in wanted]
    if not socks:
        return {}
    owners = socket_pids([s['inode'] for s in socks], proc_root)
    infos = {}
    out = {}
    for sock in sorted(socks, key=lambda s: (s['port'], s['proto'], s['address'], s['inode'])):
        for pid in owners.get(sock['inode']) or [None]:
            if pid not in infos:
                infos[pid] = process_info(pid, proc_root)
            holder = dict((k, sock[k]) for k in ('port', 'address', 'proto', 'inode', 'uid'))
            holder.update(infos[pid])
            out.setdefault(sock['port'], []).append(holder)
    return out
