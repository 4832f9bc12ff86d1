"""`python -m airflow_report_provider.simulator --port 8090`: run the simulator in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence

from .config import SimulatorConfig
from .server import Simulator


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m airflow_report_provider.simulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (0.0.0.0 in containers)")
    p.add_argument("--port", type=int, default=8090, help="port (0 = any free port)")
    p.add_argument("--public-url", help="base URL written into Walmart download URLs (default: the Host used)")
    p.add_argument("--criteo-job-seconds", type=float, help="seconds from create to Done")
    p.add_argument("--walmart-job-seconds", type=float, help="seconds from create to READY")
    p.add_argument("--report-bytes", type=int, help="approximate size of every report (Criteo body, Walmart CSV)")
    p.add_argument("--rows", type=int, help="rows per report (when --report-bytes is not given)")
    p.add_argument("--walmart-file-format", choices=["zip", "gzip", "plain"])
    p.add_argument("--criteo-rate-limit", type=int, help="Criteo calls per minute per client (real API: 40)")
    p.add_argument("--walmart-create-limit-per-hour", type=int, help="0 = off (real API: 1 per report type)")
    p.add_argument("--token-lifetime", type=float, help="token lifetime in seconds (default 900)")
    p.add_argument("--seed", type=int, help="content seed")
    p.add_argument(
        "--credential",
        action="append",
        default=[],
        metavar="ID:SECRET",
        help="extra client credential accepted by both APIs (repeatable)",
    )
    p.add_argument("--config-json", help="JSON object of SimulatorConfig fields (applied first)")
    return p.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    cfg = SimulatorConfig(**json.loads(args.config_json)) if args.config_json else SimulatorConfig()
    simple = {
        "criteo_job_seconds": args.criteo_job_seconds,
        "walmart_job_seconds": args.walmart_job_seconds,
        "walmart_file_format": args.walmart_file_format,
        "criteo_rate_limit_per_minute": args.criteo_rate_limit,
        "walmart_create_limit_per_hour": args.walmart_create_limit_per_hour,
        "token_lifetime_seconds": args.token_lifetime,
        "seed": args.seed,
        "public_url": args.public_url,
    }
    for name, value in simple.items():
        if value is not None:
            setattr(cfg, name, value)
    if args.report_bytes is not None:
        cfg.criteo_report_bytes = cfg.walmart_report_bytes = args.report_bytes
    if args.rows is not None:
        cfg.criteo_rows = cfg.walmart_rows = args.rows
    for item in args.credential:
        client_id, _, secret = item.partition(":")
        cfg.extra_credentials[client_id] = secret
    return cfg


async def serve(cfg: SimulatorConfig, host: str, port: int) -> None:
    async with Simulator(cfg, host=host, port=port) as sim:
        print(f"Report API simulator listening on {sim.url}", flush=True)
        print(
            f"  Criteo MPO : host={sim.url} login={cfg.criteo_client_id} password={cfg.criteo_client_secret}"
            " (extra api_version=preview)",
            flush=True,
        )
        print(
            f"  Walmart    : host={sim.url} login={cfg.walmart_client_id} password={cfg.walmart_client_secret}",
            flush=True,
        )
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config_from_args(args), args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
