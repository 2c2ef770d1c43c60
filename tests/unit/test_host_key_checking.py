# -*- coding: utf-8 -*-
"""SSH host keys are checked for real inventories (ansible.cfg); only the throwaway harness servers turn it off,
in their own inventories (#12).

Each case runs `ansible -m ping -vvvv` with this checkout's ansible.cfg against one host of the inventory, pointed at
127.0.0.1 port 1 (refused at once: nothing is reached), and reads the ssh command Ansible built.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.sfops.secretflow.tests.unit.playbook_runs import ROOT, playbook_env

ANSIBLE_BIN = shutil.which('ansible', path=os.path.dirname(sys.executable)) or shutil.which('ansible')

pytestmark = pytest.mark.skipif(ANSIBLE_BIN is None or not shutil.which('ssh'), reason='needs ansible and ssh')


def ssh_command(inventory, host, tmp_path):
    env = playbook_env()
    for name in ('ANSIBLE_HOST_KEY_CHECKING', 'ANSIBLE_SSH_HOST_KEY_CHECKING', 'ANSIBLE_SSH_ARGS',
                 'ANSIBLE_SSH_COMMON_ARGS'):
        env.pop(name, None)
    proc = subprocess.run([ANSIBLE_BIN, host, '-i', os.path.join(ROOT, inventory), '-m', 'ansible.builtin.ping',
                           '-vvvv', '-e', 'ansible_host=127.0.0.1', '-e', 'ansible_port=1',
                           '-e', 'ansible_connection=ssh', '-e', 'ansible_control_path_dir=%s' % tmp_path],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120, check=False)
    commands = re.findall(r'SSH: EXEC (ssh .*)', proc.stdout + proc.stderr)
    assert commands, proc.stdout[-3000:] + proc.stderr[-3000:]
    return commands[0]


def test_ansible_cfg_checks_host_keys(tmp_path):
    # an inventory of the collection's model, as an operator writes it
    command = ssh_command('inventories/example', 'bank-a-gw', tmp_path)
    assert 'StrictHostKeyChecking=no' not in command, command
    assert 'UserKnownHostsFile=/dev/null' not in command, command


def test_the_example_inventory_does_not_turn_it_off():
    for root, _dirs, files in os.walk(os.path.join(ROOT, 'inventories', 'example')):
        for name in files:
            with open(os.path.join(root, name)) as handle:
                text = handle.read()
            assert not re.search(r'StrictHostKeyChecking|UserKnownHostsFile|host_key_checking', text), name


def test_the_sandbox_turns_it_off_itself(tmp_path):
    command = ssh_command('inventories/sandbox', 'alice-1', tmp_path)
    assert '-o StrictHostKeyChecking=no' in command and '-o UserKnownHostsFile=/dev/null' in command, command


@pytest.mark.parametrize('scenario', ['default', 'e2e'])
def test_molecule_turns_it_off_itself(scenario):
    """Molecule's servers get fresh host keys with every create: its connection options say so (ansible.cfg no more)."""
    with open(os.path.join(ROOT, 'molecule', scenario, 'molecule.yml')) as handle:
        provisioner = yaml.safe_load(handle)['provisioner']
    args = provisioner['connection_options']['ansible_ssh_common_args']
    assert '-o StrictHostKeyChecking=no' in args and '-o UserKnownHostsFile=/dev/null' in args
    assert provisioner['config_options']['defaults']['host_key_checking'] is False
