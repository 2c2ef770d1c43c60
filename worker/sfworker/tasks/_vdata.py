"""Vertical data helpers shared by the data task types (preprocessing, statistics, training, evaluation).

Vertical data: every data-holding party has a CSV with the SAME rows in the same order (e.g. a psi job's outputs)
and its own columns. Columns found in more than one party's file (the join keys a psi output keeps, ``id``) are
*shared*: they are not features, SecretFlow's VDataFrame refuses duplicate column names, so they are left out of the
VDataFrame and each party writes its own copy back unchanged (write_vertical).

Validate side (Celery worker process; imports no secretflow):

    inputs = party_paths(ctx, task_config, "input_data", "input")            # {party: path}, some parties only
    outputs = party_paths(ctx, task_config, "output_data", "output", overwrite=...)
    same_parties(inputs, outputs, "input_data", "output_data")
    columns = column_spec(task_config, "columns", inputs, required=False)    # None | [col] | {party: [col]}
    parties = job_parties(ctx, inputs, what="task_config.input_data")         # sorted; this party must be one

  A map may name only SOME of the deployment's parties (one data-holding party is a valid job). This party's own
  path is resolved by ctx.resolve_input / ctx.resolve_output (data_dir confinement, staging, overwrite rules); the
  other parties' paths are passed through as given: only their owner can check them.

Run side (the job process, after sf.init; every party runs the same code):

    schema = read_schema(rt, inputs)             # each party's header, read by its own PYU (revealed to all)
    cols = schema.split(columns)                 # {party: [its columns]}; ValueError naming unknown/shared ones
    vdf = read_vertical(rt, inputs, schema)      # VDataFrame {rt.pyu(party): partition}; each PYU reads its file
    types = column_types(rt, vdf)                # {party: {col: (dtype, numeric)}} (revealed: schema)
    frames = frames_of(vdf)                      # {party: PYUObject DataFrame}
      or, without a VDataFrame (no PartitionAgent actors; enough when each party only transforms its own columns):
    frames = read_frames(rt, inputs, schema); types = frame_types(rt, frames)
    frames[p] = rt.pyu(p)(func)(frames[p], ...)  # transform on the owner; stays there
    write_vertical(rt, frames, outputs, inputs, schema)   # each party writes its own frame, shared columns back

  Do not call Partition.apply_func in production mode: it reveals SecretFlow's AgentIndex objects, which RayFed's
  unpickling allow-list (sfworker.tls) refuses; reveal only plain values (str, int, float, bool, lists, dicts).

What every party learns from these helpers: the column names of every party's file and the number of rows (the
VDataFrame's schema; SecretFlow checks that the row counts agree). No cell value leaves its owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from ..errors import ParamsError
from .registry import ValidationContext

ColumnSpec = Union[None, List[str], Dict[str, List[str]]]


# ---------------------------------------------------------------------------------------------------------------
# validate side


def party_paths(ctx: ValidationContext, cfg: Dict[str, Any], key: str, kind: str, *, overwrite: bool = False,
                required: bool = True) -> Optional[Dict[str, str]]:
    """``cfg[key]`` = {party: path} naming one or more of the deployment's parties (not necessarily this one).

    kind "input": this party's path must be an existing file under data_dir (ctx.resolve_input); kind "output":
    this party's path is resolved by ctx.resolve_output (staged, replaces a file only with ``overwrite``). Other
    parties' paths must be non-empty strings and are kept as given. Returns the map with this party's path resolved,
    or None when the key is absent and not ``required``."""
    if kind not in ("input", "output"):
        raise ValueError(f"kind must be 'input' or 'output', got {kind!r}")
    value = cfg.get(key)
    if value is None:
        if required:
            raise ParamsError(f"task_config.{key} is required (a mapping party -> {kind} file)")
        return None
    if not isinstance(value, dict) or not value:
        raise ParamsError(f"task_config.{key} must be a non-empty mapping party -> {kind} file, got "
                          f"{type(value).__name__} {value!r}")
    known = sorted(ctx.config.parties)
    unknown = [p for p in value if p not in ctx.config.parties]
    if unknown:
        raise ParamsError(f"task_config.{key}: unknown part{'y' if len(unknown) == 1 else 'ies'} "
                          f"{', '.join(map(repr, unknown))} (parties in this deployment: {', '.join(known)})")
    out: Dict[str, str] = {}
    for party in sorted(value):
        path = value[party]
        what = f"task_config.{key}.{party}"
        if party == ctx.self_party:
            out[party] = (ctx.resolve_input(path, what) if kind == "input"
                          else ctx.resolve_output(path, what, overwrite=overwrite))
        else:
            if not isinstance(path, str) or not path.strip():
                raise ParamsError(f"{what}: must be a non-empty string path, got {path!r}")
            out[party] = path
    return out


def same_parties(a: Dict[str, Any], b: Dict[str, Any], a_key: str, b_key: str) -> None:
    """Both maps name the same parties (e.g. input_data and output_data: every data holder writes its output)."""
    if set(a) != set(b):
        raise ParamsError(f"task_config.{b_key} parties {', '.join(sorted(b))} differ from task_config.{a_key} "
                          f"parties {', '.join(sorted(a))}")


def job_parties(ctx: ValidationContext, *groups: Iterable[str], what: str = "task_config") -> List[str]:
    """The job's parties: every party named in ``groups`` (maps or lists), sorted; this party must be one of them
    (unless the context says otherwise, e.g. a pipeline step). One party is enough."""
    parties = sorted({p for g in groups for p in g})
    return ctx.check_parties(parties, what, min_parties=1)


def column_list(value: Any, where: str) -> List[str]:
    """A non-empty list of distinct non-empty column names."""
    if not isinstance(value, list) or not value or not all(isinstance(c, str) and c for c in value):
        raise ParamsError(f"{where} must be a non-empty list of column names, got {value!r}")
    dup = sorted({c for c in value if value.count(c) > 1})
    if dup:
        raise ParamsError(f"{where}: column(s) {', '.join(dup)} listed twice")
    return list(value)


def column_spec(cfg: Dict[str, Any], key: str, data_parties: Iterable[str], required: bool = False) -> ColumnSpec:
    """``cfg[key]``: a list of column names (each found in the party whose file has it; the original worker's form)
    or {party: [columns]} (each party's own; parties among ``data_parties``). None when absent and not required
    (the task's default, e.g. every column)."""
    value = cfg.get(key)
    if value is None:
        if required:
            raise ParamsError(f"task_config.{key} is required (a list of column names, or a mapping party -> list "
                              f"of column names)")
        return None
    if isinstance(value, dict):
        data_parties = sorted(data_parties)
        extra = sorted(p for p in value if p not in data_parties)
        if extra:
            raise ParamsError(f"task_config.{key}: part{'y' if len(extra) == 1 else 'ies'} "
                              f"{', '.join(map(repr, extra))} hold{'s' if len(extra) == 1 else ''} no data in this "
                              f"job (data parties: {', '.join(data_parties)})")
        if not value:
            raise ParamsError(f"task_config.{key} must name at least one column")
        out = {p: column_list(value[p], f"task_config.{key}.{p}") for p in sorted(value)}
        seen: Dict[str, str] = {}
        for p, cols in out.items():
            for c in cols:
                if c in seen:
                    raise ParamsError(f"task_config.{key}: column {c!r} listed for both {seen[c]} and {p}")
                seen[c] = p
        return out
    return column_list(value, f"task_config.{key}")


# ---------------------------------------------------------------------------------------------------------------
# run side


@dataclass
class Schema:
    """The vertical data's schema: each party's CSV header in file order."""

    headers: Dict[str, List[str]]

    @property
    def shared(self) -> List[str]:
        """Columns in more than one party's file (join keys): not part of the VDataFrame."""
        seen: Dict[str, int] = {}
        for cols in self.headers.values():
            for c in cols:
                seen[c] = seen.get(c, 0) + 1
        return sorted(c for c, n in seen.items() if n > 1)

    def own(self, party: str) -> List[str]:
        """The columns only ``party`` has, in file order: its VDataFrame partition."""
        shared = set(self.shared)
        return [c for c in self.headers[party] if c not in shared]

    def owner(self, column: str) -> Optional[str]:
        owners = [p for p, cols in self.headers.items() if column in cols]
        return owners[0] if len(owners) == 1 else None

    def split(self, columns: ColumnSpec, where: str = "task_config.columns") -> Dict[str, List[str]]:
        """The requested columns per party (file order kept within the request's order). None: every party's own
        columns. A column no file has, or one several files have (a join key), raises ValueError naming it."""
        if columns is None:
            return {p: self.own(p) for p in sorted(self.headers)}
        shared = set(self.shared)
        if isinstance(columns, dict):
            out: Dict[str, List[str]] = {}
            for p, cols in sorted(columns.items()):
                missing = [c for c in cols if c not in self.headers.get(p, [])]
                if missing:
                    raise ValueError(f"{where}.{p}: column(s) {', '.join(missing)} not in {p}'s file (its columns: "
                                     f"{', '.join(self.headers.get(p, []))})")
                bad = [c for c in cols if c in shared]
                if bad:
                    raise ValueError(f"{where}.{p}: column(s) {', '.join(bad)} are in several parties' files (join "
                                     f"keys, kept as they are)")
                out[p] = list(cols)
            return out
        missing = [c for c in columns if not any(c in cols for cols in self.headers.values())]
        if missing:
            raise ValueError(f"{where}: column(s) {', '.join(missing)} in no party's file ("
                             + "; ".join(f"{p}: {', '.join(cols)}" for p, cols in sorted(self.headers.items())) + ")")
        bad = [c for c in columns if c in shared]
        if bad:
            raise ValueError(f"{where}: column(s) {', '.join(bad)} are in several parties' files (join keys, kept as "
                             f"they are)")
        out = {}
        for c in columns:
            out.setdefault(self.owner(c), []).append(c)
        return out


def read_schema(rt: Any, paths: Dict[str, str]) -> Schema:
    """Each party's CSV header, read by that party's PYU from its own file and revealed to every party (column names
    are the vertical data's schema, which SecretFlow's VDataFrame reveals anyway)."""

    def header(path):
        import pandas as pd

        return [str(c) for c in pd.read_csv(path, nrows=0).columns]

    parties = sorted(paths)
    objs = [rt.pyu(p)(header)(paths[p]) for p in parties]
    return Schema(dict(zip(parties, rt.sf.reveal(objs))))


def read_vertical(rt: Any, paths: Dict[str, str], schema: Optional[Schema] = None):
    """A SecretFlow VDataFrame of the parties' files (secretflow.data.vertical.read_csv with {PYU: path}): each
    party's PYU reads only its own file. Columns several files have (``schema.shared``, e.g. ``id``) are left out;
    a party with no other column has no partition. Row counts must agree (SecretFlow checks, revealing them)."""
    from secretflow.data.vertical import read_csv

    schema = schema or read_schema(rt, paths)
    parties = [p for p in sorted(paths) if schema.own(p)]
    if not parties:
        raise ValueError(f"no party's file has a column of its own (every column is in several files: "
                         f"{', '.join(schema.shared)})")
    pyus = {p: rt.pyu(p) for p in parties}
    return read_csv({pyus[p]: paths[p] for p in parties}, usecols={pyus[p]: schema.own(p) for p in parties})


def read_frames(rt: Any, paths: Dict[str, str], schema: Optional[Schema] = None) -> Dict[str, Any]:
    """{party: PYUObject of its pandas DataFrame}: each party's PYU reads its own file's own columns (the shared ones,
    join keys, left out; a party with no other column gets no frame). The same checks as read_vertical - the row
    counts must agree (each party's count is revealed, as SecretFlow's VDataFrame does) - but no VDataFrame: each
    secretflow.data.vertical.read_csv starts a PartitionAgent actor per party, which takes seconds and a CPU slot
    for as long as the job holds the VDataFrame. Use it when the task only transforms each party's own columns."""
    schema = schema or read_schema(rt, paths)

    def read(path, cols):
        import pandas as pd

        return pd.read_csv(path, usecols=cols)[cols]

    def rows(df):
        return int(len(df))

    parties = [p for p in sorted(paths) if schema.own(p)]
    if not parties:
        raise ValueError(f"no party's file has a column of its own (every column is in several files: "
                         f"{', '.join(schema.shared)})")
    frames = {p: rt.pyu(p)(read)(paths[p], schema.own(p)) for p in parties}
    counts = dict(zip(parties, rt.sf.reveal([rt.pyu(p)(rows)(frames[p]) for p in parties])))
    if len(set(counts.values())) > 1:
        raise ValueError(f"the parties' files have different numbers of rows: "
                         f"{', '.join(f'{p}: {n}' for p, n in counts.items())} (vertical data: the same rows in the "
                         f"same order in every file, e.g. psi outputs)")
    return frames


def frame_types(rt: Any, frames: Dict[str, Any]) -> Dict[str, Dict[str, Tuple[str, bool]]]:
    """column_types for {party: PYUObject DataFrame} (read_frames)."""

    def types(df):
        import numpy as np

        return {str(c): (str(t), bool(np.issubdtype(t, np.number)) and t != np.bool_)
                for c, t in df.dtypes.items()}

    parties = sorted(frames)
    return dict(zip(parties, rt.sf.reveal([rt.pyu(p)(types)(frames[p]) for p in parties])))


def column_types(rt: Any, vdf: Any) -> Dict[str, Dict[str, Tuple[str, bool]]]:
    """{party: {column: (dtype name, numeric)}} of each partition of ``vdf``, computed on its owner's PYU and revealed
    to every party (the schema). Plain strings and booleans: RayFed's unpickling allow-list (sfworker.tls) admits no
    pandas or SecretFlow class, so a party never reveals a Partition's own metadata objects."""

    def types(df):
        import numpy as np

        return {str(c): (str(t), bool(np.issubdtype(t, np.number)) and t != np.bool_)
                for c, t in df.dtypes.items()}

    parties = [pyu.party for pyu in vdf.partitions]
    objs = [pyu(types)(part.data) for pyu, part in vdf.partitions.items()]
    return dict(zip(parties, rt.sf.reveal(objs)))


def frames_of(vdf: Any) -> Dict[str, Any]:
    """{party: PYUObject of its pandas DataFrame} of a VDataFrame (nothing is revealed). Transform a frame on its
    owner with ``rt.pyu(party)(func)(frame, ...)``: the result stays a PYUObject of that party. (Partition.apply_func
    would reveal SecretFlow's AgentIndex objects, which the unpickling allow-list refuses in production mode.)"""
    return {pyu.party: part.data for pyu, part in vdf.partitions.items()}


def write_vertical(rt: Any, frames: Any, out_paths: Dict[str, str], in_paths: Optional[Dict[str, str]] = None,
                   schema: Optional[Schema] = None) -> None:
    """Each party writes its own frame (CSV, no index) to its output: this party to rt.output_path(its path) (the
    staging name; published when the job succeeded), the other parties' paths are passed as given (only their
    owner's run writes them). ``frames``: a VDataFrame, or {party: PYUObject of a pandas DataFrame} (frames_of, then
    transformed on the owner); a party may have none. With ``in_paths`` and ``schema``, the shared columns (join
    keys) are read back from each party's own input and the output keeps the input's column order (a transformed
    column keeps its place; new columns, e.g. one-hot, follow). Waits for the writes."""

    def write(df, in_path, keys, header, out_path):
        import pandas as pd

        parts = []
        if keys:
            parts.append(pd.read_csv(in_path, usecols=keys))
        if df is not None:
            parts.append(df.reset_index(drop=True))
        out = pd.concat(parts, axis=1) if len(parts) > 1 else parts[0]
        order = [c for c in header if c in out.columns] + [c for c in out.columns if c not in header]
        out[order].to_csv(out_path, index=False)
        return True

    if frames is not None and hasattr(frames, "partitions"):
        frames = frames_of(frames)
    frames = frames or {}
    shared = set(schema.shared) if schema is not None else set()
    done = []
    for p in sorted(out_paths):
        frame = frames.get(p)
        keys = [c for c in schema.headers.get(p, []) if c in shared] if schema is not None and in_paths else []
        header = list(schema.headers.get(p, [])) if schema is not None else []
        if frame is None and not keys:
            raise ValueError(f"party {p} has nothing to write to {out_paths[p]} (no partition, no join key)")
        path = rt.output_path(out_paths[p]) if p == rt.self_party else out_paths[p]
        done.append(rt.pyu(p)(write)(frame, (in_paths or {}).get(p), keys, header, path))
    rt.sf.wait(done)
