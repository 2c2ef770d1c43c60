# -*- coding: utf-8 -*-
# Copyright (c) sfops.secretflow contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The detached process that serves a listener set, and its state file (Linux, standard library only).

* :func:`spawn` hands already bound sockets to a daemon (double fork, new session, standard streams on
  ``/dev/null``, every other inherited file descriptor closed - it keeps no SSH session open) that answers each
  connection with one banner line and exits by itself after ``lifetime`` seconds or on SIGTERM;
* its pid, start time and a random token are kept in a JSON state file (:func:`read_state`); :func:`alive` says
  whether the pid of a state file is still that daemon (same start time), :func:`stop` stops it.

The ports, their holders and the listener set's rules are in ``_listener.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import gc
import json
import os
import select
import selectors
import signal
import socket
import time

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

LISTEN_BACKLOG = 64
DAEMON_NAME = 'sfops-listener'


class DaemonError(Exception):
    """The daemon could not be started or stopped."""


class _Stop(Exception):
    pass


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


def alive(state, proc_root='/proc'):
    """Whether the daemon of a state dict still runs: its pid exists, is no zombie and started when it says."""
    if not state or not isinstance(state.get('pid'), int) or state['pid'] <= 0:
        return False
    stat = sockets.process_stat(state['pid'], proc_root)
    if stat is None or stat[0] in ('Z', 'X', 'x'):
        return False
    return stat[1] == state.get('starttime')


def raise_nofile(needed):
    """Raise the soft limit of open files to ``needed`` (up to the hard limit); DaemonError if that is too few."""
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
        raise DaemonError('%d ports need about %d open files, but the limit is %d (ulimit -n)'
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
    stat = sockets.process_stat(state['pid'])
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


def spawn(socks, state, state_file, ready_timeout=15.0):
    """Serve the listening, non-blocking ``socks`` in a detached daemon; return its state once it is ready.

    ``state`` (ports, address, banner, lifetime, token) is written to ``state_file`` by the daemon with its pid,
    start time (``started``, and ``starttime`` in clock ticks as ``/proc`` shows it). The caller's copies of the
    sockets are closed: the daemon owns them. Raises DaemonError when it does not report ready.
    """
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
        raise DaemonError('the listener daemon did not report ready within %s s' % ready_timeout)
    if not answer.startswith('ok '):
        raise DaemonError('the listener daemon failed to start: %s' % (answer.strip() or 'it exited without a word'))
    result = read_state(state_file)
    if not result or result.get('token') != state['token']:
        raise DaemonError('the listener daemon reported ready but %s is not its state file' % state_file)
    result['state_file'] = state_file
    return result


def stop(state_file, timeout=10.0):
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
    if alive(state):
        pid = state['pid']
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.kill(pid, sig)
            except OSError as e:
                if e.errno == errno.ESRCH:
                    break
                raise DaemonError('cannot stop the listener daemon pid %s: %s' % (pid, e.strerror))
            deadline = time.monotonic() + wait
            while alive(state) and time.monotonic() < deadline:
                time.sleep(0.01)
            if not alive(state):
                break
        if alive(state):
            raise DaemonError('the listener daemon pid %s did not stop' % pid)
        out['stopped'] = True
    try:
        os.unlink(state_file)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise
    return out
