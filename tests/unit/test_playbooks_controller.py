# -*- coding: utf-8 -*-
"""playbooks/validate.yml and playbooks/plan.yml run for real (ansible-playbook), controller only.

The test inventories point at 127.0.0.x port 1: if any task tried to connect, the host would show up
as unreachable, so these tests also prove that validation touches no host.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import textwrap

from ansible_collections.sfops.secretflow.tests.unit.playbook_runs import (ROOT, local_inventory, needs_playbook, recap,
                                                                           run_playbook)

pytestmark = needs_playbook

GOOD = local_inventory('ansible_port: 1')


def run(tmp_path, inventory, playbook='playbooks/validate.yml', args=(), name='hosts.yml'):
    path = tmp_path / name
    path.write_text(textwrap.dedent(inventory))
    return run_playbook(playbook, path, args)


def test_bad_inventory_reports_every_problem_and_touches_nothing(tmp_path):
    bad = GOOD.replace('alice-2: {ansible_host: 127.0.0.12, sf_node_id: alice-w1}',
                       'alice-2: {ansible_host: 127.0.0.12, sf_node_id: Alice_W1, sf_ray_role: boss,'
                       ' sf_worker_env: {RAY_ADDRESS: "127.0.0.1:6379"}}')
    # the first host of the play carries a bad value too: it must not hide the others
    bad = bad.replace('alice-1: {ansible_host: 127.0.0.11, sf_ray_role: head, sf_node_id: alice-head}',
                      'alice-1: {ansible_host: 127.0.0.11, sf_ray_role: head, sf_node_id: alice-head,'
                      ' sf_ray_node_manager_port: abc}')
    bad = bad.replace('bob-1: {ansible_host: 127.0.0.21, sf_ray_role: head, sf_node_id: bob-head}',
                      'bob-1: {ansible_host: 127.0.0.21, sf_ray_role: head, sf_node_id: bob-head, sf_fed_port: 70000}')
    rc, out = run(tmp_path, bad)
    assert rc != 0, out
    assert "The inventory has 5 problem(s); nothing was changed on any host" in out, out
    for needle in ("party 'alice', host 'alice-1': sf_ray_node_manager_port='abc'",
                   "party 'alice', host 'alice-2': sf_node_id='Alice_W1'",
                   "party 'alice', host 'alice-2': sf_ray_role='boss' is unknown",
                   "party 'alice', host 'alice-2': sf_worker_env must not set RAY_ADDRESS",
                   "party 'bob', host 'bob-1': sf_fed_port=70000"):
        assert needle in out, needle
    assert all(row['unreachable'] == 0 for row in recap(out).values()), out


def test_empty_inventory_says_no_parties(tmp_path):
    rc, out = run(tmp_path, 'all:\n  hosts: {}\n')
    assert rc != 0
    assert 'no parties' in out


def test_undefined_template_names_host_and_variable(tmp_path):
    rc, out = run(tmp_path, GOOD.replace('sf_node_id: bob-head', 'sf_node_id: "{{ nope_undefined }}"'))
    assert rc != 0
    assert "host 'bob-1': sf_node_id could not be evaluated" in out, out


def test_plan_is_published_under_limit(tmp_path):
    check = tmp_path / 'check.yml'
    check.write_text(textwrap.dedent("""
        - import_playbook: {root}/playbooks/validate.yml
        - hosts: secretflow
          gather_facts: false
          tasks:
            - ansible.builtin.debug:
                msg: "PLAN {{{{ inventory_hostname }}}} {{{{ sf_plan.hosts[inventory_hostname] }}}} {{{{
                  sf_plan.parties.alice.nodes['alice-1'].ray_start_argv | select('match', '--head') | first }}}} {{{{
                  sf_plan.party_order | join(',') }}}}"
    """).format(root=ROOT))
    rc, out = run(tmp_path, GOOD, playbook=str(check), args=['--limit', 'bob-1'])
    assert rc == 0, out
    assert 'PLAN bob-1 bob --head alice,bob' in out
    assert 'PLAN alice' not in out


def test_plan_playbook_writes_json_idempotently_and_in_check_mode(tmp_path):
    plan_file = tmp_path / 'out' / 'plan.json'
    plan_file.parent.mkdir()
    args = ['-e', 'sf_plan_file=%s' % plan_file]
    rc, out = run(tmp_path, GOOD, playbook='playbooks/plan.yml', args=args + ['--check'])
    assert rc == 0, out
    assert not plan_file.exists()
    rc, out = run(tmp_path, GOOD, playbook='playbooks/plan.yml', args=args)
    assert rc == 0, out
    plan = json.loads(plan_file.read_text())
    assert plan['parties']['alice']['head'] == 'alice-1'
    assert plan['parties']['bob']['cluster_config']['self_party'] == 'bob'
    assert plan['spu_cluster_def']['nodes'][0]['listen_address'] == '0.0.0.0:19500'
    assert 'deployment plan v1: 2 parties, 10 job slots' in out
    assert sum(row['changed'] for row in recap(out).values()) == 1
    rc, out = run(tmp_path, GOOD, playbook='playbooks/plan.yml', args=args)
    assert rc == 0 and sum(row['changed'] for row in recap(out).values()) == 0, out


def test_ini_inventory_and_group_level_overrides(tmp_path):
    ini = """
    [alice]
    alice-1 ansible_host=127.0.0.11 sf_ray_role=head
    [bob]
    bob-1 ansible_host=127.0.0.21 sf_ray_role=head
    [bob:vars]
    sf_fed_port=20000
    sf_spu_port=20100
    [secretflow:children]
    alice
    bob
    [all:vars]
    ansible_port=1
    """
    plan_file = tmp_path / 'plan.json'
    rc, out = run(tmp_path, ini, playbook='playbooks/plan.yml', args=['-e', 'sf_plan_file=%s' % plan_file],
                  name='hosts.ini')
    assert rc == 0, out
    plan = json.loads(plan_file.read_text())
    assert plan['parties']['bob']['fed_ports'] == [20000, 20009]
    assert plan['parties']['alice']['cluster_config']['parties']['bob']['address'] == '127.0.0.21:20000'


def test_example_inventory_is_valid(tmp_path):
    # ansible_connection=local: the example's addresses are not ours; nothing may dial them.
    plan_file = tmp_path / 'plan.json'
    rc, out = run_playbook('playbooks/plan.yml', 'inventories/example',
                           ['-e', 'sf_plan_file=%s' % plan_file, '-e', 'ansible_connection=local'])
    assert rc == 0, out
    plan = json.loads(plan_file.read_text())
    assert sorted(plan['parties']) == ['agency_c', 'bank_a', 'hospital_b']
    assert plan['parties']['agency_c']['managed'] is False


def test_plan_file_is_private(tmp_path):
    # it carries every host's sf_worker_env and the deployment's layout (#12): owner only
    plan_file = tmp_path / 'plan.json'
    rc, out = run(tmp_path, GOOD, playbook='playbooks/plan.yml', args=['-e', 'sf_plan_file=%s' % plan_file])
    assert rc == 0, out
    assert oct(plan_file.stat().st_mode & 0o777) == oct(0o600)


BAD_PASSWORD = 'Correct-Horse-Battery\nappendonly no'   # a newline would inject a redis.conf directive


def test_bad_redis_passwords_are_refused_before_any_host_is_touched(tmp_path):
    inventory = GOOD.replace('alice-2: {ansible_host: 127.0.0.12, sf_node_id: alice-w1}',
                             'alice-2: {ansible_host: 127.0.0.12, sf_node_id: alice-w1, node_redis_password: "%s"}'
                             % BAD_PASSWORD.replace('\n', '\\n'))
    inventory = inventory.replace('bob-1: {ansible_host: 127.0.0.21, sf_ray_role: head, sf_node_id: bob-head}',
                                  'bob-1: {ansible_host: 127.0.0.21, sf_ray_role: head, sf_node_id: bob-head,'
                                  ' node_redis_password: short}')
    rc, out = run(tmp_path, inventory)
    assert rc != 0, out
    assert ("party 'alice', host 'alice-2': node_redis_password may contain only printable ASCII characters without "
            "spaces (it has a newline, a space)") in out, out
    assert "party 'bob', host 'bob-1': node_redis_password is shorter than 16 characters (5)" in out, out
    assert 'appendonly no' not in out and 'short' not in out.replace('shorter', '')   # never the password itself
    assert all(row['unreachable'] == 0 for row in recap(out).values()), out


def test_redis_password_checks_skip_an_external_redis_and_an_empty_password(tmp_path):
    # empty = generated later; an external node_redis_url brings its own
    inventory = GOOD.replace('bob-1: {ansible_host: 127.0.0.21, sf_ray_role: head, sf_node_id: bob-head}',
                             'bob-1: {ansible_host: 127.0.0.21, sf_ray_role: head, sf_node_id: bob-head,'
                             ' node_redis_password: short, node_redis_url: "redis://r.bob:6379/0"}')
    rc, out = run(tmp_path, inventory)
    assert rc == 0, out
