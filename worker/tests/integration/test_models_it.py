"""Real two-party run of the model task types (#14): ss_lr / ss_lr_predict and ss_xgb / ss_xgb_predict in production
mode (each party its own Ray cluster, its own sfworker, mutual TLS), on a small linearly separable dataset split
vertically: alice has x1..x3, bob has x4..x6 and the label y.

Two jobs: both models trained in one pipeline job, both predict types in a second one from the published model files.
Checks: AUC >= 0.9 of the training-time scores (computed here with numpy from the file the receiver wrote); the
predict type, from the saved per-party model files only, reproduces those scores within 1e-4; every party's model
file is in its own data directory only, holds its SPU share and its own part of the model; the predictions are
written by the receiver only; nothing staged is left behind. Prints each job's time."""

from __future__ import annotations

import csv
import json
import os
import sys
import time
import uuid
import zipfile

import numpy as np
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("dump_logs_on_failure")]

EXECUTE = "tasks.secretflow.execute_task"
ROWS = 120
PARTS = {"alice": ["x1", "x2", "x3"], "bob": ["x4", "x5", "x6"]}
TIMES = {}


def _run(parties, kind, task_config, timeout=600):
    """The same job to both parties' queues (what an orchestrator does); each party's nested result."""
    tid = f"{kind}-{uuid.uuid4().hex[:8]}"
    params = {"task_config": dict(task_config, task_type=kind)}
    t = time.monotonic()
    handles = {n: parties[n].send(EXECUTE, [tid, params]) for n in ("alice", "bob")}
    out = {n: h.get(timeout=timeout, propagate=True) for n, h in handles.items()}
    took = time.monotonic() - t
    label = "+".join(x["task_type"] for x in task_config["steps"]) if kind == "pipeline" else kind
    TIMES[label] = round(took, 1)
    for n, r in out.items():
        assert r["status"] == "success", json.dumps(r, indent=1, default=str)[:3000]
    timings = {n: r["performance_metrics"]["timings"] for n, r in out.items()}
    print(f"\n[integration] {label} took {took:.1f}s; timings {json.dumps(timings)}", file=sys.stderr)
    return {n: r["result"] for n, r in out.items()}


def _dataset():
    rng = np.random.default_rng(14)
    x = rng.normal(size=(ROWS, 6))
    w = np.array([1.5, -2.0, 1.0, 0.8, -1.2, 2.0])
    y = (x @ w > 0).astype(int)
    return x, y


def _write(path, header, rows):
    with open(path, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(header)
        wr.writerows(rows)


def _column(path, name):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([float(r[name]) for r in rows])


def auc(scores, labels):
    """Mann-Whitney AUC (ties count one half)."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels)
    pos, neg = scores[labels == 1], scores[labels == 0]
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return (greater + 0.5 * ties) / (len(pos) * len(neg))


@pytest.fixture(scope="module")
def data(two_parties):
    x, y = _dataset()
    a, b = two_parties["alice"], two_parties["bob"]
    _write(os.path.join(a.data_dir, "m_train.csv"), PARTS["alice"], [list(r) for r in x[:, :3]])
    _write(os.path.join(b.data_dir, "m_train.csv"), PARTS["bob"] + ["y"],
           [list(r) + [int(v)] for r, v in zip(x[:, 3:], y)])
    return y


def _staging_left(parties):
    return {n: [f for f in os.listdir(p.data_dir) if f.startswith(".sfpart-")] for n, p in parties.items()}


def _check_model_files(parties, kind, model_files, members):
    for name, p in parties.items():
        other = "bob" if name == "alice" else "alice"
        own = os.path.join(p.data_dir, model_files[name])
        # each party's file is on its own side only
        assert os.path.isfile(own), own
        assert not os.path.exists(os.path.join(p.data_dir, model_files[other]))
        with zipfile.ZipFile(own) as z:
            names = sorted(z.namelist())
            meta = json.loads(z.read("model.json"))
        assert names == sorted(members(name)), names
        assert meta["party"] == name and meta["model_type"] == kind and meta["parties"] == ["alice", "bob"]
        assert meta["party_features"] == PARTS and meta["label"] == "y" and meta["label_party"] == "bob"
    return {n: zipfile.ZipFile(os.path.join(p.data_dir, model_files[n])) for n, p in parties.items()}


def _steps(res, types):
    """Each party's pipeline result -> {party: [step results]} after checking the steps' types."""
    out = {}
    for n, r in res.items():
        steps = r["steps"]
        assert [x["task_type"] for x in steps] == types, steps
        out[n] = steps
    return out


def test_models_train_then_predict(two_parties, data):
    """Both models trained in one job (a pipeline: one sf.init and one SPU for the two), then both predict types in
    a second job from the model files the first job published - what an orchestrator's DAG does across jobs."""
    y = data
    a, b = two_parties["alice"], two_parties["bob"]
    lr_models = {"alice": "models/lr_alice.model", "bob": "models/lr_bob.model"}
    xgb_models = {"alice": "models/xgb_alice.model", "bob": "models/xgb_bob.model"}
    train = {"alice": "m_train.csv", "bob": "m_train.csv"}
    rounds = 3
    steps = _steps(_run(two_parties, "pipeline", {"steps": [
        {"task_type": "ss_lr", "train_data": train,
         "features": ["x1", "x2", "x3", "x4", "x5", "x6"], "label": "y", "label_party": "bob",
         "model_output": lr_models,
         "params": {"epochs": 3, "batch_size": 32, "learning_rate": 0.3},
         # the training-time scores for the label party (the default prediction_receiver)
         "prediction_output": {"bob": "lr_train_scores.csv"}},
        {"task_type": "ss_xgb", "train_data": train,
         "features": {"alice": PARTS["alice"], "bob": PARTS["bob"]}, "label": "y", "label_party": "bob",
         "model_output": xgb_models,
         "params": {"num_boost_round": rounds, "max_depth": 3, "learning_rate": 0.3},
         "prediction_output": {"bob": "xgb_train_scores.csv"}},
    ]}), ["ss_lr", "ss_xgb"])

    # ss_lr
    for name, (r, _) in steps.items():
        assert r["model_id"] == steps["alice"][0]["model_id"] and r["num_samples"] == ROWS and r["num_features"] == 6
        assert r["weights_encrypted"] is True and r["features"] == PARTS
        # the receiver (bob) reports its own output resolved in its data directory, alice bob's path as sent
        want = os.path.join(b.data_dir, "lr_train_scores.csv") if name == "bob" else "lr_train_scores.csv"
        assert r["prediction_output"] == want and r["num_predictions"] == ROWS
    zips = _check_model_files(two_parties, "ss_lr", lr_models, lambda n: ["model.json", "spu/weights.share"])
    # two different shares of the same weights
    assert zips["alice"].read("spu/weights.share") != zips["bob"].read("spu/weights.share")
    # the scores only at the receiver
    assert not os.path.exists(os.path.join(a.data_dir, "lr_train_scores.csv"))
    lr_scores = _column(os.path.join(b.data_dir, "lr_train_scores.csv"), "probability")
    # the receiver's own label follows the scores (an evaluation step reads both from this one file)
    assert np.array_equal(_column(os.path.join(b.data_dir, "lr_train_scores.csv"), "y"), y)
    assert lr_scores.shape == (ROWS,) and np.all((lr_scores >= 0) & (lr_scores <= 1))
    assert auc(lr_scores, y) >= 0.9, auc(lr_scores, y)

    # ss_xgb
    for _, r in steps.values():
        assert r["num_trees"] == rounds and r["num_predictions"] == ROWS
    weights = [f"spu/weight-{i:04d}.share" for i in range(rounds)]
    zips = _check_model_files(two_parties, "ss_xgb", xgb_models, lambda n: ["model.json", "trees.json"] + weights)
    # each node of each tree splits on exactly one party's feature: that party has its index and threshold, the
    # other -1
    trees = {n: json.loads(z.read("trees.json")) for n, z in zips.items()}
    assert len(trees["alice"]) == len(trees["bob"]) == rounds
    for ta, tb in zip(trees["alice"], trees["bob"]):
        assert len(ta["split_features"]) == len(tb["split_features"]) == 2 ** 3 - 1
        for fa, fb in zip(ta["split_features"], tb["split_features"]):
            assert (fa == -1) != (fb == -1) and max(fa, fb) < 3, (ta, tb)
    xgb_scores = _column(os.path.join(b.data_dir, "xgb_train_scores.csv"), "probability")
    assert auc(xgb_scores, y) >= 0.9, auc(xgb_scores, y)
    assert _staging_left(two_parties) == {"alice": [], "bob": []}

    # predict from the saved model files only, in a new job; alice receives the ss_lr predictions, bob the ss_xgb
    steps = _steps(_run(two_parties, "pipeline", {"steps": [
        {"task_type": "ss_lr_predict", "model_path": lr_models, "predict_data": train,
         "output_path": {"alice": "lr_pred.csv"}, "receiver_party": "alice"},
        {"task_type": "ss_xgb_predict", "model_path": xgb_models, "predict_data": train,
         "output_path": {"bob": "xgb_pred.csv"}},  # one entry: bob is the receiver
    ]}), ["ss_lr_predict", "ss_xgb_predict"])
    assert {r["num_predictions"] for s in steps.values() for r in s} == {ROWS}
    assert {s[1]["receiver_party"] for s in steps.values()} == {"bob"}
    assert not os.path.exists(os.path.join(b.data_dir, "lr_pred.csv"))
    pred = _column(os.path.join(a.data_dir, "lr_pred.csv"), "probability")
    labels = _column(os.path.join(a.data_dir, "lr_pred.csv"), "prediction")
    with open(os.path.join(a.data_dir, "lr_pred.csv")) as f:
        assert f.readline().strip() == "probability,prediction"  # alice has no label column
    np.testing.assert_allclose(pred, lr_scores, rtol=0, atol=1e-4)
    assert np.array_equal(labels, (pred >= 0.5).astype(float))

    assert not os.path.exists(os.path.join(a.data_dir, "xgb_pred.csv"))
    pred = _column(os.path.join(b.data_dir, "xgb_pred.csv"), "probability")
    assert np.array_equal(_column(os.path.join(b.data_dir, "xgb_pred.csv"), "y"), y)
    np.testing.assert_allclose(pred, xgb_scores, rtol=0, atol=1e-4)
    assert _staging_left(two_parties) == {"alice": [], "bob": []}
    print(f"\n[integration] model job times (s): {TIMES}", file=sys.stderr)
