"""Console entry point `sfworker`.

    sfworker [--config FILE] worker [--concurrency N] [--loglevel LEVEL]
    sfworker [--config FILE] healthcheck [--timeout S] [--json]
    sfworker [--config FILE] check-config
    sfworker [--config FILE] drain [--timeout S] [--poll S]
    sfworker [--config FILE] undrain
    sfworker selftest [--json]
    sfworker [--config FILE] tls-probe --party bob [--link fed|spu] [--slot K | --port N] [--no-cert | --stranger | --cert X --key Y]
    sfworker [--config FILE] tls-listen --port N [--seconds S] [--count N]
    sfworker [--config FILE] tls-info
    sfworker submit --party alice=redis://host:port/0 --password-file alice=FILE --party bob=... --params job.json [...]

The config file path: --config, else $SFWORKER_CONFIG, else /etc/sfworker/config.yml.
`submit` needs no config file and never imports secretflow or ray.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from .envhygiene import scrub_ray_env


def _load(args):
    from .config import load_config
    from .errors import ConfigError

    try:
        return load_config(args.config)
    except ConfigError as e:
        print(f"sfworker: {e}", file=sys.stderr)
        sys.exit(2)


def cmd_worker(args) -> int:
    cfg = _load(args)
    scrub_ray_env()
    import logging

    logging.basicConfig(level=getattr(logging, cfg.log_level.upper()),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .celery_app import create_app

    app = create_app(cfg)
    concurrency = args.concurrency or cfg.concurrency
    argv = [
        "worker",
        "--queues", cfg.queue,
        "--concurrency", str(concurrency),
        "--pool", "prefork",
        "--hostname", cfg.worker_name,
        "--loglevel", (args.loglevel or cfg.log_level).upper(),
        "--without-gossip",
        "--without-mingle",
    ]
    print(f"sfworker: party={cfg.party} node_id={cfg.node_id} queue={cfg.queue} concurrency={concurrency} "
          f"broker={cfg.redacted_redis_url()} ray={cfg.ray_address}", file=sys.stderr, flush=True)
    from .config import insecure_protocols

    for why in insecure_protocols(cfg):
        print(f"sfworker: WARNING: spu_protocols allows {why}", file=sys.stderr, flush=True)
    app.worker_main(argv=argv)
    return 0


def cmd_healthcheck(args) -> int:
    """Exit 0 when Ray answers and this node's Celery worker answers a ping (container healthcheck)."""
    cfg = _load(args)
    from .celery_app import create_app
    from .health import check_ray

    ray = check_ray(cfg, timeout_s=args.timeout)
    ping = {}
    try:
        app = create_app(cfg)
        replies = app.control.ping(destination=[cfg.worker_name], timeout=args.timeout)
        ping = {k: v for d in replies for k, v in d.items()}
    except Exception as e:  # noqa: BLE001
        ping = {"error": f"{type(e).__name__}: {e}"}
    worker_ok = cfg.worker_name in ping
    # healthy = the GCS answers AND this node (its --node-name) is alive in it: a worker node whose own
    # raylet died is unhealthy even though its head still answers.
    ray_ok = ray.get("status") == "healthy"
    report = {"ok": worker_ok and ray_ok, "worker": cfg.worker_name, "worker_ping": ping, "ray": ray}
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        problem = ray.get('error') or ray.get('warning')
        print(f"ray: {'ok' if ray_ok else 'FAIL'} ({ray.get('alive_nodes', 0)} alive node(s) at {cfg.ray_address}"
              f"{'; ' + str(problem) if problem else ''}); "
              f"worker {cfg.worker_name}: {'ok' if worker_ok else 'FAIL (no ping reply)'}")
    return 0 if report["ok"] else 1


def cmd_drain(args) -> int:
    """Stop this node's worker taking jobs and wait for the ones it holds (sfworker.drain); JSON on stdout."""
    cfg = _load(args)
    from .celery_app import create_app
    from .drain import drain, undrain

    app = create_app(cfg)
    try:
        if args.cmd == "undrain":
            report = undrain(app, cfg.worker_name, cfg.queue)
        else:
            report = drain(app, cfg.worker_name, cfg.queue, timeout_s=args.timeout, poll_s=args.poll)
    finally:
        app.close()
    print(json.dumps(report, indent=2))
    return report["exit"]


def cmd_check_config(args) -> int:
    cfg = _load(args)
    d = cfg.to_dict()
    d["redis_url"] = cfg.redacted_redis_url()
    print(json.dumps(d, indent=2))
    return 0


def cmd_selftest(args) -> int:
    from .selftest import main as selftest_main

    return selftest_main(["--json"] if args.json else [])


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="sfworker", description="SecretFlow worker (Celery + SecretFlow production mode)")
    ap.add_argument("--config", help="config file (default: $SFWORKER_CONFIG or /etc/sfworker/config.yml)")
    sub = ap.add_subparsers(dest="cmd", required=True)

    w = sub.add_parser("worker", help="run the Celery worker")
    w.add_argument("--concurrency", type=int, help="pool processes = max concurrent jobs (default: config concurrency)")
    w.add_argument("--loglevel", help="celery log level (default: config log_level)")
    w.set_defaults(func=cmd_worker)

    h = sub.add_parser("healthcheck", help="exit 0 if Ray answers and this worker answers a ping")
    h.add_argument("--timeout", type=float, default=5.0)
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=cmd_healthcheck)

    c = sub.add_parser("check-config", help="validate the config file and print it (password redacted)")
    c.set_defaults(func=cmd_check_config)

    d = sub.add_parser("drain", help="stop this node's worker taking jobs; wait for the jobs it holds "
                                     "(exit 0 drained, 1 busy at --timeout, 3 no answer)")
    d.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for running jobs (default 600)")
    d.add_argument("--poll", type=float, default=2.0, help="seconds between checks (default 2)")
    d.set_defaults(func=cmd_drain)
    u = sub.add_parser("undrain", help="let this node's worker take jobs again (after drain, same container)")
    u.set_defaults(func=cmd_drain)

    st = sub.add_parser("selftest", help="import every registered task type's SecretFlow modules (no config needed)")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_selftest)

    from .submit import add_submit_parser
    from .tlscli import add_tls_parsers

    add_submit_parser(sub)
    add_tls_parsers(sub)
    return ap


def main(argv: Optional[List[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
