# -*- coding: utf-8 -*-
"""Unit tests of module_utils/_sockets.py: /proc parsing on a fake tree, and one real listening socket."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import struct

import pytest

from ansible_collections.sfops.secretflow.plugins.module_utils import _sockets as sockets

CID_A = 'a' * 12 + '0123456789abcdef' * 3 + 'b' * 4
CID_B = '0123456789abcdef' * 4
CID_OUTER = 'f' * 64

TCP_HEADER = ('  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'
              '                                                     ')
TCP6_HEADER = ('  sl  local_address                         remote_address                        st tx_queue '
               'rx_queue tr tm->when retrnsmt   uid  timeout inode')


def hex4(ip):
    """The /proc/net/tcp form of an IPv4 address (the kernel prints the 32-bit word in host order)."""
    return '%08X' % struct.unpack('=I', socket.inet_aton(ip))[0]


def hex6(ip):
    raw = socket.inet_pton(socket.AF_INET6, ip)
    return ''.join('%08X' % struct.unpack('=I', raw[i:i + 4])[0] for i in range(0, 16, 4))


def line(sl, local, port, remote, rport, state, inode, uid=0):
    return ('%4d: %s:%04X %s:%04X %s 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 100 0 0 10 0'
            % (sl, local, port, remote, rport, state, uid, inode))


def make_proc(root, processes, tcp_lines=(), tcp6_lines=None):
    """A fake /proc: net/tcp(6) and, per pid, comm, cmdline, cgroup and fd links."""
    net = root / 'net'
    net.mkdir(parents=True)
    (net / 'tcp').write_text('\n'.join([TCP_HEADER] + list(tcp_lines)) + '\n')
    if tcp6_lines is not None:
        (net / 'tcp6').write_text('\n'.join([TCP6_HEADER] + list(tcp6_lines)) + '\n')
    for pid, proc in processes.items():
        d = root / str(pid)
        d.mkdir()
        if 'comm' in proc:
            (d / 'comm').write_text(proc['comm'] + '\n')
        if 'cmdline' in proc:
            (d / 'cmdline').write_bytes(b'\0'.join(a.encode() for a in proc['cmdline']) + b'\0')
        if 'cgroup' in proc:
            (d / 'cgroup').write_text(proc['cgroup'])
        if 'fds' in proc:
            (d / 'fd').mkdir()
            for fd, target in proc['fds'].items():
                os.symlink(target, str(d / 'fd' / str(fd)))
    (root / 'self').mkdir()  # non-numeric entries are not processes
    return str(root)


@pytest.fixture
def fake_proc(tmp_path):
    tcp = [
        line(0, hex4('0.0.0.0'), 16380, hex4('0.0.0.0'), 0, '0A', 1002),
        line(1, hex4('127.0.0.1'), 8080, hex4('0.0.0.0'), 0, '0A', 1001, uid=999),
        # an established connection on the same port is no listener
        line(2, hex4('172.31.0.11'), 16380, hex4('172.31.0.21'), 40000, '01', 1003),
        line(3, hex4('10.0.0.5'), 6379, hex4('0.0.0.0'), 0, '0A', 1004),
    ]
    tcp6 = [
        line(0, hex6('::1'), 16380, hex6('::'), 0, '0A', 2001),
        line(1, hex6('::'), 9000, hex6('::'), 0, '0A', 2002),  # held by nobody we can see
        line(2, hex6('::ffff:127.0.0.1'), 7000, hex6('::'), 0, '0A', 2003),
    ]
    processes = {
        100: {'comm': 'raylet', 'cmdline': ['/usr/bin/raylet', '--node_manager_port=16380'],
              'cgroup': '12:memory:/docker/%s\n11:cpu:/docker/%s\n0::/\n' % (CID_A, CID_A),
              'fds': {0: '/dev/null', 3: 'socket:[1002]', 4: 'socket:[1003]', 5: 'pipe:[77]'}},
        101: {'comm': 'raylet', 'cmdline': ['/usr/bin/raylet', '--child'],
              'cgroup': '0::/system.slice/docker-%s.scope\n' % CID_A,
              'fds': {7: 'socket:[1002]'}},  # inherited the same listening socket
        200: {'comm': 'redis-server', 'cmdline': ['redis-server *:6379'],
              'cgroup': '0::/system.slice/docker-%s.scope\n' % CID_B,
              'fds': {3: 'socket:[1001]', 4: 'socket:[2001]', 5: 'socket:[1004]', 6: 'socket:[2003]'}},
        300: {'comm': 'ghost'},  # fd/ not readable (no such dir here)
    }
    return make_proc(tmp_path, processes, tcp, tcp6)


def test_decode_address_ipv4_and_ipv6():
    assert sockets.decode_address(hex4('127.0.0.1')) == '127.0.0.1'
    assert sockets.decode_address(hex4('172.31.0.11'), socket.AF_INET) == '172.31.0.11'
    assert sockets.decode_address(hex6('::1')) == '::1'
    assert sockets.decode_address(hex6('fe80::1:2')) == 'fe80::1:2'
    assert sockets.decode_address(hex6('::ffff:127.0.0.1')) == '::ffff:127.0.0.1'


def test_listening_sockets_only_listen_state(fake_proc):
    found = sockets.listening_sockets(fake_proc)
    assert sorted((s['proto'], s['address'], s['port'], s['inode']) for s in found) == [
        ('tcp', '0.0.0.0', 16380, 1002),
        ('tcp', '10.0.0.5', 6379, 1004),
        ('tcp', '127.0.0.1', 8080, 1001),
        ('tcp6', '::', 9000, 2002),
        ('tcp6', '::1', 16380, 2001),
        ('tcp6', '::ffff:127.0.0.1', 7000, 2003),
    ]
    assert [s['uid'] for s in found if s['inode'] == 1001] == [999]


def test_listening_sockets_without_tcp6_and_with_junk(tmp_path):
    root = make_proc(tmp_path, {}, [line(0, hex4('0.0.0.0'), 22, hex4('0.0.0.0'), 0, '0A', 5), 'garbage line here',
                                    '  1: nothex:zz 00000000:0000 0A 0 0 0 0 0 0 7'])
    assert [(s['port'], s['inode']) for s in sockets.listening_sockets(root)] == [(22, 5)]
    assert sockets.listening_sockets(str(tmp_path / 'nowhere')) == []


def test_socket_pids_maps_inodes_to_every_holder(fake_proc):
    assert sockets.socket_pids(proc_root=fake_proc) == {1002: [100, 101], 1003: [100], 1001: [200], 2001: [200],
                                                        1004: [200], 2003: [200]}
    assert sockets.socket_pids([1001, 2002], fake_proc) == {1001: [200]}


@pytest.mark.parametrize('text, expected', [
    ('12:memory:/docker/%s\n0::/\n' % CID_A, [CID_A]),
    ('0::/system.slice/docker-%s.scope\n' % CID_B, [CID_B]),
    ('0::/kubepods.slice/kubepods-besteffort.slice/docker-%s.scope/init\n' % CID_B, [CID_B]),
    # docker in docker: outer container first, the innermost last
    ('4:memory:/docker/%s/docker/%s\n' % (CID_OUTER, CID_A), [CID_OUTER, CID_A]),
    ('0::/system.slice/containerd.service/cri-containerd-%s.scope\n' % CID_B, [CID_B]),
    ('0::/kubepods/besteffort/pod1234/%s\n' % CID_A, [CID_A]),
    ('0::/user.slice/user-1000.slice/session-3.scope\n', []),
    ('0::/docker/%s\n' % CID_A[:60], []),  # too short to be an id
    ('', []),
])
def test_container_ids_from_cgroup(text, expected):
    assert sockets.container_ids_from_cgroup(text) == expected
    assert sockets.container_id_from_cgroup(text) == (expected[-1] if expected else None)


def test_process_info(fake_proc):
    assert sockets.process_info(100, fake_proc) == {
        'pid': 100, 'process': 'raylet', 'cmdline': '/usr/bin/raylet --node_manager_port=16380',
        'container_id': CID_A, 'container_ids': [CID_A]}
    assert sockets.process_info(300, fake_proc) == {
        'pid': 300, 'process': 'ghost', 'cmdline': None, 'container_id': None, 'container_ids': []}
    assert sockets.process_info(None, fake_proc)['process'] is None
    assert sockets.process_info(4242, fake_proc)['cmdline'] is None  # exited meanwhile


def test_port_holders(fake_proc):
    held = sockets.port_holders([16380, 9000, 6379, 7000, 8080, 1234], fake_proc)
    assert sorted(held) == [6379, 7000, 8080, 9000, 16380]
    by_16380 = [(h['proto'], h['address'], h['pid'], h['process'], h['container_id']) for h in held[16380]]
    assert by_16380 == [('tcp', '0.0.0.0', 100, 'raylet', CID_A), ('tcp', '0.0.0.0', 101, 'raylet', CID_A),
                        ('tcp6', '::1', 200, 'redis-server', CID_B)]
    # a socket whose owner is not visible is reported with pid None, not dropped and no crash
    assert held[9000] == [{'port': 9000, 'address': '::', 'proto': 'tcp6', 'inode': 2002, 'uid': 0, 'pid': None,
                           'process': None, 'cmdline': None, 'container_id': None, 'container_ids': []}]
    assert held[8080][0]['uid'] == 999 and held[8080][0]['cmdline'] == 'redis-server *:6379'
    assert sockets.port_holders([1234], fake_proc) == {}


def test_port_holders_finds_a_socket_of_this_process():
    sock = socket.socket()
    try:
        sock.bind(('127.0.0.1', 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        held = sockets.port_holders([port])
    finally:
        sock.close()
    with open('/proc/self/comm') as f:
        comm = f.read().strip()
    assert [(h['address'], h['pid'], h['process']) for h in held[port]] == [('127.0.0.1', os.getpid(), comm)]
    assert port not in sockets.port_holders([port])  # closed: free again
