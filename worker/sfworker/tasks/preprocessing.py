"""The original worker's preprocessing task types on vertical data, in production mode:
standard_scaler, minmax_scaler, label_encoder, onehot_encoder, quantile_binning, equal_width_binning, fillna.

task_config (the original's keys; docs/worker.md "Preprocessing" has the full table):
  input_data:  {party: csv}    the data-holding parties' files (same rows in the same order, e.g. psi outputs);
                               one party is enough
  output_data: {party: csv}    the same parties; each writes its own transformed file
  columns:     [col, ...] | {party: [col, ...]}   which columns to transform; a column in several parties' files
                               (a join key such as ``id``) is never transformed and is written back as it is
  overwrite:   false           replace an existing output file (this worker's key, as in psi)
  per type:    standard_scaler with_mean (true), with_std (true); minmax_scaler feature_range ([0, 1]);
               onehot_encoder drop (null | "first" | "if_binary"); quantile_binning / equal_width_binning n_bins (5,
               the original's documentation calls it bin_num: accepted); fillna strategy ("mean" | "median" |
               "mode" | "constant"; documented as method) and fill_value (documented as value)
result: {"output_paths": {party: path}, "output_path": <this party's>, "parties": [...], "<what>_columns": [...]
         and the type's parameters, as the original returned them}

Every column is transformed on its owner's PYU: its statistics (mean, std, min, max, classes, bin edges, fill
values) are computed there and stay there, nobody else learns them and nothing is revealed. No SPU. SecretFlow 1.11's
secretflow.preprocessing.StandardScaler is NOT used: on a VDataFrame its fit() reveals every party's means and
standard deviations to the driver, which in production mode is every party. No VDataFrame either (_vdata.read_frames:
each party's PYU reads its own file; a VDataFrame would start a PartitionAgent actor per party and step). The column
names, dtypes and the row count (the schema) are known to every party, see _vdata.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

from ..errors import ParamsError
from . import _vdata
from .registry import TaskType, ValidationContext, optional, register_task

COMMON_KEYS = ("input_data", "output_data", "columns", "overwrite")


def kernels():
    """The per-party transforms, run on the column owner's PYU (``rt.pyu(party)(func)(frame, cols, ...)``):
    func(df, cols, ...) -> the transformed pandas DataFrame. Defined inside a function so that cloudpickle ships them by value (Ray
    workers need not import sfworker); the unit tests call them directly."""

    def standard_scaler(df, cols, with_mean, with_std):
        # sklearn's StandardScaler: population std (ddof=0), a constant column is only centred, NaN kept
        from sklearn.preprocessing import StandardScaler

        out = df.copy()
        out[cols] = StandardScaler(with_mean=with_mean, with_std=with_std).fit_transform(df[cols].astype(float))
        return out

    def minmax_scaler(df, cols, feature_range):
        # sklearn's MinMaxScaler: a constant column maps to feature_range[0], NaN kept
        from sklearn.preprocessing import MinMaxScaler

        out = df.copy()
        out[cols] = MinMaxScaler(feature_range=tuple(feature_range)).fit_transform(df[cols].astype(float))
        return out

    def label_encoder(df, cols):
        # the original: sklearn LabelEncoder on the values as strings (classes in string order, NaN is "nan")
        from sklearn.preprocessing import LabelEncoder

        out = df.copy()
        for c in cols:
            out[c] = LabelEncoder().fit_transform(df[c].astype(str))
        return out

    def onehot_encoder(df, cols, drop):
        # sklearn OneHotEncoder per column; the column is replaced by <col>_<category> columns (0.0/1.0) appended
        # at the end, in the order of cols; drop as sklearn's (None, "first", "if_binary")
        import pandas as pd
        from sklearn.preprocessing import OneHotEncoder

        out = df.copy()
        for c in cols:
            enc = OneHotEncoder(drop=drop, sparse_output=False)
            values = enc.fit_transform(df[[c]])
            names = [str(n) for n in enc.get_feature_names_out([c])]
            clash = [n for n in names if n in out.columns and n != c]
            if clash:
                raise ValueError(f"onehot_encoder: new column(s) {', '.join(clash)} of {c} already exist")
            out = out.drop(columns=[c])
            out = pd.concat([out, pd.DataFrame(values, columns=names, index=out.index)], axis=1)
        return out

    def quantile_binning(df, cols, n_bins):
        # the original: pd.qcut(q=n_bins, labels=False, duplicates="drop"); bins 0..k-1, NaN kept
        import pandas as pd

        out = df.copy()
        for c in cols:
            out[c] = pd.qcut(df[c], q=n_bins, labels=False, duplicates="drop")
        return out

    def equal_width_binning(df, cols, n_bins):
        # the original: pd.cut(bins=n_bins, labels=False); n_bins equal-width bins over [min, max], NaN kept
        import pandas as pd

        out = df.copy()
        for c in cols:
            out[c] = pd.cut(df[c], bins=n_bins, labels=False)
        return out

    def fillna(df, cols, strategy, fill_value=None):
        # mean / median / mode (the smallest of the most frequent values) of the column's own non-missing values,
        # or the constant fill_value; a column without any value stays as it is (but for a constant)
        out = df.copy()
        for c in cols:
            s = df[c]
            if strategy == "constant":
                v = fill_value
            elif strategy == "mean":
                v = s.mean()
            elif strategy == "median":
                v = s.median()
            elif strategy == "mode":
                m = s.mode()
                v = m.iloc[0] if len(m) else None
            else:
                raise ValueError(f"fillna: unsupported strategy {strategy!r}")
            if v is not None and not (isinstance(v, float) and v != v):
                out[c] = s.fillna(v)
        return out

    return {f.__name__: f for f in (standard_scaler, minmax_scaler, label_encoder, onehot_encoder,
                                    quantile_binning, equal_width_binning, fillna)}


def _bool(cfg: Dict[str, Any], key: str, default: bool) -> bool:
    return optional(cfg, key, bool, default)


def _alias(cfg: Dict[str, Any], key: str, alias: str) -> Any:
    """``key``, or the original worker's documented name ``alias`` for it; both given must agree."""
    own, other = cfg.get(key), cfg.get(alias)
    if own is not None and other is not None and own != other:
        raise ParamsError(f"task_config.{alias} {other!r} and task_config.{key} {own!r} disagree ({alias} is the "
                          f"original worker's documented name of {key}: send one of them)")
    return own if own is not None else other


class _Preprocessing(TaskType):
    """Shared validate/run: read the data holders' files, transform the chosen columns on their owners, write."""

    needs_spu = False
    #: the modules the PYU transforms import (pandas comes with it); no SecretFlow module beyond the devices
    sf_modules = ("sklearn.preprocessing",)
    #: the type's own keys besides COMMON_KEYS
    extra_keys: Tuple[str, ...] = ()
    columns_required = False
    #: which columns the default (no columns) and a check take: "numeric" or "any"
    column_kind = "numeric"
    #: the result's name of the list of transformed columns (the original's)
    columns_result = "columns"

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls.allowed_keys = COMMON_KEYS + tuple(cls.extra_keys)

    # ---- validate

    def params(self, task_config: Dict[str, Any]) -> Dict[str, Any]:
        """The type's own parameters, checked and with their defaults."""
        return {}

    def validate(self, task_config: Dict[str, Any], ctx: ValidationContext) -> Tuple[Dict[str, Any], List[str]]:
        self.check_keys(task_config)
        params = self.params(task_config)
        overwrite = _bool(task_config, "overwrite", False)
        inputs = _vdata.party_paths(ctx, task_config, "input_data", "input")
        outputs = _vdata.party_paths(ctx, task_config, "output_data", "output", overwrite=overwrite)
        _vdata.same_parties(inputs, outputs, "input_data", "output_data")
        columns = _vdata.column_spec(task_config, "columns", inputs, required=self.columns_required)
        parties = _vdata.job_parties(ctx, inputs, what="task_config.input_data")
        cfg = {"input_data": inputs, "output_data": outputs, "columns": columns, "overwrite": overwrite}
        cfg.update(params)
        return cfg, parties

    # ---- run

    def kind(self, cfg: Dict[str, Any]) -> str:
        return self.column_kind

    def transform(self, cfg: Dict[str, Any], frames: Dict[str, Any], rt: Any,
                  cols: Dict[str, List[str]]) -> Dict[str, Any]:
        """{party: PYUObject of its transformed DataFrame}: each party's frame transformed on its owner's PYU."""
        fn = kernels()[self.name]
        kwargs = self.kernel_args(cfg)
        frames = dict(frames)
        for p, pcols in cols.items():
            frames[p] = rt.pyu(p)(fn)(frames[p], pcols, **kwargs)
        return frames

    def kernel_args(self, cfg: Dict[str, Any]) -> Dict[str, Any]:
        return {}

    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        inputs, outputs = cfg["input_data"], cfg["output_data"]
        schema = _vdata.read_schema(rt, inputs)
        frames = _vdata.read_frames(rt, inputs, schema)
        cols = _select(schema, cfg["columns"], self.kind(cfg), _vdata.frame_types(rt, frames), self.name)
        if not any(cols.values()):
            raise ValueError(f"{self.name}: no column to transform (task_config.columns not given and no "
                             f"{self.kind(cfg)} column in any party's file)")
        frames = self.transform(cfg, frames, rt, {p: c for p, c in cols.items() if c})
        _vdata.write_vertical(rt, frames, outputs, inputs, schema)
        done = [c for p in sorted(cols) for c in cols[p]]
        if isinstance(cfg["columns"], list):
            done = list(cfg["columns"])
        out = {
            "output_paths": dict(outputs),
            "output_path": outputs.get(rt.self_party),
            self.columns_result: done,
            "parties": sorted(inputs),
        }
        out.update(self.result_params(cfg))
        return out

    def result_params(self, cfg: Dict[str, Any]) -> Dict[str, Any]:
        return {}


def _select(schema: "_vdata.Schema", columns: Any, kind: str, types: Dict[str, Dict[str, Tuple[str, bool]]],
            what: str) -> Dict[str, List[str]]:
    """The columns to transform per party: the requested ones (each a column of exactly one party; a numeric kind
    refuses non-numeric ones naming them and their dtype), or by default every own column of that kind. ``types``:
    _vdata.column_types."""
    cols = schema.split(columns)
    if kind == "any":
        return cols

    def numeric(p, c):
        return types.get(p, {}).get(c, ("?", False))[1]

    if columns is None:
        return {p: [c for c in cs if numeric(p, c)] for p, cs in cols.items()}
    bad = [f"{c} ({p}: {types.get(p, {}).get(c, ('?', False))[0]})" for p, cs in sorted(cols.items()) for c in cs
           if not numeric(p, c)]
    if bad:
        raise ValueError(f"{what}: task_config.columns must be numeric columns, got {', '.join(bad)}")
    return cols


@register_task("standard_scaler")
class StandardScalerTask(_Preprocessing):
    extra_keys = ("with_mean", "with_std")
    columns_result = "scaled_columns"

    def params(self, task_config):
        return {"with_mean": _bool(task_config, "with_mean", True), "with_std": _bool(task_config, "with_std", True)}

    def kernel_args(self, cfg):
        return {"with_mean": cfg["with_mean"], "with_std": cfg["with_std"]}

    def result_params(self, cfg):
        return self.kernel_args(cfg)


@register_task("minmax_scaler")
class MinMaxScalerTask(_Preprocessing):
    extra_keys = ("feature_range",)
    columns_result = "scaled_columns"

    def params(self, task_config):
        fr = task_config.get("feature_range")
        if fr is None:
            return {"feature_range": [0.0, 1.0]}
        if (not isinstance(fr, (list, tuple)) or len(fr) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in fr)):
            raise ParamsError(f"task_config.feature_range must be [min, max], two finite numbers, got {fr!r}")
        if not fr[0] < fr[1]:
            raise ParamsError(f"task_config.feature_range: min must be less than max, got {list(fr)!r}")
        return {"feature_range": [float(fr[0]), float(fr[1])]}

    def kernel_args(self, cfg):
        return {"feature_range": list(cfg["feature_range"])}

    def result_params(self, cfg):
        return self.kernel_args(cfg)


@register_task("label_encoder")
class LabelEncoderTask(_Preprocessing):
    columns_required = True
    column_kind = "any"
    columns_result = "encoded_columns"


@register_task("onehot_encoder")
class OneHotEncoderTask(_Preprocessing):
    extra_keys = ("drop",)
    columns_required = True
    column_kind = "any"
    columns_result = "encoded_columns"
    DROPS = ("first", "if_binary")

    def params(self, task_config):
        drop = task_config.get("drop")
        if isinstance(drop, str) and drop.lower() == "none":  # the original's documentation: "first, none"
            drop = None
        if drop is not None and drop not in self.DROPS:
            raise ParamsError(f"task_config.drop must be null, 'none', 'first' or 'if_binary', got {drop!r}")
        return {"drop": drop}

    def kernel_args(self, cfg):
        return {"drop": cfg["drop"]}

    def result_params(self, cfg):
        return self.kernel_args(cfg)


class _BinningTask(_Preprocessing):
    extra_keys = ("n_bins", "bin_num")
    columns_required = True
    columns_result = "binned_columns"
    binning_type = ""

    def params(self, task_config):
        n = _alias(task_config, "n_bins", "bin_num")
        if n is None:
            n = 5
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ParamsError(f"task_config.n_bins must be an integer >= 1, got {n!r}")
        return {"n_bins": n}

    def kernel_args(self, cfg):
        return {"n_bins": cfg["n_bins"]}

    def result_params(self, cfg):
        return {"n_bins": cfg["n_bins"], "binning_type": self.binning_type}


@register_task("quantile_binning")
class QuantileBinningTask(_BinningTask):
    binning_type = "quantile"


@register_task("equal_width_binning")
class EqualWidthBinningTask(_BinningTask):
    binning_type = "equal_width"


@register_task("fillna")
class FillnaTask(_Preprocessing):
    extra_keys = ("strategy", "method", "fill_value", "value")
    columns_result = "filled_columns"
    STRATEGIES = ("mean", "median", "mode", "constant")

    def params(self, task_config):
        strategy = _alias(task_config, "strategy", "method")
        if strategy is None:
            strategy = "mean"
        if strategy not in self.STRATEGIES:
            raise ParamsError(f"task_config.strategy must be one of {', '.join(self.STRATEGIES)}, got {strategy!r}")
        fill_value = _alias(task_config, "fill_value", "value")
        if strategy == "constant":
            if fill_value is None:
                raise ParamsError("task_config.fill_value is required when task_config.strategy is 'constant' (the "
                                  "original worker's documented name value is accepted too)")
            finite = not isinstance(fill_value, float) or math.isfinite(fill_value)
            if not isinstance(fill_value, (str, int, float)) or not finite:
                raise ParamsError(f"task_config.fill_value must be a string or a finite number, got "
                                  f"{type(fill_value).__name__} {fill_value!r}")
        elif fill_value is not None:
            raise ParamsError(f"task_config.fill_value is only used with strategy 'constant', got strategy "
                              f"{strategy!r} and fill_value {fill_value!r}")
        return {"strategy": strategy, "fill_value": fill_value}

    def kind(self, cfg):
        return "numeric" if cfg["strategy"] in ("mean", "median") else "any"

    def kernel_args(self, cfg):
        return {"strategy": cfg["strategy"], "fill_value": cfg["fill_value"]}

    def result_params(self, cfg):
        return {"strategy": cfg["strategy"], "fill_value": cfg["fill_value"]}
