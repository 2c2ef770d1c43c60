"""The preprocessing task types (#14): the original worker's task_config keys and their errors, the per-party
transforms against sklearn/pandas references, and run()'s glue (who transforms and writes what) with a fake
runtime. The real two-party run in production mode is tests/integration/test_preprocessing_it.py."""

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import LabelEncoder, MinMaxScaler, OneHotEncoder, StandardScaler

from sfworker.errors import ParamsError
from sfworker.params import build_job_spec
from sfworker.tasks import preprocessing
from sfworker.tasks.registry import get_task_type, known_task_types
from vfake import FakeRt

TYPES = ["standard_scaler", "minmax_scaler", "label_encoder", "onehot_encoder", "quantile_binning",
         "equal_width_binning", "fillna"]


def params(task_type, **over):
    tc = {"task_type": task_type, "input_data": {"alice": "alice.csv", "bob": "/data/bob.csv"},
          "output_data": {"alice": "out/alice_p.csv", "bob": "/data/bob_p.csv"}, "columns": ["x"]}
    tc.update(over)
    return {"task_config": {k: v for k, v in tc.items() if v is not None}}


def spec_of(cfg, task_type, **over):
    return build_job_spec(cfg, "req-1", params(task_type, **over))


def refused(cfg, task_type, **over):
    with pytest.raises(ParamsError) as e:
        spec_of(cfg, task_type, **over)
    return str(e.value)


def test_all_registered_without_spu():
    assert set(TYPES) <= set(known_task_types())
    for t in TYPES:
        assert get_task_type(t).needs_spu is False
        assert get_task_type(t).sf_modules == ("sklearn.preprocessing",)


def test_defaults_and_parties(cfg, data_dir):
    spec = spec_of(cfg, "standard_scaler")
    tc = spec["task_config"]
    assert spec["parties"] == ["alice", "bob"] and spec["needs_spu"] is False
    assert tc["input_data"] == {"alice": f"{data_dir}/alice.csv", "bob": "/data/bob.csv"}
    assert tc["output_data"] == {"alice": f"{data_dir}/out/alice_p.csv", "bob": "/data/bob_p.csv"}
    assert tc["with_mean"] is True and tc["with_std"] is True and tc["columns"] == ["x"]
    assert spec_of(cfg, "minmax_scaler")["task_config"]["feature_range"] == [0.0, 1.0]
    assert spec_of(cfg, "onehot_encoder")["task_config"]["drop"] is None
    assert spec_of(cfg, "onehot_encoder", drop="none")["task_config"]["drop"] is None
    assert spec_of(cfg, "quantile_binning")["task_config"]["n_bins"] == 5
    assert spec_of(cfg, "equal_width_binning", bin_num=3)["task_config"]["n_bins"] == 3
    f = spec_of(cfg, "fillna")["task_config"]
    assert f["strategy"] == "mean" and f["fill_value"] is None
    f = spec_of(cfg, "fillna", method="constant", value=0)["task_config"]
    assert f["strategy"] == "constant" and f["fill_value"] == 0
    # columns optional for the scalers and fillna (every numeric / every column), per party accepted
    assert spec_of(cfg, "standard_scaler", columns=None)["task_config"]["columns"] is None
    assert spec_of(cfg, "fillna", columns={"bob": ["y"]})["task_config"]["columns"] == {"bob": ["y"]}


def test_one_data_party_is_a_job(cfg, data_dir):
    spec = spec_of(cfg, "label_encoder", input_data={"alice": "alice.csv"}, output_data={"alice": "enc.csv"})
    assert spec["parties"] == ["alice"]


BAD = [
    ("standard_scaler", {"with_mean": "yes"}, "task_config.with_mean must be bool, got str 'yes'"),
    ("standard_scaler", {"scale": True},
     "task_config: unknown key(s) scale for task_type 'standard_scaler' (allowed: columns, input_data, job_slot, "
     "output_data, overwrite, task_type, with_mean, with_std)"),
    ("minmax_scaler", {"feature_range": [1, 0]}, "task_config.feature_range: min must be less than max, got [1, 0]"),
    ("minmax_scaler", {"feature_range": [0]}, "task_config.feature_range must be [min, max], two finite numbers, got [0]"),
    ("minmax_scaler", {"feature_range": ["0", 1]},
     "task_config.feature_range must be [min, max], two finite numbers, got ['0', 1]"),
    ("label_encoder", {"columns": None},
     "task_config.columns is required (a list of column names, or a mapping party -> list of column names)"),
    ("onehot_encoder", {"drop": "last"}, "task_config.drop must be null, 'none', 'first' or 'if_binary', got 'last'"),
    ("quantile_binning", {"n_bins": 0}, "task_config.n_bins must be an integer >= 1, got 0"),
    ("quantile_binning", {"n_bins": 2.5}, "task_config.n_bins must be an integer >= 1, got 2.5"),
    ("equal_width_binning", {"n_bins": 3, "bin_num": 4},
     "task_config.bin_num 4 and task_config.n_bins 3 disagree (bin_num is the original worker's documented name of "
     "n_bins: send one of them)"),
    ("fillna", {"strategy": "max"}, "task_config.strategy must be one of mean, median, mode, constant, got 'max'"),
    ("fillna", {"strategy": "constant"},
     "task_config.fill_value is required when task_config.strategy is 'constant' (the original worker's documented "
     "name value is accepted too)"),
    ("fillna", {"strategy": "constant", "fill_value": [1]},
     "task_config.fill_value must be a string or a finite number, got list [1]"),
    ("fillna", {"fill_value": 1},
     "task_config.fill_value is only used with strategy 'constant', got strategy 'mean' and fill_value 1"),
    ("fillna", {"strategy": "mean", "method": "mode"},
     "task_config.method 'mode' and task_config.strategy 'mean' disagree (method is the original worker's documented "
     "name of strategy: send one of them)"),
    ("fillna", {"output_data": {"alice": "out/a.csv"}},
     "task_config.output_data parties alice differ from task_config.input_data parties alice, bob"),
    ("fillna", {"input_data": {"bob": "/data/bob.csv"}, "output_data": {"bob": "/data/bob_p.csv"}},
     "task_config.input_data: this party 'alice' is not part of the job (parties: bob)"),
    ("fillna", {"columns": {"carol": ["z"]}},
     "task_config.columns: party 'carol' holds no data in this job (data parties: alice, bob)"),
    ("fillna", {"output_data": {"alice": "alice.csv", "bob": "b.csv"}},
     "task_config.output_data.alice: output file {data_dir}/alice.csv exists; a job does not replace a file unless "
     "the task says so (task_config.overwrite: true)"),
]


@pytest.mark.parametrize("task_type,over,expected", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_config(cfg, data_dir, task_type, over, expected):
    assert refused(cfg, task_type, **over) == expected.format(data_dir=data_dir)


def test_overwrite_allows_existing_output(cfg, data_dir):
    tc = spec_of(cfg, "fillna", output_data={"alice": "alice2.csv", "bob": "b.csv"})["task_config"]
    assert tc["overwrite"] is False
    (pd.DataFrame({"a": [1]})).to_csv(f"{data_dir}/alice2.csv", index=False)
    tc = spec_of(cfg, "fillna", output_data={"alice": "alice2.csv", "bob": "b.csv"}, overwrite=True)["task_config"]
    assert tc["overwrite"] is True


# ---- the transforms, against sklearn / pandas

K = preprocessing.kernels()
DF = pd.DataFrame({
    "x": [1.0, 4.0, 2.0, 8.0, np.nan, 5.0],
    "k": [3, 3, 3, 3, 3, 3],
    "c": ["b", "a", "c", "a", None, "b"],
    "n": [10, 2, 33, 2, 7, 10],
})


def test_standard_scaler_kernel():
    out = K["standard_scaler"](DF, ["x", "k"], True, True)
    ref = StandardScaler().fit_transform(DF[["x", "k"]])
    np.testing.assert_allclose(out[["x", "k"]].to_numpy(), ref, atol=1e-12)
    assert out["k"].tolist() == [0.0] * 6  # constant: centred only
    assert list(out.columns) == list(DF.columns) and out["c"].equals(DF["c"])
    out = K["standard_scaler"](DF, ["x"], False, True)
    np.testing.assert_allclose(out["x"], DF["x"] / DF["x"].std(ddof=0), atol=1e-12)


def test_minmax_scaler_kernel():
    out = K["minmax_scaler"](DF, ["x", "n"], [-1.0, 1.0])
    ref = MinMaxScaler(feature_range=(-1, 1)).fit_transform(DF[["x", "n"]])
    np.testing.assert_allclose(out[["x", "n"]].to_numpy(), ref, atol=1e-12)
    assert K["minmax_scaler"](DF, ["k"], [0.0, 1.0])["k"].tolist() == [0.0] * 6


def test_label_encoder_kernel():
    out = K["label_encoder"](DF, ["c", "n"])
    # as strings, like the original: None is "None" < "a"
    assert out["c"].tolist() == LabelEncoder().fit_transform(DF["c"].astype(str)).tolist() == [2, 1, 3, 1, 0, 2]
    assert out["n"].tolist() == [0, 1, 2, 1, 3, 0]  # as strings: "10" < "2" < "33" < "7"


def test_onehot_encoder_kernel():
    out = K["onehot_encoder"](DF[["n", "c", "x"]], ["n"], None)
    assert list(out.columns) == ["c", "x", "n_2", "n_7", "n_10", "n_33"]
    np.testing.assert_array_equal(out[["n_2", "n_7", "n_10", "n_33"]].to_numpy(),
                                  OneHotEncoder(sparse_output=False).fit_transform(DF[["n"]]))
    out = K["onehot_encoder"](DF[["n"]], ["n"], "first")
    assert list(out.columns) == ["n_7", "n_10", "n_33"]
    with pytest.raises(ValueError, match="new column.s. n_2 of n already exist"):
        K["onehot_encoder"](DF[["n"]].assign(n_2=1), ["n"], None)


def test_binning_kernels():
    q = K["quantile_binning"](DF, ["n"], 3)["n"]
    assert q.tolist() == pd.qcut(DF["n"], 3, labels=False, duplicates="drop").tolist()
    w = K["equal_width_binning"](DF, ["x"], 2)["x"]
    assert w.tolist()[:4] == [0.0, 0.0, 0.0, 1.0] and np.isnan(w[4])  # [1, 4.5], (4.5, 8]


def test_fillna_kernel():
    assert K["fillna"](DF, ["x"], "mean")["x"][4] == pytest.approx(DF["x"].mean())
    assert K["fillna"](DF, ["x"], "median")["x"][4] == 4.0
    assert K["fillna"](DF, ["c"], "mode")["c"][4] == "a"  # a and b twice: the smaller
    all_na = pd.DataFrame({"z": [np.nan, np.nan]})
    assert K["fillna"](all_na, ["z"], "mean")["z"].isna().all()


# ---- run(): what each party transforms and writes (a fake runtime; no SecretFlow)

@pytest.fixture
def files(tmp_path):
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    pd.DataFrame({"id": [1, 2, 3], "x": [1.0, None, 3.0], "s": ["u", "v", "u"]}).to_csv(a, index=False)
    pd.DataFrame({"y": [5, 6, 9], "id": [1, 2, 3]}).to_csv(b, index=False)
    return {"alice": str(a), "bob": str(b)}, {"alice": str(tmp_path / "ao.csv"), "bob": str(tmp_path / "bo.csv")}


def run(task_type, files, self_party="alice", **cfg):
    inputs, outputs = files
    full = {"input_data": inputs, "output_data": outputs, "columns": None, "overwrite": False}
    full.update(cfg)
    rt = FakeRt(self_party)
    return get_task_type(task_type).run(full, rt), rt


def written(path):
    return pd.read_csv(path).to_dict("list")


def test_run_default_numeric_columns_each_party_own_file(files):
    out, rt = run("minmax_scaler", files, feature_range=[0.0, 1.0])
    inputs, outputs = files
    assert out == {"output_paths": outputs, "output_path": outputs["alice"], "scaled_columns": ["x", "y"],
                   "parties": ["alice", "bob"], "feature_range": [0.0, 1.0]}
    # alice (this party) writes its staging name, bob's path as given; id back in place, s untouched
    mine = written(outputs["alice"] + ".staging")
    assert list(mine) == ["id", "x", "s"] and mine["id"] == [1, 2, 3] and mine["s"] == ["u", "v", "u"]
    np.testing.assert_array_equal(mine["x"], [0.0, np.nan, 1.0])
    assert written(outputs["bob"]) == {"y": [0.0, 0.25, 1.0], "id": [1, 2, 3]}
    # each party's transform ran on its own PYU with its own columns, then each party wrote its own file
    assert [(c[0], c[2][1]) for c in rt.calls if c[1] == "minmax_scaler"] == [("alice", ["x"]), ("bob", ["y"])]
    assert [c[0] for c in rt.calls if c[1] == "write"] == ["alice", "bob"]


def test_run_label_encoder_listed_columns_across_parties(files):
    out, rt = run("label_encoder", files, self_party="bob", columns=["y", "s"])
    inputs, outputs = files
    assert out["encoded_columns"] == ["y", "s"] and out["output_path"] == outputs["bob"]
    assert written(outputs["alice"])["s"] == [0, 1, 0]
    assert written(outputs["bob"] + ".staging") == {"y": [0, 1, 2], "id": [1, 2, 3]}


def test_run_fillna_constant(files):
    out, rt = run("fillna", files, columns={"alice": ["x"]}, strategy="constant", fill_value=-1)
    assert written(files[1]["alice"] + ".staging")["x"] == [1.0, -1.0, 3.0]
    assert out["filled_columns"] == ["x"] and out["strategy"] == "constant" and out["fill_value"] == -1


@pytest.mark.parametrize("task_type,cfg,expected", [
    ("standard_scaler", {"columns": ["s"]}, "standard_scaler: task_config.columns must be numeric columns, got s "
                                            "(alice: object)"),
    ("fillna", {"columns": ["s"], "strategy": "median"},
     "fillna: task_config.columns must be numeric columns, got s (alice: object)"),
    ("quantile_binning", {"columns": ["x", "zz"], "n_bins": 2},
     "task_config.columns: column(s) zz in no party's file (alice: id, x, s; bob: y, id)"),
    ("label_encoder", {"columns": ["id"]},
     "task_config.columns: column(s) id are in several parties' files (join keys, kept as they are)"),
])
def test_run_refuses_bad_columns_before_any_transform(files, task_type, cfg, expected):
    with pytest.raises(ValueError) as e:
        run(task_type, files, **cfg)
    assert str(e.value) == expected
    inputs, outputs = files
    import os
    assert not any(os.path.exists(p) or os.path.exists(p + ".staging") for p in outputs.values())


def test_run_reads_no_vdataframe_and_reveals_only_plain_values(files, monkeypatch):
    """Each party's PYU reads its own file (no SecretFlow VDataFrame: its PartitionAgent actors cost seconds and a
    CPU slot per party and step); what run() reveals are plain values: headers, row counts, column types."""
    import secretflow.data.vertical as sv

    monkeypatch.setattr(sv, "read_csv", lambda *a, **k: pytest.fail("read_csv called"), raising=False)
    revealed = []
    rt2 = FakeRt("alice")
    orig = rt2.sf.reveal

    def spy(x):
        v = orig(x)
        revealed.append(v)
        return v
    rt2.sf.reveal = spy
    get_task_type("fillna").run({"input_data": files[0], "output_data": {p: v + ".2" for p, v in files[1].items()},
                                 "columns": ["x"], "overwrite": False, "strategy": "median", "fill_value": None}, rt2)
    reads = [(c[0], c[2][0]) for c in rt2.calls if c[1] == "read"]
    assert reads == [("alice", files[0]["alice"]), ("bob", files[0]["bob"])]

    def plain(v):
        if isinstance(v, (list, tuple)):
            return all(plain(x) for x in v)
        if isinstance(v, dict):
            return all(isinstance(k, str) and plain(x) for k, x in v.items())
        return v is None or isinstance(v, (str, int, float, bool))
    assert revealed and all(plain(v) for v in revealed), revealed
    assert pd.read_csv(files[1]["alice"] + ".2.staging")["x"].tolist() == [1.0, 2.0, 3.0]


def test_run_refuses_different_row_counts(files):
    pd.DataFrame({"y": [5, 6], "id": [1, 2]}).to_csv(files[0]["bob"], index=False)
    with pytest.raises(ValueError) as e:
        run("minmax_scaler", files, feature_range=[0.0, 1.0])
    assert str(e.value) == ("the parties' files have different numbers of rows: alice: 3, bob: 2 (vertical data: the "
                            "same rows in the same order in every file, e.g. psi outputs)")
