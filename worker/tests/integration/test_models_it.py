"""Real two-party run of the model task types (#14): ss_lr / ss_lr_predict and ss_xgb / ss_xgb_predict in production
mode (each party its own Ray cluster, its own sfworker, mutual TLS), on a small linearly separable dataset split
vertically: alice has x1..x3, bob has x4..x6 and the label y.

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
    TIMES[kind] = round(took, 1)
    for n, r in out.items():
        assert r["status"] == "success", json.dumps(r, indent=1, default=str)[:3000]
    timings = {n: r["performance_metrics"]["timings"] for n, r in out.items()}
    print(f"\n[integration] {kind} took {took:.1f}s; timings {json.dumps(timings)}", file=sys.stderr)
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


def test_ss_lr_train_and_predict(two_parties, data):
    y = data
    a, b = two_parties["alice"], two_parties["bob"]
    models = {"alice": "models/lr_alice.model", "bob": "models/lr_bob.model"}
    res = _run(two_parties, "ss_lr", {
        "train_data": {"alice": "m_train.csv", "bob": "m_train.csv"},
        "features": ["x1", "x2", "x3", "x4", "x5", "x6"], "label": "y", "label_party": "bob",
        "model_output": models,
        "params": {"epochs": 3, "batch_size": 32, "learning_rate": 0.3},
        # the training-time scores for the label party (the default prediction_receiver)
        "prediction_output": {"bob": "lr_train_scores.csv"},
    })
    for name, r in res.items():
        assert r["model_id"] == res["alice"]["model_id"] and r["num_samples"] == ROWS and r["num_features"] == 6
        assert r["weights_encrypted"] is True and r["features"] == PARTS
        # the receiver (bob) reports its own output resolved in its data directory, alice bob's path as sent
        want = os.path.join(b.data_dir, "lr_train_scores.csv") if name == "bob" else "lr_train_scores.csv"
        assert r["prediction_output"] == want and r["num_predictions"] == ROWS
    zips = _check_model_files(two_parties, "ss_lr", models, lambda n: ["model.json", "spu/weights.share"])
    # two different shares of the same weights
    assert zips["alice"].read("spu/weights.share") != zips["bob"].read("spu/weights.share")
    # the scores only at the receiver
    assert not os.path.exists(os.path.join(a.data_dir, "lr_train_scores.csv"))
    train_scores = _column(os.path.join(b.data_dir, "lr_train_scores.csv"), "probability")
    # the receiver's own label follows the scores (an evaluation step reads both from this one file)
    assert np.array_equal(_column(os.path.join(b.data_dir, "lr_train_scores.csv"), "y"), y)
    assert train_scores.shape == (ROWS,) and np.all((train_scores >= 0) & (train_scores <= 1))
    assert auc(train_scores, y) >= 0.9, auc(train_scores, y)

    # predict from the saved model files only; alice receives this time
    res = _run(two_parties, "ss_lr_predict", {
        "model_path": models, "predict_data": {"alice": "m_train.csv", "bob": "m_train.csv"},
        "output_path": {"alice": "lr_pred.csv"}, "receiver_party": "alice",
    })
    assert {r["num_predictions"] for r in res.values()} == {ROWS}
    assert not os.path.exists(os.path.join(b.data_dir, "lr_pred.csv"))
    pred = _column(os.path.join(a.data_dir, "lr_pred.csv"), "probability")
    labels = _column(os.path.join(a.data_dir, "lr_pred.csv"), "prediction")
    with open(os.path.join(a.data_dir, "lr_pred.csv")) as f:
        assert f.readline().strip() == "probability,prediction"  # alice has no label column
    np.testing.assert_allclose(pred, train_scores, rtol=0, atol=1e-4)
    assert np.array_equal(labels, (pred >= 0.5).astype(float))
    assert _staging_left(two_parties) == {"alice": [], "bob": []}


def test_ss_xgb_train_and_predict(two_parties, data):
    y = data
    a, b = two_parties["alice"], two_parties["bob"]
    models = {"alice": "models/xgb_alice.model", "bob": "models/xgb_bob.model"}
    rounds = 3
    res = _run(two_parties, "ss_xgb", {
        "train_data": {"alice": "m_train.csv", "bob": "m_train.csv"},
        "features": {"alice": PARTS["alice"], "bob": PARTS["bob"]}, "label": "y", "label_party": "bob",
        "model_output": models,
        "params": {"num_boost_round": rounds, "max_depth": 3, "learning_rate": 0.3},
        "prediction_output": {"bob": "xgb_train_scores.csv"},
    })
    for r in res.values():
        assert r["num_trees"] == rounds and r["num_predictions"] == ROWS
    weights = [f"spu/weight-{i:04d}.share" for i in range(rounds)]
    zips = _check_model_files(two_parties, "ss_xgb", models, lambda n: ["model.json", "trees.json"] + weights)
    # each node of each tree splits on exactly one party's feature: that party has its index and threshold, the
    # other -1
    trees = {n: json.loads(z.read("trees.json")) for n, z in zips.items()}
    assert len(trees["alice"]) == len(trees["bob"]) == rounds
    for ta, tb in zip(trees["alice"], trees["bob"]):
        assert len(ta["split_features"]) == len(tb["split_features"]) == 2 ** 3 - 1
        for fa, fb in zip(ta["split_features"], tb["split_features"]):
            assert (fa == -1) != (fb == -1) and max(fa, fb) < 3, (ta, tb)
    train_scores = _column(os.path.join(b.data_dir, "xgb_train_scores.csv"), "probability")
    assert auc(train_scores, y) >= 0.9, auc(train_scores, y)

    res = _run(two_parties, "ss_xgb_predict", {
        "model_path": models, "predict_data": {"alice": "m_train.csv", "bob": "m_train.csv"},
        "output_path": {"bob": "xgb_pred.csv"},  # one entry: bob is the receiver
    })
    assert {r["receiver_party"] for r in res.values()} == {"bob"}
    assert not os.path.exists(os.path.join(a.data_dir, "xgb_pred.csv"))
    pred = _column(os.path.join(b.data_dir, "xgb_pred.csv"), "probability")
    assert np.array_equal(_column(os.path.join(b.data_dir, "xgb_pred.csv"), "y"), y)
    np.testing.assert_allclose(pred, train_scores, rtol=0, atol=1e-4)
    assert _staging_left(two_parties) == {"alice": [], "bob": []}
    print(f"\n[integration] model job times (s): {TIMES}", file=sys.stderr)
