# -*- coding: utf-8 -*-
"""The node role renders the original worker's status event names, their list's cap and the result lifetime into
the worker's config (#13): role defaults = the original's names."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml

from ansible_collections.sfops.secretflow.tests.unit.role_templar import RoleTemplar
from ansible_collections.sfops.secretflow.tests.unit.test_node_role_render import FACTS, sandbox_plan


def templar(**overrides):
    return RoleTemplar('node', facts=FACTS, sf_plan=sandbox_plan(), inventory_hostname='bob-1',
                       node_object_store_memory_mb=512, node_redis_password='Long-enough-password-0123', **overrides)


def test_worker_config_has_the_originals_event_names_by_default():
    config = yaml.safe_load(templar().render('worker.yml.j2'))
    assert config['status_channel'] == 'task_status_events' and config['status_queue'] == 'task_status_queue'
    assert config['status_queue_max'] == 10000 and config['result_expires_s'] == 86400


def test_worker_config_follows_the_role_variables():
    config = templar(node_worker_status_channel='orch_events', node_worker_status_queue='orch_queue',
                     node_worker_status_queue_max=250, node_worker_result_expires_s=7200).var('_node_sfworker_config')
    assert (config['status_channel'], config['status_queue']) == ('orch_events', 'orch_queue')
    assert config['status_queue_max'] == 250 and config['result_expires_s'] == 7200
