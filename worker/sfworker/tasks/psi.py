"""task_type "psi": SPU bucket PSI on CSV files (secretflow SPU.psi_csv).

task_config:
  keys:          [col, ...]           join column(s), same names in every party's file
  input_paths:   {party: csv}          one entry per participating party (2 for *_2PC protocols)
  output_paths:  {party: csv}          same parties as input_paths
  receiver_party: party                gets the intersection (all parties do if broadcast_result)
  protocol:      KKRT_PSI_2PC (default) | ECDH_PSI_2PC | RR22_FAST_PSI_2PC | ...
  sort:          true (default)        sort the output by the keys
  precheck_input: true (default)       check input for duplicate keys
  broadcast_result: true (default)     every party gets the intersection, not only the receiver
  curve_type:    CURVE_25519 (default) curve of ECDH protocols
  bucket_size:   1048576 (default)
  overwrite:     false (default)       replace an existing output file (else the job is refused)
result: {"reports": [{party, original_count, intersection_count}, ...],
         "intersection_count": <this party's count, -1 if it got no output>,
         "output_path": <this party's resolved output file>}
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
    allowed_keys = (
        "keys", "input_paths", "output_paths", "receiver_party", "protocol", "sort",
        "precheck_input", "broadcast_result", "curve_type", "bucket_size", "overwrite",
    )

    def validate(self, task_config: Dict[str, Any], ctx: ValidationContext) -> Tuple[Dict[str, Any], List[str]]:
        self.check_keys(task_config)
        keys = require(task_config, "keys", (list, str), "a list of column names")
        if isinstance(keys, str):
            keys = [keys]
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise ParamsError(f"task_config.keys must be a non-empty list of column names, got {keys!r}")
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
        receiver = require(task_config, "receiver_party", str, "a party name")
        if receiver not in parties:
            raise ParamsError(f"task_config.receiver_party {receiver!r} is not one of the job's parties {parties}")
        curve = optional(task_config, "curve_type", str, "CURVE_25519")
        if curve not in CURVES:
            raise ParamsError(f"task_config.curve_type: unsupported curve {curve!r} (supported: {', '.join(CURVES)})")
        bucket_size = optional(task_config, "bucket_size", int, 1 << 20)
        if bucket_size < 1:
            raise ParamsError(f"task_config.bucket_size must be >= 1, got {bucket_size}")
        cfg = {
            "keys": list(keys),
            "input_paths": inputs,
            "output_paths": outputs,
            "receiver_party": receiver,
            "protocol": protocol,
            "sort": optional(task_config, "sort", bool, True),
            "precheck_input": optional(task_config, "precheck_input", bool, True),
            "broadcast_result": optional(task_config, "broadcast_result", bool, True),
            "curve_type": curve,
            "bucket_size": bucket_size,
            "overwrite": overwrite,
        }
        return cfg, parties

    def run(self, cfg: Dict[str, Any], rt: Any) -> Dict[str, Any]:
        pyus = {p: rt.pyu(p) for p in rt.parties}
        reports = rt.spu.psi_csv(
            cfg["keys"],
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
        mine = next((r for r in reports if r["party"] == rt.self_party), None)
        return {
            "reports": reports,
            "intersection_count": mine["intersection_count"] if mine else None,
            "output_path": cfg["output_paths"][rt.self_party],
        }
