"""Statistics task types (issue #14), production mode: ``table_statistics``, ``pearson_correlation``, ``vif``.

The original worker's task_config keys: ``input_data`` {party: csv}, ``columns`` [names], ``output_report``.

``output_report`` is a path (every party of the job gets a report there, in its own data directory) or a mapping
{party: path} (only the parties named get one). This worker's own key ``overwrite`` (default false) lets a report
replace an existing file. Each report is an output of the party that receives it: written under a staging name by
that party's PYU, published when the job succeeded.

What each party learns:

* ``table_statistics``: each party computes, in its own PYU, ``secretflow.stats.table_statistics`` of ITS OWN
  requested columns and writes them into its own report; no statistic leaves the party. The parties tell each other
  only which of the requested column names they hold (to check that every requested column exists exactly once).
  No SPU.
* ``pearson_correlation`` / ``vif``: each party standardizes its own columns in its PYU (mean 0, sample standard
  deviation 1: with ddof=1, X'X/(n-1) is exactly the correlation matrix), the standardized columns go into the SPU
  as secret shares, X'X is computed there (SecretFlow's ``block_compute_vdata`` as ``SSVertPearsonR`` does; VIF:
  ``newton_matrix_inverse`` as ``SSVertVIF`` does) and only the result - the correlation matrix, or the VIF values
  - is revealed, and only to the report's parties (SPU -> their PYU). Every party learns the row counts and which
  party holds which requested column. A job whose columns all belong to one party computes in that party's PYU
  (no SPU). The means and standard deviations stay with their owner (SecretFlow's own ``StandardScaler`` would
  reveal them to every party).
"""

from __future__ import annotations

import math
import sys
from typing import Any, Dict, List, Optional, Tuple

from ..errors import ParamsError
from ._vdata import column_list
from .registry import TaskType, ValidationContext, optional, register_task, require

# the statistic names of secretflow.stats.table_statistics (secretflow 1.11), in its order
TABLE_STATISTICS = (
    "datatype", "total_count", "count(non-NA count)", "count_na(NA count)", "na_ratio", "min", "max", "mean",
    "var(variance)", "std(standard deviation)", "sem(standard error)", "skew", "kurtosis", "q1(first quartile)",
    "q2(second quartile, median)", "q3(third quartile)", "moment_2", "moment_3", "moment_4", "central_moment_2",
    "central_moment_3", "central_moment_4", "sum", "sum_2", "sum_3", "sum_4",
)
# SecretFlow's infeed limit per SPU block (SSVertPearsonR / SSVertVIF default)
INFEED_ELEMENTS_LIMIT = 20_000_000


# ------------------------------------------------------------------------------------------------ validation

def columns_of(task_config: Dict[str, Any], required: bool) -> Optional[List[str]]:
    """task_config.columns: a non-empty list of distinct non-empty names (None when optional and absent)."""
    value = task_config.get("columns")
    if value is None:
        if required:
            raise ParamsError("task_config.columns is required (a non-empty list of column names)")
        return None
    return column_list(value, "task_config.columns")


def report_paths(task_config: Dict[str, Any], ctx: ValidationContext, parties: List[str], data_key: str,
                 overwrite: bool) -> Dict[str, str]:
    """task_config.output_report -> {party: path} of the parties that receive a report; this party's own path
    resolved as an output (under data_dir, staged, not an existing file unless ``overwrite``)."""
    value = require(task_config, "output_report", (str, dict),
                    "a path (every party of the job gets its report there) or a mapping party -> path")
    if isinstance(value, str):
        if not value.strip():
            raise ParamsError("task_config.output_report must be a non-empty path, got ''")
        out = {p: value for p in parties}
        where = {p: "task_config.output_report" for p in parties}
    else:
        if not value:
            raise ParamsError("task_config.output_report must name at least one party, got {}")
        out, where = {}, {}
        for p, path in value.items():
            if p not in parties:
                raise ParamsError(f"task_config.output_report.{p}: {p!r} is not a party of this job (the parties of "
                                  f"task_config.{data_key}: {', '.join(parties)})")
            if not isinstance(path, str) or not path.strip():
                raise ParamsError(f"task_config.output_report.{p}: must be a non-empty string path, got {path!r}")
            out[p], where[p] = path, f"task_config.output_report.{p}"
    me = ctx.self_party
    if me in out:
        out[me] = ctx.resolve_output(out[me], where[me], overwrite=overwrite)
    return dict(sorted(out.items()))


# ---------------------------------------------------------------------------- in a party's PYU (by value)

def clean(value: Any) -> Any:
    """A JSON value: numpy/jax scalars and arrays to Python, NaN/inf to None (JSON has neither)."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "tolist"):
        return clean(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f if math.isfinite(f) else None


def write_json(path: str, obj: Any) -> Any:
    """Write ``obj`` (cleaned) as JSON to ``path`` (the party's staging file); returns what was written."""
    import json

    obj = clean(obj)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, allow_nan=False)
    return obj


def held_columns(path: str, columns: Optional[List[str]]) -> Tuple[List[str], int]:
    """(the requested columns this party's file holds, in the request's order; its number of rows). Only the
    requested names leave the party (with columns=None: none)."""
    import pandas as pd

    df = pd.read_csv(path)
    have = [] if columns is None else [c for c in columns if c in df.columns]
    return have, int(len(df))


def table_statistics_of(path: str, columns: Optional[List[str]]) -> Dict[str, Dict[str, Any]]:
    """secretflow.stats.table_statistics of this party's own columns (all of them if columns is None):
    {column: {statistic: value}}, JSON-clean."""
    import pandas as pd
    from secretflow.stats import table_statistics

    df = pd.read_csv(path)
    if columns is not None:
        df = df[columns]
    if df.shape[1] == 0:
        return {}
    stats = table_statistics(df)
    out: Dict[str, Dict[str, Any]] = {}
    for col in stats.index:
        row = {}
        for name in stats.columns:
            v = stats.loc[col, name]
            row[str(name)] = str(v) if name == "datatype" else clean(v)
        out[str(col)] = row
    return out


def standardized(path: str, columns: List[str], party: str):
    """This party's requested columns, standardized (mean 0, sample std 1), as a float64 numpy array. Refuses a
    missing, non-numeric, NA or constant column naming it."""
    import numpy as np
    import pandas as pd

    df = pd.read_csv(path)
    for c in columns:
        s = df[c]
        if not pd.api.types.is_numeric_dtype(s):
            raise ValueError(f"column {c!r} of {party} ({path}) is not numeric (dtype {s.dtype})")
        if s.isna().any():
            raise ValueError(f"column {c!r} of {party} ({path}) has {int(s.isna().sum())} missing value(s): fill them "
                             f"first (task_type fillna)")
    x = df[columns].to_numpy(dtype=np.float64)
    if x.shape[0] < 2:
        raise ValueError(f"{party}'s {path} has {x.shape[0]} row(s): a correlation needs at least 2")
    std = x.std(axis=0, ddof=1)
    const = [c for c, s in zip(columns, std) if not s > 0]
    if const:
        raise ValueError(f"column(s) {', '.join(map(repr, const))} of {party} ({path}) are constant: their correlation "
                         f"is undefined, leave them out of task_config.columns")
    return (x - x.mean(axis=0)) / std


def corr_report(xtx, rows: int, order: List[str], columns: List[str]) -> Dict[str, Dict[str, Any]]:
    """X'X of the standardized columns (in ``order``) -> the correlation matrix {col: {col: r}} in the request's
    column order (the original worker's report)."""
    import numpy as np

    corr = np.asarray(xtx, dtype=np.float64) / (rows - 1)
    idx = {c: i for i, c in enumerate(order)}
    return {a: {b: clean(corr[idx[a], idx[b]]) for b in columns} for a in columns}


def vif_diagnosis(v: Optional[float]) -> str:
    if v is None:
        return "not computable"
    if v > 10:
        return "severe multicollinearity"
    if v > 5:
        return "moderate multicollinearity"
    return "no multicollinearity"


def vif_report(diag, rows: int, order: List[str], columns: List[str], parties: List[str]) -> Dict[str, Any]:
    """diag(inverse(X'X)) of the standardized columns (in ``order``) -> VIF = diag * (n - 1) per column, the
    original worker's report (vif_values, diagnosis, columns, parties)."""
    import numpy as np

    d = np.asarray(diag, dtype=np.float64).reshape(-1) * (rows - 1)
    values = {c: clean(d[order.index(c)]) for c in columns}
    return {"vif_values": values, "diagnosis": {c: vif_diagnosis(values[c]) for c in columns},
            "columns": list(columns), "parties": list(parties)}


# ------------------------------------------------------------------------------------ driver-side helpers

def ship_by_value() -> None:
    """Functions of these modules run in the parties' Ray workers: pickle them by value (Ray workers need not import
    sfworker)."""
    import ray

    from . import evaluation

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.cloudpickle.register_pickle_by_value(evaluation)


def own_value(rt: Any, obj: Any) -> Any:
    """The value of a PYU object of THIS party, read from its own Ray cluster without sending it to anyone
    (``sf.reveal``/``fed.get`` would send it to every party of the job). None for another party's object."""
    if obj.device.party != rt.self_party:
        return None
    local_get = getattr(rt, "local_get", None)
    if local_get is not None:
        return local_get(obj)
    import ray

    return ray.get(obj.data.get_ray_object_ref())


def staged(rt: Any, party: str, path: str) -> str:
    """Where ``party``'s PYU writes its report: this party's staging name; another party's path as given (only that
    party's driver runs its PYU's tasks)."""
    return rt.output_path(path) if party == rt.self_party else path


def column_owners(held: Dict[str, Tuple[List[str], int]], columns: List[str], data_key: str,
                  same_rows: bool = True) -> Dict[str, List[str]]:
    """{party: its requested columns}; every requested column held by exactly one party; with ``same_rows`` all
    row counts equal."""
    owners: Dict[str, List[str]] = {}
    for c in columns:
        who = [p for p, info in held.items() if c in info[0]]
        if not who:
            raise ValueError(f"task_config.columns: column {c!r} is in no party's file (task_config.{data_key})")
        if len(who) > 1:
            raise ValueError(f"task_config.columns: column {c!r} is in the files of {', '.join(who)}: a column must "
                             f"belong to one party (rename one)")
    for p, info in held.items():
        owners[p] = list(info[0])
    rows = {p: info[1] for p, info in held.items()}
    if same_rows and len(set(rows.values())) > 1:
        raise ValueError(f"the parties' files have different numbers of rows ({', '.join(f'{p}: {n}' for p, n in sorted(rows.items()))}): "
                         f"vertically partitioned data must be aligned row by row (task_type psi first)")
    return owners


# ------------------------------------------------------------------------------------------- task types

class _StatsTask(TaskType):
    allowed_keys = ("input_data", "columns", "output_report", "overwrite")
    columns_required = True

    def validate(self, task_config: Dict[str, Any], ctx: ValidationContext) -> Tuple[Dict[str, Any], List[str]]:
        self.check_keys(task_config)
        columns = columns_of(task_config, self.columns_required)
        overwrite = optional(task_config, "overwrite", bool, False)
        inputs = ctx.party_path_map(task_config, "input_data", "input", min_parties=1)
        parties = sorted(inputs)
        reports = report_paths(task_config, ctx, parties, "input_data", overwrite)
        return {"input_data": inputs, "columns": columns, "output_report": reports, "overwrite": overwrite}, parties

    def job_needs_spu(self, cfg: Dict[str, Any]) -> bool:
        return len(cfg["input_data"]) > 1


@register_task("table_statistics")
class TableStatisticsTask(_StatsTask):
    needs_spu = False
    columns_required = False
    sf_modules = ("secretflow.stats",)

    def job_needs_spu(self, cfg: Dict[str, Any]) -> bool:
        return False  # nothing is computed jointly

    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        ship_by_value()
        columns = cfg["columns"]
        me = rt.self_party
        own: Optional[List[str]] = None
        if columns is not None:
            held = rt.sf.reveal({p: rt.pyu(p)(held_columns)(cfg["input_data"][p], columns) for p in rt.parties})
            own = column_owners(held, columns, "input_data", same_rows=False).get(me, [])
        report = cfg["output_report"].get(me)
        statistics = None
        if report is not None:
            def compute_and_write(path, cols, staging):
                return write_json(staging, table_statistics_of(path, cols))

            obj = rt.pyu(me)(compute_and_write)(cfg["input_data"][me], own, staged(rt, me, report))
            statistics = own_value(rt, obj)
        return {
            "output_report": report,
            "statistics": statistics,
            "columns": sorted(statistics) if statistics is not None else own,
            "num_columns": len(statistics) if statistics is not None else None,
            "parties": list(rt.parties),
        }


class _CorrelationTask(_StatsTask):
    needs_spu = False  # decided per job: job_needs_spu (an SPU only when the columns span 2+ parties' files)
    sf_modules = ("secretflow.stats", "secretflow.utils.blocked_ops", "secretflow.stats.core.utils")

    def xtx(self, cfg: Dict[str, Any], rt: Any):
        """(device object of X'X of the standardized requested columns, rows, column order)."""
        from secretflow.utils.blocked_ops import block_compute_vdata

        ship_by_value()
        columns = cfg["columns"]
        held = rt.sf.reveal({p: rt.pyu(p)(held_columns)(cfg["input_data"][p], columns) for p in rt.parties})
        owners = column_owners(held, columns, "input_data")
        rows = next(iter(held.values()))[1]
        holders = [p for p in rt.parties if owners[p]]
        parts = [rt.pyu(p)(standardized)(cfg["input_data"][p], owners[p], p) for p in holders]
        order = [c for p in holders for c in owners[p]]
        device = rt.spu if len(holders) > 1 else rt.pyu(holders[0])
        row_block = max(math.ceil(INFEED_ELEMENTS_LIMIT / len(columns)), 1)
        xtx = block_compute_vdata(parts, row_block, device, lambda x: x.T @ x, lambda x, y: x + y)
        return xtx, rows, order

    def publish(self, cfg: Dict[str, Any], rt: Any, value, build) -> Any:
        """The report ``build(value)`` written by each report party's PYU; -> this party's report (None if it gets
        none). An SPU ``value`` is revealed to each report party's PYU alone, which builds the report there. A PYU
        ``value`` (the columns of one party) is built into the report by its owner, and the report - plain JSON
        values, nothing else passes the parties' unpickling allow-list - goes to the other report parties."""
        is_pyu = hasattr(value.device, "party")
        if is_pyu:
            value = value.device(lambda v: clean(build(v)))(value)
        mine = None
        for p, path in cfg["output_report"].items():
            pyu = rt.pyu(p)
            local = value if value.device == pyu else value.to(pyu)

            def write(v, staging, built=is_pyu):
                return write_json(staging, v if built else build(v))

            obj = pyu(write)(local, staged(rt, p, path))
            if p == rt.self_party:
                mine = own_value(rt, obj)
        return mine


@register_task("pearson_correlation")
class PearsonCorrelationTask(_CorrelationTask):
    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        columns = cfg["columns"]
        xtx, rows, order = self.xtx(cfg, rt)
        matrix = self.publish(cfg, rt, xtx, lambda v: corr_report(v, rows, order, columns))
        me = rt.self_party
        return {"output_report": cfg["output_report"].get(me), "correlation_matrix": matrix,
                "num_columns": len(columns), "columns": list(columns), "parties": list(rt.parties)}


@register_task("vif")
class VifTask(_CorrelationTask):
    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        import jax.numpy as jnp
        from secretflow.stats.core.utils import newton_matrix_inverse

        columns = cfg["columns"]
        parties = list(rt.parties)
        xtx, rows, order = self.xtx(cfg, rt)
        device = xtx.device
        diag = device(lambda x: jnp.diagonal(newton_matrix_inverse(x)))(xtx)
        report = self.publish(cfg, rt, diag, lambda v: vif_report(v, rows, order, columns, parties))
        me = rt.self_party
        out = {"output_report": cfg["output_report"].get(me), "vif_values": None, "diagnosis": None,
               "num_columns": len(columns), "columns": list(columns), "parties": parties}
        if report is not None:
            out.update(vif_values=report["vif_values"], diagnosis=report["diagnosis"])
        return out
