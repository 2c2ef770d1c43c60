# -*- coding: utf-8 -*-
"""The reachability role for real, on this machine: three "servers" on 127.0.0.11/.12/.21 reached with
ansible_connection=local. Temporary listeners (port_listener), probes (port_reachable) and the report
(reachability_report) all run; only Docker and a firewall are missing, so must-reach works and must-NOT-reach
fails (loopback lets everything through) - which exercises the failure path too.

Every planned port of the three servers is distinct (the listeners bind 0.0.0.0 on the same machine).
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import socket
import sys
import textwrap

import pytest

from ansible_collections.sfops.secretflow.tests.unit.playbook_runs import ROOT, needs_playbook, run_playbook


pytestmark = [needs_playbook, pytest.mark.skipif(not sys.platform.startswith('linux'), reason='needs Linux')]


def node_ports(base):
    return dict(sf_ray_node_manager_port=base + 381, sf_ray_object_manager_port=base + 382,
                sf_ray_dashboard_agent_grpc_port=base + 384, sf_ray_dashboard_agent_listen_port=base + 385,
                sf_ray_metrics_export_port=base + 386, sf_ray_runtime_env_agent_port=base + 387,
                sf_ray_min_worker_port=base, sf_ray_max_worker_port=base + 9)


def party_ports(base):
    return dict(sf_redis_port=base + 379, sf_ray_port=base + 380, sf_ray_client_server_port=base + 383,
                sf_fed_port=base + 900, sf_spu_port=base + 950)


def inline(values):
    return ', '.join('%s: %s' % item for item in sorted(values.items()))


INVENTORY = textwrap.dedent("""
    all:
      vars:
        ansible_connection: local
        ansible_become: false
        ansible_python_interpreter: {python}
        sf_job_slots: 2
      children:
        secretflow:
          children:
            alice:
              vars: {{{alice}}}
              hosts:
                alice-1: {{ansible_host: 127.0.0.11, sf_ray_role: head, sf_node_id: alice-head, {alice1}}}
                alice-2: {{ansible_host: 127.0.0.12, sf_node_id: alice-w1, {alice2}}}
            bob:
              vars: {{{bob}}}
              hosts:
                bob-1: {{ansible_host: 127.0.0.21, sf_ray_role: head, sf_node_id: bob-head, {bob1}}}
    """).format(python=sys.executable, alice=inline(party_ports(41000)), alice1=inline(node_ports(41000)),
                alice2=inline(node_ports(42000)), bob=inline(party_ports(43000)), bob1=inline(node_ports(43000)))


def free(port):
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('0.0.0.0', port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


@pytest.fixture(name='inventory')
def inventory_fixture(tmp_path):
    planned = [p for base in (41000, 42000, 43000)
               for p in list(node_ports(base).values()) + list(range(base, base + 10))]
    planned += [p for base in (41000, 43000) for p in party_ports(base).values()]
    busy = [p for p in planned if not free(p)]
    if busy:
        pytest.skip('ports the test plans are in use on this machine: %s' % busy[:5])
    path = tmp_path / 'hosts.yml'
    path.write_text(INVENTORY)
    return str(path)


def run(inventory, playbook, tmp_path, *args):
    # One listener set per "server": here all three share this machine (and its /run).
    extra = ['-e', '_reachability_listener_name=sfops-test-{{ inventory_hostname }}',
             '-e', 'reachability_timeout_s=1', '--tags', 'reachability']
    return run_playbook(os.path.join(ROOT, 'playbooks', playbook), inventory, extra + list(args), cwd=tmp_path)


def matrix_rows(output):
    """{'party/host': {'party:group': cell}} of the (last) matrix printed (as the molecule tests read it)."""
    lines = output.splitlines()
    start = [i for i, line in enumerate(lines) if 'source \\ destination' in line]
    assert start, output[-3000:]
    i = start[-1]
    indent = lines[i].index('source')
    columns = re.split(r'\s{2,}', lines[i][indent:].strip())
    rows = {}
    for line in lines[i + 2:]:
        cells = re.split(r'\s{2,}', line[indent:].strip())
        if '/' not in cells[0]:
            break
        rows[cells[0]] = dict(zip(columns[1:], cells[1:]))
    return rows


def listener_state_files():
    return [name for name in os.listdir('/run/sfops-listeners') if name.startswith('sfops-test-')] \
        if os.path.isdir('/run/sfops-listeners') else []


def test_preflight_every_must_reach_pair_is_open(inventory, tmp_path):
    rc, out = run(inventory, 'preflight.yml', tmp_path)
    assert rc == 0, out[-5000:]
    rows = matrix_rows(out)
    assert rows == {
        'alice/alice-1': {'alice:fed': '-', 'alice:spu': '-', 'alice:gcs': '-', 'alice:redis': '-',
                          'alice:ray': 'open 8', 'bob:fed': 'open 2', 'bob:spu': 'open 2'},
        'alice/alice-2': {'alice:fed': '-', 'alice:spu': '-', 'alice:gcs': 'open 1', 'alice:redis': 'open 1',
                          'alice:ray': 'open 8', 'bob:fed': 'open 2', 'bob:spu': 'open 2'},
        'bob/bob-1': {'alice:fed': 'open 2', 'alice:spu': 'open 2', 'alice:gcs': '-', 'alice:redis': '-',
                      'alice:ray': '-', 'bob:fed': '-', 'bob:spu': '-'},
    }
    assert '0 unmet expectation(s)' in out
    assert listener_state_files() == []  # closed again


def test_preflight_names_the_process_holding_a_planned_port(inventory, tmp_path):
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(('0.0.0.0', 43901))   # bob's second fed port
    holder.listen(16)
    try:
        rc, out = run(inventory, 'preflight.yml', tmp_path)
    finally:
        holder.close()
    assert rc != 0, out[-5000:]
    with open('/proc/self/comm') as f:
        comm = f.read().strip()
    assert '1 reachability problem(s):' in out, out[-5000:]
    assert 'bob-1: planned port 43901 is taken: in use on 0.0.0.0 by pid %d (%s)' % (os.getpid(), comm) in out
    # the other ports still got listeners: the matrix stays accurate (the holder answered for 43901)
    assert matrix_rows(out)['alice/alice-1']['bob:fed'] == 'open 2'


def test_verify_names_every_private_port_another_party_reaches(inventory, tmp_path):
    rc, out = run(inventory, 'verify.yml', tmp_path)
    assert rc != 0, out[-5000:]
    rows = matrix_rows(out)
    # no firewall on loopback: bob reaches alice's GCS, Redis and 16 Ray ports (per node 6 fixed ones and the ends of
    # the worker range; no Ray client server, sf_ray_client_server_enabled is off) ...
    assert rows['bob/bob-1']['alice:gcs'] == 'OPEN 1/1 connected'
    assert rows['bob/bob-1']['alice:ray'] == 'OPEN 16/16 connected'
    # ... while the must-reach half is fine
    assert rows['bob/bob-1']['alice:fed'] == 'open 2'
    assert rows['alice/alice-2']['alice:gcs'] == 'open 1'
    problems = re.search(r'(\d+) reachability problem\(s\):', out)
    assert problems and int(problems.group(1)) == 10 + 10 + 18, out[-3000:]
    assert "bob/bob-1 -> 127.0.0.11:41380 (alice/alice-1 gcs): expected closed, but it accepted a connection" in out
    assert listener_state_files() == []
