# -*- coding: utf-8 -*-
"""The firewall's safety nets for real (ansible-playbook, controller only - the hosts are 127.0.0.x port 1, so any
connection would show up as unreachable): a node without its firewall is refused by the validation every playbook
starts with, unless acknowledged - then every run warns (#12)."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import shutil
import subprocess
import sys

import pytest

from ansible_collections.sfops.secretflow.tests.unit.playbook_runs import (local_inventory, needs_playbook, recap,
                                                                           run_playbook)

pytestmark = needs_playbook

ACK = 'firewall_disabled_i_understand_ray_is_exposed'


def inventory(tmp_path, *var_lines):
    path = tmp_path / 'hosts.yml'
    path.write_text(local_inventory('ansible_port: 1', *var_lines))
    return path


def test_firewall_off_is_refused_before_any_host_is_touched(tmp_path):
    for playbook in ('playbooks/validate.yml', 'playbooks/firewall.yml'):
        rc, out = run_playbook(playbook, inventory(tmp_path), ['-e', 'firewall_enabled=false'])
        assert rc != 0, out
        assert 'nothing was changed on any host' in out, out
        for host in ("party 'alice', host 'alice-1'", "party 'alice', host 'alice-2'", "party 'bob', host 'bob-1'"):
            assert host + ': firewall_enabled is false' in out, out
        assert ACK + ': true' in out
        assert all(row['unreachable'] == 0 and row['changed'] == 0 for row in recap(out).values()), out


def test_firewall_off_acknowledged_is_warned_about_in_every_run(tmp_path):
    rc, out = run_playbook('playbooks/validate.yml', inventory(tmp_path),
                           ['-e', 'firewall_enabled=false', '-e', ACK + '=true'])
    assert rc == 0, out
    warning = re.sub(r'\s+', ' ', out[out.index('[WARNING]: The firewall is OFF'):])
    assert 'on alice-1, alice-2, bob-1:' in warning, out
    # and nothing when it is on
    rc, out = run_playbook('playbooks/validate.yml', inventory(tmp_path), ['-e', ACK + '=true'])
    assert rc == 0 and 'The firewall is OFF' not in out, out


LOCAL = ('ansible_connection: local', 'ansible_become: false', 'ansible_python_interpreter: %s' % sys.executable)


def table_here():
    proc = subprocess.run(['nft', 'list', 'table', 'inet', 'sfops_secretflow'], capture_output=True, check=False) \
        if shutil.which('nft') else None
    return proc is not None and proc.returncode == 0


@pytest.mark.skipif(table_here(), reason='this machine has the table: the servers of the test would pass')
def test_verify_fails_naming_every_server_without_its_table(tmp_path):
    """The three "servers" are this machine (local connection), which has no sfops table."""
    path = tmp_path / 'hosts.yml'
    path.write_text(local_inventory(*LOCAL))
    rc, out = run_playbook('playbooks/verify.yml', path, ['--tags', 'firewall'])
    assert rc != 0, out
    assert '3 firewall problem(s):' in out, out[-3000:]
    for host in ("party 'alice', host 'alice-1'", "party 'alice', host 'alice-2'", "party 'bob', host 'bob-1'"):
        assert host + ': the firewall table inet sfops_secretflow is missing' in out, out[-3000:]
    assert 'docs/operations/firewall.md' in out and '`systemctl restart sfops-firewall sfops-firewall-check.timer`' in out
    assert all(row['changed'] == 0 for row in recap(out).values()), out   # verify changes nothing
    # acknowledged off: listed, not judged
    off = ['--tags', 'firewall', '-e', 'firewall_enabled=false', '-e', ACK + '=true']
    rc, out = run_playbook('playbooks/verify.yml', path, off)
    assert rc == 0, out[-3000:]
    assert "party 'bob', host 'bob-1': firewall off (firewall_enabled: false, acknowledged) - not checked" in out
