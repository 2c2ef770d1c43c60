"""Model task types ss_lr, ss_lr_predict, ss_xgb, ss_xgb_predict (#14): the original worker's task_config keys with
their checks and defaults, what each party stages, the per-party model file and the run-time checks every party
takes alike. The real two-party run: tests/integration/test_models_it.py."""

import json
import os
import pickle
import zipfile

import pytest

from sfworker.errors import ParamsError
from sfworker.params import build_job_spec
from sfworker.tasks import _model as m
from sfworker.tasks.registry import get_task_type, known_task_types

FEATS = ["x1", "x2", "x3", "x4", "x5", "x6"]


def train(kind="ss_lr", **over):
    tc = {"task_type": kind, "train_data": {"alice": "alice.csv", "bob": "/data/bob.csv"}, "features": FEATS,
          "label": "y", "label_party": "bob", "model_output": {"alice": "models/a.model", "bob": "/data/b.model"}}
    tc.update(over)
    return {"task_config": {k: v for k, v in tc.items() if v is not None}}


def predict(kind="ss_lr_predict", **over):
    tc = {"task_type": kind, "model_path": {"alice": "alice.csv", "bob": "/data/b.model"},
          "predict_data": {"alice": "alice.csv", "bob": "/data/bob.csv"},
          "output_path": {"alice": "out/pred.csv"}, "receiver_party": "alice"}
    tc.update(over)
    return {"task_config": {k: v for k, v in tc.items() if v is not None}}


def refused(cfg, params):
    with pytest.raises(ParamsError) as e:
        build_job_spec(cfg, "req-1", params)
    return str(e.value)


def staged_outputs(spec):
    return sorted(e["path"] for e in spec.get("outputs") or ())


def test_types_registered_with_their_modules():
    for kind in ("ss_lr", "ss_lr_predict", "ss_xgb", "ss_xgb_predict"):
        assert kind in known_task_types()
        t = get_task_type(kind)
        assert t.needs_spu is True and "secretflow.data.vertical" in t.sf_modules
    assert get_task_type("ss_lr").sf_modules[0] == "secretflow.ml.linear.ss_sgd"
    assert get_task_type("ss_xgb").sf_modules[0] == "secretflow.ml.boost.ss_xgb_v"


def test_ss_lr_defaults_and_own_paths(cfg, data_dir):
    spec = build_job_spec(cfg, "req-1", train())
    tc = spec["task_config"]
    assert spec["parties"] == ["alice", "bob"]
    # the original worker's defaults
    assert tc["params"] == {"epochs": 5, "learning_rate": 0.3, "batch_size": 32, "sig_type": "t1",
                            "reg_type": "logistic", "penalty": "l2", "l2_norm": 0.1}
    own = os.path.join(os.path.realpath(data_dir), "models", "a.model")
    # this party's paths resolved under data_dir, bob's passed as given (only bob can check them)
    assert tc["model_output"] == {"alice": own, "bob": "/data/b.model"}
    assert tc["train_data"]["alice"] == os.path.join(os.path.realpath(data_dir), "alice.csv")
    assert tc["train_data"]["bob"] == "/data/bob.csv"
    # the model file is this party's output: staged and published by the job
    assert staged_outputs(spec) == [own]
    assert tc["prediction_output"] is None and tc["prediction_receiver"] is None


def test_ss_lr_params_given(cfg):
    p = {"epochs": 2, "learning_rate": 1, "batch_size": 16, "sig_type": "T3", "reg_type": "linear",
         "penalty": "None", "l2_norm": 0}
    tc = build_job_spec(cfg, "req-1", train(params=p))["task_config"]
    assert tc["params"] == {"epochs": 2, "learning_rate": 1.0, "batch_size": 16, "sig_type": "t3",
                            "reg_type": "linear", "penalty": "none", "l2_norm": 0.0}


def test_features_per_party(cfg):
    tc = build_job_spec(cfg, "req-1", train(features={"alice": ["x1", "x2"], "bob": ["x4"]}))["task_config"]
    assert tc["features"] == {"alice": ["x1", "x2"], "bob": ["x4"]}


def test_prediction_output_of_the_receiver(cfg, data_dir):
    # alice receives: she stages her file
    spec = build_job_spec(cfg, "req-1", train(prediction_output={"alice": "p/train.csv"}, prediction_receiver="alice"))
    own = os.path.join(os.path.realpath(data_dir), "p", "train.csv")
    assert spec["task_config"]["prediction_output"] == {"alice": own}
    assert own in staged_outputs(spec)
    # the default receiver is label_party (bob): alice writes nothing and stages nothing but her model
    spec = build_job_spec(cfg, "req-1", train(prediction_output={"bob": "/data/p.csv", "alice": "p/x.csv"}))
    assert spec["task_config"]["prediction_output"] == {"bob": "/data/p.csv"}
    assert spec["task_config"]["prediction_receiver"] == "bob"
    assert staged_outputs(spec) == [os.path.join(os.path.realpath(data_dir), "models", "a.model")]


def test_predict_receiver_stages_only_its_own(cfg, data_dir):
    spec = build_job_spec(cfg, "req-1", predict())
    out = os.path.join(os.path.realpath(data_dir), "out", "pred.csv")
    assert spec["task_config"]["output_path"] == {"alice": out}
    assert staged_outputs(spec) == [out]
    # bob receives: nothing to stage here; alice's model file is an input (checked to exist)
    spec = build_job_spec(cfg, "req-1", predict(output_path={"bob": "/data/p.csv"}, receiver_party="bob"))
    assert staged_outputs(spec) == [] and spec["task_config"]["output_path"] == {"bob": "/data/p.csv"}
    assert spec["task_config"]["model_path"]["alice"] == os.path.join(os.path.realpath(data_dir), "alice.csv")
    # one output_path entry names the receiver
    spec = build_job_spec(cfg, "req-1", predict(receiver_party=None, output_path={"bob": "/data/p.csv"}))
    assert spec["task_config"]["receiver_party"] == "bob"


def test_xgb_defaults(cfg):
    tc = build_job_spec(cfg, "req-1", train("ss_xgb"))["task_config"]
    assert tc["params"] == {"num_boost_round": 10, "max_depth": 5, "learning_rate": 0.3, "objective": "logistic",
                            "reg_lambda": 0.1, "subsample": 1.0, "colsample_by_tree": 1.0, "base_score": 0.0,
                            "seed": 42}


BAD_TRAIN = [
    ("unknown-key", {"epochs": 3}, "task_config: unknown key(s) epochs for task_type 'ss_lr' (allowed: features, "
     "job_slot, label, label_party, model_output, overwrite, params, prediction_output, prediction_receiver, "
     "task_type, test_data, train_data)"),
    ("no-features", {"features": None}, "task_config.features is required (a list of feature columns, or a mapping "
     "party -> list of feature columns)"),
    ("features-empty", {"features": []}, "task_config.features must be a non-empty list of column names, got []"),
    ("features-twice", {"features": ["x1", "x1"]}, "task_config.features: column(s) x1 listed twice"),
    ("features-party", {"features": {"alice": ["x1"], "carol": ["x2"]}},
     "task_config.features: parties alice, carol differ from the job's parties alice, bob (the keys of "
     "task_config.train_data)"),
    ("features-two-parties", {"features": {"alice": ["x1"], "bob": ["x1"]}},
     "task_config.features: column 'x1' is listed for alice and bob"),
    ("label-type", {"label": 3}, "task_config.label must be the label column's name, got int 3"),
    ("label-is-feature", {"label": "x2"}, "task_config.label 'x2' is also one of task_config.features"),
    ("no-label-party", {"label_party": None}, "task_config.label_party must be a party name, got NoneType None"),
    ("label-party-not-in-job", {"label_party": "carol"},
     "task_config.label_party 'carol' is not one of the job's parties ['alice', 'bob']"),
    ("model-output-parties", {"model_output": {"alice": "a.model", "carol": "/c.model"}},
     "task_config.model_output parties ['alice', 'carol'] differ from train_data parties ['alice', 'bob'] (every "
     "party keeps its own part of the model)"),
    ("model-output-exists", {"model_output": {"alice": "alice.csv", "bob": "/b"}},
     "task_config.model_output.alice: output file {d}/alice.csv exists; a job does not replace a file unless the "
     "task says so (task_config.overwrite: true)"),
    ("model-output-is-input", {"model_output": {"alice": "alice.csv", "bob": "/b"}, "overwrite": True},
     "task_config.model_output.alice: output file {d}/alice.csv is an input of the same job"),
    ("params-type", {"params": [1]}, "task_config.params must be a mapping, got list [1]"),
    ("params-unknown", {"params": {"epochs": 1, "max_depth": 2}},
     "task_config.params: unknown key(s) max_depth (allowed: epochs, learning_rate, batch_size, sig_type, "
     "reg_type, penalty, l2_norm)"),
    ("epochs-zero", {"params": {"epochs": 0}}, "task_config.params.epochs must be >= 1, got 0"),
    ("epochs-float", {"params": {"epochs": 1.5}}, "task_config.params.epochs must be an integer, got float 1.5"),
    ("epochs-bool", {"params": {"epochs": True}}, "task_config.params.epochs must be an integer, got bool True"),
    ("lr-zero", {"params": {"learning_rate": 0}}, "task_config.params.learning_rate must be > 0, got 0.0"),
    ("lr-str", {"params": {"learning_rate": "0.1"}},
     "task_config.params.learning_rate must be a number, got str '0.1'"),
    ("batch", {"params": {"batch_size": 0}}, "task_config.params.batch_size must be >= 1, got 0"),
    ("sig", {"params": {"sig_type": "t2"}},
     "task_config.params.sig_type must be one of t1, t3, t5, real, df, sr, got 't2'"),
    ("reg", {"params": {"reg_type": "poisson"}},
     "task_config.params.reg_type must be one of logistic, linear, got 'poisson'"),
    ("penalty-l1", {"params": {"penalty": "l1"}},
     "task_config.params.penalty 'l1' is not supported by SecretFlow's SS-SGD (supported: none, l2)"),
    ("penalty-bad", {"params": {"penalty": "elastic"}},
     "task_config.params.penalty must be one of none, l2, got 'elastic'"),
    ("l2-norm-zero", {"params": {"l2_norm": 0}}, "task_config.params.l2_norm must be > 0, got 0.0"),
    ("l2-norm-negative", {"params": {"penalty": "none", "l2_norm": -1}},
     "task_config.params.l2_norm must be >= 0, got -1.0"),
    ("receiver-not-in-job", {"prediction_output": {"alice": "p.csv"}, "prediction_receiver": "carol"},
     "task_config.prediction_receiver 'carol' is not one of the job's parties ['alice', 'bob']"),
    ("receiver-without-entry", {"prediction_output": {"alice": "p.csv"}},
     "task_config.prediction_output has no entry for the receiver 'bob' (it gets the predictions; given: alice)"),
    ("prediction-output-party", {"prediction_output": {"bob": "p.csv", "carol": "c.csv"}},
     "task_config.prediction_output.carol: 'carol' is not one of the job's parties ['alice', 'bob']"),
    ("test-data-alone", {"test_data": {"alice": "alice.csv", "bob": "/t.csv"}},
     "task_config.test_data is given without task_config.prediction_output (where the receiver writes the "
     "predictions on it)"),
    ("train-data-missing", {"train_data": {"alice": "nope.csv", "bob": "/b.csv"}},
     "task_config.train_data.alice: input file {d}/nope.csv does not exist or is not a regular file"),
    ("overwrite-type", {"overwrite": "yes"}, "task_config.overwrite must be bool, got str 'yes'"),
]


@pytest.mark.parametrize("name,over,expected", BAD_TRAIN, ids=[b[0] for b in BAD_TRAIN])
def test_bad_ss_lr(cfg, data_dir, name, over, expected):
    assert refused(cfg, train(**over)) == expected.format(d=os.path.realpath(data_dir))


BAD_XGB = [
    ("rounds", {"num_boost_round": 0}, "task_config.params.num_boost_round must be [1, 1024], got 0"),
    ("rounds-high", {"num_boost_round": 1025}, "task_config.params.num_boost_round must be [1, 1024], got 1025"),
    ("depth", {"max_depth": 17}, "task_config.params.max_depth must be [1, 16], got 17"),
    ("lr", {"learning_rate": 1.5}, "task_config.params.learning_rate must be (0, 1], got 1.5"),
    ("lr-zero", {"learning_rate": 0}, "task_config.params.learning_rate must be (0, 1], got 0.0"),
    ("objective", {"objective": "softmax"},
     "task_config.params.objective must be one of logistic, linear, got 'softmax'"),
    ("lambda", {"reg_lambda": -0.1}, "task_config.params.reg_lambda must be [0, 10000], got -0.1"),
    ("subsample", {"subsample": 0}, "task_config.params.subsample must be (0, 1], got 0.0"),
    ("colsample", {"colsample_by_tree": 2}, "task_config.params.colsample_by_tree must be (0, 1], got 2.0"),
    ("base", {"base_score": 11}, "task_config.params.base_score must be [-10, 10], got 11.0"),
    ("seed", {"seed": "x"}, "task_config.params.seed must be an integer, got str 'x'"),
    ("unknown", {"epochs": 3}, "task_config.params: unknown key(s) epochs (allowed: num_boost_round, max_depth, "
     "learning_rate, objective, reg_lambda, subsample, colsample_by_tree, base_score, seed)"),
]


@pytest.mark.parametrize("name,p,expected", BAD_XGB, ids=[b[0] for b in BAD_XGB])
def test_bad_ss_xgb(cfg, name, p, expected):
    assert refused(cfg, train("ss_xgb", params=p)) == expected


BAD_PREDICT = [
    ("unknown", {"features": ["x1"]}, "task_config: unknown key(s) features for task_type 'ss_lr_predict' (allowed: "
     "job_slot, model_path, output_path, overwrite, predict_data, receiver_party, task_type)"),
    ("model-missing", {"model_path": {"alice": "nope.model", "bob": "/b"}},
     "task_config.model_path.alice: input file {d}/nope.model does not exist or is not a regular file"),
    ("model-parties", {"model_path": {"alice": "alice.csv", "carol": "/c"}},
     "task_config.model_path parties ['alice', 'carol'] differ from predict_data parties ['alice', 'bob'] (each "
     "party's part of the model and its own data)"),
    ("receiver", {"receiver_party": "carol"},
     "task_config.receiver_party 'carol' is not one of the job's parties ['alice', 'bob']"),
    ("no-entry", {"receiver_party": "bob"},
     "task_config.output_path has no entry for the receiver 'bob' (it gets the predictions; given: alice)"),
    ("which-receiver", {"receiver_party": None, "output_path": {"alice": "a.csv", "bob": "/b.csv"}},
     "task_config.receiver_party is required when task_config.output_path names 2 parties (alice, bob): say which "
     "one gets the predictions"),
    ("output-type", {"output_path": "pred.csv"},
     "task_config.output_path must be a mapping party -> output file (the entry of alice, the receiver, is used), "
     "got str 'pred.csv'"),
    ("output-is-input", {"output_path": {"alice": "alice.csv"}, "overwrite": True},
     "task_config.output_path.alice: output file {d}/alice.csv is an input of the same job"),
]


@pytest.mark.parametrize("name,over,expected", BAD_PREDICT, ids=[b[0] for b in BAD_PREDICT])
def test_bad_predict(cfg, data_dir, name, over, expected):
    assert refused(cfg, predict(**over)) == expected.format(d=os.path.realpath(data_dir))
    if name != "unknown":  # the same checks for ss_xgb_predict
        assert refused(cfg, predict("ss_xgb_predict", **over)) == expected.format(d=os.path.realpath(data_dir))


# ---- the model file ------------------------------------------------------------------------------------------


def test_model_file_members(tmp_path):
    """SPU.dump/load write/read a share through ZipMember exactly as through a file: pickle.dump into the member,
    pickle.load from it; the JSON members next to it."""
    path = str(tmp_path / "sub" / "a.model")
    m.write_json_member(path, m.META, {"format": m.FORMAT, "party": "alice"}, create=True)
    with m.ZipMember(path, "spu/weights.share", "w")() as w:
        pickle.dump({"meta": [3], "shares": [b"\x01\x02"]}, w)
    with m.ZipMember(path, "spu/weights.share", "r")() as r:
        assert pickle.load(r) == {"meta": [3], "shares": [b"\x01\x02"]}
    assert sorted(zipfile.ZipFile(path).namelist()) == ["model.json", "spu/weights.share"]
    assert m.read_meta_local(path, "task_config.model_path.alice") == {"format": m.FORMAT, "party": "alice"}
    assert m.read_json_member(path, m.META)["party"] == "alice"


def test_read_meta_refuses_other_files(tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(m.ModelError, match=r"^task_config.model_path.alice: .*/x.csv is not a model file of sfworker "
                                           r"\(BadZipFile: File is not a zip file\)$"):
        m.read_meta_local(str(csv), "task_config.model_path.alice")
    other = str(tmp_path / "o.model")
    m.write_json_member(other, m.META, {"format": "other/9"}, create=True)
    with pytest.raises(m.ModelError, match=r"is not a model file of sfworker \(format 'other/9', expected "
                                           r"'sfworker-model/1'\)$"):
        m.read_meta_local(other, "w")


class FakeRt:
    """Two parties in one process: a PYU call returns what the function gives with THIS party's argument, except
    for the other parties, whose values come from ``others`` (what their drivers would have passed)."""

    def __init__(self, me, parties, others, runtime=None):
        self.self_party, self.parties, self.others = me, parties, others
        self.spu_cluster_def = {"runtime_config": runtime or {"protocol": "SEMI2K", "field": "FM128"}}
        self.sf = self
        self.task_request_id = "req-1"

    def pyu(self, party):
        self._pyus = getattr(self, "_pyus", {})
        if party not in self._pyus:
            def wrap(fn):
                def call(*args):
                    return fn(*args) if party == self.self_party else self.others[party]
                return call
            self._pyus[party] = wrap
        return self._pyus[party]

    def reveal(self, objs):
        return list(objs) if isinstance(objs, list) else objs


def test_preflight_every_party_fails_alike():
    rt = FakeRt("alice", ["alice", "bob"], {"bob": {"error": "task_config.train_data.bob: no label"}})
    assert m.preflight(FakeRt("alice", ["alice", "bob"], {"bob": {"ok": 2}}), ["alice", "bob"], lambda: 3) == \
        {"alice": 3, "bob": 2}
    with pytest.raises(m.ModelError) as e:
        m.preflight(rt, ["alice", "bob"], lambda: 3)
    assert str(e.value) == "bob: task_config.train_data.bob: no label"

    def mine():
        raise m.ModelError("task_config.train_data.alice: feature column(s) x9 not found in a.csv")

    with pytest.raises(m.ModelError) as e:
        m.preflight(rt, ["alice", "bob"], mine)
    assert str(e.value) == ("alice: task_config.train_data.alice: feature column(s) x9 not found in a.csv; "
                            "bob: task_config.train_data.bob: no label")


def _model_pair(tmp_path, model_type="ss_lr", model_id="t1", spu=None, features=("x1",)):
    path = str(tmp_path / "a.model")
    meta = {"format": m.FORMAT, "model_type": model_type, "model_id": model_id, "parties": ["alice", "bob"],
            "party_features": {"alice": list(features), "bob": ["x4"]},
            "spu": spu or {"protocol": "SEMI2K", "field": "FM128", "fxp_fraction_bits": None}}
    m.write_json_member(path, m.META, dict(meta, party="alice"), create=True)
    data = tmp_path / "a.csv"
    data.write_text("x1,x2\n1,2\n")
    return {"model_path": {"alice": path, "bob": "/b.model"}, "predict_data": {"alice": str(data), "bob": "/b.csv"}}


def _bob(model_type="ss_lr", model_id="t1", spu=None):
    return {"bob": {"ok": {"model_type": model_type, "model_id": model_id, "parties": ["alice", "bob"],
                           "spu": spu or {"protocol": "SEMI2K", "field": "FM128", "fxp_fraction_bits": None}}}}


def test_check_models_accepts_one_training(tmp_path):
    cfg = _model_pair(tmp_path)
    meta = m.check_models(FakeRt("alice", ["alice", "bob"], _bob()), cfg, "ss_lr")
    assert meta["party"] == "alice" and meta["party_features"]["alice"] == ["x1"]


@pytest.mark.parametrize("case,bob,expected", [
    ("type", _bob(model_type="ss_xgb"), "task_config.model_path.bob: a ss_xgb model, expected ss_lr"),
    ("trainings", _bob(model_id="t2"),
     "task_config.model_path: the parties' model files come from different trainings (model_id alice: t1, bob: t2)"),
    ("spu", None, "task_config.model_path: the model's SPU shares are for protocol SEMI2K field FM128, this job's "
     "SPU runs ABY3 FM64 (set task_params.spu_config.runtime_config to the training's)"),
])
def test_check_models_refuses(tmp_path, case, bob, expected):
    cfg = _model_pair(tmp_path)
    rt = FakeRt("alice", ["alice", "bob"], bob or _bob(), runtime={"protocol": "ABY3", "field": "FM64"}
                if case == "spu" else None)
    with pytest.raises(m.ModelError) as e:
        m.check_models(rt, cfg, "ss_lr")
    assert str(e.value) == expected


def _csv(tmp_path, text):
    path = tmp_path / "own.csv"
    path.write_text(text)
    return str(path)


def test_predict_data_lacks_a_model_feature(tmp_path):
    """Every party learns the headers (the schema): a file missing one of the model's features fails every party
    alike, naming the party, before any data is read."""
    paths = {"alice": _csv(tmp_path, "id,x1,x2\n1,0.5,1\n"), "bob": "/b.csv"}
    rt = FakeRt("alice", ["alice", "bob"], {"bob": ["id", "x4", "y"]})
    with pytest.raises(m.ModelError) as e:
        m.read_features(rt, ["alice", "bob"], paths, {"alice": ["x1"], "bob": ["x4", "x5"]}, "task_config.predict_data")
    assert str(e.value) == ("task_config.predict_data.bob: feature column(s) x5 of the model not in bob's file (its "
                            "own columns: x4, y)")
    with pytest.raises(m.ModelError) as e:  # a join key (in both files) is not a feature column of either party
        m.read_features(rt, ["alice", "bob"], paths, {"alice": ["id", "x1"], "bob": ["x4"]}, "task_config.predict_data")
    assert str(e.value) == ("task_config.predict_data.alice: feature column(s) id of the model not in alice's file "
                            "(its own columns: x1, x2)")


@pytest.mark.parametrize("features,label,expected", [
    (["x1", "x9"], "y", "task_config.features: column(s) x9 in no party's file (alice: id, x1, x2; bob: id, x4, y)"),
    (["id", "x1"], "y", "task_config.features: column(s) id are in several parties' files (join keys, kept as they "
     "are)"),
    ({"alice": ["x1"], "bob": ["x5"]}, "y", "task_config.features.bob: column(s) x5 not in bob's file (its columns: id, "
     "x4, y)"),
    (["x1", "x4"], "x2", "task_config.label 'x2' is not a column of bob's train_data only (label_party bob; "
     "task_config.train_data.bob columns: id, x4, y)"),
])
def test_train_data_checks(tmp_path, features, label, expected):
    paths = {"alice": _csv(tmp_path, "id,x1,x2\n1,0.5,1\n"), "bob": "/b.csv"}
    rt = FakeRt("alice", ["alice", "bob"], {"bob": ["id", "x4", "y"]})
    cfg = {"features": features, "label": label, "label_party": "bob"}
    with pytest.raises(m.ModelError) as e:
        m.train_split(rt, cfg, ["alice", "bob"], paths)
    assert str(e.value) == expected


class FakeFed:
    def __init__(self, rt, party, values):
        self.partitions = {rt.pyu(party): values}


@pytest.mark.parametrize("logistic,rows,expected", [
    (True, "x1,y\n0.1,1\n0.2,0\n", "probability,prediction,y\n0.25,0,1\n0.75,1,0\n"),
    (True, "x1\n0.1\n0.2\n", "probability,prediction\n0.25,0\n0.75,1\n"),  # the receiver has no label: scores only
    (False, "x1,y\n0.1,1\n0.2,0\n", "prediction,y\n0.25,1\n0.75,0\n"),
])
def test_receiver_writes_predictions(tmp_path, logistic, rows, expected):
    """The original's columns, then the label when the receiver's own data file has it (an evaluation step reads both
    from one file of one party)."""
    data = tmp_path / "d.csv"
    data.write_text(rows)
    out = tmp_path / "pred.csv"
    rt = FakeRt("alice", ["alice", "bob"], {})
    n = m.write_predictions(rt, FakeFed(rt, "alice", [[0.25], [0.75]]), "alice", str(out), logistic, str(data), "y")
    assert n == 2 and out.read_text() == expected


def test_model_description_is_json(tmp_path):
    path = str(tmp_path / "m.model")
    m.write_json_member(path, m.META, {"format": m.FORMAT, "label": "y"}, create=True)
    assert json.loads(zipfile.ZipFile(path).read("model.json")) == {"format": m.FORMAT, "label": "y"}
