"""How an orchestrator calls ``tasks.secretflow.execute_task``: the argument forms, turned into one JobRequest.

Issue #13 makes this worker a drop-in for the original SecretFlow Worker's orchestrator contract. This module is the
single place that reads the raw Celery arguments:

* this project's own form: ``execute_task(task_request_id, task_params)`` with ``task_params`` as in docs/worker.md;
* the original's form: ``execute_task(task_params)`` (one dict, with ``task_id``, ``subtask_id``, ``execution_id``,
  ``sf_init_config.parties``/``self_party``, ``spu_config.cluster_def``, optional ``heu_config``) and its older
  two-argument form ``execute_task(task_request_id, task_params)``.

``parse_call`` returns a :class:`JobRequest` whose ``task_params`` is always this project's own form, ready for
:func:`sfworker.params.build_job_spec`; everything that depends on the form (ids for status events and results,
what was ignored) travels in the JobRequest. Must not import secretflow.

This first version understands the own form only; the original's form is added by the #13 work on this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .config import WorkerConfig
from .errors import ParamsError

OWN, ORIGINAL = "own", "original"


@dataclass(frozen=True)
class JobRequest:
    """One execute_task call, validated as far as the call's shape goes.

    form:            OWN or ORIGINAL
    task_request_id: this party's id of the job: logs, the slot lock's owner, this project's status list key.
                     Own form: as sent. Original form: the party's execution_id.
    task_params:     this project's own task_params (for params.build_job_spec).
    ids:             {"task_id", "subtask_id", "execution_id"} for the original's status events and result;
                     own form: task_id = subtask_id = None, execution_id = task_request_id.
    notes:           what was accepted but ignored or mapped (logged once per job), e.g. the message's Ray address.
    """

    form: str
    task_request_id: str
    task_params: Dict[str, Any]
    ids: Dict[str, Optional[str]]
    notes: List[str] = field(default_factory=list)


def _split_args(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Tuple[Any, Any]:
    """(task_request_id or None, task_params) from the Celery call, or ParamsError."""
    unknown = sorted(set(kwargs) - {"task_request_id", "task_params"})
    if unknown:
        raise ParamsError(f"execute_task got unexpected keyword argument(s) {', '.join(unknown)} "
                          f"(it takes task_params, or task_request_id and task_params)")
    given = list(args)
    if "task_request_id" in kwargs:
        given.insert(0, kwargs["task_request_id"])
    if "task_params" in kwargs:
        given.append(kwargs["task_params"])
    if len(given) == 1:
        return None, given[0]
    if len(given) == 2:
        return given[0], given[1]
    raise ParamsError(f"execute_task takes task_params, or task_request_id and task_params; got {len(given)} "
                      f"argument(s)")


def parse_call(cfg: WorkerConfig, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> JobRequest:
    """The JobRequest of one execute_task call (ParamsError on a malformed call)."""
    del cfg  # the original form checks the message against the deployment's plan (cfg)
    task_request_id, task_params = _split_args(tuple(args), dict(kwargs or {}))
    if task_request_id is None:
        raise ParamsError("execute_task(task_params) with one argument is the original worker's form, which this "
                          "version does not read yet; send execute_task(task_request_id, task_params)")
    from .params import check_task_request_id

    tid = check_task_request_id(task_request_id)
    return JobRequest(form=OWN, task_request_id=tid, task_params=task_params,
                      ids={"task_id": None, "subtask_id": None, "execution_id": tid})


def salvage_ids(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Dict[str, Optional[str]]:
    """Best-effort ids of a call that parse_call refused, for its FAILURE event: never raises."""
    ids: Dict[str, Optional[str]] = {"task_id": None, "subtask_id": None, "execution_id": None}
    try:
        rid, params = _split_args(tuple(args), dict(kwargs or {}))
    except Exception:  # noqa: BLE001 - salvage only
        return ids
    if isinstance(params, dict):
        for k in ids:
            v = params.get(k)
            if isinstance(v, (str, int)) and not isinstance(v, bool):
                ids[k] = str(v)[:200]
    if ids["execution_id"] is None and isinstance(rid, str):
        ids["execution_id"] = rid[:200]
    return ids
