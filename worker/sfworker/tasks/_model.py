"""What the model task types (ss_lr, ss_xgb and their _predict types; linear.py, boost.py) share: the task_config
checks, the vertical reading of the parties' CSVs, the per-party model file and the prediction output.

The model file of a party (``model_output.<party>`` of a training, ``model_path.<party>`` of a prediction) is ONE
zip file holding only what that party may have:

* ``model.json``: the model's description, the same in every party's file (type, model_id = the training's
  task_request_id, the parties in SPU order, each party's feature columns, label, label_party, the training
  parameters, the SPU protocol/field the shares belong to) plus ``party``;
* ``spu/<name>.share``: this party's secret shares of the SPU-held parts (SPU.dump writes each party's share from
  that party's own SPU runtime; a share alone reveals nothing);
* ``trees.json`` (ss_xgb): this party's part of each tree - the split feature and threshold of the nodes that split
  on this party's features, -1 elsewhere.

Each party writes its own file from its own devices into its own staging name (rt.output_path); the job publishes it
when it succeeded. Nothing of the model is gathered on one host.

The actor-side helpers below (ZipMember, write_meta, append_json, read_json, ...) are shipped to Ray by value
(``ship_by_value``): they import only the standard library.
"""

from __future__ import annotations

import json
import numbers
import sys
import zipfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import ParamsError
from . import _vdata
from .registry import ValidationContext, optional, require

FORMAT = "sfworker-model/1"
META = "model.json"

TRAIN_KEYS = ("train_data", "features", "label", "label_party", "model_output", "params", "test_data",
              "prediction_output", "prediction_receiver", "overwrite")
PREDICT_KEYS = ("model_path", "predict_data", "output_path", "receiver_party", "overwrite")


class ModelError(ValueError):
    """A model file or the data do not fit the job (raised at run time, with the field and the values)."""


# ---------------------------------------------------------------------------------------------------------------
# task_config checks (validate(): no secretflow, nothing read but paths)


def number(params: Dict[str, Any], key: str, default: float, lo: Optional[float] = None, hi: Optional[float] = None,
           lo_open: bool = False, integer: bool = False) -> Any:
    """``params[key]`` (default if absent): an int (integer) or a number, within [lo, hi] ((lo, hi] if lo_open)."""
    v = params.get(key)
    if v is None:
        return default
    what = f"task_config.params.{key}"
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or (integer and not isinstance(v, numbers.Integral)):
        raise ParamsError(f"{what} must be {'an integer' if integer else 'a number'}, got {type(v).__name__} {v!r}")
    v = int(v) if integer else float(v)
    bad = (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi)
    if bad:
        rng = f"{'(' if lo_open else '['}{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
        if hi is None:
            rng = f"{'>' if lo_open else '>='} {lo}"
        raise ParamsError(f"{what} must be {rng}, got {v!r}")
    return v


def choice(params: Dict[str, Any], key: str, default: str, allowed: Sequence[str]) -> str:
    v = params.get(key)
    if v is None:
        return default
    if not isinstance(v, str) or v.lower() not in allowed:
        raise ParamsError(f"task_config.params.{key} must be one of {', '.join(allowed)}, got {v!r}")
    return v.lower()


def check_params_keys(params: Any, allowed: Sequence[str]) -> Dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ParamsError(f"task_config.params must be a mapping, got {type(params).__name__} {params!r}")
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ParamsError(f"task_config.params: unknown key(s) {', '.join(map(str, unknown))} "
                          f"(allowed: {', '.join(allowed)})")
    return params


def _party_name(ctx: ValidationContext, value: Any, key: str, parties: List[str], default: Optional[str] = None) -> str:
    if value is None and default is not None:
        return default
    if not isinstance(value, str) or not value:
        raise ParamsError(f"task_config.{key} must be a party name, got {type(value).__name__} {value!r}")
    if value not in parties:
        raise ParamsError(f"task_config.{key} {value!r} is not one of the job's parties {parties}")
    return value


def _columns(value: Any, where: str) -> List[str]:
    """A column name or a list of them (_vdata.column_list)."""
    return _vdata.column_list([value] if isinstance(value, str) else value, where)


def features_of(value: Any, parties: List[str]) -> Any:
    """task_config.features: a list of column names (the original's form: each party uses those of its file) or
    {party: [columns]} (each party's own columns, every party of train_data)."""
    if isinstance(value, dict):
        if set(value) != set(parties):
            raise ParamsError(f"task_config.features: parties {', '.join(sorted(map(str, value)))} differ from the "
                              f"job's parties {', '.join(parties)} (the keys of task_config.train_data)")
        out = {p: _columns(value[p], f"task_config.features.{p}") for p in parties}
        seen: Dict[str, str] = {}
        for p in parties:
            for c in out[p]:
                if c in seen:
                    raise ParamsError(f"task_config.features: column {c!r} is listed for {seen[c]} and {p}")
                seen[c] = p
        return out
    if value is None:
        raise ParamsError("task_config.features is required (a list of feature columns, or a mapping party -> list "
                          "of feature columns)")
    return _columns(value, "task_config.features")


def receiver_output(ctx: ValidationContext, cfg: Dict[str, Any], key: str, receiver: str, parties: List[str],
                    overwrite: bool, required: bool = True) -> Optional[Dict[str, str]]:
    """{party: path} of which only the receiver's entry is used: the receiver resolves (and stages) its own; other
    parties' entries are checked for shape only (nothing is written there)."""
    m = cfg.get(key)
    if m is None and not required:
        return None
    m = require(cfg, key, dict, f"a mapping party -> output file (the entry of {receiver}, the receiver, is used)")
    for p, v in m.items():
        if p not in parties:
            raise ParamsError(f"task_config.{key}.{p}: {p!r} is not one of the job's parties {parties}")
        if not isinstance(v, str) or not v.strip():
            raise ParamsError(f"task_config.{key}.{p}: must be a non-empty string path, got {v!r}")
    if receiver not in m:
        raise ParamsError(f"task_config.{key} has no entry for the receiver {receiver!r} (it gets the predictions; "
                          f"given: {', '.join(sorted(m))})")
    out = {receiver: m[receiver]}
    if receiver == ctx.self_party:
        out[receiver] = ctx.resolve_output(m[receiver], f"task_config.{key}.{receiver}", overwrite=overwrite)
    return out


def validate_train(task_config: Dict[str, Any], ctx: ValidationContext, param_keys: Sequence[str]
                   ) -> Tuple[Dict[str, Any], List[str]]:
    """The keys every training type shares; ``params`` is only checked for unknown keys here (the type checks each)."""
    overwrite = optional(task_config, "overwrite", bool, False)
    train = ctx.party_path_map(task_config, "train_data", "input")
    parties = sorted(train)
    features = features_of(task_config.get("features"), parties)
    label = require(task_config, "label", str, "the label column's name")
    if not label:
        raise ParamsError("task_config.label must be a non-empty column name")
    flat = [c for cols in features.values() for c in cols] if isinstance(features, dict) else features
    if label in flat:
        raise ParamsError(f"task_config.label {label!r} is also one of task_config.features")
    label_party = _party_name(ctx, task_config.get("label_party"), "label_party", parties)
    if isinstance(features, dict) and not any(features[p] for p in parties):
        raise ParamsError("task_config.features: no feature columns")
    models = ctx.party_path_map(task_config, "model_output", "output", overwrite=overwrite)
    if set(models) != set(parties):
        raise ParamsError(f"task_config.model_output parties {sorted(models)} differ from train_data parties "
                          f"{parties} (every party keeps its own part of the model)")
    test = None
    if task_config.get("test_data") is not None:
        test = ctx.party_path_map(task_config, "test_data", "input")
        if set(test) != set(parties):
            raise ParamsError(f"task_config.test_data parties {sorted(test)} differ from train_data parties {parties}")
    receiver = _party_name(ctx, task_config.get("prediction_receiver"), "prediction_receiver", parties,
                           default=label_party)
    pred_out = receiver_output(ctx, task_config, "prediction_output", receiver, parties, overwrite, required=False)
    if test is not None and pred_out is None:
        raise ParamsError("task_config.test_data is given without task_config.prediction_output (where the receiver "
                          "writes the predictions on it)")
    params = check_params_keys(task_config.get("params"), param_keys)
    return {
        "train_data": train, "features": features, "label": label, "label_party": label_party,
        "model_output": models, "test_data": test, "prediction_output": pred_out,
        "prediction_receiver": receiver if pred_out is not None else None, "overwrite": overwrite,
        "params": dict(params),
    }, parties


def validate_predict(task_config: Dict[str, Any], ctx: ValidationContext) -> Tuple[Dict[str, Any], List[str]]:
    overwrite = optional(task_config, "overwrite", bool, False)
    data = ctx.party_path_map(task_config, "predict_data", "input")
    parties = sorted(data)
    models = ctx.party_path_map(task_config, "model_path", "input")
    if set(models) != set(parties):
        raise ParamsError(f"task_config.model_path parties {sorted(models)} differ from predict_data parties "
                          f"{parties} (each party's part of the model and its own data)")
    # the original's default receiver is the model's label_party: only known from the model file (run time)
    receiver = task_config.get("receiver_party")
    if receiver is not None:
        receiver = _party_name(ctx, receiver, "receiver_party", parties)
        out = receiver_output(ctx, task_config, "output_path", receiver, parties, overwrite)
    else:
        out = require(task_config, "output_path", dict, "a mapping party -> output file")
        if len(out) != 1:
            raise ParamsError(f"task_config.receiver_party is required when task_config.output_path names "
                              f"{len(out)} parties ({', '.join(sorted(map(str, out)))}): say which one gets the "
                              f"predictions")
        receiver = _party_name(ctx, next(iter(out)), "output_path (its party)", parties)
        out = receiver_output(ctx, task_config, "output_path", receiver, parties, overwrite)
    return {"model_path": models, "predict_data": data, "output_path": out, "receiver_party": receiver,
            "overwrite": overwrite}, parties


# ---------------------------------------------------------------------------------------------------------------
# actor side (shipped by value; standard library only)


class ZipMember:
    """A member of a zip file as the "path" SPU.dump/SPU.load accept: a callable returning a context manager that
    yields the member opened for writing (appended to the zip) or reading."""

    def __init__(self, path: str, name: str, mode: str):
        self.path, self.name, self.mode = path, name, mode
        self._zf = None
        self._f = None

    def __call__(self):
        return ZipMember(self.path, self.name, self.mode)

    def __enter__(self):
        import zipfile as zf_mod

        self._zf = zf_mod.ZipFile(self.path, "a" if self.mode == "w" else "r")
        try:
            self._f = self._zf.open(self.name, self.mode)
        except BaseException:
            self._zf.close()
            raise
        return self._f

    def __exit__(self, *exc):
        try:
            self._f.close()
        finally:
            self._zf.close()
        return False


def write_json_member(path: str, name: str, obj: Any, create: bool = False) -> int:
    """Write ``obj`` as JSON into zip member ``name`` (a new zip file if ``create``); returns 1 (something to wait on)."""
    import json as js
    import os as os_mod
    import zipfile as zf_mod

    if create:
        os_mod.makedirs(os_mod.path.dirname(path) or ".", exist_ok=True)
    with zf_mod.ZipFile(path, "w" if create else "a", compression=zf_mod.ZIP_DEFLATED) as z:
        z.writestr(name, js.dumps(obj, sort_keys=True))
    return 1


def read_json_member(path: str, name: str) -> Any:
    import json as js
    import zipfile as zf_mod

    with zf_mod.ZipFile(path, "r") as z:
        return js.loads(z.read(name).decode("utf-8"))


def echo(x: Any) -> Any:
    return x


def ship_by_value() -> None:
    """The actor-side helpers of this module travel to Ray workers by value (they need not import sfworker)."""
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


# ---------------------------------------------------------------------------------------------------------------
# driver side (in run(): each party's driver executes the same calls; a PYU function runs only on its owner, with
# the owner's own arguments)


def read_meta_local(path: str, what: str) -> Dict[str, Any]:
    """This party's model description, read by its driver (validate() resolved the path under data_dir)."""
    try:
        with zipfile.ZipFile(path, "r") as z:
            meta = json.loads(z.read(META).decode("utf-8"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise ModelError(f"{what}: {path} is not a model file of sfworker ({type(e).__name__}: {e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{what}: {path} is not a model file of sfworker (format {meta.get('format')!r}, expected "
                         f"{FORMAT!r})" if isinstance(meta, dict) else f"{what}: {path} has no model description")
    return meta


def exchange(rt: Any, parties: List[str], mine: Any) -> Dict[str, Any]:
    """Every party's value of ``mine`` (each party passes its own): revealed to all parties of the job."""
    objs = [rt.pyu(p)(echo)(mine) for p in parties]
    vals = rt.sf.reveal(objs)
    return dict(zip(parties, vals))


def numeric_check(rt: Any, frames: Dict[str, Any], cols: Dict[str, List[str]], where: str) -> None:
    """Every column ``cols[party]`` of the parties' frames numeric (types revealed as plain strings)."""
    types = _vdata.frame_types(rt, {p: frames[p] for p in cols if cols[p]})
    for party in sorted(types):
        for col in cols[party]:
            dtype, numeric = types[party][col]
            if not numeric and dtype != "bool":
                raise ModelError(f"{where}: column {col!r} of {party}'s file is not numeric (dtype {dtype})")


def fed_array(rt: Any, frames: Dict[str, Any], cols: Dict[str, List[str]]):
    """A vertical FedNdarray (float64) of ``cols[party]`` of each party's frame, on its owner: what SSRegression and
    Xgb take. No VDataFrame: secretflow's read_csv starts a PartitionAgent actor per party and call, which takes
    seconds and holds a CPU of the party's Ray cluster while the job runs."""
    from secretflow.data import FedNdarray, PartitionWay

    def values(df, cols):
        import numpy as np

        return df[cols].to_numpy(dtype=np.float64)

    return FedNdarray(partitions={rt.pyu(p): rt.pyu(p)(values)(frames[p], list(cols[p])) for p in cols if cols[p]},
                      partition_way=PartitionWay.VERTICAL)


def spu_parties(rt: Any) -> List[str]:
    return list(rt.spu.actors.keys())


def check_spu_parties(rt: Any, parties: List[str]) -> List[str]:
    order = spu_parties(rt)
    if sorted(order) != sorted(parties):
        raise ModelError(f"the job's SPU runs on {', '.join(sorted(order))} but the model's parties are "
                         f"{', '.join(sorted(parties))}: every SPU party keeps a share of the model (run it in a job, "
                         f"or pipeline, of exactly these parties)")
    return order


def spu_runtime(rt: Any) -> Dict[str, Any]:
    rc = (rt.spu_cluster_def or {}).get("runtime_config") or {}
    bits = rc.get("fxp_fraction_bits")
    return {"protocol": str(rc.get("protocol")), "field": str(rc.get("field")),
            "fxp_fraction_bits": int(bits) if bits else None}


def dump_shares(rt: Any, obj, member: str, files: Dict[str, str]) -> None:
    """SPU.dump of ``obj``: each party's SPU runtime writes its own share into its own model file (member
    ``member``)."""
    order = spu_parties(rt)
    rt.spu.dump(obj, [ZipMember(files[p], member, "w") for p in order])


def load_shares(rt: Any, member: str, files: Dict[str, str]):
    order = spu_parties(rt)
    return rt.spu.load([ZipMember(files[p], member, "r") for p in order])


def staged(rt: Any, files: Dict[str, str]) -> Dict[str, str]:
    """This party's entry replaced by its staging name (where the job writes until it succeeded)."""
    return {p: (rt.output_path(v) if p == rt.self_party else v) for p, v in files.items()}


def write_predictions(rt: Any, fed_pred, receiver: str, path: str, logistic: bool, data_path: str,
                      label: str) -> int:
    """The receiver's PYU writes the predictions (a column ``probability`` and the 0/1 ``prediction`` at 0.5 for a
    logistic model - the original worker's columns -, else ``prediction``), followed by the model's label column
    when the receiver's own data file (``data_path``, the rows predicted) has it: an evaluation step can read labels
    and scores from one file of one party. Returns the number of rows (revealed to every party)."""
    pyu = rt.pyu(receiver)

    def save(pred, out, logistic, data_path, label):
        import numpy as np
        import pandas as pd

        p = np.asarray(pred, dtype=np.float64).reshape(-1)
        if logistic:
            df = pd.DataFrame({"probability": p, "prediction": (p >= 0.5).astype(int)})
        else:
            df = pd.DataFrame({"prediction": p})
        if label not in df.columns and label in pd.read_csv(data_path, nrows=0).columns:
            y = pd.read_csv(data_path, usecols=[label])[label]
            if len(y) != len(df):
                raise ValueError(f"{data_path}: {len(y)} rows, {len(df)} predictions")
            df[label] = y.to_numpy()
        df.to_csv(out, index=False, float_format="%.9g")
        return int(p.shape[0])

    n = pyu(save)(fed_pred.partitions[pyu], path, logistic, data_path, label)
    return int(rt.sf.reveal(n))


def common_meta(rt: Any, model_type: str, cfg: Dict[str, Any], order: List[str],
                party_features: Dict[str, List[str]]) -> Dict[str, Any]:
    return {
        "format": FORMAT, "model_type": model_type, "model_id": rt.task_request_id, "parties": list(order),
        "party_features": {p: list(party_features[p]) for p in order}, "label": cfg["label"],
        "label_party": cfg["label_party"], "spu": spu_runtime(rt),
    }


def write_meta_all(rt: Any, files: Dict[str, str], meta: Dict[str, Any], order: List[str]) -> None:
    """Each party's PYU creates its own model file with the description (``party`` = that party)."""
    from secretflow.device import wait

    wait([rt.pyu(p)(write_json_member)(files[p], META, dict(meta, party=p), True) for p in order])


def train_split(rt: Any, cfg: Dict[str, Any], parties: List[str], paths_of: Dict[str, str],
                what: str = "task_config.train_data") -> Tuple[Any, Any, Dict[str, List[str]]]:
    """(x, y, party_features) of the train_data: each party's header is read by its own PYU and revealed to every
    party (the vertical data's schema), so every party takes the same decisions about the features and the label;
    each PYU reads its own file (_vdata.read_frames: row counts revealed and checked); x holds each party's features
    in the order of task_config.features, y the label at label_party. Columns in several files (a PSI's join key)
    are never features."""
    label, lp = cfg["label"], cfg["label_party"]
    schema = _vdata.read_schema(rt, paths_of)
    try:
        party_features = schema.split(cfg["features"], "task_config.features")
    except ValueError as e:
        raise ModelError(str(e)) from None
    party_features = {p: list(party_features.get(p) or []) for p in parties}
    if schema.owner(label) != lp:
        raise ModelError(f"task_config.label {label!r} is not a column of {lp}'s train_data only (label_party {lp}; "
                         f"{what}.{lp} columns: {', '.join(schema.headers[lp])})")
    try:
        frames = _vdata.read_frames(rt, paths_of, schema)
    except ValueError as e:
        raise ModelError(f"{what}: {e}") from None
    numeric_check(rt, frames, party_features, "task_config.features")
    numeric_check(rt, frames, {lp: [label]}, "task_config.label")
    return fed_array(rt, frames, party_features), fed_array(rt, frames, {lp: [label]}), party_features


def read_features(rt: Any, parties: List[str], paths_of: Dict[str, str], party_features: Dict[str, List[str]],
                  what: str):
    """The model's feature columns of every party's file (``what``: task_config.<key>), partitions in the model's
    order; a party's file lacking one of its model features fails the job in every party alike."""
    schema = _vdata.read_schema(rt, paths_of)
    for p in parties:
        missing = [c for c in party_features.get(p) or [] if c not in schema.own(p)]
        if missing:
            raise ModelError(f"{what}.{p}: feature column(s) {', '.join(missing)} of the model not in {p}'s file "
                             f"(its own columns: {', '.join(schema.own(p))})")
    try:
        frames = _vdata.read_frames(rt, paths_of, schema)
    except ValueError as e:
        raise ModelError(f"{what}: {e}") from None
    cols = {p: list(party_features.get(p) or []) for p in parties}
    numeric_check(rt, frames, cols, what)
    return fed_array(rt, frames, cols)


def preflight(rt: Any, parties: List[str], local) -> Dict[str, Any]:
    """Run the local check ``local()`` (this party's own files) and share its outcome with every party: each gets
    the same {party: value} or raises the same ModelError naming each failed party - no party goes on alone into
    a computation its peer has left."""
    try:
        mine = {"ok": local()}
    except ModelError as e:
        mine = {"error": str(e)}
    seen = exchange(rt, parties, mine)
    errors = [f"{p}: {seen[p]['error']}" for p in parties if "error" in seen[p]]
    if errors:
        raise ModelError("; ".join(errors))
    return {p: seen[p]["ok"] for p in parties}


def check_models(rt: Any, cfg: Dict[str, Any], model_type: str) -> Dict[str, Any]:
    """Read this party's model description; every party's model must come from the same training (model_id), be of
    this type, for the job's parties and SPU protocol/field. Returns this party's description."""
    me = rt.self_party
    parties = list(rt.parties)
    box: Dict[str, Any] = {}

    def local():
        meta = read_meta_local(cfg["model_path"][me], f"task_config.model_path.{me}")
        box["meta"] = meta
        return {k: meta.get(k) for k in ("model_type", "model_id", "parties", "spu")}

    seen = preflight(rt, parties, local)  # the same on every party: all take the same decisions below
    for p in parties:
        if seen[p].get("model_type") != model_type:
            raise ModelError(f"task_config.model_path.{p}: a {seen[p].get('model_type')} model, expected {model_type}")
    ids = {p: seen[p].get("model_id") for p in parties}
    if len(set(map(str, ids.values()))) != 1:
        raise ModelError(f"task_config.model_path: the parties' model files come from different trainings "
                         f"(model_id {', '.join(f'{p}: {v}' for p, v in sorted(ids.items()))})")
    trained_by = seen[parties[0]].get("parties") or []
    if sorted(trained_by) != sorted(parties):
        raise ModelError(f"task_config.model_path: the model was trained by {', '.join(trained_by)}, this job's "
                         f"parties are {', '.join(parties)}")
    want, have = seen[parties[0]].get("spu") or {}, spu_runtime(rt)
    if want != have:
        raise ModelError(f"task_config.model_path: the model's SPU shares are for protocol {want.get('protocol')} "
                         f"field {want.get('field')}, this job's SPU runs {have['protocol']} {have['field']} (set "
                         f"task_params.spu_config.runtime_config to the training's)")
    return box["meta"]


def train_result(rt: Any, cfg: Dict[str, Any], parties: List[str], party_features: Dict[str, List[str]],
                 samples: int, num_feat: int, **extra: Any) -> Dict[str, Any]:
    """The result of a training type (the original's keys), with ``extra`` keys of the type."""
    result = {
        "model_path": dict(cfg["model_output"]), "model_output": dict(cfg["model_output"]), "parties": parties,
        "features": party_features, "label": cfg["label"], "label_party": cfg["label_party"],
        "model_id": rt.task_request_id, "num_samples": int(samples), "num_features": int(num_feat),
        "secure_mode": True, "params": dict(cfg["params"]), "prediction_output": None,
    }
    result.update(extra)
    return result


def score_for_receiver(rt: Any, cfg: Dict[str, Any], model, x, parties: List[str],
                       party_features: Dict[str, List[str]], logistic: bool, result: Dict[str, Any]) -> None:
    """With ``prediction_output``: the trained ``model``'s scores on the training rows ``x`` (or on ``test_data``)
    written by the receiver (write_predictions); the training result says where and how many."""
    if not cfg.get("prediction_output"):
        return
    receiver = cfg["prediction_receiver"]
    scored = cfg.get("test_data") or cfg["train_data"]
    xs = x if not cfg.get("test_data") else read_features(rt, parties, scored, party_features,
                                                          "task_config.test_data")
    result["num_predictions"] = predict_to_receiver(rt, model, xs, receiver, cfg["prediction_output"], logistic,
                                                    scored[receiver], cfg["label"])
    result["prediction_output"] = cfg["prediction_output"][receiver]
    result["prediction_receiver"] = receiver


def predict_to_receiver(rt: Any, model, x, receiver: str, outputs: Dict[str, str], logistic: bool, data_path: str,
                        label: str) -> int:
    """``model.predict`` revealed to the receiver's PYU alone, written to its staged output; the number of rows."""
    fed = model.predict(x, to_pyu=rt.pyu(receiver))
    return write_predictions(rt, fed, receiver, staged(rt, outputs)[receiver], logistic, data_path, label)
