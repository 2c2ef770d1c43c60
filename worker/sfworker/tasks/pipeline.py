"""task_type "pipeline": several task types in ONE job - one sf.init, one set of devices, one SPU.

A DAG of preprocessing -> training -> prediction -> evaluation would otherwise pay sf.init, the peer wait and the
SPU link setup once per step; a pipeline pays them once and runs the steps in order in the same job.

task_config:
  steps: [<task_config of another type>, ...]   each with its own task_type (not pipeline) and that type's keys;
                                                no job_slot (the job's slot is the pipeline's)
result: {"steps": [<each step's result, with "task_type" and "seconds">, ...]}

Rules:
* each step is validated by its own type; an error names the step: ``task_config.steps[2].columns ...``;
* the job's parties are the union of the steps' parties; a step may involve fewer parties (evaluation on the
  receiver's predictions: one party). Every party runs every step (RayFed: each party's driver executes the whole
  program, a PYU function only runs on its owner), the step sees ``rt.parties`` = its own parties;
* a step may read a file an EARLIER step of the same pipeline writes: such an own-party input is accepted although
  it does not exist yet, and the step reads it from its staging name (rt.output_path) - outputs are published only
  when the whole pipeline succeeded; a failed pipeline leaves none of its outputs behind;
* the SPU device is created if one step needs it (``needs_spu`` of the steps' types);
* what each party learns: what each step's type reveals (docs/worker.md, per type); the pipeline adds nothing.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any, Dict, List, Set, Tuple

from .. import paths
from ..errors import JobError, ParamsError
from .registry import TaskType, ValidationContext, get_task_type, register_task, require

#: more steps than this is a mistake, not a DAG
MAX_STEPS = 64

_TASK_CONFIG_RE = re.compile(r"\btask_config(?=[.:\s]|$)")


class PipelineStepError(JobError):
    """A step of a pipeline failed while running (the message names the step; the cause is chained)."""


def in_step(message: str, index: int) -> str:
    """A step type's error message with its ``task_config`` named as the pipeline's ``task_config.steps[i]``."""
    where = f"task_config.steps[{index}]"
    out, n = _TASK_CONFIG_RE.subn(where, message)
    return out if n else f"{where}: {message}"


class StepContext(ValidationContext):
    """The ValidationContext of one step: the pipeline's inputs and outputs (shared, so an output is still unique
    in the whole job and never one of its inputs), an input may be a file an earlier step writes, and the step need
    not involve this party."""

    require_self_party = False

    def __init__(self, parent: ValidationContext):
        super().__init__(parent.config, parent.inputs, parent.outputs)
        #: this party's outputs of the earlier steps
        self.produced: Set[str] = set(parent.outputs)
        #: this step's inputs that an earlier step writes (read from their staging name at run time)
        self.staged_inputs: List[str] = []

    def resolve_input(self, path: Any, what: str) -> str:
        resolved = paths.confine(self.config.data_dir, path, what)
        if resolved in self.produced:
            self.inputs.append(resolved)
            if resolved not in self.staged_inputs:
                self.staged_inputs.append(resolved)
            return resolved
        return super().resolve_input(path, what)


class StepRuntime:
    """What a step's run() gets: the job's runtime with ``parties`` = the step's parties."""

    def __init__(self, rt: Any, parties: List[str]):
        self._rt = rt
        self.parties = list(parties)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rt, name)


def with_staged_inputs(value: Any, staged: Dict[str, str]) -> Any:
    """``value`` (a step's normalized task_config) with every string equal to one of ``staged``'s paths replaced by
    its staging name. Only this party's own resolved input paths are in ``staged``; another party's path that
    happens to be the same string is used by nobody but that party's own driver, which reads its own config."""
    if isinstance(value, str):
        return staged.get(value, value)
    if isinstance(value, dict):
        return {k: with_staged_inputs(v, staged) for k, v in value.items()}
    if isinstance(value, list):
        return [with_staged_inputs(v, staged) for v in value]
    return value


@register_task("pipeline")
class PipelineTask(TaskType):
    # the class default, used where the steps are not known yet (sfworker.compat); the job's own decision is
    # job_needs_spu(cfg)
    needs_spu = True
    allowed_keys = ("steps",)
    sf_modules = ()  # its own code imports none; each step's type declares its own

    def validate(self, task_config: Dict[str, Any], ctx: ValidationContext) -> Tuple[Dict[str, Any], List[str]]:
        self.check_keys(task_config)
        steps = require(task_config, "steps", list, "a non-empty list of task_configs, each with its task_type")
        if not steps or len(steps) > MAX_STEPS:
            raise ParamsError(f"task_config.steps must have 1..{MAX_STEPS} steps, got {len(steps)}")
        out: List[Dict[str, Any]] = []
        union: Set[str] = set()
        for i, step in enumerate(steps):
            where = f"task_config.steps[{i}]"
            if not isinstance(step, dict):
                raise ParamsError(f"{where} must be a mapping (a task_config with its task_type), got "
                                  f"{type(step).__name__} {step!r}")
            if step.get("task_type") is None:
                raise ParamsError(f"{where}.task_type is required")
            if step["task_type"] == self.name:
                raise ParamsError(f"{where}.task_type: a pipeline cannot contain a pipeline (list its steps in "
                                  f"task_config.steps)")
            if "job_slot" in step:
                raise ParamsError(f"{where}.job_slot: a step has no job slot of its own (the job's slot is "
                                  f"task_config.job_slot), got {step['job_slot']!r}")
            sctx = StepContext(ctx)
            try:
                task = get_task_type(step["task_type"])
                norm, parties = task.validate(dict(step), sctx)
            except ParamsError as e:
                raise ParamsError(in_step(str(e), i)) from None
            parties = sorted(parties)
            if not parties:
                raise ParamsError(f"{where}: task_type {task.name} returned no parties")
            union.update(parties)
            out.append({"task_type": task.name, "task_config": norm, "parties": parties,
                        "staged_inputs": list(sctx.staged_inputs), "needs_spu": task.job_needs_spu(norm)})
        if ctx.self_party not in union:
            raise ParamsError(f"task_config.steps: this party {ctx.self_party!r} is not part of any step (parties of "
                              f"the steps: {', '.join(sorted(union))})")
        return {"steps": out, "needs_spu": any(s["needs_spu"] for s in out)}, sorted(union)

    def job_needs_spu(self, cfg: Dict[str, Any]) -> bool:
        return bool(cfg["needs_spu"])

    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        results = []
        for i, step in enumerate(cfg["steps"]):
            task = get_task_type(step["task_type"])
            staged = {p: rt.output_path(p) for p in step["staged_inputs"]}
            t = time.monotonic()
            try:
                res = task.run(with_staged_inputs(step["task_config"], staged), StepRuntime(rt, step["parties"]))
            except MemoryError:
                raise
            except Exception as e:  # noqa: BLE001  (SystemExit/KeyboardInterrupt from RayFed pass unchanged)
                raise PipelineStepError(f"task_config.steps[{i}] ({task.name}) failed after "
                                        f"{time.monotonic() - t:.1f}s: {type(e).__name__}: {e}") from e
            seconds = round(time.monotonic() - t, 3)
            print(f"sfworker.pipeline: step {i} ({task.name}) done in {seconds:.1f}s", file=sys.stderr, flush=True)
            results.append(dict(res or {}, task_type=task.name, seconds=seconds))
        return {"steps": results}
