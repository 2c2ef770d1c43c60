# -*- coding: utf-8 -*-
"""playbooks/smoke.yml -e smoke_original_contract=true (#13): the original orchestrator's check in each party's head
container, with the container paths of node_data_container_dir, and the output check on every node of the party.
The play's own expressions, rendered with ansible-core's Templar for the sandbox plan."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.sfops.secretflow.tests.unit.role_templar import ROOT, trust
from ansible_collections.sfops.secretflow.tests.unit.test_node_role_render import sandbox_plan


def smoke_play():
    with open(os.path.join(ROOT, 'playbooks', 'smoke.yml')) as handle:
        return [p for p in yaml.safe_load(handle) if 'tasks' in p][0]


def task(match):
    found = [t for t in smoke_play()['tasks'] if t.get('name', '').startswith('Original contract - ' + match)]
    assert len(found) == 1, match
    return found[0]


def templar(host, hostvars=None, **extra):
    variables = {}
    with open(os.path.join(ROOT, 'roles', '_common', 'defaults', 'main.yml')) as handle:
        variables.update(trust(yaml.safe_load(handle)))
    variables.update(trust(smoke_play()['vars']))
    variables.update(trust(dict(sf_plan=sandbox_plan(), inventory_hostname=host, _smoke_id='smoke-1',
                                ansible_play_hosts_all=['alice-1', 'alice-2', 'bob-1'], hostvars=hostvars or {})))
    variables.update(trust(extra))
    return Templar(loader=DataLoader(), variables=variables)


def test_off_by_default():
    assert smoke_play()['vars']['smoke_original_contract'] is False
    for match in ('remove', 'each party', 'check the PSI output', "check the orchestrator's"):
        assert task(match)['when'].startswith('smoke_original_contract | bool'), match


@pytest.mark.parametrize('container_dir', ['/app/data', '/data'])
def test_orchestrator_argv_uses_the_container_paths(container_dir):
    t = templar('bob-1', node_data_container_dir=container_dir)
    argv = t.template(trust(task('each party')['community.docker.docker_container_exec']['argv']))
    assert argv == ['python', '-m', 'sfworker.orchestrator', '--run-id', 'smoke-1-original', '--parties', 'alice,bob',
                    '--receiver', 'alice', '--key', 'id', '--expect-ids', '41-120', '--timeout', '600',
                    '--no-check-output',
                    '--input=alice=%s/smoke/alice.csv' % container_dir, '--input=bob=%s/smoke/bob.csv' % container_dir,
                    '--output=alice=%s/smoke/alice-original.csv' % container_dir,
                    '--output=bob=%s/smoke/bob-original.csv' % container_dir]
    check = t.template(trust(task('check the PSI output')['community.docker.docker_container_exec']['argv']))
    assert check == ['python', '-m', 'sfworker.orchestrator', '--check-file',
                     '%s/smoke/bob-original.csv' % container_dir, '--key', 'id', '--expect-ids', '41-120']


def test_written_lists_the_nodes_whose_output_holds_the_intersection():
    written = task("check the orchestrator's")['vars']['_smoke_orig_written']
    hostvars = {
        'alice-1': {'inventory_hostname': 'alice-1', '_smoke_orig_file': {'rc': 3, 'stdout': '{}'}},   # no file
        'alice-2': {'inventory_hostname': 'alice-2', '_smoke_orig_file': {'rc': 0, 'stdout': '{}'}},   # the job's node
        'bob-1': {'inventory_hostname': 'bob-1', '_smoke_orig_file': {'rc': 0, 'stdout': '{}'}},
    }
    assert templar('alice-1', hostvars).template(trust(written)) == ['alice-2']
    hostvars['alice-2']['_smoke_orig_file']['rc'] = 1                                                 # wrong content
    assert templar('alice-1', hostvars).template(trust(written)) == []
    hostvars['alice-2'] = {'inventory_hostname': 'alice-2'}                                           # not run there
    assert templar('alice-1', hostvars).template(trust(written)) == []
    assert templar('bob-1', hostvars).template(trust(written)) == ['bob-1']


def test_e2e_runs_it():
    with open(os.path.join(ROOT, 'molecule', 'e2e', 'tests', 'test_node.py')) as handle:
        assert 'smoke_original_contract=true' in handle.read()


@pytest.mark.parametrize('stdout, unpublished, count', [
    # the worker's report: the nested result, its task_metadata naming an output written on another node
    ('{"ok": true, "ids": [1], "events": 2, "result": {"result": {"intersection_count": 80}, '
     '"task_metadata": {"unpublished": ["/app/data/smoke/alice-original.csv"]}}}',
     ['/app/data/smoke/alice-original.csv'], '80'),
    ('{"ok": false, "problems": ["timeout"], "result": "TimeoutError: no result"}', [], '?'),   # an error string
    ('', [], '?'),                                                                               # no output at all
])
def test_report_messages_render_whatever_the_report(stdout, unpublished, count):
    """Both messages and the unpublished list render for a worker report, an error string and no output: the
    check fails with its message instead of crashing on an undefined key."""
    check = task("check the orchestrator's")
    variables = dict(check['vars'], _smoke_orig_run={'rc': 0, 'stdout': stdout, 'stderr': ''},
                     _smoke_orig_file={'rc': 0})
    t = templar('alice-1', node_data_container_dir='/app/data', _smoke_party='alice', **variables)
    assert t.template(trust('{{ _smoke_orig_unpublished }}')) == unpublished
    success = t.template(trust(check['ansible.builtin.assert']['success_msg']))
    assert 'intersection_count %s,' % count in success, success
    failure = t.template(trust(check['ansible.builtin.assert']['fail_msg']))
    assert failure.startswith("party 'alice': the original orchestrator's checks failed"), failure
