"""The seven preprocessing task types (#14) in production mode, each party its own Ray cluster, in ONE pipeline job
(one sf.init; small jobs are dominated by it): the outputs each party wrote against pandas/numpy references computed
here on the plaintext.

Vertical data: alice and bob hold the same 24 rows (the join key ``id`` in both files, as a psi output has it) and
their own columns. One step chains on an earlier step's output (fillna -> standard_scaler), one step has a single
data-holding party (alice), one names its columns per party (the original's per-party form).
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("dump_logs_on_failure")]

EXECUTE = "tasks.secretflow.execute_task"
N = 24
TOL = 1e-6


def _send(parties, names, tid, params):
    handles = {n: parties[n].send(EXECUTE, [tid, params]) for n in names}
    return {n: h.get(timeout=600, propagate=True) for n, h in handles.items()}


def _data():
    rng = np.random.default_rng(5)
    ids = np.arange(100, 100 + N)
    a_num = rng.normal(10, 3, N).round(3)
    a_num[[2, 9]] = np.nan
    alice = pd.DataFrame({
        "id": ids,
        "a_num": a_num,
        "a_int": rng.integers(0, 50, N),
        "a_cat": rng.choice(["red", "green", "blue"], N),
    })
    b_num = rng.uniform(-5, 5, N).round(4)
    b_num[[0, 7, 8]] = np.nan
    bob = pd.DataFrame({
        "b_num": b_num,
        "id": ids,
        "b_int": rng.integers(-20, 20, N),
        "b_cat": rng.choice(["x", "y"], N),
    })
    return alice, bob


def _std(x):
    return (x - x.mean()) / x.std(ddof=0)


def _minmax(x, lo, hi):
    return (x - x.min()) / (x.max() - x.min()) * (hi - lo) + lo


def _labels(x):
    classes = sorted(set(x.astype(str)))
    return x.astype(str).map({c: i for i, c in enumerate(classes)})


def _same(got: pd.DataFrame, want: pd.DataFrame, what: str):
    assert list(got.columns) == list(want.columns), f"{what}: columns {list(got.columns)} != {list(want.columns)}"
    for c in want.columns:
        g, w = got[c], want[c]
        if pd.api.types.is_numeric_dtype(w):
            np.testing.assert_allclose(g.to_numpy(dtype=float), w.to_numpy(dtype=float), atol=TOL, rtol=0,
                                       err_msg=f"{what}: column {c}")
        else:
            assert g.tolist() == w.tolist(), f"{what}: column {c}"


def test_preprocessing_pipeline_two_parties(two_parties):
    a, b = two_parties["alice"], two_parties["bob"]
    alice, bob = _data()
    t = uuid.uuid4().hex[:8]
    d = f"pp-{t}"
    for p, df in ((a, alice), (b, bob)):
        os.makedirs(os.path.join(p.data_dir, d))
        df.to_csv(os.path.join(p.data_dir, d, "in.csv"), index=False)
    both = {"alice": f"{d}/in.csv", "bob": f"{d}/in.csv"}

    def out(name):
        return {"alice": f"{d}/{name}.csv", "bob": f"{d}/{name}.csv"}

    steps = [
        {"task_type": "fillna", "input_data": both, "output_data": out("fill"),
         "columns": {"alice": ["a_num"], "bob": ["b_num"]}, "strategy": "mean"},
        {"task_type": "standard_scaler", "input_data": out("fill"), "output_data": out("std"),
         "columns": ["a_num", "b_num", "b_int"]},
        {"task_type": "minmax_scaler", "input_data": both, "output_data": out("mm"), "feature_range": [-1, 1]},
        {"task_type": "label_encoder", "input_data": both, "output_data": out("le"), "columns": ["b_cat", "a_cat"]},
        {"task_type": "onehot_encoder", "input_data": both, "output_data": out("oh"), "columns": ["a_cat", "b_cat"],
         "drop": "first"},
        {"task_type": "quantile_binning", "input_data": both, "output_data": out("qb"), "columns": ["a_int", "b_int"],
         "n_bins": 4},
        {"task_type": "equal_width_binning", "input_data": both, "output_data": out("ew"),
         "columns": ["a_num", "b_int"], "bin_num": 3},
        # alice alone holds data in this step (bob's driver runs it too, his PYU does nothing)
        {"task_type": "fillna", "input_data": {"alice": f"{d}/in.csv"}, "output_data": {"alice": f"{d}/fc.csv"},
         "columns": ["a_num"], "method": "constant", "value": -1},
    ]
    t0 = time.monotonic()
    res = _send(two_parties, ["alice", "bob"], f"pp-{t}", {"task_config": {"task_type": "pipeline", "steps": steps}})
    took = time.monotonic() - t0
    for name, r in res.items():
        assert r["status"] == "success", r
        assert r["task_metadata"]["devices_used"] == ["alice", "bob"], r["task_metadata"]  # no SPU
    results = {n: r["result"]["steps"] for n, r in res.items()}
    for name in ("alice", "bob"):
        s = results[name]
        assert [x["task_type"] for x in s] == [st["task_type"] for st in steps]
        assert s[1]["scaled_columns"] == ["a_num", "b_num", "b_int"] and s[1]["with_mean"] is True
        assert s[2]["scaled_columns"] == ["a_num", "a_int", "b_num", "b_int"]  # every numeric own column
        assert s[5]["binned_columns"] == ["a_int", "b_int"] and s[5]["binning_type"] == "quantile"
        assert s[6]["n_bins"] == 3 and s[7]["parties"] == ["alice"] and s[7]["strategy"] == "constant"
        assert s[0]["output_path"] == os.path.join(two_parties[name].data_dir, d, "fill.csv")
    assert results["bob"][7]["output_path"] is None

    def got(party, name):
        return pd.read_csv(os.path.join(two_parties[party].data_dir, d, f"{name}.csv"))

    # fillna mean, then the standard scaler on its output
    fa = alice.assign(a_num=alice["a_num"].fillna(alice["a_num"].mean()))
    fb = bob.assign(b_num=bob["b_num"].fillna(bob["b_num"].mean()))
    _same(got("alice", "fill"), fa, "fillna alice")
    _same(got("bob", "fill"), fb, "fillna bob")
    _same(got("alice", "std"), fa.assign(a_num=_std(fa["a_num"])), "standard_scaler alice")
    _same(got("bob", "std"), fb.assign(b_num=_std(fb["b_num"]), b_int=_std(fb["b_int"].astype(float))),
          "standard_scaler bob")
    # min-max of every numeric own column (NaN kept); the join key untouched
    _same(got("alice", "mm"), alice.assign(a_num=_minmax(alice["a_num"], -1, 1), a_int=_minmax(alice["a_int"], -1, 1)),
          "minmax alice")
    _same(got("bob", "mm"), bob.assign(b_num=_minmax(bob["b_num"], -1, 1), b_int=_minmax(bob["b_int"], -1, 1)),
          "minmax bob")
    _same(got("alice", "le"), alice.assign(a_cat=_labels(alice["a_cat"])), "label_encoder alice")
    _same(got("bob", "le"), bob.assign(b_cat=_labels(bob["b_cat"])), "label_encoder bob")
    # one-hot, first category dropped, the new columns at the end
    want_a = pd.get_dummies(alice, columns=["a_cat"], drop_first=True, dtype=float)
    want_b = pd.get_dummies(bob, columns=["b_cat"], drop_first=True, dtype=float)
    _same(got("alice", "oh"), want_a, "onehot alice")
    _same(got("bob", "oh"), want_b, "onehot bob")
    _same(got("alice", "qb"), alice.assign(a_int=pd.qcut(alice["a_int"], 4, labels=False, duplicates="drop")),
          "quantile alice")
    _same(got("bob", "qb"), bob.assign(b_int=pd.qcut(bob["b_int"], 4, labels=False, duplicates="drop")),
          "quantile bob")
    _same(got("alice", "ew"), alice.assign(a_num=pd.cut(alice["a_num"], 3, labels=False)), "equal width alice")
    _same(got("bob", "ew"), bob.assign(b_int=pd.cut(bob["b_int"], 3, labels=False)), "equal width bob")
    _same(got("alice", "fc"), alice.assign(a_num=alice["a_num"].fillna(-1)), "fillna constant alice")
    assert not os.path.exists(os.path.join(b.data_dir, d, "fc.csv"))
    # nothing of one party's data in the other's directory: each wrote its own files only
    assert sorted(os.listdir(os.path.join(b.data_dir, d))) == sorted(
        ["in.csv", "fill.csv", "std.csv", "mm.csv", "le.csv", "oh.csv", "qb.csv", "ew.csv"])
    print(f"\n[integration] preprocessing pipeline (8 steps, 2 parties) took {took:.1f}s; steps "
          f"{[(s['task_type'], s['seconds']) for s in results['alice']]}; timings "
          f"{res['alice']['performance_metrics']['timings']}", file=sys.stderr)
