"""Task-type registry.

Adding a task type is a one-file change: drop a module into ``sfworker/tasks/`` that defines a
subclass of :class:`TaskType` decorated with ``@register_task("name")``. Every module of this
package is imported by :func:`load_task_modules`, so nothing else needs editing.

A task type has two halves:

* ``validate(task_config, ctx)`` runs in the Celery worker process BEFORE anything is started.
  It must not import secretflow. It returns ``(normalized_task_config, job_parties)``;
  normalized config must be JSON-serialisable (it is handed to the job process as JSON) and
  this party's own paths must be replaced by their resolved, data_dir-confined form.
* ``run(cfg, rt)`` runs in the per-job child process after ``sf.init``. ``rt`` is the
  :class:`sfworker.job.JobRuntime` (``rt.sf``, ``rt.pyu(party)``, ``rt.spu``, ``rt.self_party``,
  ``rt.parties``). It returns a JSON-serialisable dict that is merged into the task result.
  Functions sent to PYU/SPU should be closures defined inside ``run`` (cloudpickle ships them
  by value, so Ray worker processes do not need to import sfworker).

Every task type declares ``sf_modules``: the SecretFlow modules its ``run`` imports (a tuple of dotted names; ``()``
if it needs none). ``python -m sfworker.selftest`` (the image build runs it) imports each of them, and fails for a
type that does not declare the attribute.
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Dict, Iterable, List, Sequence, Tuple, Type

from .. import paths
from ..config import WorkerConfig
from ..errors import ParamsError

_REGISTRY: Dict[str, "TaskType"] = {}
_LOADED = False


@dataclass
class ValidationContext:
    config: WorkerConfig
    #: this party's resolved input files and output files (path -> overwrite), as validate() resolved them
    inputs: List[str] = field(default_factory=list)
    outputs: Dict[str, bool] = field(default_factory=dict)

    @property
    def self_party(self) -> str:
        return self.config.party

    def resolve_input(self, path: Any, what: str) -> str:
        resolved = paths.resolve_input(self.config.data_dir, path, what)
        self.inputs.append(resolved)
        return resolved

    def resolve_output(self, path: Any, what: str, overwrite: bool = False) -> str:
        """An output file of this party: under data_dir, not an existing file unless ``overwrite``, not one of the
        job's own inputs, not twice in the job. The job writes it under a staging name and renames it when it
        succeeded (sfworker.paths.publish_output)."""
        resolved = paths.resolve_output(self.config.data_dir, path, what, overwrite=overwrite)
        if resolved in self.inputs:
            raise ParamsError(f"{what}: output file {resolved} is an input of the same job")
        if resolved in self.outputs:
            raise ParamsError(f"{what}: output file {resolved} is already an output of the same job")
        self.outputs[resolved] = bool(overwrite)
        return resolved

    # ---- helpers shared by task types -------------------------------------------------

    #: a job's parties must include this party; a pipeline's step need not (sfworker.tasks.pipeline)
    require_self_party: ClassVar[bool] = True

    def check_parties(self, parties: Iterable[str], what: str, min_parties: int = 2) -> List[str]:
        parties = list(parties)
        unknown = [p for p in parties if p not in self.config.parties]
        if unknown:
            raise ParamsError(
                f"{what}: unknown part{'y' if len(unknown) == 1 else 'ies'} {', '.join(map(repr, unknown))} "
                f"(parties in this deployment: {', '.join(sorted(self.config.parties))})"
            )
        if len(parties) < min_parties:
            raise ParamsError(f"{what}: needs at least {min_parties} parties, got {len(parties)}")
        if self.require_self_party and self.self_party not in parties:
            raise ParamsError(f"{what}: this party {self.self_party!r} is not part of the job (parties: {', '.join(parties)})")
        return sorted(parties)

    def party_path_map(self, cfg: Dict[str, Any], key: str, kind: str, min_parties: int = 2,
                       overwrite: bool = False) -> Dict[str, str]:
        """Validate ``cfg[key]`` = {party: path}; resolve this party's own path (kind: input|output; an output
        replaces an existing file only with ``overwrite``)."""
        m = require(cfg, key, dict, f"a mapping party -> {kind} file")
        self.check_parties(m.keys(), f"task_config.{key}", min_parties)
        out = {}
        for party, p in m.items():
            what = f"task_config.{key}.{party}"
            if party == self.self_party:
                out[party] = (self.resolve_input(p, what) if kind == "input"
                              else self.resolve_output(p, what, overwrite=overwrite))
            else:
                # another party's path: only that party can check it against its own data_dir
                if not isinstance(p, str) or not p.strip():
                    raise ParamsError(f"{what}: must be a non-empty string path, got {p!r}")
                out[party] = p
        return out


def require(cfg: Dict[str, Any], key: str, typ, desc: str = "") -> Any:
    if key not in cfg or cfg[key] is None:
        raise ParamsError(f"task_config.{key} is required{' (' + desc + ')' if desc else ''}")
    v = cfg[key]
    if typ is not None and (not isinstance(v, typ) or (typ is int and isinstance(v, bool))):
        tn = typ.__name__ if isinstance(typ, type) else "/".join(t.__name__ for t in typ)
        raise ParamsError(f"task_config.{key} must be {desc or tn}, got {type(v).__name__} {v!r}")
    return v


def optional(cfg: Dict[str, Any], key: str, typ, default: Any) -> Any:
    if cfg.get(key) is None:
        return default
    return require(cfg, key, typ)


class TaskType(ABC):
    name: ClassVar[str] = ""
    needs_spu: ClassVar[bool] = True
    #: keys allowed in task_config besides task_type / job_slot (None: do not check)
    allowed_keys: ClassVar[Sequence[str] | None] = None
    #: the SecretFlow modules run() imports, e.g. ("secretflow.ml.linear.ss_sgd",); () if none. None (undeclared)
    #: fails the self-test (python -m sfworker.selftest)
    sf_modules: ClassVar[Tuple[str, ...] | None] = None

    def job_needs_spu(self, cfg: Dict[str, Any]) -> bool:
        """Whether the job (normalized task_config ``cfg``) creates the SPU device: the type's needs_spu unless the
        config decides (a pipeline needs it if one of its steps does)."""
        return bool(self.needs_spu)

    @abstractmethod
    def validate(self, task_config: Dict[str, Any], ctx: ValidationContext) -> Tuple[Dict[str, Any], List[str]]:
        ...

    @abstractmethod
    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        ...

    def check_keys(self, task_config: Dict[str, Any]) -> None:
        if self.allowed_keys is None:
            return
        allowed = set(self.allowed_keys) | {"task_type", "job_slot"}
        unknown = sorted(set(task_config) - allowed)
        if unknown:
            raise ParamsError(
                f"task_config: unknown key(s) {', '.join(unknown)} for task_type {self.name!r} "
                f"(allowed: {', '.join(sorted(allowed))})"
            )


def register_task(name: str) -> Callable[[Type[TaskType]], Type[TaskType]]:
    def deco(cls: Type[TaskType]) -> Type[TaskType]:
        if not isinstance(name, str) or not name:
            raise ValueError("task type name must be a non-empty string")
        if name in _REGISTRY and type(_REGISTRY[name]) is not cls:
            raise ValueError(f"task type {name!r} registered twice ({type(_REGISTRY[name]).__qualname__} and {cls.__qualname__})")
        cls.name = name
        _REGISTRY[name] = cls()
        return cls

    return deco


def load_task_modules() -> None:
    """Import every module of sfworker.tasks (each registers its task types)."""
    global _LOADED
    if _LOADED:
        return
    from .. import tasks as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name != "registry" and not mod.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
    _LOADED = True


def get_task_type(name: Any) -> TaskType:
    load_task_modules()
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ParamsError(f"task_config.task_type: unknown task type {name!r} (known: {', '.join(known_task_types())})")
    return _REGISTRY[name]


def known_task_types() -> List[str]:
    load_task_modules()
    return sorted(_REGISTRY)
