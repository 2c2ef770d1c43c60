# -*- coding: utf-8 -*-
"""Running this checkout's playbooks for real from unit tests (controller-only inventories).

One place for what every such test needs: the checkout root, the ``ansible-playbook`` of the test's interpreter,
the skip mark for checkouts without them, an environment with this checkout's ansible.cfg and no colour codes,
a runner returning ``(rc, output)`` and the PLAY RECAP parsed.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK_BIN = shutil.which('ansible-playbook', path=os.path.dirname(sys.executable)) or shutil.which(
    'ansible-playbook')

needs_playbook = pytest.mark.skipif(
    not os.path.exists(os.path.join(ROOT, 'ansible.cfg')) or PLAYBOOK_BIN is None,
    reason='needs a checkout with ansible.cfg and ansible-playbook')


def playbook_env(**extra):
    """os.environ with this checkout's ansible.cfg, no colours, and ``extra`` on top."""
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
                ANSIBLE_FORCE_COLOR='0', **extra)


def run_playbook(playbook, inventory, args=(), env=None, cwd=ROOT, timeout=300):
    """``ansible-playbook playbook -i inventory args...``; returns ``(rc, stdout+stderr)``."""
    proc = subprocess.run([PLAYBOOK_BIN, playbook, '-i', str(inventory)] + list(args), cwd=str(cwd),
                          env=env or playbook_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, check=False)
    return proc.returncode, proc.stdout


def recap(output):
    """PLAY RECAP as host -> {ok, changed, unreachable, failed, ...}."""
    rows = re.findall(r'^(\S+)\s+: ((?:\w+=\d+\s*)+)$', output, re.M)
    assert rows, output
    return {host: {k: int(v) for k, v in re.findall(r'(\w+)=(\d+)', counts)} for host, counts in rows}


# The deployment of the playbook tests: party alice (head + a worker node), party bob (head), on loopback addresses.
PARTIES = """
  children:
    secretflow:
      children:
        alice:
          hosts:
            alice-1: {ansible_host: 127.0.0.11, sf_ray_role: head, sf_node_id: alice-head}
            alice-2: {ansible_host: 127.0.0.12, sf_node_id: alice-w1}
        bob:
          hosts:
            bob-1: {ansible_host: 127.0.0.21, sf_ray_role: head, sf_node_id: bob-head}
"""


def local_inventory(*var_lines):
    """A YAML inventory of :data:`PARTIES` with ``var_lines`` (e.g. ``'ansible_port: 1'``) under ``all.vars``."""
    return '\nall:\n  vars:\n' + ''.join('    %s\n' % line for line in var_lines) + PARTIES.lstrip('\n')
