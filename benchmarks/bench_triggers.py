"""Trigger-scale benchmark: 1,000 report waits in one event loop, like a triggerer, against the simulator.

The simulator runs in this (orchestrating) process with the APIs' limits switched on: Criteo 40 calls per
minute per application (documented), Walmart status polls 10 per minute per seller (Walmart publishes no
figure; this is the provider's own assumption). Each variant runs in a fresh child process that holds every
trigger in one asyncio loop, so its memory, CPU and loop lag are its own:

  provider   CriteoMpoReportTrigger / WalmartReportTrigger with their default schedules and connection defaults
             (shared token per credential, per-credential limiter, adaptive polling, one aiohttp session)
  naive      a minimal hand-written trigger: a fresh token before every poll, a fixed 5 s interval, no limiter,
             one aiohttp session per trigger

Credentials: a deployment waits for many advertisers and sellers at once. By default half the jobs are Criteo
exports spread over 50 applications (10 exports each) and half are Walmart requests spread over 100 sellers
(5 each, as Walmart allows one request per report type per hour). Jobs become Done between 0.5x and 1.5x
``--job-seconds`` after creation (seeded random).

Usage: ``python benchmarks/bench_triggers.py [--jobs 1000] [--job-seconds 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (  # noqa: E402
    ChildRun,
    airflow_env,
    connection_value,
    emit,
    percentile,
    print_table,
    run_child,
    self_cpu_seconds,
    self_peak_rss_mib,
    verdict,
)

CRITEO_LIMIT = 40  # calls per minute per application (Criteo reporting endpoints, documented)
WALMART_STATUS_LIMIT = 10  # calls per minute per seller (no published figure; the provider's assumption)
TOKEN_LIFETIME = 900.0  # seconds, as both APIs issue them
NAIVE_INTERVAL = 5.0
TICK = 0.02  # lag probe period, seconds
STARTUP_SECONDS = 10.0  # CPU is reported for the start-up (connections, tokens, first polls) and the rest
TARGETS = {"rss": 200.0, "lag_p99_ms": 100.0, "tokens_per_credential_lifetime": 1.0, "throttled": 0}


# ----------------------------------------------------------------------------------------------- children


def _import_everything() -> None:
    """Both variants import the same modules before the RSS baseline is taken."""
    import aiohttp  # noqa: F401
    from airflow.triggers.base import BaseTrigger  # noqa: F401

    import airflow_report_provider.triggers.criteo_mpo  # noqa: F401
    import airflow_report_provider.triggers.walmart  # noqa: F401


def _provider_trigger(job: dict[str, Any]) -> Any:
    from airflow_report_provider.triggers.criteo_mpo import CriteoMpoReportTrigger
    from airflow_report_provider.triggers.walmart import WalmartReportTrigger

    if job["api"] == "criteo":
        return CriteoMpoReportTrigger(report_id=job["id"], criteo_mpo_conn_id=job["conn_id"])
    return WalmartReportTrigger(request_id=job["id"], walmart_conn_id=job["conn_id"])


class NaiveTrigger:
    """A first-cut trigger: a new token before every poll, a fixed interval, no limiter, its own session.

    It builds and parses requests with the provider's protocol modules, so only the waiting policy differs.
    """

    def __init__(self, job: dict[str, Any], interval: float = NAIVE_INTERVAL) -> None:
        self.job = job
        self.interval = interval
        self.throttled = 0
        self.polls = 0

    def _protocol(self) -> tuple[Any, Any]:
        from airflow_report_provider.apis.criteo_mpo import CriteoMpoProtocol
        from airflow_report_provider.apis.walmart import WalmartProtocol
        from airflow_report_provider.common.http.protocol import Credentials

        conn = json.loads(os.environ[f"AIRFLOW_CONN_{self.job['conn_id'].upper()}"])
        credentials = Credentials(host=conn["host"], client_id=conn["login"], client_secret=conn["password"])
        protocol = CriteoMpoProtocol(host=conn["host"]) if self.job["api"] == "criteo" else WalmartProtocol(host=conn["host"])
        return protocol, credentials

    async def run(self) -> Any:
        import aiohttp

        from airflow_report_provider.common.http.messages import Headers, HttpResponse

        protocol, credentials = self._protocol()
        parse = protocol.parse_job if self.job["api"] == "criteo" else protocol.parse_request

        async def send(session: aiohttp.ClientSession, request: Any) -> HttpResponse:
            async with session.request(
                request.method, request.url, params=request.params, data=request.form, json=request.json, headers=dict(request.headers)
            ) as raw:
                return HttpResponse(raw.status, Headers(raw.headers), await raw.read())

        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    token = protocol.parse_token(await send(session, protocol.token_request(credentials))).value
                    answer = await send(session, protocol.authorize(protocol.status_request(self.job["id"]), token))
                    self.polls += 1
                    if answer.status == 429:
                        self.throttled += 1
                    elif answer.ok:
                        status = parse(answer)
                        if status.state.is_terminal:
                            yield {"status": "success" if status.raw_status in ("Done", "READY") else "failed"}
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(self.interval)


async def _drive(jobs: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    lags: list[float] = []

    worst = (0.0, 0.0)  # (lag, seconds into the run)
    begin = loop.time()

    async def ticker() -> None:
        nonlocal worst
        while True:
            started = loop.time()
            await asyncio.sleep(TICK)
            lag = loop.time() - started - TICK
            lags.append(lag)
            if lag > worst[0]:
                worst = (lag, started - begin)

    events: dict[str, tuple[str, float, Any]] = {}
    naive_throttled: list[int] = []

    async def wait(job: dict[str, Any]) -> None:
        if mode == "provider":
            async for event in _provider_trigger(job).run():
                events[job["id"]] = (event.payload["status"], time.time(), event.payload.get("polls"))
        else:
            trigger = NaiveTrigger(job)
            async for payload in trigger.run():
                events[job["id"]] = (payload["status"], time.time(), trigger.polls)
            naive_throttled.append(trigger.throttled)

    pauses: list[float] = []  # full (generation 2) garbage collections: they stop the loop too
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        elif info.get("generation") == 2:
            pauses.append(time.perf_counter() - gc_started[0])

    cpu_marks: list[float] = []

    async def mark_startup() -> None:
        cpu_marks.append(self_cpu_seconds())
        await asyncio.sleep(STARTUP_SECONDS)
        cpu_marks.append(self_cpu_seconds())

    probe = asyncio.create_task(ticker())
    marker = asyncio.create_task(mark_startup())
    gc.callbacks.append(on_gc)
    started = time.time()
    try:
        await asyncio.gather(*(wait(job) for job in jobs))
    finally:
        gc.callbacks.remove(on_gc)
    finished = time.time()
    probe.cancel()
    marker.cancel()
    cpu_marks.append(self_cpu_seconds())
    return {
        "started": started,
        "finished": finished,
        "events": events,
        "lags": lags,
        "lag_max_at_s": worst[1],
        "cpu_startup_seconds": cpu_marks[1] - cpu_marks[0] if len(cpu_marks) == 3 else None,
        "cpu_after_startup_seconds": cpu_marks[2] - cpu_marks[1] if len(cpu_marks) == 3 else None,
        "gc_full_collections": len(pauses),
        "gc_longest_pause_ms": max(pauses, default=0.0) * 1000,
        "client_seen_429": sum(naive_throttled),
    }


def child_main(args: argparse.Namespace) -> dict[str, Any]:
    jobs = json.loads(Path(args.jobs_file).read_text())
    _import_everything()
    rss_before = self_peak_rss_mib()
    cpu_before = self_cpu_seconds()
    result = asyncio.run(asyncio.wait_for(_drive(jobs, args.child), timeout=args.max_seconds))
    lags = result.pop("lags")
    result.update(
        {
            "rss_before_mib": rss_before,
            "rss_peak_mib": self_peak_rss_mib(),
            "cpu_seconds": self_cpu_seconds() - cpu_before,
            "lag_p50_ms": percentile(lags, 50) * 1000,
            "lag_p99_ms": percentile(lags, 99) * 1000,
            "lag_max_ms": max(lags, default=0.0) * 1000,
            "lag_samples": len(lags),
        }
    )
    return result


# ----------------------------------------------------------------------------------------------- parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=1000, help="triggers per variant, half Criteo, half Walmart")
    p.add_argument("--job-seconds", type=float, default=30.0, help="mean seconds from creation to Done")
    p.add_argument("--criteo-per-credential", type=int, default=10, help="Criteo exports per application")
    p.add_argument("--walmart-per-credential", type=int, default=5, help="Walmart requests per seller")
    p.add_argument("--only", choices=["provider", "naive"], help="run one variant")
    p.add_argument("--max-seconds", type=float, default=900.0, help="give up on a variant after this long")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", help="also write the figures to this JSON file")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed (default: report only)")
    p.add_argument("--child", choices=["provider", "naive"], help=argparse.SUPPRESS)
    p.add_argument("--jobs-file", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def plan_credentials(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One dict per job: api, credential index. Half Criteo, half Walmart (Criteo gets the odd one)."""
    criteo = (args.jobs + 1) // 2
    walmart = args.jobs - criteo
    jobs = [{"api": "criteo", "cred": i // args.criteo_per_credential} for i in range(criteo)]
    jobs += [{"api": "walmart", "cred": i // args.walmart_per_credential} for i in range(walmart)]
    return jobs


def run_variant(mode: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from airflow_report_provider.simulator import SimulatorConfig, run_simulator
    from airflow_report_provider.simulator.testing import (
        create_criteo_export,
        create_walmart_request,
        criteo_token,
        walmart_token,
    )

    plan = plan_credentials(args)
    credentials = {(job["api"], job["cred"]) for job in plan}
    secrets = {f"{api}-bench-{cred}": f"secret-{api}-{cred}" for api, cred in credentials}
    config = SimulatorConfig(
        extra_credentials=secrets,
        token_lifetime_seconds=TOKEN_LIFETIME,
        walmart_create_limit_per_hour=0,  # arranging the jobs; the benchmark measures waiting
        stats_max_records=1_000_000,
    )
    rng = random.Random(args.seed)
    with run_simulator(config) as sim:
        tokens: dict[tuple[str, int], str] = {}
        jobs = []
        for job in plan:
            key = (job["api"], job["cred"])
            client_id = f"{job['api']}-bench-{job['cred']}"
            seconds = rng.uniform(0.5, 1.5) * args.job_seconds
            if job["api"] == "criteo":
                if key not in tokens:
                    tokens[key] = criteo_token(sim, client_id, secrets[client_id])
                sim.config.criteo_job_seconds = seconds
                job_id = create_criteo_export(sim, tokens[key])
            else:
                if key not in tokens:
                    tokens[key] = walmart_token(sim, client_id, secrets[client_id])
                sim.config.walmart_job_seconds = seconds
                job_id = create_walmart_request(sim, tokens[key])["requestId"]
            jobs.append({"api": job["api"], "id": job_id, "conn_id": f"{job['api']}_bench_{job['cred']}", "client_id": client_id})
        jobs_file = workdir / f"jobs-{mode}.json"
        jobs_file.write_text(json.dumps(jobs))
        env = airflow_env(str(workdir / "airflow-home"))
        for api, cred in credentials:
            conn_type = "criteo_mpo" if api == "criteo" else "walmart_marketplace"
            client_id = f"{api}-bench-{cred}"
            env[f"AIRFLOW_CONN_{api.upper()}_BENCH_{cred}"] = connection_value(conn_type, sim.url, client_id, secrets[client_id], {})
        # The documented limits, from now on; the stats count the waiting only.
        sim.stats.reset()
        sim.config.criteo_rate_limit_per_minute = CRITEO_LIMIT
        sim.config.walmart_status_rate_limit_per_minute = WALMART_STATUS_LIMIT
        print(f"running {mode}: {len(jobs)} triggers on {len(credentials)} credentials ...", flush=True)
        run = run_child(
            mode,
            [__file__, "--child", mode, "--jobs-file", str(jobs_file), "--max-seconds", str(args.max_seconds)],
            env,
            timeout=args.max_seconds + 120,
        )
        done_times = sim.job_done_times
        stats = {
            "calls": dict(sim.stats.calls),
            "tokens_issued": dict(sim.stats.tokens_issued),
            "throttled": dict(sim.stats.throttled),
        }
    return summarise(mode, run, jobs, done_times, stats, len(credentials))


def summarise(
    mode: str, run: ChildRun, jobs: list[dict[str, Any]], done_times: dict[str, float], stats: dict[str, Any], n_credentials: int
) -> dict[str, Any]:
    result = run.result
    events = result["events"]
    delays: dict[str, list[float]] = {"criteo": [], "walmart": []}
    for job in jobs:
        if job["id"] in events:
            delays[job["api"]].append(events[job["id"]][1] - done_times[job["id"]])
    seconds = result["finished"] - result["started"]
    tokens = sum(stats["tokens_issued"].values())
    lifetimes = max(1, math.ceil(seconds / TOKEN_LIFETIME))
    figures = {
        "variant": mode,
        "triggers": len(jobs),
        "credentials": n_credentials,
        "successes": sum(1 for status, *_ in events.values() if status == "success"),
        "run_seconds": seconds,
        "rss_growth_mib": result["rss_peak_mib"] - result["rss_before_mib"],
        "rss_peak_mib": run.peak_rss_mib,
        "cpu_seconds": result["cpu_seconds"],
        "cpu_startup_seconds": result["cpu_startup_seconds"],
        "cpu_after_startup_seconds": result["cpu_after_startup_seconds"],
        "lag_p50_ms": result["lag_p50_ms"],
        "lag_p99_ms": result["lag_p99_ms"],
        "lag_max_ms": result["lag_max_ms"],
        "lag_max_at_s": result["lag_max_at_s"],
        "gc_full_collections": result["gc_full_collections"],
        "gc_longest_pause_ms": result["gc_longest_pause_ms"],
        "tokens_issued": tokens,
        "tokens_per_credential_lifetime": tokens / n_credentials / lifetimes,
        "api_calls": sum(stats["calls"].values()),
        "calls_per_job": sum(stats["calls"].values()) / len(jobs),
        "status_calls_per_job": (stats["calls"].get("criteo.status", 0) + stats["calls"].get("walmart.status", 0)) / len(jobs),
        "throttled": sum(stats["throttled"].values()),
        "calls": stats["calls"],
    }
    for api, values in delays.items():
        figures[f"{api}_delay_p50_s"] = percentile(values, 50)
        figures[f"{api}_delay_p95_s"] = percentile(values, 95)
        figures[f"{api}_delay_max_s"] = max(values, default=0.0)
    return figures


def report(results: list[dict[str, Any]]) -> bool:
    rows_spec = [
        ("triggers (credentials)", lambda f: f"{f['triggers']:,} ({f['credentials']})"),
        ("events: success", lambda f: f["successes"]),
        ("run time, s", lambda f: f["run_seconds"]),
        ("peak RSS growth, MiB", lambda f: f["rss_growth_mib"]),
        ("peak RSS of the process, MiB", lambda f: f["rss_peak_mib"]),
        ("CPU seconds (the loop's process)", lambda f: f["cpu_seconds"]),
        (f"  of which the first {STARTUP_SECONDS:.0f} s / the rest", _cpu_split),
        ("loop lag p50, ms", lambda f: f["lag_p50_ms"]),
        ("loop lag p99, ms", lambda f: f["lag_p99_ms"]),
        ("loop lag max, ms (at s into the run)", lambda f: f"{f['lag_max_ms']:,.1f} (at {f['lag_max_at_s']:.1f} s)"),
        ("full GC runs (longest pause, ms)", lambda f: f"{f['gc_full_collections']} ({f['gc_longest_pause_ms']:,.1f})"),
        ("tokens issued", lambda f: f["tokens_issued"]),
        ("tokens per credential per token lifetime", lambda f: f["tokens_per_credential_lifetime"]),
        ("API calls, total", lambda f: f["api_calls"]),
        ("API calls per job (all)", lambda f: f["calls_per_job"]),
        ("status calls per job", lambda f: f["status_calls_per_job"]),
        ("429 answers", lambda f: f["throttled"]),
        ("Criteo Done -> event p50 / p95 / max, s", lambda f: _triple(f, "criteo")),
        ("Walmart Done -> event p50 / p95 / max, s", lambda f: _triple(f, "walmart")),
    ]
    headers = ["figure", *(f["variant"] for f in results)]
    rows = [[name, *(get(f) for f in results)] for name, get in rows_spec]
    print_table("Trigger-scale benchmark (one event loop per variant, each in its own process)", headers, rows)

    provider = next((f for f in results if f["variant"] == "provider"), None)
    naive = next((f for f in results if f["variant"] == "naive"), None)
    if provider is None:
        return True
    p = provider
    checks = [
        ("peak RSS growth", f"{p['rss_growth_mib']:.1f} MiB", f"<= {TARGETS['rss']:.0f} MiB", p["rss_growth_mib"] <= TARGETS["rss"]),
        ("loop lag p99", f"{p['lag_p99_ms']:.1f} ms", f"<= {TARGETS['lag_p99_ms']:.0f} ms", p["lag_p99_ms"] <= TARGETS["lag_p99_ms"]),
        (
            "tokens per credential per token lifetime",
            f"{p['tokens_per_credential_lifetime']:.2f}",
            "<= 1",
            p["tokens_per_credential_lifetime"] <= TARGETS["tokens_per_credential_lifetime"],
        ),
        ("throttled calls (429)", str(p["throttled"]), "0", p["throttled"] == TARGETS["throttled"]),
        ("every job's event is success", f"{p['successes']}/{p['triggers']}", "all", p["successes"] == p["triggers"]),
    ]
    rows = [[name, measured, target, verdict(ok)] for name, measured, target, ok in checks]
    if naive is not None:
        for name, key in (("API calls per job", "calls_per_job"), ("tokens issued", "tokens_issued"), ("CPU seconds", "cpu_seconds")):
            rows.append([f"{name}, naive / provider", f"{naive[key] / max(p[key], 1e-9):.1f}x", "(info)", ""])
    print_table("Targets (provider triggers)", ["figure", "measured", "target", ""], rows)
    return all(ok for *_, ok in checks)


def _cpu_split(figures: dict[str, Any]) -> str:
    first, rest = figures["cpu_startup_seconds"], figures["cpu_after_startup_seconds"]
    return "-" if first is None or rest is None else f"{first:.2f} / {rest:.2f}"


def _triple(figures: dict[str, Any], api: str) -> str:
    return f"{figures[f'{api}_delay_p50_s']:.1f} / {figures[f'{api}_delay_p95_s']:.1f} / {figures[f'{api}_delay_max_s']:.1f}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        emit(child_main(args))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="arp-bench-triggers-"))
    results = [run_variant(mode, args, workdir) for mode in ("provider", "naive") if args.only in (None, mode)]
    ok = report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
