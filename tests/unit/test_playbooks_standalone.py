# -*- coding: utf-8 -*-
"""Every playbook of playbooks/ runs alone, and a whole site.yml validates the inventory exactly once.

Real ansible-playbook runs, controller only: the test inventory's servers are 127.0.0.x port 1, so the first task
that needs a server ends as UNREACHABLE - that is where a playbook "running alone" must get to, past the validation
(playbooks/boilerplate.yml) and the controller-side checks, never failing on a missing sf_plan or an undefined
variable. Facts come from a fact cache primed by a controller-only action (``gathering = smart`` then skips fact
gathering), so the roles' fact-based checks (memory sizing, OS family) run too, with known values.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from ansible_collections.sfops.secretflow.tests.unit.playbook_runs import (ROOT, local_inventory, needs_playbook, playbook_env,
                                                                           recap, run_playbook)


pytestmark = needs_playbook

HOSTS = ('alice-1', 'alice-2', 'bob-1')
INVENTORY = local_inventory(
    'ansible_port: 1',
    "# what a real inventory sets for the roles' own preflight checks",
    'node_image: sfops/secretflow-worker:test',
    'node_redis_password: test-password-0123456789',
    "# the image role would otherwise build on the controller's Docker: take a prebuilt image from a registry",
    'image_distribution: registry',
    'image_registry: registry.invalid:5000',
    'image_tag: test')

# A controller-only action that stores fixed facts, marked as gathered, in the fact cache.
FACTS_ACTION = '''
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        facts = dict(self._task.args['facts'], _ansible_facts_gathered=True)
        result.update(changed=False, ansible_facts=facts)
        return result
'''
PRIME = """
- name: Prime the fact cache
  hosts: secretflow
  gather_facts: false
  tasks:
    - name: Facts of a Debian 12 server with 7.75 GiB
      sf_test_facts:
        facts:
          memtotal_mb: 7936
          memory_mb: {nocache: {free: 6000}}
          os_family: Debian
          distribution: Debian
          distribution_major_version: "12"
          distribution_release: bookworm
          architecture: x86_64
          kernel: 6.1.0-18-amd64
          gather_subset: [all]     # what a full gathering records (roles/_common/tasks/facts.yml then skips it)
"""

PLAN_TASK = re.compile(r'^TASK \[sfops\.secretflow\.plan : Validate the inventory and compute the deployment plan\]',
                       re.M)
BOILERPLATE_PLAY = re.compile(r'^PLAY \[Validate the inventory and compute the deployment plan \(once per run\)\]',
                              re.M)
# Playbooks that never connect to a server.
CONTROLLER_ONLY = ('boilerplate.yml', 'plan.yml', 'validate.yml', 'tls.yml', 'tls-export.yml', 'tls-import.yml',
                   # run here with --check: the renewed certificates are pending, so there is nothing to put on a node
                   'rotate-certs.yml')
TLS_TASK = re.compile(r'^TASK \[sfops\.secretflow\.tls : Check all TLS material\]', re.M)
PLAYBOOKS = sorted(name for name in os.listdir(os.path.join(ROOT, 'playbooks')) if name.endswith('.yml'))


class Env(object):
    """A test inventory and a primed fact cache; ``run`` runs ansible-playbook against them."""

    def __init__(self, path):
        self.path = path
        self.inventory = os.path.join(path, 'hosts.yml')
        with open(self.inventory, 'w') as handle:
            handle.write(textwrap.dedent(INVENTORY))
        os.mkdir(os.path.join(path, 'action_plugins'))
        with open(os.path.join(path, 'action_plugins', 'sf_test_facts.py'), 'w') as handle:
            handle.write(FACTS_ACTION)
        with open(os.path.join(path, 'prime.yml'), 'w') as handle:
            handle.write(textwrap.dedent(PRIME))
        self.env = playbook_env(ANSIBLE_GATHERING='smart', ANSIBLE_CACHE_PLUGIN='jsonfile',
                                ANSIBLE_CACHE_PLUGIN_CONNECTION=os.path.join(path, 'facts'))
        rc, out = self.run(os.path.join(path, 'prime.yml'))
        assert rc == 0, out
        # the parties' TLS material, once, before the playbooks run side by side and only read it
        rc, out = self.run(os.path.join('playbooks', 'tls.yml'))
        assert rc == 0, out
        self.tls = os.path.join(path, 'credentials', 'tls')

    def run(self, playbook, *args):
        return run_playbook(playbook, self.inventory, args, env=self.env)


def validations(output):
    """How many times the deployment_plan action really ran (its task header appears only when it runs)."""
    return len(PLAN_TASK.findall(output))


def tls_checks(output):
    """How many times the tls role checked the TLS material."""
    return len(TLS_TASK.findall(output))


def standalone_args(env, name):
    """What a playbook needs on the command line to run alone in the shared test environment."""
    return {
        'plan.yml': ['-e', 'sf_plan_file=%s' % os.path.join(env.path, 'plan.json')],
        'tls-export.yml': ['-e', 'party=alice', '-e', 'dest=%s' % os.path.join(env.path, 'alice-ca.pem')],
        'tls-import.yml': ['-e', 'party=carol', '-e', 'ca_file=%s' % os.path.join(env.tls, 'alice', 'ca.pem')],
        # the other playbooks read the same TLS directory at the same time: only show what it would renew
        'rotate-certs.yml': ['--check'],
        # confirmed on the command line (without it, it asks: test_teardown_asks_first)
        'teardown.yml': ['-e', 'teardown_confirm=yes'],
        'logs.yml': ['-e', 'logs_dest=%s' % os.path.join(env.path, 'logs')],
        # every server in one batch (one at a time, the play stops at the first unreachable one: test_restart_order)
        'restart.yml': ['-e', 'restart_serial=100%'],
        # one worker node (it touches nothing else: test_playbook_runs_alone), confirmed on the command line
        'remove-server.yml': ['-e', 'remove_servers=alice-2', '-e', 'remove_confirm=yes'],
    }.get(name, [])


# The servers a playbook run alone touches when it is not every server of the inventory.
TOUCHES = {'remove-server.yml': ('alice-2',)}


@pytest.fixture(scope='module', name='env')
def env_fixture(tmp_path_factory):
    return Env(str(tmp_path_factory.mktemp('standalone')))


@pytest.fixture(scope='module', name='standalone')
def standalone_fixture(env):
    """Every playbook run alone, a few at a time."""
    def one(name):
        return name, env.run(os.path.join('playbooks', name), *standalone_args(env, name))
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, PLAYBOOKS))


def test_every_playbook_is_tested():
    assert 'node.yml' in PLAYBOOKS and 'site.yml' in PLAYBOOKS and len(PLAYBOOKS) >= 12


def test_teardown_asks_first(env):
    """Without -e teardown_confirm=yes and nobody typing yes (no terminal here), nothing is touched."""
    rc, out = env.run(os.path.join('playbooks', 'teardown.yml'), '-e', 'teardown_confirm=no')
    assert rc == 2 and 'Not confirmed - nothing was removed' in out, out
    assert 'PLAY [Tear down every server of the play]' not in out, out
    assert all(row['unreachable'] == 0 and row['changed'] == 0 for row in recap(out).values()), out


@pytest.mark.parametrize('args, first', [
    ((), 'alice-2'),                                    # party by party in inventory order, worker nodes first
    (('-e', 'restart_parties=bob,alice'), 'bob-1'),     # the order given
    (('--limit', 'alice-1,bob-1'), 'alice-1'),          # only the limited servers
])
def test_restart_order(env, args, first):
    """One server at a time: the first one in the rolling order is the only one tried (unreachable here), then the
    play stops - the others are untouched."""
    rc, out = env.run(os.path.join('playbooks', 'restart.yml'), *args)
    assert rc == 4, out
    rows = recap(out)
    assert [h for h in HOSTS if rows.get(h, {}).get('unreachable')] == [first], out


@pytest.mark.parametrize('servers, message', [
    ('alice-1', 'remove_servers names the head alice-1 of its party'),
    ('alice-2,carol-1', 'remove_servers names carol-1: not a server of a managed party'),
    ('', 'remove_servers is empty'),
])
def test_remove_server_refuses_heads_and_unknown_servers(env, servers, message):
    """Checked on the controller before anything is asked or touched."""
    rc, out = env.run(os.path.join('playbooks', 'remove-server.yml'), '-e', 'remove_servers=' + servers,
                      '-e', 'remove_confirm=yes')
    assert rc == 2 and message in out, out
    assert all(row['unreachable'] == 0 and row['changed'] == 0 for row in recap(out).values()), out


@pytest.mark.parametrize('operation', ['restart', 'upgrade'])
def test_rolling_operations_refuse_an_unknown_party(env, operation):
    """restart.yml and upgrade.yml share the rolling order (roles/_common/tasks/rolling_order.yml)."""
    rc, out = env.run(os.path.join('playbooks', operation + '.yml'), '-e', '%s_parties=alice,carol' % operation)
    assert rc == 2 and '%s_parties names carol: not a managed party of this inventory' % operation in out, out
    assert all(row['unreachable'] == 0 for row in recap(out).values()), out


@pytest.mark.parametrize('name', PLAYBOOKS)
def test_playbook_runs_alone(standalone, name):
    rc, out = standalone[name]
    assert validations(out) == 1, 'the plan was not computed exactly once:\n' + out
    assert 'FAILED!' not in out, out   # nothing failed: not a missing sf_plan, not an undefined variable
    assert not re.search(r'is undefined|no deployment plan', out), out
    rows = recap(out)
    if name in CONTROLLER_ONLY:
        assert rc == 0, out
        assert all(r['unreachable'] == 0 for r in rows.values()), out
    else:
        # it got as far as the first task that needs the servers - on every server it is for
        assert rc == 4, out
        touched = TOUCHES.get(name, HOSTS)
        assert all(rows[host]['unreachable'] == 1 for host in touched), out
        assert all(rows.get(host, {}).get('changed', 0) == 0 for host in set(HOSTS) - set(touched)), out


@pytest.mark.parametrize('name', ['tls.yml', 'node.yml', 'preflight.yml', 'rotate-certs.yml', 'tls-export.yml'])
def test_playbooks_that_need_the_tls_material_check_it(standalone, name):
    _rc, out = standalone[name]
    assert tls_checks(out) == 1, out


def test_node_playbook_gets_past_its_controller_side_checks(standalone):
    _rc, out = standalone['node.yml']
    for task in ('sfops.secretflow.tls : Check all TLS material',
                 'sfops.secretflow._common : Check that the deployment plan is there',
                 'sfops.secretflow.node : Check the node settings',
                 'sfops.secretflow._common : Check memory for the object store and /dev/shm'):
        assert re.search(r'^TASK \[%s\]' % re.escape(task), out, re.M), task


def test_site_validates_exactly_once(env):
    # --tags always: every play of site.yml, but of the roles only what runs on the controller (validation, argument
    # specs) - nothing connects (no unreachable host), so every imported playbook's boilerplate is reached.
    rc, out = env.run('site.yml', '--tags', 'always')
    assert rc == 0, out
    assert validations(out) == 1, out
    # site.yml and each of the 8 playbooks it imports (status.yml through verify.yml, tls.yml) start with the
    # boilerplate, and tls.yml is imported three times (site.yml, preflight.yml, node.yml)
    assert len(BOILERPLATE_PLAY.findall(out)) == 11, out
    assert tls_checks(out) == 1, out
    assert out.count('PLAY [TLS material of the parties (once per run)]') == 3, out
    assert all(r['unreachable'] == 0 and r['failed'] == 0 for r in recap(out).values()), out
    for play in ('Preflight - prerequisites of every server', 'Docker Engine', 'Firewall', 'SecretFlow worker image',
                 'SecretFlow nodes', 'Verify - reachability (must reach, must NOT reach)',
                 'Collect the state of every node'):
        assert 'PLAY [%s]' % play in out, play


def test_site_under_limit_validates_once(env):
    rc, out = env.run('site.yml', '--tags', 'always', '--limit', 'bob-1')
    assert rc == 0, out
    assert validations(out) == 1, out
    assert tls_checks(out) == 1, out
    assert sorted(recap(out)) == ['bob-1'], out


def test_a_host_added_later_gets_the_plan(env):
    playbook = os.path.join(env.path, 'added.yml')
    with open(playbook, 'w') as handle:
        handle.write(textwrap.dedent("""
            - import_playbook: {root}/playbooks/boilerplate.yml
            - hosts: localhost
              gather_facts: false
              tasks:
                - ansible.builtin.add_host:
                    name: bob-2
                    groups: [bob]
                    ansible_host: 127.0.0.22
                    sf_node_id: bob-w1
            - import_playbook: {root}/playbooks/boilerplate.yml
            - import_playbook: {root}/playbooks/boilerplate.yml
            - hosts: secretflow
              gather_facts: false
              tasks:
                - ansible.builtin.debug:
                    msg: "PLAN {{{{ inventory_hostname }}}}: {{{{ sf_plan.hosts | list | sort | join(',') }}}}"
        """).format(root=ROOT))
    rc, out = env.run(playbook)
    assert rc == 0, out
    # validated at the start, again for bob-2 (whose plan also names it), not a third time
    assert validations(out) == 2, out
    for host in HOSTS + ('bob-2',):
        assert 'PLAN %s: alice-1,alice-2,bob-1,bob-2' % host in out, host


def test_a_role_without_the_plan_says_so(env):
    playbook = os.path.join(env.path, 'noplan.yml')
    with open(playbook, 'w') as handle:
        handle.write('- hosts: secretflow\n  gather_facts: false\n  roles: [sfops.secretflow.reachability]\n')
    rc, out = env.run(playbook, '--limit', 'bob-1')
    assert rc == 2, out
    assert ("host 'bob-1': no deployment plan (sf_plan) for this host (needed by role sfops.secretflow.reachability)"
            in ' '.join(out.split())), out
    assert recap(out)['bob-1']['unreachable'] == 0, out


def test_the_common_role_refuses_to_run_by_itself(env):
    playbook = os.path.join(env.path, 'common.yml')
    with open(playbook, 'w') as handle:
        handle.write('- hosts: secretflow\n  gather_facts: false\n  roles: [sfops.secretflow._common]\n')
    rc, out = env.run(playbook, '--limit', 'bob-1')
    assert rc == 2, out
    assert 'sfops.secretflow._common is internal to the collection' in ' '.join(out.split()), out
