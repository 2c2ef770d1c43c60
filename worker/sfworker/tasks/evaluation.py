"""Evaluation task types (issue #14), production mode: ``biclassification_eval``, ``regression_eval``.

The original worker's task_config keys: ``prediction_data`` {party: csv}, ``label_column``, ``prediction_column``,
``bucket_size`` (default 10), ``output_report`` (a path: every party of the job gets the report there; or
{party: path}: only those). This worker's own keys: ``threshold`` (biclassification, default 0.5: the cut of the
precision, recall, accuracy and confusion matrix) and ``overwrite`` (default false).

What each party learns:

* The usual case, the receiver's predictions joined with its labels (one party, one file holding both columns): a
  ONE-PARTY job. Nothing leaves the party; no SPU. ``biclassification_eval`` runs SecretFlow's
  ``BiClassificationEval`` in its PYU, ``regression_eval`` SecretFlow's ``RegressionEval``.
* ``regression_eval`` with the label column in one party's file and the prediction column in another's: both
  columns go into the SPU as secret shares, the metrics are computed there and only they are revealed, to the
  report's parties alone. Every party learns which party holds which of the two columns and the row count.
* ``biclassification_eval`` takes exactly one party: SecretFlow 1.11's ``BiClassificationEval`` sorts the scores in
  the party holding both columns (it has no SPU implementation).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ..errors import ParamsError
from .registry import TaskType, ValidationContext, optional, register_task, require
from .stats import clean, column_owners, held_columns, own_value, report_paths, ship_by_value, staged, write_json

CONFUSION_KEYS = ("true_positive", "false_positive", "true_negative", "false_negative")
BIN_FIELDS = ("start_value", "end_value", "positive", "negative", "total", "precision", "recall",
              "false_positive_rate", "f1_score", "lift", "predicted_positive_ratio", "predicted_negative_ratio",
              "cumulative_percent_of_positive", "cumulative_percent_of_negative", "total_cumulative_percent", "ks",
              "avg_score")
REGRESSION_FIELDS = ("r2_score", "mae", "mape", "sum_squared_errors", "mse", "rmse", "y_true_mean", "y_pred_mean",
                     "explained_variance")


# ---------------------------------------------------------------------------- in a party's PYU (by value)

def read_column(path: str, column: str, what: str, binary: bool = False):
    """One numeric column of this party's file as an (n, 1) float64 array; refuses a missing, non-numeric or NA
    column (and, for a label, values other than 0/1) naming it."""
    import numpy as np
    import pandas as pd

    df = pd.read_csv(path)
    if column not in df.columns:
        raise ValueError(f"task_config.{what} {column!r} is not a column of {path} (columns: {list(df.columns)})")
    s = df[column]
    if not pd.api.types.is_numeric_dtype(s):
        raise ValueError(f"task_config.{what} {column!r} of {path} is not numeric (dtype {s.dtype})")
    if s.isna().any():
        raise ValueError(f"task_config.{what} {column!r} of {path} has {int(s.isna().sum())} missing value(s)")
    x = s.to_numpy(dtype=np.float64).reshape(-1, 1)
    if binary and not np.isin(x, (0.0, 1.0)).all():
        raise ValueError(f"task_config.{what} {column!r} of {path} must hold 0/1 labels, found "
                         f"{sorted(set(np.unique(x).tolist()) - {0.0, 1.0})[:5]}")
    return x


def biclassification_report(report, y_true, y_score, threshold: float, config: Dict[str, Any],
                            parties: List[str]) -> Dict[str, Any]:
    """secretflow.stats' bi-classification Report (+ the labels and scores, for the threshold metrics) -> the
    report: the original worker's ``metrics`` (auc, ks, f1_score, precision, recall, accuracy, confusion_matrix),
    ``config``, ``parties``, and SecretFlow's summary, bin and head reports."""
    import numpy as np

    s = report.summary_report
    y = np.asarray(y_true, dtype=np.float64).reshape(-1)
    pred = (np.asarray(y_score, dtype=np.float64).reshape(-1) >= threshold).astype(np.float64)
    tp, fp = float(np.sum((pred == 1) & (y == 1))), float(np.sum((pred == 1) & (y == 0)))
    tn, fn = float(np.sum((pred == 0) & (y == 0))), float(np.sum((pred == 0) & (y == 1)))
    metrics = {
        "auc": clean(s.auc), "ks": clean(s.ks), "f1_score": clean(s.f1_score),
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "accuracy": (tp + tn) / len(y) if len(y) else None,
        "confusion_matrix": dict(zip(CONFUSION_KEYS, (int(tp), int(fp), int(tn), int(fn)))),
        "threshold": float(threshold),
        "total_samples": clean(s.total_samples), "positive_samples": clean(s.positive_samples),
        "negative_samples": clean(s.negative_samples),
    }

    def bins(reports):
        return [{f: clean(getattr(b, "Lift" if f == "lift" else f)) for f in BIN_FIELDS} for b in reports]

    return {
        "metrics": metrics,
        "config": dict(config),
        "parties": list(parties),
        "summary_report": {k: clean(getattr(s, k))
                           for k in ("total_samples", "positive_samples", "negative_samples", "auc", "ks", "f1_score")},
        "eq_frequent_bin_report": bins(report.eq_frequent_bin_report),
        "eq_range_bin_report": bins(report.eq_range_bin_report),
        "head_report": [{"fpr": clean(h.fpr), "precision": clean(h.precision), "recall": clean(h.recall),
                         "threshold": clean(h.threshold)} for h in report.head_report],
    }


def regression_metrics(values, hist=None) -> Dict[str, Any]:
    """The regression metrics in REGRESSION_FIELDS order (+ the residual histogram) -> the original worker's
    ``metrics`` (mse, rmse, mae, mape, r2_score, explained_variance) and SecretFlow's other RegressionEval fields."""
    import numpy as np

    v = [clean(x) for x in np.asarray(values, dtype=np.float64).reshape(-1)]
    metrics = dict(zip(REGRESSION_FIELDS, v))
    if hist is not None:
        counts, edges = hist
        metrics["residual_histogram"] = {"counts": clean(counts), "bin_edges": clean(edges)}
    else:
        metrics["residual_histogram"] = None
    return metrics


def explained_variance(y_true, y_pred):
    import numpy as np

    y = np.asarray(y_true, dtype=np.float64).reshape(-1)
    r = y - np.asarray(y_pred, dtype=np.float64).reshape(-1)
    return 1.0 - np.var(r) / np.var(y)


def spu_regression(y_true, y_pred):
    """All regression metrics at once (in the SPU when the columns are two parties'), REGRESSION_FIELDS order."""
    import jax.numpy as jnp

    y = y_true.reshape(-1)
    p = y_pred.reshape(-1)
    n = y.shape[0]
    r = y - p
    rss = jnp.sum(r * r)
    ym = jnp.mean(y)
    tss = jnp.sum((y - ym) * (y - ym))
    rm = jnp.mean(r)
    var_r = jnp.sum((r - rm) * (r - rm)) / n
    mse = rss / n
    return jnp.stack([1 - rss / tss, jnp.mean(jnp.abs(r)), jnp.mean(jnp.abs(r / y)), rss, mse, jnp.sqrt(mse), ym,
                      jnp.mean(p), 1 - var_r / (tss / n)])


# ------------------------------------------------------------------------------------------- task types

class _EvalTask(TaskType):
    needs_spu = False  # decided per job (job_needs_spu)
    max_parties = 2
    allowed_keys = ("prediction_data", "label_column", "prediction_column", "bucket_size", "output_report",
                    "overwrite")

    def validate(self, task_config: Dict[str, Any], ctx: ValidationContext) -> Tuple[Dict[str, Any], List[str]]:
        self.check_keys(task_config)
        label = require(task_config, "label_column", str, "a column name")
        pred = require(task_config, "prediction_column", str, "a column name")
        for key, v in (("label_column", label), ("prediction_column", pred)):
            if not v:
                raise ParamsError(f"task_config.{key} must be a non-empty column name")
        if label == pred:
            raise ParamsError(f"task_config.label_column and task_config.prediction_column are the same column "
                              f"{label!r}")
        bucket_size = optional(task_config, "bucket_size", int, 10)
        if not 1 <= bucket_size <= 10000:
            raise ParamsError(f"task_config.bucket_size must be in 1..10000, got {bucket_size}")
        overwrite = optional(task_config, "overwrite", bool, False)
        inputs = ctx.party_path_map(task_config, "prediction_data", "input", min_parties=1)
        parties = sorted(inputs)
        if len(parties) > self.max_parties:
            raise ParamsError(self.too_many(parties))
        reports = report_paths(task_config, ctx, parties, "prediction_data", overwrite)
        cfg = {"prediction_data": inputs, "label_column": label, "prediction_column": pred,
               "bucket_size": bucket_size, "output_report": reports, "overwrite": overwrite}
        cfg.update(self.validate_extra(task_config))
        return cfg, parties

    def too_many(self, parties: List[str]) -> str:
        return (f"task_config.prediction_data: at most 2 parties (one holding label_column, one "
                f"prediction_column), got {len(parties)}: {', '.join(parties)}")

    def validate_extra(self, task_config: Dict[str, Any]) -> Dict[str, Any]:
        return {}

    def job_needs_spu(self, cfg: Dict[str, Any]) -> bool:
        return len(cfg["prediction_data"]) > 1

    def holders(self, cfg: Dict[str, Any], rt: Any) -> Tuple[str, str]:
        """(the party holding label_column, the one holding prediction_column)."""
        if len(rt.parties) == 1:
            return rt.parties[0], rt.parties[0]
        cols = [cfg["label_column"], cfg["prediction_column"]]
        held = rt.sf.reveal({p: rt.pyu(p)(held_columns)(cfg["prediction_data"][p], cols) for p in rt.parties})
        owners = column_owners(held, cols, "prediction_data")
        who = {c: p for p, have in owners.items() for c in have}
        return who[cols[0]], who[cols[1]]

    def publish_report(self, cfg: Dict[str, Any], rt: Any, report) -> Optional[Dict[str, Any]]:
        """``report`` (a PYU object holding the JSON-clean report) written by each report party; -> this party's."""
        mine = None
        for p, path in cfg["output_report"].items():
            pyu = rt.pyu(p)
            local = report if report.device == pyu else report.to(pyu)
            obj = pyu(write_json)(staged(rt, p, path), local)
            if p == rt.self_party:
                mine = own_value(rt, obj)
        return mine

    def result(self, cfg: Dict[str, Any], rt: Any, report: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        return {"output_report": cfg["output_report"].get(rt.self_party),
                "metrics": report["metrics"] if report is not None else None,
                "parties": list(rt.parties)}


@register_task("biclassification_eval")
class BiClassificationEvalTask(_EvalTask):
    max_parties = 1
    allowed_keys = _EvalTask.allowed_keys + ("threshold",)
    sf_modules = ("secretflow.stats", "secretflow.data.ndarray")

    def too_many(self, parties: List[str]) -> str:
        return (f"task_config.prediction_data: biclassification_eval takes one party's file holding both "
                f"label_column and prediction_column (SecretFlow 1.11's BiClassificationEval sorts the scores in "
                f"that party; it has no SPU implementation), got {len(parties)} parties: {', '.join(parties)}")

    def validate_extra(self, task_config: Dict[str, Any]) -> Dict[str, Any]:
        threshold = optional(task_config, "threshold", (int, float), 0.5)
        if isinstance(threshold, bool) or not 0 <= threshold <= 1:
            raise ParamsError(f"task_config.threshold must be a number in 0..1, got {threshold!r}")
        return {"threshold": float(threshold)}

    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        from secretflow.data import FedNdarray, PartitionWay
        from secretflow.stats import BiClassificationEval

        ship_by_value()
        (party,) = rt.parties
        pyu = rt.pyu(party)
        path = cfg["prediction_data"][party]
        y = pyu(read_column)(path, cfg["label_column"], "label_column", True)
        s = pyu(read_column)(path, cfg["prediction_column"], "prediction_column")
        report = BiClassificationEval(FedNdarray({pyu: y}, PartitionWay.VERTICAL),
                                      FedNdarray({pyu: s}, PartitionWay.VERTICAL),
                                      cfg["bucket_size"]).get_all_reports()
        config = {"label_column": cfg["label_column"], "prediction_column": cfg["prediction_column"],
                  "bucket_size": cfg["bucket_size"], "threshold": cfg["threshold"]}
        built = pyu(biclassification_report)(report, y, s, cfg["threshold"], config, list(rt.parties))
        return self.result(cfg, rt, self.publish_report(cfg, rt, built))


@register_task("regression_eval")
class RegressionEvalTask(_EvalTask):
    sf_modules = ("secretflow.stats", "secretflow.data.ndarray")

    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        from secretflow.data import FedNdarray, PartitionWay
        from secretflow.stats import RegressionEval

        ship_by_value()
        label_party, pred_party = self.holders(cfg, rt)
        lp, pp = rt.pyu(label_party), rt.pyu(pred_party)
        y = lp(read_column)(cfg["prediction_data"][label_party], cfg["label_column"], "label_column")
        p = pp(read_column)(cfg["prediction_data"][pred_party], cfg["prediction_column"], "prediction_column")
        config = {"label_column": cfg["label_column"], "prediction_column": cfg["prediction_column"],
                  "bucket_size": cfg["bucket_size"]}
        holders = {"label_column": label_party, "prediction_column": pred_party}
        parties = list(rt.parties)

        def build(metrics):  # runs in a PYU: captures plain values only (never rt)
            return {"metrics": metrics, "config": config, "parties": parties, "holders": holders}

        if label_party == pred_party:
            ev = RegressionEval(FedNdarray({lp: y}, PartitionWay.VERTICAL), FedNdarray({lp: p}, PartitionWay.VERTICAL),
                                bins=cfg["bucket_size"])
            ev.gen_all_reports()

            def local(r2, mae, mape, rss, mse, rmse, ym, pm, hist, yt, yp):
                return clean(build(regression_metrics(
                    [r2, mae, mape, rss, mse, rmse, ym, pm, explained_variance(yt, yp)], hist)))

            built = lp(local)(ev.r2_score, ev.mean_abs_err, ev.mean_abs_percent_err, ev.sum_squared_errors,
                              ev.mean_squared_errors, ev.root_mean_squared_errors, ev.y_true_mean, ev.y_pred_mean,
                              ev.residual_hist, y, p)
            return self.result(cfg, rt, self.publish_report(cfg, rt, built))
        # two parties: the metrics in the SPU, revealed to each report party's PYU alone
        values = rt.spu(spu_regression)(y.to(rt.spu), p.to(rt.spu))
        mine = None
        for party, path in cfg["output_report"].items():
            pyu = rt.pyu(party)

            def write(v, staging):
                return write_json(staging, build(regression_metrics(v)))

            obj = pyu(write)(values.to(pyu), staged(rt, party, path))
            if party == rt.self_party:
                mine = own_value(rt, obj)
        return self.result(cfg, rt, mine)
