"""Self-test of the installed worker: `python -m sfworker.selftest` (also `sfworker selftest`).

Imports the worker, loads the task registry and, for every registered task type, imports the SecretFlow modules it
declares (``TaskType.sf_modules``). Prints one line per type and a summary; exits 1 if a type does not declare
``sf_modules`` (or declares something that is not a tuple of dotted module names) or one of its modules does not
import - the image build runs it (roles/image/templates/Dockerfile.j2), so an image whose SecretFlow lacks a module a
task type needs (a slim image without torch/TensorFlow, a changed lock) is never built.

Needs no worker config, no Redis, no Ray cluster.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import time
from typing import Any, Callable, Dict, List, Optional

_MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def check_type(name: str, task: Any, importer: Callable[[str], Any] = importlib.import_module) -> Dict[str, Any]:
    """One task type: {"type", "ok", "modules": {module: "ok" | error}, "error"?, "seconds"}."""
    t0 = time.monotonic()
    report: Dict[str, Any] = {"type": name, "ok": True, "modules": {}}
    declared = getattr(type(task), "sf_modules", None)
    if declared is None:
        report.update(ok=False, error=f"{type(task).__module__}.{type(task).__qualname__} does not declare "
                                      f"sf_modules (the SecretFlow modules its run() imports; () if none)")
    elif not isinstance(declared, tuple) or not all(isinstance(m, str) and _MODULE_RE.match(m) for m in declared):
        report.update(ok=False, error=f"sf_modules must be a tuple of dotted module names, got {declared!r}")
    else:
        for mod in declared:
            try:
                importer(mod)
                report["modules"][mod] = "ok"
            except Exception as e:  # noqa: BLE001  (ImportError, or whatever the module raises at import)
                report["modules"][mod] = f"{type(e).__name__}: {e}"
                report["ok"] = False
    report["seconds"] = round(time.monotonic() - t0, 3)
    return report


def run_selftest(importer: Callable[[str], Any] = importlib.import_module) -> Dict[str, Any]:
    from . import celery_app, cli, job, params  # noqa: F401  (the worker's own modules import)
    from .tasks import registry

    registry.load_task_modules()
    types = [check_type(name, registry.get_task_type(name), importer) for name in registry.known_task_types()]
    return {"ok": bool(types) and all(t["ok"] for t in types), "types": types}


def format_report(report: Dict[str, Any]) -> str:
    lines = []
    for t in report["types"]:
        mods = ", ".join(m if v == "ok" else f"{m} FAILED ({v})" for m, v in t["modules"].items()) or "no module"
        detail = t.get("error") or mods
        lines.append(f"{'ok  ' if t['ok'] else 'FAIL'} {t['type']}: {detail}")
    bad = [t["type"] for t in report["types"] if not t["ok"]]
    n_mods = len({m for t in report["types"] for m in t["modules"]})
    if not report["types"]:
        lines.append("sfworker self-test: FAILED: no task type is registered")
    elif bad:
        lines.append(f"sfworker self-test: FAILED: {len(bad)} of {len(report['types'])} task types: {', '.join(bad)}")
    else:
        lines.append(f"sfworker self-test: ok: {len(report['types'])} task types, {n_mods} SecretFlow modules imported")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="sfworker selftest", description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    report = run_selftest()
    print(json.dumps(report, indent=2) if args.json else format_report(report), flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
