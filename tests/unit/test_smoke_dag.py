# -*- coding: utf-8 -*-
"""playbooks/smoke.yml -e smoke_dag=true (#14): the DAG standard_scaler -> ss_lr -> ss_lr_predict ->
biclassification_eval as one pipeline job. The play's own expressions rendered with ansible-core's Templar for the
sandbox plan; the generated files and the job's task_params checked by the worker's own validation (build_job_spec,
imported from the checkout) with each party's rendered worker config."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import json
import os

import pytest

from ansible_collections.sfops.secretflow.tests.unit.role_templar import trust
from ansible_collections.sfops.secretflow.tests.unit.test_node_role_render import sandbox_plan
from ansible_collections.sfops.secretflow.tests.unit.test_smoke_original_contract import smoke_play, templar
from ansible_collections.sfops.secretflow.tests.unit.test_worker_addresses import build_job_spec, render_configs

STEPS = ['standard_scaler', 'ss_lr', 'ss_lr_predict', 'biclassification_eval']
HEADS = {'alice': 'alice-1', 'bob': 'bob-1'}


def task(match):
    found = [t for t in smoke_play()['tasks'] if t.get('name', '').startswith('DAG - ' + match)]
    assert len(found) == 1, match
    return found[0]


def rows_of(host, **extra):
    text = templar(host, **extra).template(trust(task('write')['ansible.builtin.copy']['content']))
    return list(csv.DictReader(io.StringIO(text)))


def test_off_by_default_and_every_task_behind_the_option():
    assert smoke_play()['vars']['smoke_dag'] is False
    for match in ('create', 'write', 'run', 'check'):
        assert task(match)['when'].startswith('smoke_dag | bool'), match


def test_the_generated_data_is_aligned_balanced_and_linearly_separable():
    alice, bob = rows_of('alice-1'), rows_of('bob-1')
    assert len(alice) == len(bob) == 200
    assert list(alice[0]) == ['id', 'a1', 'a2', 'y'] and list(bob[0]) == ['id', 'b1', 'b2']
    assert [r['id'] for r in alice] == [r['id'] for r in bob] == [str(i) for i in range(1, 201)]
    ys = [int(r['y']) for r in alice]
    assert 60 <= sum(ys) <= 140, sum(ys)
    for a, b, y in zip(alice, bob, ys):
        total = float(a['a1']) + float(a['a2']) + float(b['b1']) + float(b['b2'])
        assert y == (1 if total > 0 else 0) and abs(total) > 1e-9, (a, b)
    assert len(rows_of('alice-2', smoke_dag_rows=30)) == 30     # every node of the party, the option's row count


def test_the_pipeline_passes_the_worker_validation_in_both_parties(tmp_path):
    configs = render_configs(sandbox_plan(), tmp_path)
    os.makedirs(str(tmp_path / 'data' / 'smoke' / 'dag'))
    for party, host in HEADS.items():
        header = list(rows_of(host)[0])
        (tmp_path / 'data' / 'smoke' / 'dag' / ('%s.csv' % party)).write_text(u','.join(header) + u'\n')
    specs = {}
    for party, host in HEADS.items():
        params = templar(host).template(trust(smoke_play()['vars']['_smoke_dag_params']))
        params = json.loads(json.dumps(params))     # what `sfworker submit --params-json` gets
        specs[party] = build_job_spec(configs[host], 'smoke-1-dag', params)
    data = str(tmp_path / 'data')
    for party, spec in specs.items():
        assert spec['task_type'] == 'pipeline' and spec['parties'] == ['alice', 'bob'] and spec['needs_spu'] is True
        steps = spec['task_config']['steps']
        assert [s['task_type'] for s in steps] == STEPS
        assert [s['parties'] for s in steps] == [['alice', 'bob']] * 3 + [['alice']]
        # each step reads the previous one's output of this party (from its staging name at run time)
        scaled, model = '%s/smoke/dag/%s-std.csv' % (data, party), '%s/smoke/dag/%s-lr.model' % (data, party)
        pred = '%s/smoke/dag/alice-pred.csv' % data
        assert steps[1]['staged_inputs'] == [scaled]
        assert sorted(steps[2]['staged_inputs']) == sorted([scaled, model])
        assert steps[3]['staged_inputs'] == ([pred] if party == 'alice' else [])
    assert sorted(o['path'] for o in specs['alice']['outputs']) == sorted(
        '%s/smoke/dag/%s' % (data, f) for f in ('alice-std.csv', 'alice-lr.model', 'alice-pred.csv', 'alice-eval.json'))
    assert sorted(o['path'] for o in specs['bob']['outputs']) == sorted(
        '%s/smoke/dag/%s' % (data, f) for f in ('bob-std.csv', 'bob-lr.model'))


def check(host, stdout):
    """The check task's conditions for this host and a `sfworker submit` output."""
    t = task('check')
    variables = dict(_smoke_dag_run={'rc': 0, 'stdout': stdout, 'stderr': ''})
    tm = templar(host, **variables)
    for name, expr in t['vars'].items():
        variables[name] = tm.template(trust(expr))
        tm = templar(host, **variables)
    results = []
    for cond in t['ansible.builtin.assert']['that']:     # ansible's assert stops at the first false condition
        results.append(bool(tm.template(trust('{{ %s }}' % cond))))
        if not results[-1]:
            break
    return results


def submit_output(party, auc):
    steps = [{'task_type': 'standard_scaler', 'seconds': 1.0}, {'task_type': 'ss_lr', 'seconds': 9.0},
             {'task_type': 'ss_lr_predict', 'seconds': 2.0, 'num_predictions': 200},
             {'task_type': 'biclassification_eval', 'seconds': 0.5,
              'metrics': {'auc': auc} if party == 'alice' else None}]
    return json.dumps({'results': {party: {'state': 'SUCCESS', 'result': {'result': {'steps': steps}}}}})


@pytest.mark.parametrize('host,party,auc,expected', [
    ('alice-1', 'alice', 0.97, [True] * 5),
    ('alice-1', 'alice', 0.6, [True] * 4 + [False]),
    ('bob-1', 'bob', None, [True] * 5),           # bob gets no report: its AUC is not checked
])
def test_the_check_reads_the_steps_and_the_auc(host, party, auc, expected):
    assert check(host, submit_output(party, auc)) == expected


def test_a_failed_job_fails_the_check():
    out = json.dumps({'results': {'alice': {'state': 'FAILURE', 'error': 'task_config.steps[1] (ss_lr) failed'}}})
    assert check('alice-1', out) == [True, False]
