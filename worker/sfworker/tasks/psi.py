"""task_type "psi": SPU bucket PSI on CSV files (secretflow SPU.psi_csv).

task_config:
  keys:          [col, ...]           join column(s), same names in every party's file, or
                 {party: [col, ...]}  each party's own column names (the original worker's form; the same parties
                                      as input_paths, the same number of columns each)
  input_paths:   {party: csv}          one entry per participating party (2 for *_2PC protocols)
  output_paths:  {party: csv}          same parties as input_paths
  receiver_party: party                gets the intersection (all parties do if broadcast_result);
                                       ``receiver`` (the original worker's name) is accepted as well
  protocol:      KKRT_PSI_2PC (default) | ECDH_PSI_2PC | RR22_FAST_PSI_2PC | ...
  sort:          true (default)        sort the output by the keys
  precheck_input: true (default)       check input for duplicate keys
  broadcast_result: true (default)     every party gets the intersection, not only the receiver
  curve_type:    CURVE_25519 (default) curve of ECDH protocols
  bucket_size:   1048576 (default)
  overwrite:     false (default)       replace an existing output file (else the job is refused)
  intersection_count_of: self (default) | receiver   whose count the result's intersection_count is: this
                                       party's (-1 if it got no output) or the receiver's (the original worker's
                                       meaning; sfworker.compat sets it for the original's messages)
result: {"reports": [{party, original_count, intersection_count}, ...],
         "intersection_count": <see intersection_count_of>,
         "output_path": <this party's resolved output file; null if it is not the receiver and broadcast_result
                         is false>,
         and the original worker's fields: "output_paths": {party: path}, "psi_protocol", "receiver", "parties"}
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from ..errors import ParamsError
from .registry import TaskType, ValidationContext, optional, register_task, require

PROTOCOL_PARTIES = {
    "ECDH_PSI_2PC": (2, 2),
    "KKRT_PSI_2PC": (2, 2),
    "RR22_FAST_PSI_2PC": (2, 2),
    "RR22_LOWCOMM_PSI_2PC": (2, 2),
    "RR22_MALICIOUS_PSI_2PC": (2, 2),
    "DP_PSI_2PC": (2, 2),
    "ECDH_PSI_3PC": (3, 3),
    "ECDH_PSI_NPC": (2, 64),
    "KKRT_PSI_NPC": (2, 64),
}
CURVES = ("CURVE_25519", "CURVE_FOURQ", "CURVE_SM2", "CURVE_SECP256K1")


@register_task("psi")
class PsiTask(TaskType):
    needs_spu = True
    sf_modules = ("secretflow.device.device.spu",)  # SPU.psi_csv
    allowed_keys = (
        "keys", "input_paths", "output_paths", "receiver_party", "protocol", "sort",
        "precheck_input", "broadcast_result", "curve_type", "bucket_size", "overwrite",
        "receiver", "intersection_count_of",
    )

    def validate(self, task_config: Dict[str, Any], ctx: ValidationContext) -> Tuple[Dict[str, Any], List[str]]:
        self.check_keys(task_config)
        keys = require(task_config, "keys", (list, str, dict),
                       "a list of column names, or a mapping party -> list of column names")
        if not isinstance(keys, dict):
            keys = _columns(keys, "task_config.keys")
        protocol = optional(task_config, "protocol", str, "KKRT_PSI_2PC")
        if protocol not in PROTOCOL_PARTIES:
            raise ParamsError(f"task_config.protocol: unsupported protocol {protocol!r} (supported: {', '.join(sorted(PROTOCOL_PARTIES))})")
        overwrite = optional(task_config, "overwrite", bool, False)
        inputs = ctx.party_path_map(task_config, "input_paths", "input")
        outputs = ctx.party_path_map(task_config, "output_paths", "output", overwrite=overwrite)
        if set(inputs) != set(outputs):
            raise ParamsError(
                f"task_config.output_paths parties {sorted(outputs)} differ from input_paths parties {sorted(inputs)}"
            )
        parties = sorted(inputs)
        lo, hi = PROTOCOL_PARTIES[protocol]
        if not lo <= len(parties) <= hi:
            raise ParamsError(f"task_config.protocol {protocol} needs {lo if lo == hi else f'{lo}-{hi}'} parties, got {len(parties)}: {parties}")
        if isinstance(keys, dict):
            keys = _party_columns(keys, parties, sorted(ctx.config.parties))
        receiver = _receiver(task_config)
        if receiver not in parties:
            raise ParamsError(f"task_config.receiver_party {receiver!r} is not one of the job's parties {parties}")
        count_of = optional(task_config, "intersection_count_of", str, "self")
        if count_of not in ("self", "receiver"):
            raise ParamsError(f"task_config.intersection_count_of must be 'self' or 'receiver', got {count_of!r}")
        curve = optional(task_config, "curve_type", str, "CURVE_25519")
        if curve not in CURVES:
            raise ParamsError(f"task_config.curve_type: unsupported curve {curve!r} (supported: {', '.join(CURVES)})")
        broadcast = optional(task_config, "broadcast_result", bool, True)
        if not broadcast and receiver != ctx.self_party:
            # SecretFlow writes no file for a party that is not the receiver: nothing to stage or publish (else the
            # job would report this party's output as "not written on this node")
            ctx.outputs.pop(outputs[ctx.self_party], None)
        bucket_size = optional(task_config, "bucket_size", int, 1 << 20)
        if bucket_size < 1:
            raise ParamsError(f"task_config.bucket_size must be >= 1, got {bucket_size}")
        cfg = {
            "keys": keys,
            "input_paths": inputs,
            "output_paths": outputs,
            "receiver_party": receiver,
            "protocol": protocol,
            "sort": optional(task_config, "sort", bool, True),
            "precheck_input": optional(task_config, "precheck_input", bool, True),
            "broadcast_result": broadcast,
            "curve_type": curve,
            "bucket_size": bucket_size,
            "overwrite": overwrite,
            "intersection_count_of": count_of,
        }
        return cfg, parties

    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        pyus = {p: rt.pyu(p) for p in rt.parties}
        keys = cfg["keys"]
        if isinstance(keys, dict):  # each party's own columns: SPU.psi_csv takes {PYU: [columns]}
            keys = {pyus[p]: list(keys[p]) for p in rt.parties}
        reports = rt.spu.psi_csv(
            keys,
            {pyus[p]: cfg["input_paths"][p] for p in rt.parties},
            # this party writes under a staging name, renamed when the job succeeded (rt.output_path)
            {pyus[p]: rt.output_path(cfg["output_paths"][p]) if p == rt.self_party else cfg["output_paths"][p]
             for p in rt.parties},
            cfg["receiver_party"],
            protocol=cfg["protocol"],
            precheck_input=cfg["precheck_input"],
            sort=cfg["sort"],
            broadcast_result=cfg["broadcast_result"],
            bucket_size=cfg["bucket_size"],
            curve_type=cfg["curve_type"],
        )
        reports = [
            {"party": r["party"], "original_count": int(r["original_count"]), "intersection_count": int(r["intersection_count"])}
            for r in reports
        ]
        whose = rt.self_party if cfg.get("intersection_count_of", "self") == "self" else cfg["receiver_party"]
        counted = next((r for r in reports if r["party"] == whose), None)
        return {
            "reports": reports,
            "intersection_count": counted["intersection_count"] if counted else None,
            # None: this party is not the receiver and the result is not broadcast, so it got no file
            "output_path": (cfg["output_paths"][rt.self_party]
                            if cfg["broadcast_result"] or rt.self_party == cfg["receiver_party"] else None),
            # the original worker's result fields
            "output_paths": dict(cfg["output_paths"]),
            "psi_protocol": cfg["protocol"],
            "receiver": cfg["receiver_party"],
            "parties": list(rt.parties),
        }


def _columns(value: Any, where: str) -> List[str]:
    """A non-empty list of non-empty column names (a single string is one column)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(k, str) and k for k in value):
        raise ParamsError(f"{where} must be a non-empty list of column names, got {value!r}")
    return list(value)


def _party_columns(keys: Dict[Any, Any], parties: List[str], known: List[str]) -> Dict[str, List[str]]:
    """The original worker's keys {party: [columns]}: exactly the job's parties, the same number of columns each."""
    for p in keys:
        if p not in known:
            raise ParamsError(f"task_config.keys.{p}: unknown party {p!r} (parties in this deployment: "
                              f"{', '.join(known)})")
    if set(keys) != set(parties):
        raise ParamsError(f"task_config.keys: parties {', '.join(sorted(map(str, keys)))} differ from the job's "
                          f"parties {', '.join(parties)} (the keys of task_config.input_paths)")
    out = {p: _columns(keys[p], f"task_config.keys.{p}") for p in parties}
    counts = {p: len(cols) for p, cols in out.items()}
    if len(set(counts.values())) != 1:
        raise ParamsError(f"task_config.keys: every party joins on the same number of columns, got "
                          f"{', '.join(f'{p}: {n}' for p, n in sorted(counts.items()))}")
    return out


def _receiver(task_config: Dict[str, Any]) -> str:
    """receiver_party, or the original worker's name for it, receiver; both given must agree."""
    own, alias = task_config.get("receiver_party"), task_config.get("receiver")
    if own is not None and alias is not None and own != alias:
        raise ParamsError(f"task_config.receiver {alias!r} and task_config.receiver_party {own!r} disagree "
                          f"(receiver is the original worker's name of receiver_party: send one of them)")
    if own is None and alias is not None:
        if not isinstance(alias, str):
            raise ParamsError(f"task_config.receiver must be a party name, got {type(alias).__name__} {alias!r}")
        return alias
    return require(task_config, "receiver_party", str,
                   "a party name; the original worker's name receiver is accepted too")
