# -*- coding: utf-8 -*-
"""verify.yml's TLS play for real (ansible-playbook, controller only): the heads start their listeners, probe,
collect and the report reads exactly what they registered.

The hosts use the local connection and community.docker is pointed at a Docker socket that does not exist
(DOCKER_HOST), so every `docker exec` fails the same way: what is tested is the wiring - which hosts listen and
probe, that async listeners are collected, that the report finds every result (register names, loop items) and
that the play fails naming each check. The verdicts themselves: tests/unit/plugins/module_utils/test_tls_verify.py;
the CLIs: worker/tests/test_cli.py.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

from ansible_collections.sfops.secretflow.tests.unit.playbook_runs import (local_inventory, needs_playbook, playbook_env, recap,
                                                                           run_playbook)

pytestmark = needs_playbook


def run(tmp_path, tls):
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(local_inventory('ansible_connection: local', 'ansible_become: false',
                                         'ansible_python_interpreter: %s' % sys.executable, 'sf_tls_enabled: %s' % tls))
    env = playbook_env(DOCKER_HOST='unix://%s' % os.path.join(str(tmp_path), 'no-docker.sock'))
    return run_playbook(os.path.join('playbooks', 'verify.yml'), inventory,
                        ['--tags', 'tls', '-e', 'verify_tls_listen_s=5', '-e', 'verify_tls_wait_s=1'], env=env)


def test_every_check_is_run_collected_and_named(tmp_path):
    rc, out = run(tmp_path, 'true')
    assert rc == 2, out
    assert '16 TLS problem(s):' in out, out
    # the listeners ran on the heads (async) and were collected: their error, not "no result"
    for line in ('temporary listener alice fed 127.0.0.11:19000 on alice-1: Error connecting',
                 'temporary listener bob spu 127.0.0.21:19500 on bob-1: Error connecting'):
        assert line in out, out
    # each probe of each head was found by its item: the parties, link, address and client certificate named
    for line in ("alice -> bob fed at 127.0.0.21:19000: a client without a certificate - cannot run sfworker "
                 "tls-probe in the node container: Error connecting",
                 "bob -> alice spu at 127.0.0.11:19500: a certificate from an unknown CA (--stranger) - cannot run "
                 "sfworker tls-probe",
                 "bob -> alice fed at 127.0.0.11:19000: bob's own certificate - cannot run sfworker tls-probe"):
        assert line in out, out
    assert 'did not probe' not in out and 'no result' not in out, out
    assert 'alice  bob:fed    127.0.0.21:19000  ERROR           ERROR       ERROR' in out, out
    rows = recap(out)
    assert rows['alice-1']['failed'] == 1 and rows['bob-1']['failed'] == 0 and rows['alice-2']['failed'] == 0


def test_tls_off_skips(tmp_path):
    rc, out = run(tmp_path, 'false')
    assert rc == 0, out
    assert 'TLS checks: TLS between parties is off (sf_tls_enabled: false): no TLS check' in out, out
    assert 'tls-probe' not in out and 'Start temporary TLS listeners' in out, out
