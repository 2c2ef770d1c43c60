# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import shlex

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.sfops.secretflow.plugins.filter.supervisor_command import FilterModule


def render(argv):
    return FilterModule().filters()['supervisor_command'](argv)


def supervisord_split(command):
    """What supervisord does with command=: expand %(...)s expressions (here: only %% -> %), then shlex.split."""
    return shlex.split(command % {})


def test_json_argument_survives_supervisord_parsing():
    labels = json.dumps({'sf_node_id': 'alice-head', 'sf_party': 'alice'}, separators=(',', ':'))
    argv = ['ray', 'start', '--head', '--labels=%s' % labels, '--system-config={"a": "b c"}', '--block']
    command = render(argv)
    assert "'--labels=" in command  # single quotes: supervisord keeps the double quotes inside
    assert supervisord_split(command) == argv


def test_percent_is_escaped():
    argv = ['echo', '100%', '%(ENV_HOME)s']
    command = render(argv)
    assert '100%%' in command
    assert supervisord_split(command) == argv


def test_plain_arguments_stay_plain():
    assert render(['ray', 'start', '--port=16380']) == 'ray start --port=16380'


@pytest.mark.parametrize('bad', ['ray start', [['nested']], None])
def test_rejects_non_lists(bad):
    with pytest.raises(AnsibleFilterError):
        render(bad)
