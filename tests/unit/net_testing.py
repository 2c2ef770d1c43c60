# -*- coding: utf-8 -*-
"""Shared by the network module tests: ports on 127.0.0.1, a listening socket, and running a module's main()."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import socket

import pytest

from ansible.module_utils.testing import patch_module_args

LOCAL = '127.0.0.1'


def free_ports(n=1):
    """n distinct ports that were free a moment ago (bound to port 0 at the same time, then closed)."""
    socks = []
    try:
        for _i in range(n):
            s = socket.socket()
            s.bind((LOCAL, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def my_comm():
    """This process's name as /proc shows it (what the modules report as a port's holder)."""
    with open('/proc/self/comm') as f:
        return f.read().strip()


@contextlib.contextmanager
def listening_port(backlog):
    """A socket listening on 127.0.0.1 (connections complete in the backlog, never accepted); yields its port."""
    sock = socket.socket()
    sock.bind((LOCAL, 0))
    sock.listen(backlog)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def run_module(main, capsys, args, check_mode=False):
    """Run a module's main() with ``args``; returns its JSON result (exit code 1 exactly when it failed)."""
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            main()
    out = json.loads(capsys.readouterr().out)
    assert exc.value.code == (1 if out.get('failed') else 0)
    return out
