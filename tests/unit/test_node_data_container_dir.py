# -*- coding: utf-8 -*-
"""node_data_container_dir (#13): where node_data_dir is mounted in the node container, and the worker config's
data_dir - one variable for both - so the original SecretFlow Worker's /app/data/... paths can work unchanged.
The node role's preflight refuses a relative, unnormalised or clashing path, naming the variable and the value."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.sfops.secretflow.tests.unit.role_templar import ROOT, RoleTemplar, trust
from ansible_collections.sfops.secretflow.tests.unit.test_node_role_render import FACTS, sandbox_plan

NODE = os.path.join(ROOT, 'roles', 'node')


def templar(**overrides):
    return RoleTemplar('node', facts=dict(FACTS, processor_vcpus=4), sf_plan=sandbox_plan(), inventory_hostname='bob-1',
                       node_object_store_memory_mb=512, node_redis_password='S3cure-Redis.Password~42', **overrides)


def data_mount(role):
    with open(os.path.join(NODE, 'tasks', 'node-container.yml')) as handle:
        params = yaml.safe_load(handle)[0]['community.docker.docker_container']
    mounts = [role.templar.template(trust(v)) for v in params['volumes']]
    return [m for m in mounts if m.startswith(role.var('node_data_dir') + ':')]


def test_default_is_unchanged():
    role = templar()
    assert role.var('_node_sfworker_config')['data_dir'] == '/data'
    assert data_mount(role) == ['/var/lib/sfops/data:/data']


@pytest.mark.parametrize('path', ['/app/data', '/srv/jobs'])
def test_mount_and_worker_config_follow_the_variable(path):
    role = templar(node_data_container_dir=path, node_data_dir='/srv/sf')
    assert data_mount(role) == ['/srv/sf:%s' % path]
    rendered = yaml.safe_load(role.render('worker.yml.j2'))
    assert rendered['data_dir'] == path


def preflight_checks(role):
    """The node preflight's items for node_data_container_dir, templated: [(ok, message)]."""
    with open(os.path.join(NODE, 'tasks', 'preflight.yml')) as handle:
        check = [t for t in yaml.safe_load(handle) if t['name'] == 'Check the node settings'][0]
    items = [i for i in check['loop'] if i['var'] == 'node_data_container_dir']
    assert len(items) == 2
    return [(bool(role.templar.template(trust(i['ok']))), role.templar.template(trust(i['msg'])).strip()) for i in items]


@pytest.mark.parametrize('path', ['/data', '/app/data', '/srv/sf.data/v1', '/a', '/var/lib/sfops', '/tmpdata'])
def test_preflight_accepts(path):
    assert [ok for ok, _msg in preflight_checks(templar(node_data_container_dir=path))] == [True, True]


@pytest.mark.parametrize('path', ['data', 'app/data', '/app/data/', '/app//data', '/app/./data', '/app/../data',
                                  '/..', '/', ''])
def test_preflight_refuses_unnormalised(path):
    (ok, msg), _clash = preflight_checks(templar(node_data_container_dir=path))
    assert not ok
    assert msg == ("='%s' must be an absolute, normalised container path other than / (no trailing '/', no '//', "
                   "'.' or '..'), e.g. /data or /app/data" % path)


@pytest.mark.parametrize('path,clashes', [
    ('/etc/sfops', '/etc/sfops'),                  # the configuration mount
    ('/etc', '/etc/sfops, /etc'),
    ('/var/log/sfops/data', '/var/log/sfops'),     # in the log mount
    ('/var', '/var/log/sfops'),                    # would hide the log mount
    ('/tmp/data', '/tmp'),                         # Ray's temp dir, supervisord's socket, the worker's work_dir
    ('/usr/local', '/usr'),
    ('/proc', '/proc'),
])
def test_preflight_refuses_clashes(path, clashes):
    (ok, _msg), (clash_ok, msg) = preflight_checks(templar(node_data_container_dir=path))
    assert ok and not clash_ok
    assert sorted(msg.split(' clashes with the node container\'s ')[1].split(' (')[0].split(', ')) == \
        sorted(clashes.split(', '))
    assert msg.startswith("='%s' clashes with the node container's " % path)
    assert msg.endswith('(it must neither be, lie in nor contain them), e.g. /data or /app/data')


def test_sandbox_and_e2e_use_the_original_workers_path():
    for path in ('inventories/sandbox/group_vars/secretflow.yml', 'molecule/e2e/inventory/group_vars/secretflow.yml'):
        with open(os.path.join(ROOT, path)) as handle:
            assert yaml.safe_load(handle)['node_data_container_dir'] == '/app/data', path
