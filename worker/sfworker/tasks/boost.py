"""task_types "ss_xgb" and "ss_xgb_predict": secret-sharing XGBoost on vertically partitioned CSVs (SecretFlow
ss_xgb_v.Xgb), in production mode. Keys, defaults and what each party learns: docs/worker.md ("Models"); the model
file: sfworker/tasks/_model.py.

ss_xgb task_config: the keys of ss_lr (sfworker/tasks/linear.py) with
  params: {num_boost_round: 10, max_depth: 5, learning_rate: 0.3, objective: logistic, reg_lambda: 0.1,
           subsample: 1.0, colsample_by_tree: 1.0, base_score: 0.0, seed: 42}
ss_xgb_predict task_config: the keys of ss_lr_predict.

A party's model file holds its SPU shares of every tree's leaf weights (spu/weight-NNNN.share) and, in trees.json,
its own part of every tree: the split feature (an index into its own features) and threshold of each node that
splits on one of its features, -1 for the nodes that split on another party's.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Tuple

from . import _model as m
from .registry import TaskType, ValidationContext, register_task

XGB_PARAMS = ("num_boost_round", "max_depth", "learning_rate", "objective", "reg_lambda", "subsample",
              "colsample_by_tree", "base_score", "seed")
TREES = "trees.json"


def weight_member(i: int) -> str:
    return f"spu/weight-{i:04d}.share"


def xgb_params(params: Dict[str, Any]) -> Dict[str, Any]:
    # the ranges SecretFlow's Xgb asserts, checked before anything starts
    return {
        "num_boost_round": m.number(params, "num_boost_round", 10, 1, 1024, integer=True),
        "max_depth": m.number(params, "max_depth", 5, 1, 16, integer=True),
        "learning_rate": m.number(params, "learning_rate", 0.3, 0, 1, lo_open=True),
        "objective": m.choice(params, "objective", "logistic", ("logistic", "linear")),
        "reg_lambda": m.number(params, "reg_lambda", 0.1, 0, 10000),
        "subsample": m.number(params, "subsample", 1.0, 0, 1, lo_open=True),
        "colsample_by_tree": m.number(params, "colsample_by_tree", 1.0, 0, 1, lo_open=True),
        "base_score": m.number(params, "base_score", 0.0, -10, 10),
        "seed": m.number(params, "seed", 42, 0, 2 ** 31 - 1, integer=True),
    }


def write_trees(path: str, name: str, *trees) -> int:
    """In a party's PYU: its part of every tree into its model file (JSON, no pickle)."""
    import json as js
    import zipfile as zf_mod

    doc = [{"split_features": [int(f) for f in t.split_features],
            "split_values": [float(v) for v in t.split_values]} for t in trees]
    with zf_mod.ZipFile(path, "a", compression=zf_mod.ZIP_DEFLATED) as z:
        z.writestr(name, js.dumps(doc))
    return len(doc)


def read_trees(path: str, name: str, count: int):
    """In a party's PYU: its part of every tree, as SecretFlow's XgbTree objects (one return value per tree)."""
    import json as js
    import zipfile as zf_mod

    from secretflow.ml.boost.ss_xgb_v.core.xgb_tree import XgbTree

    with zf_mod.ZipFile(path, "r") as z:
        doc = js.loads(z.read(name).decode("utf-8"))
    if len(doc) != count:
        raise ValueError(f"{path}: {len(doc)} trees in {name}, the model description says {count}")
    out = []
    for t in doc:
        tree = XgbTree()
        tree.split_features = [int(f) for f in t["split_features"]]
        tree.split_values = [float(v) for v in t["split_values"]]
        out.append(tree)
    return out[0] if count == 1 else tuple(out)


@register_task("ss_xgb")
class SsXgbTask(TaskType):
    needs_spu = True
    allowed_keys = m.TRAIN_KEYS
    sf_modules = ("secretflow.ml.boost.ss_xgb_v", "secretflow.data.vertical")

    def validate(self, task_config: Dict[str, Any], ctx: ValidationContext) -> Tuple[Dict[str, Any], List[str]]:
        self.check_keys(task_config)
        cfg, parties = m.validate_train(task_config, ctx, XGB_PARAMS)
        cfg["params"] = xgb_params(cfg["params"])
        return cfg, parties

    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        import ray
        from secretflow.device import wait
        from secretflow.ml.boost.ss_xgb_v import Xgb

        m.ship_by_value()
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        parties = list(rt.parties)
        order = m.check_spu_parties(rt, parties)
        x, y, party_features = m.train_split(rt, cfg, parties, cfg["train_data"])
        samples, num_feat = x.shape
        p = cfg["params"]
        model = Xgb(rt.spu).train(dict(p), x, y)

        files = m.staged(rt, cfg["model_output"])
        meta = m.common_meta(rt, self.name, cfg, order, party_features)
        meta.update(objective=model.objective.value, base_score=float(model.base), num_trees=len(model.trees),
                    params=dict(p), num_features=num_feat)
        m.write_meta_all(rt, files, meta, order)
        for i, w in enumerate(model.weights):
            m.dump_shares(rt, w, weight_member(i), files)
        holders = [q for q in parties if party_features[q]]
        wait([rt.pyu(q)(write_trees)(files[q], TREES, *[t[rt.pyu(q)] for t in model.trees]) for q in holders])

        result = m.train_result(rt, cfg, parties, party_features, samples, num_feat, num_trees=len(model.trees),
                                training_params=dict(p))
        m.score_for_receiver(rt, cfg, model, x, parties, party_features, p["objective"] == "logistic", result)
        return result


@register_task("ss_xgb_predict")
class SsXgbPredictTask(TaskType):
    needs_spu = True
    allowed_keys = m.PREDICT_KEYS
    sf_modules = ("secretflow.ml.boost.ss_xgb_v", "secretflow.data.vertical")

    def validate(self, task_config: Dict[str, Any], ctx: ValidationContext) -> Tuple[Dict[str, Any], List[str]]:
        self.check_keys(task_config)
        return m.validate_predict(task_config, ctx)

    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        import ray
        from secretflow.ml.boost.ss_xgb_v import XgbModel
        from secretflow.ml.boost.ss_xgb_v.core.node_split import RegType

        m.ship_by_value()
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        parties = list(rt.parties)
        m.check_spu_parties(rt, parties)
        meta = m.check_models(rt, cfg, "ss_xgb")
        n_trees = int(meta["num_trees"])
        files = cfg["model_path"]
        model = XgbModel(rt.spu, RegType(meta["objective"]), float(meta["base_score"]))
        model.weights = [m.load_shares(rt, weight_member(i), files) for i in range(n_trees)]
        pf = meta["party_features"]
        holders = [q for q in parties if pf.get(q)]
        parts = {}
        for q in holders:
            objs = rt.pyu(q)(read_trees, num_returns=n_trees)(files[q], TREES, n_trees)
            parts[q] = objs if n_trees > 1 else [objs]
        model.trees = [{rt.pyu(q): parts[q][i] for q in holders} for i in range(n_trees)]
        x = m.read_features(rt, parties, cfg["predict_data"], pf, "task_config.predict_data")
        receiver = cfg["receiver_party"]
        n = m.predict_to_receiver(rt, model, x, receiver, cfg["output_path"], meta["objective"] == "logistic",
                                  cfg["predict_data"][receiver], meta["label"])
        return {"output_path": dict(cfg["output_path"]), "receiver_party": receiver, "num_predictions": n,
                "model_id": meta["model_id"], "num_trees": n_trees, "secure_mode": True}
