"""Probe the party's own Ray cluster through the GCS, without becoming a Ray driver.

`python -m sfworker.raycheck HOST:PORT` prints one JSON line:
    {"reachable": true, "address": ..., "alive_nodes": 1,
     "nodes": [{"node_id": "<Ray NodeName>", "ray_node_id": "<hex>", "alive": true}]}
It uses ray._raylet.GcsClient.get_all_node_info (Ray 2.9): no ray.init, no job is created,
running jobs are not touched, and the dashboard is not needed (`ray list nodes` needs it).
The worker runs it in a subprocess with a timeout (probe_ray) so a hung GCS cannot hang it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Dict

from .envhygiene import clean_child_env, scrub_ray_env


def _probe_inline(address: str, timeout_s: float) -> Dict[str, Any]:
    scrub_ray_env()
    from ray._raylet import GcsClient

    client = GcsClient(address=address, nums_reconnect_retry=0)
    infos = client.get_all_node_info(timeout=timeout_s)
    nodes = []
    for node_id, info in infos.items():
        name = info.get("node_name", b"")
        name = name.decode() if isinstance(name, bytes) else str(name)
        nodes.append({
            "node_id": name,
            "ray_node_id": node_id.hex() if hasattr(node_id, "hex") else str(node_id),
            "alive": info.get("state") == 0,  # GcsNodeInfo.GcsNodeState: ALIVE=0, DEAD=1
        })
    nodes.sort(key=lambda n: (not n["alive"], n["node_id"]))
    return {
        "reachable": True,
        "address": address,
        "alive_nodes": sum(1 for n in nodes if n["alive"]),
        "nodes": nodes,
    }


def probe_ray(address: str, timeout_s: float = 10.0, python: str = sys.executable) -> Dict[str, Any]:
    try:
        cp = subprocess.run(
            [python, "-m", "sfworker.raycheck", address, str(timeout_s)],
            capture_output=True, text=True, timeout=timeout_s + 20, env=clean_child_env(),
        )
    except subprocess.TimeoutExpired:
        return {"reachable": False, "address": address, "error": f"probe timed out after {timeout_s + 20:g}s"}
    lines = [ln for ln in cp.stdout.splitlines() if ln.startswith("{")]
    if lines:
        try:
            return json.loads(lines[-1])
        except ValueError:
            pass
    err = (cp.stderr.strip().splitlines() or ["no output"])[-1]
    return {"reachable": False, "address": address, "error": f"probe exited {cp.returncode}: {err[:500]}"}


def main() -> None:
    address = sys.argv[1]
    timeout_s = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    try:
        res = _probe_inline(address, timeout_s)
    except Exception as e:  # noqa: BLE001
        res = {"reachable": False, "address": address, "error": f"{type(e).__name__}: {str(e).strip()[:500]}"}
    print(json.dumps(res), flush=True)
    sys.exit(0 if res.get("reachable") else 1)


if __name__ == "__main__":
    main()
