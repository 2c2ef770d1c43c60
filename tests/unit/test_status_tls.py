# -*- coding: utf-8 -*-
"""The TLS part of playbooks/status.yml (each party's certificate as installed on its head: serial, expiry, days
left, a warning within the renewal window), rendered for real by ansible-playbook from the playbook's own tasks.

The tasks that need a server (docker inspect, docker exec) are replaced by their registered results - what
community.docker.docker_container_exec returns for `sfworker tls-info` (worker/tests/test_cli.py tests the CLI) -
and the playbook's own "Summarise", "Warn" and "Status table" tasks run unchanged on a local connection.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

import yaml

from ansible_collections.sfops.secretflow.tests.unit.playbook_runs import ROOT, local_inventory, needs_playbook, run_playbook

pytestmark = needs_playbook

INVENTORY = local_inventory('ansible_connection: local', 'ansible_become: false', 'ansible_python_interpreter: %s')
RUNNING = {'exists': True, 'container': {'State': {'Running': True, 'Health': {'Status': 'healthy'}}}}
RAY = {'rc': 0, 'stdout': json.dumps({'nodes': []})}


def tls_info(serial, days_left):
    return {'rc': 0, 'stderr': '', 'stdout': json.dumps({
        'party': 'x', 'enabled': True, 'version': serial, 'serial': serial, 'not_after': '2027-01-02T03:04:05Z',
        'days_left': days_left})}


def status_play(registered, extra_vars=None):
    """status.yml's play with the server-side tasks replaced by set_fact of their ``registered`` results."""
    with open(os.path.join(ROOT, 'playbooks', 'status.yml')) as handle:
        boilerplate, play = yaml.safe_load(handle)
    keep = ('TLS settings', 'Summarise this node', 'Warn about a party certificate that expires soon (or has expired)',
            'Status table', 'Write the status table to a file on the controller')
    tasks = [{'name': 'Registered results', 'ansible.builtin.set_fact': {
        '_status_container': RUNNING, '_status_ray': RAY,
        '_status_tls': "{{ _registered[inventory_hostname] | default({'skipped': True}) }}"},
        'vars': {'_registered': registered}}]
    tasks += [t for t in play['tasks'] if t['name'] in keep]
    assert len(tasks) == 1 + len(keep)
    play = dict(play, tasks=tasks, vars=dict(play['vars'], **(extra_vars or {})))
    boilerplate['ansible.builtin.import_playbook'] = os.path.join(ROOT, 'playbooks', 'boilerplate.yml')
    return [boilerplate, play]


def run(tmp_path, registered, *args, **extra_vars):
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(INVENTORY % sys.executable)
    playbook = tmp_path / 'status-tls.yml'
    playbook.write_text(yaml.safe_dump(status_play(registered, extra_vars)))
    return run_playbook(str(playbook), inventory, list(args))


def flat(out):
    """The output on one line, as the YAML callback's quoting and wrapping aside."""
    return ' '.join(out.replace("''", "'").split())


def table_rows(out):
    start = out.index('TLS CERTIFICATE (serial)')
    return [line.split() for line in out[start:].splitlines()[1:3]]


def test_certificates_of_the_heads_and_a_warning_within_the_renewal_window(tmp_path):
    rc, out = run(tmp_path, {'alice-1': tls_info('5f3e01', 364), 'bob-1': tls_info('a0b1', 12)})
    assert rc == 0, out
    assert table_rows(out) == [['alice', 'alice-1', '5f3e01', '2027-01-02T03:04:05Z', '364'],
                               ['bob', 'bob-1', 'a0b1', '2027-01-02T03:04:05Z', '12', 'RENEW']], out
    assert ("WARNING: party 'bob': the certificate installed on bob-1 (serial a0b1) expires in 12 day(s), on "
            "2027-01-02T03:04:05Z (sf_tls_renew_days=30). Renew it: ansible-playbook playbooks/rotate-certs.yml -e "
            "parties=bob") in flat(out), out
    assert "WARNING: party 'alice'" not in out


def test_expired_missing_and_the_renewal_window_from_the_inventory(tmp_path):
    missing = {'rc': 1, 'stderr': '', 'stdout': json.dumps({'error': 'TLS is on but /etc/sfops/tls/current does '
                                                                     'not exist'})}
    rc, out = run(tmp_path, {'alice-1': tls_info('5f3e01', 364), 'bob-1': missing}, '-e', 'sf_tls_renew_days=400')
    assert rc == 0, out
    rows = table_rows(out)
    assert rows[0][-2:] == ['364', 'RENEW'] and rows[1][:4] == ['bob', 'bob-1', '-', '-'], out
    assert 'current does not exist' in out and 'sf_tls_renew_days=400' in flat(out)
    rc, out = run(tmp_path, {'alice-1': tls_info('5f3e01', -3), 'bob-1': {'skipped': True}})
    assert rc == 0, out
    rows = table_rows(out)
    assert rows[0][-2:] == ['-3', 'EXPIRED'] and ' '.join(rows[1][2:]) == '- - the node container is not running'
    assert "(serial 5f3e01) expired on 2027-01-02T03:04:05Z: peers refuse it" in flat(out), out


def test_tls_off(tmp_path):
    rc, out = run(tmp_path, {}, '-e', '{"sf_tls_enabled": false}')
    assert rc == 0, out
    assert 'TLS between parties: OFF (sf_tls_enabled: false)' in out and 'TLS CERTIFICATE' not in out, out


def test_the_table_written_to_a_file(tmp_path):
    """-e status_file=...: the same table in a file on the controller (logs.yml puts it into its bundle)."""
    target = tmp_path / 'status.txt'
    rc, out = run(tmp_path, {'alice-1': tls_info('5f3e01', 364), 'bob-1': tls_info('a0b1', 12)},
                  '-e', 'status_file=%s' % target)
    assert rc == 0, out
    text = target.read_text()
    assert text.splitlines()[0].split() == ['PARTY', 'HOST', 'NODE', 'ID', 'ROLE', 'NODE', 'IP', 'EXTERNAL', 'HEALTH',
                                            'RAY', 'NODES', 'ALIVE'], text
    assert [line.split()[:2] for line in text.splitlines()[1:4]] == [['alice', 'alice-1'], ['alice', 'alice-2'],
                                                                     ['bob', 'bob-1']], text
    assert 'a0b1' in text and oct(target.stat().st_mode & 0o777) == '0o600'
