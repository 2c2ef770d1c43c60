"""task_types "ss_lr" and "ss_lr_predict": secret-sharing logistic/linear regression (SecretFlow SSRegression) on
vertically partitioned CSVs, in production mode. Keys, defaults and what each party learns: docs/worker.md
("Models"); the model file: sfworker/tasks/_model.py.

ss_lr task_config (the original worker's keys):
  train_data:   {party: csv}         every party's rows, aligned by position (e.g. a PSI's output)
  features:     [col, ...]           the features (each party uses those of its file), or {party: [col, ...]}
  label:        col                  the label column, in label_party's file (0/1 for logistic)
  label_party:  party
  model_output: {party: file}        each party's model file (its SPU share of the weights + the description)
  params:       {epochs: 5, learning_rate: 0.3, batch_size: 32, sig_type: t1, reg_type: logistic, penalty: l2,
                 l2_norm: 0.1}
  prediction_output: {receiver: csv}  optional: the scores on the training data (or test_data) for the receiver
  prediction_receiver: party          default label_party
  test_data:    {party: csv}          optional, with prediction_output
  overwrite:    false                 replace existing output files
ss_lr_predict task_config:
  model_path:   {party: file}  predict_data: {party: csv}  output_path: {receiver: csv}
  receiver_party: party        (optional when output_path names one party)  overwrite: false
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from ..errors import ParamsError
from . import _model as m
from .registry import TaskType, ValidationContext, register_task

LR_PARAMS = ("epochs", "learning_rate", "batch_size", "sig_type", "reg_type", "penalty", "l2_norm")
SIG_TYPES = ("t1", "t3", "t5", "real", "df", "sr")
WEIGHTS = "spu/weights.share"


def lr_params(params: Dict[str, Any]) -> Dict[str, Any]:
    penalty = params.get("penalty")
    if penalty is None:
        penalty = "l2"
    if not isinstance(penalty, str) or penalty.lower() not in ("none", "l1", "l2"):
        raise ParamsError(f"task_config.params.penalty must be one of none, l2, got {penalty!r}")
    penalty = penalty.lower()
    if penalty == "l1":
        raise ParamsError("task_config.params.penalty 'l1' is not supported by SecretFlow's SS-SGD (supported: none, "
                          "l2)")
    return {
        "epochs": m.number(params, "epochs", 5, 1, None, integer=True),
        "learning_rate": m.number(params, "learning_rate", 0.3, 0, None, lo_open=True),
        "batch_size": m.number(params, "batch_size", 32, 1, None, integer=True),
        "sig_type": m.choice(params, "sig_type", "t1", SIG_TYPES),
        "reg_type": m.choice(params, "reg_type", "logistic", ("logistic", "linear")),
        "penalty": penalty,
        # SecretFlow requires l2_norm > 0 with the l2 penalty; it is unused without
        "l2_norm": m.number(params, "l2_norm", 0.1, 0, None, lo_open=penalty == "l2"),
    }


@register_task("ss_lr")
class SsLrTask(TaskType):
    needs_spu = True
    allowed_keys = m.TRAIN_KEYS
    sf_modules = ("secretflow.ml.linear.ss_sgd", "secretflow.data.vertical")

    def validate(self, task_config: Dict[str, Any], ctx: ValidationContext) -> Tuple[Dict[str, Any], List[str]]:
        self.check_keys(task_config)
        cfg, parties = m.validate_train(task_config, ctx, LR_PARAMS)
        cfg["params"] = lr_params(cfg["params"])
        return cfg, parties

    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        from secretflow.ml.linear.ss_sgd import SSRegression

        m.ship_by_value()
        parties = list(rt.parties)
        order = m.check_spu_parties(rt, parties)
        x, y, party_features = m.train_split(rt, cfg, parties, cfg["train_data"])
        samples, num_feat = x.shape
        if samples <= num_feat:
            raise m.ModelError(f"task_config.train_data: {samples} rows for {num_feat} features; SS-LR needs more "
                               f"rows than features (else the model cannot converge and the label may leak)")
        p = cfg["params"]
        model = SSRegression(rt.spu)
        model.fit(x, y, epochs=p["epochs"], learning_rate=p["learning_rate"], batch_size=p["batch_size"],
                  sig_type=p["sig_type"], reg_type=p["reg_type"], penalty="None" if p["penalty"] == "none" else "l2",
                  l2_norm=p["l2_norm"])
        lm = model.save_model()

        files = m.staged(rt, cfg["model_output"])
        meta = m.common_meta(rt, self.name, cfg, order, party_features)
        meta.update(reg_type=lm.reg_type.value, sig_type=lm.sig_type.value, params=dict(p), num_features=num_feat)
        m.write_meta_all(rt, files, meta, order)
        m.dump_shares(rt, lm.weights, WEIGHTS, files)

        result = m.train_result(rt, cfg, parties, party_features, samples, num_feat, weights_encrypted=True)
        m.score_for_receiver(rt, cfg, model, x, parties, party_features, p["reg_type"] == "logistic", result)
        return result


@register_task("ss_lr_predict")
class SsLrPredictTask(TaskType):
    needs_spu = True
    allowed_keys = m.PREDICT_KEYS
    sf_modules = ("secretflow.ml.linear.ss_sgd", "secretflow.data.vertical")

    def validate(self, task_config: Dict[str, Any], ctx: ValidationContext) -> Tuple[Dict[str, Any], List[str]]:
        self.check_keys(task_config)
        return m.validate_predict(task_config, ctx)

    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        from secretflow.ml.linear.linear_model import LinearModel, RegType
        from secretflow.ml.linear.ss_sgd import SSRegression
        from secretflow.utils.sigmoid import SigType

        m.ship_by_value()
        parties = list(rt.parties)
        m.check_spu_parties(rt, parties)
        meta = m.check_models(rt, cfg, "ss_lr")
        weights = m.load_shares(rt, WEIGHTS, cfg["model_path"])
        model = SSRegression(rt.spu)
        model.load_model(LinearModel(weights, RegType(meta["reg_type"]), SigType(meta["sig_type"])))
        x = m.read_features(rt, parties, cfg["predict_data"], meta["party_features"], "task_config.predict_data")
        receiver = cfg["receiver_party"]
        n = m.predict_to_receiver(rt, model, x, receiver, cfg["output_path"], meta["reg_type"] == "logistic",
                                  cfg["predict_data"][receiver], meta["label"])
        return {"output_path": dict(cfg["output_path"]), "receiver_party": receiver, "num_predictions": n,
                "model_id": meta["model_id"], "secure_mode": True}
