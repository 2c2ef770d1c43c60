"""Statistics and evaluation task types (#14): the original worker's keys with exact errors, who gets a report (an
output of that party only), the per-job SPU decision (a one-party job needs none), and the computations against
numpy. The production-mode run is tests/integration/test_stats_eval_it.py."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from sfworker.errors import ParamsError
from sfworker.params import build_job_spec
from sfworker.tasks import evaluation as ev
from sfworker.tasks import stats as st
from sfworker.tasks.registry import get_task_type


def spec(cfg, **tc):
    return build_job_spec(cfg, "req-1", {"task_config": {k: v for k, v in tc.items() if v is not None}})


def refused(cfg, **tc):
    with pytest.raises(ParamsError) as e:
        spec(cfg, **tc)
    return str(e.value)


STATS = {"input_data": {"alice": "alice.csv", "bob": "/data/bob.csv"}, "columns": ["x", "y"],
         "output_report": "report.json"}
EVAL = {"prediction_data": {"alice": "alice.csv"}, "label_column": "y", "prediction_column": "p",
        "output_report": "eval.json"}


@pytest.mark.parametrize("task_type", ["table_statistics", "pearson_correlation", "vif"])
def test_stats_spec(cfg, data_dir, task_type):
    s = spec(cfg, task_type=task_type, **STATS)
    tc = s["task_config"]
    assert s["parties"] == ["alice", "bob"]
    # a path: every party gets its report there, this party's resolved under its data_dir and staged
    assert tc["output_report"] == {"alice": os.path.join(data_dir, "report.json"), "bob": "report.json"}
    assert [o["path"] for o in s["outputs"]] == [os.path.join(data_dir, "report.json")]
    assert s["needs_spu"] is (task_type != "table_statistics")


def test_report_for_one_party_only(cfg, data_dir):
    s = spec(cfg, task_type="pearson_correlation", **dict(STATS, output_report={"bob": "/data/r.json"}))
    assert s["task_config"]["output_report"] == {"bob": "/data/r.json"}
    assert s["outputs"] == []  # alice receives nothing: nothing to stage or publish


def test_pearson_of_one_party_needs_no_spu(cfg):
    s = spec(cfg, task_type="vif", **dict(STATS, input_data={"alice": "alice.csv"}))
    assert s["parties"] == ["alice"] and s["needs_spu"] is False
    assert list(s["cluster_config"]["parties"]) == ["alice"]


def test_one_party_evaluation_job(cfg, data_dir):
    """the receiver's predictions with its labels: a job of one party, no SPU (an SPU protocol for 2 parties would
    have refused it)."""
    for t in ("biclassification_eval", "regression_eval"):
        s = spec(cfg, task_type=t, **EVAL)
        assert s["parties"] == ["alice"] and s["needs_spu"] is False
        assert list(s["cluster_config"]["parties"]) == ["alice"]
        assert s["task_config"]["bucket_size"] == 10
    assert spec(cfg, task_type="biclassification_eval", **EVAL)["task_config"]["threshold"] == 0.5


def test_regression_across_two_parties_uses_spu(cfg):
    s = spec(cfg, task_type="regression_eval", **dict(EVAL, prediction_data={"alice": "alice.csv", "bob": "b.csv"}))
    assert s["needs_spu"] is True and s["parties"] == ["alice", "bob"]


BAD = [
    ("stats-no-input", "vif", dict(STATS, input_data=None),
     "task_config.input_data is required (a mapping party -> input file)"),
    ("stats-no-columns", "pearson_correlation", dict(STATS, columns=None),
     "task_config.columns is required (a non-empty list of column names)"),
    ("stats-empty-columns", "vif", dict(STATS, columns=[]),
     "task_config.columns must be a non-empty list of column names, got []"),
    ("stats-dup-columns", "vif", dict(STATS, columns=["x", "x"]),
     "task_config.columns: column(s) x listed twice"),
    ("stats-no-report", "table_statistics", dict(STATS, output_report=None),
     "task_config.output_report is required (a path (every party of the job gets its report there) or a mapping "
     "party -> path)"),
    ("stats-report-type", "table_statistics", dict(STATS, output_report=3),
     "task_config.output_report must be a path (every party of the job gets its report there) or a mapping "
     "party -> path, got int 3"),
    ("stats-report-empty", "table_statistics", dict(STATS, output_report={}),
     "task_config.output_report must name at least one party, got {}"),
    ("stats-report-stranger", "vif", dict(STATS, output_report={"carol": "r.json"}),
     "task_config.output_report.carol: 'carol' is not a party of this job (the parties of task_config.input_data: "
     "alice, bob)"),
    ("stats-report-outside", "vif", dict(STATS, output_report="../r.json"),
     None),
    ("stats-report-is-input", "vif", dict(STATS, output_report="alice.csv"),
     None),
    ("stats-unknown-key", "vif", dict(STATS, colums=["x"]),
     "task_config: unknown key(s) colums for task_type 'vif' (allowed: columns, input_data, job_slot, "
     "output_report, overwrite, task_type)"),
    ("eval-no-label", "regression_eval", dict(EVAL, label_column=None),
     "task_config.label_column is required (a column name)"),
    ("eval-same-column", "regression_eval", dict(EVAL, prediction_column="y"),
     "task_config.label_column and task_config.prediction_column are the same column 'y'"),
    ("eval-bucket", "biclassification_eval", dict(EVAL, bucket_size=0),
     "task_config.bucket_size must be in 1..10000, got 0"),
    ("eval-bucket-type", "biclassification_eval", dict(EVAL, bucket_size="10"),
     "task_config.bucket_size must be int, got str '10'"),
    ("eval-threshold", "biclassification_eval", dict(EVAL, threshold=1.5),
     "task_config.threshold must be a number in 0..1, got 1.5"),
    ("eval-threshold-regression", "regression_eval", dict(EVAL, threshold=0.5),
     "task_config: unknown key(s) threshold for task_type 'regression_eval' (allowed: bucket_size, job_slot, "
     "label_column, output_report, overwrite, prediction_column, prediction_data, task_type)"),
    ("bi-two-parties", "biclassification_eval", dict(EVAL, prediction_data={"alice": "alice.csv", "bob": "b.csv"}),
     "task_config.prediction_data: biclassification_eval takes one party's file holding both label_column and "
     "prediction_column (SecretFlow 1.11's BiClassificationEval sorts the scores in that party; it has no SPU "
     "implementation), got 2 parties: alice, bob"),
    ("reg-three-parties", "regression_eval",
     dict(EVAL, prediction_data={"alice": "alice.csv", "bob": "b.csv", "carol": "c.csv"}),
     "task_config.prediction_data: at most 2 parties (one holding label_column, one prediction_column), got 3: "
     "alice, bob, carol"),
    ("eval-not-my-job", "regression_eval", dict(EVAL, prediction_data={"bob": "b.csv"}),
     "task_config.prediction_data: this party 'alice' is not part of the job (parties: bob)"),
]


@pytest.mark.parametrize("name,task_type,tc,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_params(cfg, name, task_type, tc, expected):
    msg = refused(cfg, task_type=task_type, **tc)
    if expected is not None:
        assert msg == expected
    else:
        assert "output_report" in msg, msg


def test_existing_report_needs_overwrite(cfg, data_dir):
    with open(os.path.join(data_dir, "old.json"), "w") as f:
        f.write("{}")
    msg = refused(cfg, task_type="vif", **dict(STATS, output_report="old.json"))
    assert "task_config.output_report" in msg and "exists" in msg, msg
    s = spec(cfg, task_type="vif", **dict(STATS, output_report="old.json", overwrite=True))
    assert s["outputs"][0]["overwrite"] is True


# ------------------------------------------------------------------------------ computations vs numpy

def _frame(path, n=120, seed=3):
    import pandas as pd

    rng = np.random.default_rng(seed)
    a = rng.normal(3, 2, n)
    df = pd.DataFrame({"a": a, "b": 0.7 * a + rng.normal(0, 1, n), "c": rng.uniform(-1, 1, n),
                       "s": ["t"] * n})
    df.to_csv(path, index=False)
    return df


def test_correlation_and_vif_math(tmp_path):
    import jax.numpy as jnp
    from secretflow.stats.core.utils import newton_matrix_inverse

    df = _frame(tmp_path / "d.csv")
    cols = ["a", "b", "c"]
    z = st.standardized(str(tmp_path / "d.csv"), cols, "alice")
    xtx = z.T @ z
    R = np.corrcoef(df[cols].to_numpy(), rowvar=False)
    # the request's order differs from the computation's
    corr = st.corr_report(xtx, len(df), cols, ["c", "a", "b"])
    assert list(corr) == ["c", "a", "b"]
    for i, ci in enumerate(cols):
        for j, cj in enumerate(cols):
            assert abs(corr[ci][cj] - R[i, j]) < 1e-9
    diag = np.asarray(jnp.diagonal(newton_matrix_inverse(jnp.asarray(xtx))))
    vr = st.vif_report(diag, len(df), cols, ["b", "a", "c"], ["alice"])
    want = np.diag(np.linalg.inv(R))
    for i, c in enumerate(cols):
        assert abs(vr["vif_values"][c] - want[i]) < 1e-3 * want[i]
    assert vr["diagnosis"]["c"] == "no multicollinearity" and vr["columns"] == ["b", "a", "c"]


def test_standardized_refuses_bad_columns(tmp_path):
    _frame(tmp_path / "d.csv")
    with pytest.raises(ValueError, match="column 's' of alice .* is not numeric"):
        st.standardized(str(tmp_path / "d.csv"), ["a", "s"], "alice")
    import pandas as pd

    pd.DataFrame({"k": [1.0, 1.0, 1.0], "m": [1.0, None, 2.0]}).to_csv(tmp_path / "e.csv", index=False)
    with pytest.raises(ValueError, match="column\\(s\\) 'k' of bob .* are constant"):
        st.standardized(str(tmp_path / "e.csv"), ["k"], "bob")
    with pytest.raises(ValueError, match="column 'm' of bob .* has 1 missing value"):
        st.standardized(str(tmp_path / "e.csv"), ["m"], "bob")


def test_table_statistics_of_own_columns(tmp_path):
    df = _frame(tmp_path / "d.csv")
    rep = st.table_statistics_of(str(tmp_path / "d.csv"), ["a", "c"])
    assert list(rep) == ["a", "c"] and list(rep["a"]) == list(st.TABLE_STATISTICS)
    for c in ("a", "c"):
        assert abs(rep[c]["mean"] - df[c].mean()) < 1e-9
        assert abs(rep[c]["std(standard deviation)"] - df[c].std()) < 1e-9
        assert rep[c]["total_count"] == len(df) and rep[c]["datatype"] == "float64"
    json.dumps(rep, allow_nan=False)
    assert st.held_columns(str(tmp_path / "d.csv"), ["zz", "c", "a"]) == (["c", "a"], len(df))


def test_clean_makes_json():
    assert st.clean({"a": np.float32(1.5), "b": [np.nan, np.inf, np.int64(3)], "c": np.array([[1, 2]])}) == \
        {"a": 1.5, "b": [None, None, 3], "c": [[1, 2]]}


def test_biclassification_report_vs_numpy():
    from secretflow.stats.core import gen_biclassification_reports

    rng = np.random.default_rng(5)
    n = 200
    y = (rng.uniform(size=n) < 0.3).astype(float).reshape(-1, 1)
    s = np.clip(0.3 * y + rng.uniform(0, 0.7, (n, 1)), 0, 1)
    rep = ev.biclassification_report(gen_biclassification_reports(y, s, 10), y, s, 0.5, {"bucket_size": 10},
                                     ["alice"])
    m = rep["metrics"]
    # AUC: Mann-Whitney
    ranks = np.empty(n)
    ranks[np.argsort(s.ravel())] = np.arange(1, n + 1)
    pos = y.ravel() == 1
    auc = (ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum())
    assert abs(m["auc"] - auc) < 1e-3
    pred = s.ravel() >= 0.5
    tp = int(np.sum(pred & pos))
    fp = int(np.sum(pred & ~pos))
    assert m["confusion_matrix"]["true_positive"] == tp and m["confusion_matrix"]["false_positive"] == fp
    assert abs(m["precision"] - tp / (tp + fp)) < 1e-12
    assert m["total_samples"] == n and len(rep["head_report"]) == 6
    assert set(rep["eq_frequent_bin_report"][0]) == set(ev.BIN_FIELDS)
    json.dumps(rep, allow_nan=False)


def test_regression_metrics_vs_numpy():
    import jax.numpy as jnp

    rng = np.random.default_rng(9)
    y = rng.normal(4, 1, 150)
    p = y + rng.normal(0.1, 0.5, 150)
    got = ev.regression_metrics(ev.spu_regression(jnp.asarray(y.reshape(-1, 1)), jnp.asarray(p.reshape(-1, 1))))
    r = y - p
    want = {"mse": np.mean(r ** 2), "rmse": np.sqrt(np.mean(r ** 2)), "mae": np.mean(np.abs(r)),
            "mape": np.mean(np.abs(r / y)), "r2_score": 1 - np.sum(r ** 2) / np.sum((y - y.mean()) ** 2),
            "explained_variance": 1 - np.var(r) / np.var(y), "sum_squared_errors": np.sum(r ** 2),
            "y_true_mean": y.mean(), "y_pred_mean": p.mean()}
    for k, v in want.items():
        assert abs(got[k] - v) <= 1e-4 * max(1, abs(v)), k
    assert got["residual_histogram"] is None
    assert abs(ev.explained_variance(y, p) - want["explained_variance"]) < 1e-12


# ------------------------------------------------------------- run(): who writes what (a fake runtime)

class Obj:
    def __init__(self, device, value):
        self.device = device
        self.value = value

    def to(self, device):
        self.device.moves.append((self.device.name, device.name))
        return Obj(device, self.value)


class Dev:
    def __init__(self, name, moves, party=None):
        self.name = name
        self.party = party
        self.moves = moves

    def __call__(self, fn, **_):
        import ray

        ray.cloudpickle.dumps(fn)  # what a PYU ships to Ray: a closure over the runtime would not pickle

        def run(*args):
            vals = []
            for a in args:
                if isinstance(a, Obj):
                    assert a.device is self, f"{self.name} got an object of {a.device.name}"
                    a = a.value
                vals.append(a)
            return Obj(self, fn(*vals))
        return run

    def __eq__(self, other):
        return isinstance(other, Dev) and other.name == self.name

    __hash__ = object.__hash__


class Sf:
    @staticmethod
    def reveal(x):
        return {k: v.value for k, v in x.items()}


class FakeRt:
    """Runs every party's PYU in this process (as SecretFlow's simulation would): checks the routing - which
    device computes, what moves where, who writes which file - not SecretFlow."""

    def __init__(self, self_party, parties):
        import threading

        self.unpicklable = threading.Lock()  # like the real runtime (SPU handles)
        self.self_party = self_party
        self.parties = list(parties)
        self.moves = []
        self.sf = Sf()
        self._pyus = {p: Dev(p, self.moves, party=p) for p in parties}
        self.spu = Dev("spu", self.moves)

    def pyu(self, p):
        return self._pyus[p]

    def output_path(self, path):
        return path + ".staging"

    @staticmethod
    def local_get(obj):
        return obj.value


@pytest.fixture
def blocked(monkeypatch):
    import secretflow.utils.blocked_ops as bo

    def fake(parts, row_block, device, block_func, agg):
        return device(lambda *xs: block_func(np.concatenate(xs, axis=1)))(*[x.to(device) for x in parts])

    monkeypatch.setattr(bo, "block_compute_vdata", fake)
    monkeypatch.setattr(st, "ship_by_value", lambda: None)


def test_pearson_run_reveals_to_the_report_party_only(tmp_path, blocked):
    import pandas as pd

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=50), rng.normal(size=50)
    pd.DataFrame({"a": a, "k": 1}).to_csv(tmp_path / "alice.csv", index=False)
    pd.DataFrame({"b": a + b}).to_csv(tmp_path / "bob.csv", index=False)
    cfg = {"input_data": {"alice": str(tmp_path / "alice.csv"), "bob": str(tmp_path / "bob.csv")},
           "columns": ["b", "a"], "output_report": {"bob": str(tmp_path / "r.json")}, "overwrite": False}
    for me in ("alice", "bob"):
        rt = FakeRt(me, ["alice", "bob"])
        out = get_task_type("pearson_correlation").run(cfg, rt)
        # the columns of both parties: X'X in the SPU, which reveals it to bob's PYU alone
        assert ("alice", "spu") in rt.moves and ("bob", "spu") in rt.moves and ("spu", "bob") in rt.moves
        assert ("spu", "alice") not in rt.moves
        assert out["output_report"] == (str(tmp_path / "r.json") if me == "bob" else None)
        assert (out["correlation_matrix"] is None) is (me == "alice")
    # bob's driver wrote to its staging name (published by the job); alice's run wrote bob's PATH as given, which
    # in production only bob's own driver does
    with open(tmp_path / "r.json.staging") as f:
        rep = json.load(f)
    r = np.corrcoef(a, a + b)[0, 1]
    assert abs(rep["a"]["b"] - r) < 1e-9 and rep["a"]["a"] == pytest.approx(1.0)
    assert list(rep) == ["b", "a"]


def test_vif_of_one_partys_columns_moves_only_the_report(tmp_path, blocked):
    """all columns in alice's file: computed in alice's PYU, no SPU; bob's copy of the report is the JSON report
    (what the unpickling allow-list admits), never the matrix."""
    df = _frame(tmp_path / "alice.csv")
    import pandas as pd

    pd.DataFrame({"z": np.arange(len(df))}).to_csv(tmp_path / "bob.csv", index=False)
    cfg = {"input_data": {"alice": str(tmp_path / "alice.csv"), "bob": str(tmp_path / "bob.csv")},
           "columns": ["a", "b"], "overwrite": False,
           "output_report": {"alice": str(tmp_path / "va.json"), "bob": str(tmp_path / "vb.json")}}
    rt = FakeRt("alice", ["alice", "bob"])
    out = get_task_type("vif").run(cfg, rt)
    assert rt.moves == [("alice", "alice"), ("alice", "bob")]  # block input on alice's PYU; the report to bob
    want = np.diag(np.linalg.inv(np.corrcoef(df[["a", "b"]].to_numpy(), rowvar=False)))
    assert out["vif_values"]["a"] == pytest.approx(want[0], rel=1e-3)


def test_column_errors():
    held = {"alice": (["a"], 10), "bob": (["a", "b"], 10)}
    with pytest.raises(ValueError, match="column 'a' is in the files of alice, bob"):
        st.column_owners(held, ["a", "b"], "input_data")
    with pytest.raises(ValueError, match="column 'c' is in no party's file"):
        st.column_owners({"alice": (["a"], 10)}, ["a", "c"], "input_data")
    with pytest.raises(ValueError, match="different numbers of rows \\(alice: 10, bob: 9\\)"):
        st.column_owners({"alice": (["a"], 10), "bob": (["b"], 9)}, ["a", "b"], "input_data")
    assert st.column_owners({"alice": (["a"], 10), "bob": (["b"], 9)}, ["a", "b"], "input_data",
                            same_rows=False) == {"alice": ["a"], "bob": ["b"]}


def test_regression_across_parties_in_the_spu(tmp_path, blocked):
    import pandas as pd

    rng = np.random.default_rng(4)
    y = rng.normal(3, 1, 40)
    p = y + rng.normal(0, 0.3, 40)
    pd.DataFrame({"p": p}).to_csv(tmp_path / "alice.csv", index=False)
    pd.DataFrame({"y": y}).to_csv(tmp_path / "bob.csv", index=False)
    cfg = {"prediction_data": {"alice": str(tmp_path / "alice.csv"), "bob": str(tmp_path / "bob.csv")},
           "label_column": "y", "prediction_column": "p", "bucket_size": 10, "overwrite": False,
           "output_report": {"alice": str(tmp_path / "ra.json")}}
    rt = FakeRt("alice", ["alice", "bob"])
    out = get_task_type("regression_eval").run(cfg, rt)
    assert ("bob", "spu") in rt.moves and ("alice", "spu") in rt.moves and ("spu", "alice") in rt.moves
    assert ("spu", "bob") not in rt.moves
    assert out["metrics"]["mse"] == pytest.approx(np.mean((y - p) ** 2), rel=1e-5)
    with open(tmp_path / "ra.json.staging") as f:
        assert json.load(f)["holders"] == {"label_column": "bob", "prediction_column": "alice"}


def test_one_party_job_tls_bundle_loads_and_trusts_no_other_party(tmp_path):
    """A job without peers still gets a CA bundle RayFed and the Ray head's check can load (it was empty: the
    check failed with NO_CERTIFICATE_OR_CRL_FOUND); it holds no other party's CA."""
    from pki import install_party, make_ca, make_leaf
    from sfworker.tls import prepare_job_tls
    from sfworker.tlsprobe import check_files

    bob = make_ca("bob")
    d = str(tmp_path / "tls")
    install_party(d, make_leaf(make_ca("alice"), "alice", ["10.0.0.1"]), {"bob": bob}, version="v1")
    jt = prepare_job_tls({"dir": d, "verify_depth": 2}, [], str(tmp_path / "bundles"))
    assert check_files(jt.cert, jt.key, jt.ca_bundle)["errors"] == []
    assert jt.peer_ca_files == {}
    with open(jt.ca_bundle) as f:
        text = f.read()
    assert bob.pem.decode() not in text
