# -*- coding: utf-8 -*-
"""The node role's containers and files as issue #12 asks (items 3, 4, 6), checked on the role's own tasks,
templates and variables (rendered with ansible-core's Templar for the sandbox plan):

- both containers unprivileged: the image's user, cap_drop ALL, no-new-privileges, memory and pids limits sized by
  the memory_sizing filter; supervisord needs no root paths; the image has the user and ends with USER;
- Redis: the password never in argv (healthcheck) nor in redis.conf (only its SHA-256), default user off, the worker
  connects as the ACL user, maxmemory under the container's limit; a generated password when none is given;
- secrets at rest: files holding one are 0600 and owned by the container user, their tasks no_log; an external
  node_redis_url's password goes to the file, not into worker.yml; the argument specs hide secrets; container env
  carries none.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re
import stat

import pytest
import yaml

from ansible_collections.sfops.secretflow.tests.unit.role_templar import ROOT, RoleTemplar
from ansible_collections.sfops.secretflow.tests.unit.test_node_role_render import FACTS, sandbox_plan

PASSWORD = 'S3cure-Redis.Password~42'
NODE = os.path.join(ROOT, 'roles', 'node')


def tasks(name):
    with open(os.path.join(NODE, 'tasks', name)) as handle:
        return yaml.safe_load(handle)


def task(name, match):
    found = [t for t in tasks(name) if match in t.get('name', '')]
    assert len(found) == 1, (name, match)
    return found[0]


def container(name, match):
    return task(name, match)['community.docker.docker_container']


def templar(host='bob-1', **overrides):
    values = dict(node_object_store_memory_mb=512, node_redis_password=PASSWORD)
    values.update(overrides)
    return RoleTemplar('node', facts=dict(FACTS, processor_vcpus=4), sf_plan=sandbox_plan(), inventory_hostname=host,
                       **values)


# ---------------------------------------------------------------- item 3: unprivileged containers

@pytest.mark.parametrize('file_name,match', [('node-container.yml', 'SecretFlow node container'),
                                             ('run.yml', "party's Redis")])
def test_containers_run_unprivileged(file_name, match):
    params = container(file_name, match)
    assert params['user'] == '{{ _node_user }}'
    assert params['cap_drop'] == ['ALL']
    assert params['security_opts'] == ['no-new-privileges:true']
    assert 'memory' in params and 'pids_limit' in params
    assert 'privileged' not in params and 'cap_add' not in params


def test_node_container_gives_back_only_node_cap_add():
    params = container('node-container.yml', 'SecretFlow node container')
    assert params['capabilities'] == "{{ node_cap_add if node_cap_add | length > 0 else omit }}"
    with open(os.path.join(NODE, 'defaults', 'main.yml')) as handle:
        defaults = yaml.safe_load(handle)
    assert defaults['node_cap_add'] == []
    with open(os.path.join(ROOT, 'roles', '_common', 'defaults', 'main.yml')) as handle:
        shared = yaml.safe_load(handle)     # the smoke and status playbooks need them too
    assert (shared['node_container_uid'], shared['node_container_gid']) == (10001, 10001)


def test_smoke_outputs_directory_is_the_container_users():
    with open(os.path.join(ROOT, 'playbooks', 'smoke.yml')) as handle:
        plays = yaml.safe_load(handle)
    created = [t for play in plays for t in play.get('tasks', []) if t.get('name', '').startswith('Create the smoke')]
    assert len(created) == 1
    assert created[0]['ansible.builtin.file']['owner'] == '{{ node_container_uid }}'


def test_container_user_and_limits_from_the_sizing():
    head = templar('bob-1')
    assert head.var('_node_user') == '10001:10001'
    sizing = head.var('_node_sizing')
    # the sandbox's 7936 MiB test server: Redis 1/16, the node the rest minus the host's 512 MiB
    assert (sizing['redis_memory_mb'], sizing['redis_maxmemory_mb']) == (496, 372)
    assert sizing['node_memory_mb'] == 7936 - 496 - 512
    assert sizing['pids_limit'] == 4096
    worker = templar('alice-2').var('_node_sizing')
    assert worker['node_memory_mb'] == 7936 - 512 and worker['redis_memory_mb'] == 0
    external = templar('bob-1', node_redis_url='redis://r.bob:6379/0').var('_node_sizing')
    assert external['node_memory_mb'] == 7936 - 512       # no Redis container beside it


def test_supervisord_needs_no_root():
    conf = templar('alice-2').render('supervisord.conf.j2')
    assert 'user=root' not in conf and '\nuser=' not in conf
    assert '/run/' not in conf                                # not writable by the container user
    assert 'pidfile=/tmp/supervisord.pid' in conf and 'file=/tmp/supervisor.sock' in conf
    assert 'serverurl=unix:///tmp/supervisor.sock' in conf
    # Ray's workers inherit ray start's working directory and SPU writes spu.log there: not / (root's)
    programs = dict(re.findall(r'\[program:(\w+)\]\n(.*?)(?=\n\[|\Z)', conf, re.S))
    assert re.search(r'^directory=/var/log/sfops$', programs['ray'], re.M), programs['ray']
    assert re.search(r'^directory=/tmp$', programs['worker'], re.M), programs['worker']


def test_written_directories_belong_to_the_container_user():
    dirs = task('configure.yml', 'Create the node directories')
    owners = {item['path']: item['owner'] for item in dirs['loop']}
    assert owners['{{ node_data_dir }}'] == owners['{{ node_log_dir }}'] == '{{ node_container_uid }}'
    assert owners['{{ node_config_dir }}'] == 'root'          # read-only for the containers
    assert dirs['ansible.builtin.file']['group'] == '{{ node_container_gid }}'
    handover = task('configure.yml', 'root-run containers wrote')
    for path in ('node_log_dir', 'node_data_dir', '_node_redis_volume.volume.Mountpoint'):
        assert "'path': %s" % path in handover['loop'], path
    assert handover['ansible.builtin.shell']['creates'] == '{{ item.path }}/{{ _node_handover_marker }}'
    # root-run containers of an earlier version stop before it, so they cannot write root's files after it
    names = [t['name'] for t in tasks('configure.yml')]
    assert names.index('Stop the containers that still run as root (recreated unprivileged below)') < \
        names.index(handover['name'])


def test_tls_key_is_the_container_users():
    block = task('tls.yml', 'Install the certificate files')['block']
    key = [t for t in block if 'party key' in t['name']][0]
    assert key['ansible.builtin.copy']['owner'] == '{{ node_tls_owner }}'
    assert key['ansible.builtin.copy']['group'] == '{{ node_container_gid }}'
    assert key['ansible.builtin.copy']['mode'] == '0600' and key['no_log'] is True
    assert str(templar().var('node_tls_owner')) == '10001'
    # playbooks/rotate-certs.yml includes tls.yml alone: it must bring node_container_uid/gid (roles/_common) itself
    first = tasks('tls.yml')[0]
    assert first['ansible.builtin.import_role'] == {'name': 'sfops.secretflow._common', 'tasks_from': 'plan'}


def test_image_has_the_user_and_ends_unprivileged():
    for base in ('debian', 'secretflow'):
        dockerfile = RoleTemplar('image', image_base=base).render('Dockerfile.j2')
        assert 'useradd --uid 10001 --gid 10001' in dockerfile, base
        users = [line for line in dockerfile.splitlines() if line.startswith('USER ')]
        assert users == ['USER 10001:10001'], base
        # nothing runs as root after it
        assert 'RUN ' not in dockerfile.split('USER 10001:10001', 1)[1], base


# ---------------------------------------------------------------- item 4: Redis

def test_redis_conf_holds_only_the_password_hash_and_disables_default():
    conf = templar().render('redis.conf.j2')
    assert PASSWORD not in conf and 'requirepass' not in conf
    digest = hashlib.sha256(PASSWORD.encode()).hexdigest()
    lines = conf.splitlines()
    assert 'user default reset' in lines
    acl = [line for line in lines if line.startswith('user sfworker ')]
    assert len(acl) == 1 and ' on #%s ' % digest in acl[0] and ' -@all ' in acl[0]
    for denied in (' +config', ' +flushall', ' +shutdown', ' +debug', ' +module', ' +acl', ' +keys', ' +@'):
        assert denied not in acl[0], denied
    assert 'maxmemory 372mb' in lines and 'maxmemory-policy noeviction' in lines


def test_redis_conf_refuses_a_password_that_would_inject_a_directive():
    with pytest.raises(Exception) as err:
        templar(node_redis_password='Long-enough-password\nappendonly no').render('redis.conf.j2')
    assert 'a newline' in str(err.value) and 'appendonly no' not in str(err.value)


def test_healthcheck_keeps_the_password_out_of_argv():
    test = container('run.yml', "party's Redis")['healthcheck']['test']
    assert test[0] == 'CMD-SHELL'
    assert ' -a ' not in test[1] and '--pass' not in test[1]
    assert test[1].startswith('REDISCLI_AUTH="$(cat {{ _node_conf_in }}/redis.pw)" redis-cli --user {{ _node_redis_user }}')


def test_worker_connects_as_the_acl_user_with_the_password_in_its_file():
    config = templar('alice-2').var('_node_sfworker_config')
    assert config['redis_url'] == 'redis://sfworker@172.31.0.11:16379/0'
    assert config['redis_password_file'] == '/etc/sfops/redis.pw'


def test_external_redis_password_goes_to_the_file_not_the_config():
    role = templar('alice-2', node_redis_url='rediss://app:p%40ss-Word-0123456@redis.alice:6380/2')
    config = role.var('_node_sfworker_config')
    assert config['redis_url'] == 'rediss://app@redis.alice:6380/2'
    assert config['redis_password_file'] == '/etc/sfops/redis.pw'
    assert role.var('_node_redis_password') == 'p@ss-Word-0123456'
    rendered = role.render('worker.yml.j2')
    assert 'p%40ss' not in rendered and 'p@ss' not in rendered
    none = templar('alice-2', node_redis_url='redis://redis.alice:6379/0').var('_node_sfworker_config')
    assert none['redis_url'] == 'redis://redis.alice:6379/0' and 'redis_password_file' not in none


def test_a_strong_password_is_generated_on_the_controller_when_none_is_given(tmp_path):
    pwfile = tmp_path / 'credentials' / 'redis' / 'bob.pw'
    role = templar(node_redis_password='', node_redis_password_file=str(pwfile))
    first = role.var('_node_redis_password')
    assert len(first) == 32 and first.isalnum()
    assert stat.S_IMODE(os.stat(str(pwfile)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(pwfile.parent)).st_mode) == 0o700
    again = templar(node_redis_password='', node_redis_password_file=str(pwfile)).var('_node_redis_password')
    assert again == first                                     # made once, then read
    assert 'user sfworker reset on #%s' % hashlib.sha256(first.encode()).hexdigest() in role.render('redis.conf.j2')


def test_generated_password_file_defaults_next_to_the_tls_dir():
    with open(os.path.join(NODE, 'defaults', 'main.yml')) as handle:
        defaults = yaml.safe_load(handle)
    assert defaults['node_redis_password_file'] == \
        '{{ inventory_dir }}/credentials/redis/{{ sf_plan.hosts[inventory_hostname] }}.pw'
    with open(os.path.join(ROOT, 'roles', 'tls', 'defaults', 'main.yml')) as handle:
        assert yaml.safe_load(handle)['sf_tls_dir'] == '{{ inventory_dir }}/credentials/tls'


# ---------------------------------------------------------------- item 6: secrets at rest

@pytest.mark.parametrize('file_name,match,owner', [
    ('configure.yml', 'Redis password for the worker', '{{ node_container_uid }}'),
    ('configure.yml', 'Render redis.conf', '{{ node_container_uid }}'),
])
def test_secret_files_are_private_and_not_logged(file_name, match, owner):
    entry = task(file_name, match)
    module = [v for k, v in entry.items() if k.startswith('ansible.builtin.')][0]
    assert module['mode'] == '0600' and module['owner'] == owner
    assert entry['no_log'] is True and entry.get('diff') is False


def test_worker_yml_has_no_secret_and_is_not_logged():
    entry = task('configure.yml', 'worker configuration')
    assert entry['ansible.builtin.template']['mode'] == '0640' and entry['no_log'] is True
    rendered = templar('alice-2').render('worker.yml.j2')
    assert PASSWORD not in rendered


def test_every_file_task_sets_an_explicit_mode():
    for name in os.listdir(os.path.join(NODE, 'tasks')):
        for entry in tasks(name):
            for inner in entry.get('block', [entry]):
                for module in ('ansible.builtin.copy', 'ansible.builtin.template'):
                    if module in inner:
                        assert 'mode' in inner[module], (name, inner['name'])
                        # upgrade.yml's copies of the rendered files (to previous/ and back) keep each file's mode
                        allowed = ('0600', '0640', '0644') + (('preserve',) if inner[module].get('remote_src') else ())
                        assert inner[module]['mode'] in allowed, (name, inner['name'])
                        # a copy of a file that may hold a secret (redis.pw) never shows its content in --diff
                        if inner[module].get('remote_src'):
                            assert inner.get('diff') is False, (name, inner['name'])


def test_container_env_carries_no_redis_password():
    env = container('node-container.yml', 'SecretFlow node container')['env']
    assert 'redis' not in env.lower() and 'password' not in env.lower()
    assert 'env' not in container('run.yml', "party's Redis")


@pytest.mark.parametrize('role,entry', [('node', 'main'), ('_common', 'main'), ('_common', 'sizing')])
def test_argument_specs_hide_secrets(role, entry):
    with open(os.path.join(ROOT, 'roles', role, 'meta', 'argument_specs.yml')) as handle:
        options = yaml.safe_load(handle)['argument_specs'][entry]['options']
    for name in ('node_redis_password', 'node_redis_url'):
        if name in options:
            assert options[name].get('no_log') is True, (role, entry, name)
    assert 'node_redis_url' in options


def test_an_upgrade_keeps_each_configuration_files_owner_and_a_rollback_gives_it_back():
    # A remote_src copy makes its copy root's: redis.pw (0600, the container user's) would be unreadable by the
    # worker after a rollback - measured on the sandbox: the rolled-back worker exited "cannot read /etc/sfops/redis.pw".
    block = [t for t in tasks('upgrade.yml') if t.get('name') == 'Upgrade this server'][0]['block']
    keep = [t for t in block if t.get('name') == 'Keep the previous configuration files'][0]['ansible.builtin.copy']
    assert (keep['owner'], keep['group'], keep['mode']) == ('{{ item.uid }}', '{{ item.gid }}', 'preserve')
    snapshot = [t for t in block if t.get('name') == 'Mark this server as changed by this run'][0]
    assert "map(attribute='uid')" in snapshot['ansible.builtin.set_fact']['_node_upgrade_snapshot']['owners']
    back = task('upgrade-rollback.yml', 'Put the previous configuration files back')['ansible.builtin.copy']
    assert back['owner'].startswith('{{ _node_rb.owners[item][0]') and back['group'].startswith('{{ _node_rb.owners[item][1]')
    assert back['mode'] == 'preserve'
