"""Statistics and evaluation task types (#14) in production mode, each party its own Ray cluster: the results
against plaintext computations done here (numpy).

Two jobs, to keep the run short (sf.init and the SPU link set-up dominate small jobs):
* alice + bob, one pipeline: table_statistics, pearson_correlation (report for alice only), vif (both), and
  regression_eval with the label in bob's file and the prediction in alice's (SPU);
* alice alone (a one-party job, bob's worker gets nothing): biclassification_eval and regression_eval on alice's
  file holding both the label and the prediction.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid

import numpy as np
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("dump_logs_on_failure")]

EXECUTE = "tasks.secretflow.execute_task"
TOL = 1e-3
N = 200


def _send(parties, names, tid, params):
    handles = {n: parties[n].send(EXECUTE, [tid, params]) for n in names}
    return {n: h.get(timeout=600, propagate=True) for n, h in handles.items()}


def _write(path, cols):
    import pandas as pd

    pd.DataFrame(cols).to_csv(path, index=False)


def _data(seed=7):
    rng = np.random.default_rng(seed)
    a1 = rng.normal(10, 2, N)
    a2 = 0.5 * a1 + rng.normal(0, 1, N)
    b1 = -0.3 * a1 + rng.normal(5, 1.5, N)
    b2 = rng.uniform(0, 4, N)
    return {"a1": a1, "a2": a2}, {"b1": b1, "b2": b2}


def _reference_binned(y, s, bucket_size):
    """SecretFlow's KS and F1 of the equal-frequency bins (its definition, bins (split_left, split_right]),
    recomputed in numpy: max over the bin boundaries of |TPR - FPR| and of F1."""
    order = np.argsort(-s, kind="stable")
    ys, ss = y[order], s[order]
    n, pos = len(y), y.sum()
    neg = n - pos
    splits = np.flip(np.interp(np.linspace(0, n, bucket_size + 1), np.arange(n), np.sort(s)))
    ends = [int(np.sum(ss > t)) for t in splits] + [n]
    ks = f1 = 0.0
    for e in ends:
        tp = ys[:e].sum()
        fp = e - tp
        fn = pos - tp
        ks = max(ks, abs(tp / pos - fp / neg))
        if e > 0:
            f1 = max(f1, 2 * tp / (2 * tp + fp + fn))
    return ks, f1


def _auc(y, s):
    """Mann-Whitney U (scores distinct)."""
    ranks = np.empty(len(s))
    ranks[np.argsort(s)] = np.arange(1, len(s) + 1)
    pos = y == 1
    n1, n0 = pos.sum(), (~pos).sum()
    return (ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def _close(got, want, what):
    assert got is not None and abs(got - want) <= TOL * max(1.0, abs(want)), f"{what}: got {got}, expected {want}"


def test_stats_pipeline_two_parties(two_parties):
    a, b = two_parties["alice"], two_parties["bob"]
    acols, bcols = _data()
    token = uuid.uuid4().hex[:8]
    # regression: bob holds the label, alice the prediction
    y_reg = 3 * acols["a1"] + np.random.default_rng(1).normal(0, 2, N)
    y_hat = 3 * acols["a1"] + 0.5
    _write(os.path.join(a.data_dir, f"st-{token}.csv"), dict(acols, id=np.arange(N), yhat=y_hat))
    _write(os.path.join(b.data_dir, f"st-{token}.csv"), dict(bcols, y=y_reg))
    inputs = {"alice": f"st-{token}.csv", "bob": f"st-{token}.csv"}
    cols = ["a1", "b1", "a2", "b2"]
    steps = [
        {"task_type": "table_statistics", "input_data": inputs, "columns": ["a1", "a2", "b1"],
         "output_report": f"ts-{token}.json"},
        {"task_type": "pearson_correlation", "input_data": inputs, "columns": cols,
         "output_report": {"alice": f"pearson-{token}.json"}},
        {"task_type": "vif", "input_data": inputs, "columns": cols, "output_report": f"vif-{token}.json"},
        {"task_type": "regression_eval", "prediction_data": inputs, "label_column": "y",
         "prediction_column": "yhat", "output_report": f"reg2-{token}.json"},
    ]
    t = time.monotonic()
    res = _send(two_parties, ["alice", "bob"], f"stats-{token}", {"task_config": {"task_type": "pipeline",
                                                                                  "steps": steps}})
    took = time.monotonic() - t
    for r in res.values():
        assert r["status"] == "success", r
    out = {n: r["result"]["steps"] for n, r in res.items()}

    # table_statistics: each party's report holds its own columns only
    everything = dict(acols, **bcols)
    for name, own in (("alice", ["a1", "a2"]), ("bob", ["b1"])):
        p = two_parties[name]
        with open(os.path.join(p.data_dir, f"ts-{token}.json")) as f:
            rep = json.load(f)
        assert sorted(rep) == own and out[name][0]["statistics"] == rep
        for c in own:
            x = everything[c]
            _close(rep[c]["mean"], x.mean(), f"{c} mean")
            _close(rep[c]["var(variance)"], x.var(ddof=1), f"{c} var")
            _close(rep[c]["min"], x.min(), f"{c} min")
            _close(rep[c]["max"], x.max(), f"{c} max")
            _close(rep[c]["q2(second quartile, median)"], np.median(x), f"{c} median")
            _close(rep[c]["sum_2"], (x ** 2).sum(), f"{c} sum_2")
            assert rep[c]["total_count"] == N

    # pearson: alice only
    X = np.column_stack([everything[c] for c in cols])
    R = np.corrcoef(X, rowvar=False)
    with open(os.path.join(a.data_dir, f"pearson-{token}.json")) as f:
        pr = json.load(f)
    assert pr == out["alice"][1]["correlation_matrix"]
    for i, ci in enumerate(cols):
        for j, cj in enumerate(cols):
            _close(pr[ci][cj], R[i, j], f"r({ci},{cj})")
    assert out["bob"][1]["correlation_matrix"] is None and out["bob"][1]["output_report"] is None
    assert not os.path.exists(os.path.join(b.data_dir, f"pearson-{token}.json"))

    # vif: both
    vif = np.diag(np.linalg.inv(R))
    for name in ("alice", "bob"):
        with open(os.path.join(two_parties[name].data_dir, f"vif-{token}.json")) as f:
            vr = json.load(f)
        assert vr["vif_values"] == out[name][2]["vif_values"]
        for i, c in enumerate(cols):
            _close(vr["vif_values"][c], vif[i], f"vif {c}")

    # regression across the parties (SPU)
    r = y_reg - y_hat
    want = {"mse": np.mean(r ** 2), "rmse": np.sqrt(np.mean(r ** 2)), "mae": np.mean(np.abs(r)),
            "mape": np.mean(np.abs(r / y_reg)), "r2_score": 1 - np.sum(r ** 2) / np.sum((y_reg - y_reg.mean()) ** 2),
            "explained_variance": 1 - np.var(r) / np.var(y_reg), "y_true_mean": y_reg.mean(),
            "y_pred_mean": y_hat.mean()}
    for name in ("alice", "bob"):
        with open(os.path.join(two_parties[name].data_dir, f"reg2-{token}.json")) as f:
            rep = json.load(f)
        assert rep["metrics"] == out[name][3]["metrics"]
        assert rep["holders"] == {"label_column": "bob", "prediction_column": "alice"}
        for k, v in want.items():
            _close(rep["metrics"][k], v, f"regression {k}")
    print(f"\n[integration] stats pipeline (4 steps, 2 parties) took {took:.1f}s; steps "
          f"{[(s['task_type'], s['seconds']) for s in out['alice']]}; timings "
          f"{res['alice']['performance_metrics']['timings']}", file=sys.stderr)


def test_evaluation_one_party(two_parties):
    a = two_parties["alice"]
    rng = np.random.default_rng(11)
    n = 300
    y = (rng.uniform(size=n) < 0.4).astype(int)
    s = np.clip(0.35 * y + rng.uniform(0, 0.65, n), 0, 1)  # distinct, informative, not perfect
    yr = rng.normal(5, 2, n)
    pr = yr + rng.normal(0.2, 0.7, n)
    token = uuid.uuid4().hex[:8]
    _write(os.path.join(a.data_dir, f"pred-{token}.csv"), {"y": y, "score": s, "yr": yr, "pr": pr})
    steps = [
        {"task_type": "biclassification_eval", "prediction_data": {"alice": f"pred-{token}.csv"},
         "label_column": "y", "prediction_column": "score", "bucket_size": 10, "output_report": f"bi-{token}.json"},
        {"task_type": "regression_eval", "prediction_data": {"alice": f"pred-{token}.csv"},
         "label_column": "yr", "prediction_column": "pr", "output_report": f"reg1-{token}.json"},
    ]
    t = time.monotonic()
    res = _send(two_parties, ["alice"], f"eval-{token}", {"task_config": {"task_type": "pipeline", "steps": steps}})
    took = time.monotonic() - t
    r = res["alice"]
    assert r["status"] == "success", r
    md = r["task_metadata"]
    assert md["parties"] == ["alice"] and md["devices_used"] == ["alice"], md
    out = r["result"]["steps"]

    with open(os.path.join(a.data_dir, f"bi-{token}.json")) as f:
        bi = json.load(f)
    m = bi["metrics"]
    assert m == out[0]["metrics"]
    _close(m["auc"], _auc(y, s), "auc")
    ks, f1 = _reference_binned(y.astype(float), s, 10)
    _close(m["ks"], ks, "ks")
    _close(m["f1_score"], f1, "f1")
    pred = s >= 0.5
    tp, fp = int(np.sum(pred & (y == 1))), int(np.sum(pred & (y == 0)))
    tn, fn = int(np.sum(~pred & (y == 0))), int(np.sum(~pred & (y == 1)))
    assert m["confusion_matrix"] == {"true_positive": tp, "false_positive": fp, "true_negative": tn,
                                     "false_negative": fn}
    _close(m["precision"], tp / (tp + fp), "precision")
    _close(m["recall"], tp / (tp + fn), "recall")
    _close(m["accuracy"], (tp + tn) / n, "accuracy")
    assert m["total_samples"] == n and m["positive_samples"] == int(y.sum())
    assert len(bi["eq_frequent_bin_report"]) >= 10 and len(bi["head_report"]) == 6

    with open(os.path.join(a.data_dir, f"reg1-{token}.json")) as f:
        reg = json.load(f)
    res_ = yr - pr
    want = {"mse": np.mean(res_ ** 2), "rmse": np.sqrt(np.mean(res_ ** 2)), "mae": np.mean(np.abs(res_)),
            "mape": np.mean(np.abs(res_ / yr)), "r2_score": 1 - np.sum(res_ ** 2) / np.sum((yr - yr.mean()) ** 2),
            "explained_variance": 1 - np.var(res_) / np.var(yr), "sum_squared_errors": np.sum(res_ ** 2)}
    for k, v in want.items():
        _close(reg["metrics"][k], v, f"regression {k}")
    hist = reg["metrics"]["residual_histogram"]  # jax float32 edges: bin counts may differ from numpy's at an edge
    assert len(hist["counts"]) == 10 and sum(hist["counts"]) == n and len(hist["bin_edges"]) == 11
    _close(hist["bin_edges"][0], res_.min(), "residual min")
    _close(hist["bin_edges"][-1], res_.max(), "residual max")
    print(f"\n[integration] one-party evaluation (alice alone, 2 steps) took {took:.1f}s; steps "
          f"{[(x['task_type'], x['seconds']) for x in out]}; timings {r['performance_metrics']['timings']}",
          file=sys.stderr)
