"""task_type "secure_sum": sum of one column over every party's CSV, computed in SPU.

Each party reads only its own file, in a PYU of that party; the per-party totals are moved
into SPU as secret shares, added there, and the total is revealed to every party.

task_config:
  input_paths: {party: csv}   one entry per participating party (>= 2)
  column:      name           numeric column present in every file
result: {"sum": <total>}   (int if every column is integer-typed, else float)
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from .registry import TaskType, ValidationContext, register_task, require
from ..errors import ParamsError


@register_task("secure_sum")
class SecureSumTask(TaskType):
    needs_spu = True
    sf_modules = ("secretflow.device.device.pyu", "secretflow.device.device.spu")
    allowed_keys = ("input_paths", "column")

    def validate(self, task_config: Dict[str, Any], ctx: ValidationContext) -> Tuple[Dict[str, Any], List[str]]:
        self.check_keys(task_config)
        column = require(task_config, "column", str, "a column name")
        if not column:
            raise ParamsError("task_config.column must be a non-empty column name")
        inputs = ctx.party_path_map(task_config, "input_paths", "input")
        return {"input_paths": inputs, "column": column}, sorted(inputs)

    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        column = cfg["column"]

        def local_sum(path, col):
            # runs inside the owning party's Ray cluster; only that party's file is read
            import numpy as np
            import pandas as pd

            df = pd.read_csv(path)
            if col not in df.columns:
                raise ValueError(f"column {col!r} not found in {path} (columns: {list(df.columns)})")
            s = df[col]
            if not np.issubdtype(s.dtype, np.number):
                raise ValueError(f"column {col!r} in {path} is not numeric (dtype {s.dtype})")
            if np.issubdtype(s.dtype, np.integer):
                return np.int64(s.sum())
            return np.float64(s.sum())

        def add_all(*xs):
            total = xs[0]
            for x in xs[1:]:
                total = total + x
            return total

        partials = [rt.pyu(p)(local_sum)(cfg["input_paths"][p], column) for p in rt.parties]
        total = rt.spu(add_all)(*[x.to(rt.spu) for x in partials])
        value = rt.sf.reveal(total)
        value = value.item() if hasattr(value, "item") else value
        return {"sum": value}
