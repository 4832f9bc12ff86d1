"""Streaming-transfer benchmark: a large Criteo export into file:// and moto s3://, against two baselines.

The simulator serves the export (in this process); moto's ThreadedMotoServer runs in a helper process; every
measured transfer runs in a fresh child process whose peak RSS and CPU time come from the OS (``os.wait4``).

Runs:
  operator -> file://   CriteoMpoReportToObjectStorageOperator(report_id=...).download(): the real transfer path
  operator -> s3://     the same, into moto through an ``aws`` connection with ``endpoint_url``
  raw copy              requests ``iter_content`` into a local file (the speed a streaming copy can reach)
  in-memory             ``response.content`` then write (Airflow's HttpToS3Operator pattern), at a size it can hold
  tiny                  the same programs on a tiny export: the RSS baseline each growth figure is measured against

Usage: ``python benchmarks/bench_transfer.py [--size-mib 1024] [--memory-mib 256]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (  # noqa: E402
    MIB,
    ChildRun,
    airflow_env,
    connection_value,
    emit,
    print_table,
    run_child,
    self_peak_rss_mib,
    timed_criteo_download,
    verdict,
)

CRITEO_CONN_ID = "criteo_bench"
S3_CONN_ID = "moto_bench"
BUCKET = "bench-transfer"
RAW_CHUNK = 1024 * 1024
RAW = "raw copy (requests iter_content)"
OP_FILE = "operator -> file://"
OP_S3 = "operator -> s3:// (moto)"
MEMORY = "in-memory (response.content)"
TARGET_RSS_GROWTH_MIB = 64.0
TARGET_THROUGHPUT_RATIO = 0.8


# ----------------------------------------------------------------------------------------------- children


def child_operator(args: argparse.Namespace) -> dict[str, Any]:
    """The transfer operator's own download step (hook.open_download + the report writer)."""
    result, seconds, before = timed_criteo_download(args, CRITEO_CONN_ID, "bench_transfer")
    return {"bytes": result["bytes"], "sha256": result["sha256"], "seconds": seconds, "rss_before_mib": before}


def child_raw(args: argparse.Namespace) -> dict[str, Any]:
    """Baseline: a plain requests streaming copy into a local file."""
    import requests

    before = self_peak_rss_mib()
    started = time.perf_counter()
    written = 0
    with requests.get(args.url, headers=_auth(), stream=True, timeout=(15, 300)) as response:
        response.raise_for_status()
        with open(args.dest, "wb") as out:
            for chunk in response.iter_content(chunk_size=RAW_CHUNK):
                out.write(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
    return {"bytes": written, "seconds": time.perf_counter() - started, "rss_before_mib": before}


def child_memory(args: argparse.Namespace) -> dict[str, Any]:
    """Baseline: the whole body in memory (``response.content``), then one write."""
    import requests

    before = self_peak_rss_mib()
    started = time.perf_counter()
    response = requests.get(args.url, headers=_auth(), timeout=(15, 300))
    response.raise_for_status()
    data = response.content
    with open(args.dest, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return {"bytes": len(data), "seconds": time.perf_counter() - started, "rss_before_mib": before}


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {os.environ['BENCH_TOKEN']}", "Accept": "text/csv"}


CHILDREN = {"operator": child_operator, "raw": child_raw, "memory": child_memory}


def child_moto() -> None:
    """Helper process: a ThreadedMotoServer on a free loopback port until stdin closes."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"http://{host}:{port}", flush=True)
    sys.stdin.read()
    server.stop()


# ----------------------------------------------------------------------------------------------- parent


class MotoProcess:
    """ThreadedMotoServer in its own process, so its CPU and memory stay out of the measured children."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--moto"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise RuntimeError("moto server did not start")

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mib", type=int, default=1024, help="size of the large export (default 1024 = 1 GiB)")
    p.add_argument("--memory-mib", type=int, default=256, help="size for the in-memory baseline (default 256)")
    p.add_argument("--tiny-kib", type=int, default=64, help="size of the tiny export for the RSS baseline")
    p.add_argument("--server-chunk-kib", type=int, default=1024, help="simulator write size per body piece")
    p.add_argument("--repeat", type=int, default=3, help="runs of the large raw copy and file:// transfer (median shown)")
    p.add_argument("--skip-s3", action="store_true", help="leave out the moto s3:// runs")
    p.add_argument("--verbose", action="store_true", help="show the children's progress lines")
    p.add_argument("--json", help="also write the figures to this JSON file")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed (default: report only)")
    # child modes
    p.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--moto", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--dest", help=argparse.SUPPRESS)
    p.add_argument("--report-id", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.moto:
        child_moto()
        return 0
    if args.child:
        emit(CHILDREN[args.child](args))
        return 0
    return run_benchmark(args)


def run_benchmark(args: argparse.Namespace) -> int:
    from airflow_report_provider.simulator import SimulatorConfig, run_simulator
    from airflow_report_provider.simulator.testing import create_criteo_export, criteo_base, criteo_token

    size = args.size_mib * MIB
    memory_size = min(args.memory_mib, args.size_mib) * MIB
    tiny = args.tiny_kib * 1024
    config = SimulatorConfig(criteo_job_seconds=0.0, download_chunk_bytes=args.server_chunk_kib * 1024)
    workdir = Path(tempfile.mkdtemp(prefix="arp-bench-transfer-"))
    home = tempfile.mkdtemp(prefix="arp-bench-home-")
    moto = None if args.skip_s3 else MotoProcess()
    runs: dict[str, list[tuple[ChildRun, int]]] = {}
    try:
        with run_simulator(config) as sim:
            token = criteo_token(sim)
            report_ids: dict[int, str] = {}
            for nbytes in sorted({tiny, memory_size, size}):
                sim.config.criteo_report_bytes = nbytes  # captured when the export is created
                report_ids[nbytes] = create_criteo_export(sim, token)
            actual = {n: len_of(sim, rid) for n, rid in report_ids.items()}
            digests: dict[int, str] = {}

            env = airflow_env(
                home,
                BENCH_TOKEN=token,
            )
            env[f"AIRFLOW_CONN_{CRITEO_CONN_ID.upper()}"] = connection_value(
                "criteo_mpo", sim.url, config.criteo_client_id, config.criteo_client_secret, {}
            )
            if moto is not None:
                moto.client().create_bucket(Bucket=BUCKET)
                env[f"AIRFLOW_CONN_{S3_CONN_ID.upper()}"] = connection_value(
                    "aws", None, "testing", "testing", {"endpoint_url": moto.url, "region_name": "us-east-1"}
                )

            def url_of(nbytes: int) -> str:
                return f"{criteo_base(sim)}/realtime-reports/{report_ids[nbytes]}"

            def operator(nbytes: int, dest: str) -> list[str]:
                return ["--report-id", report_ids[nbytes], "--dest", dest]

            def copy(nbytes: int, name: str) -> list[str]:
                return ["--url", url_of(nbytes), "--dest", str(workdir / name)]

            s3 = f"s3://{S3_CONN_ID}@{BUCKET}"
            plan: list[tuple[str, str, int, list[str]]] = [
                ("tiny raw copy", "raw", tiny, copy(tiny, "tiny-raw.csv")),
                ("tiny operator -> file://", "operator", tiny, operator(tiny, f"file://{workdir}/tiny-op.csv")),
            ]
            if moto is not None:
                plan.append(("tiny operator -> s3://", "operator", tiny, operator(tiny, f"{s3}/tiny.csv")))
            # An unmeasured copy first: the first GiB written after start-up pays for fresh page-cache memory.
            plan.append(("warm-up (not reported)", "raw", size, copy(size, "warm.csv")))
            for _ in range(args.repeat):  # alternate the two so that neither gets a warmer disk or server
                plan.append((RAW, "raw", size, copy(size, "raw.csv")))
                plan.append((OP_FILE, "operator", size, operator(size, f"file://{workdir}/op.csv")))
            if moto is not None:
                plan.append((OP_S3, "operator", size, operator(size, f"{s3}/op.csv")))
            plan.append((MEMORY, "memory", memory_size, copy(memory_size, "mem.csv")))

            for label, kind, nbytes, extra in plan:
                argv = [__file__, "--child", kind, *extra] + (["--verbose"] if args.verbose else [])
                print(f"running {label} ({actual[nbytes] / MIB:,.1f} MiB) ...", flush=True)
                run = run_child(label, argv, env)
                if run.result["bytes"] != actual[nbytes]:
                    raise RuntimeError(f"{label}: wrote {run.result['bytes']} bytes, expected {actual[nbytes]}")
                if "sha256" in run.result:  # the operator's checksum against the simulator's own bytes
                    if nbytes not in digests:
                        digests[nbytes] = sha256_of(sim, report_ids[nbytes])
                    if run.result["sha256"] != digests[nbytes]:
                        raise RuntimeError(f"{label}: sha256 {run.result['sha256']} differs from the export's")
                print(f"    {actual[nbytes] / MIB / run.result['seconds']:,.1f} MiB/s, peak RSS {run.peak_rss_mib:,.1f} MiB", flush=True)
                if not label.startswith("warm-up"):
                    runs.setdefault(label, []).append((run, actual[nbytes]))
                if args.verbose and run.stderr_tail:
                    print(run.stderr_tail, file=sys.stderr)
                for leftover in workdir.glob("*.csv"):
                    leftover.unlink()  # keep the disk footprint at one report
                if moto is not None and "s3://" in label:
                    check_s3_object(moto, extra[-1].rsplit("/", 1)[-1], actual[nbytes])
    finally:
        if moto is not None:
            moto.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    return report(runs, args, size)


def _body(sim: Any, report_id: str) -> Any:
    from airflow_report_provider.simulator.criteo import job_table

    return job_table(sim, sim.criteo_jobs[report_id]).body


def len_of(sim: Any, report_id: str) -> int:
    return _body(sim, report_id).length


def sha256_of(sim: Any, report_id: str) -> str:
    digest = hashlib.sha256()
    for piece in _body(sim, report_id).iter_range(0, None, MIB):
        digest.update(piece)
    return digest.hexdigest()


def check_s3_object(moto: MotoProcess, key: str, expected: int) -> None:
    client = moto.client()
    size = client.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    if size != expected:
        raise RuntimeError(f"s3://{BUCKET}/{key} holds {size} bytes, expected {expected}")
    if client.list_multipart_uploads(Bucket=BUCKET).get("Uploads"):
        raise RuntimeError("a multipart upload was left open")
    client.delete_object(Bucket=BUCKET, Key=key)


def report(runs: dict[str, list[tuple[ChildRun, int]]], args: argparse.Namespace, size: int) -> int:
    tiny_for = {RAW: "tiny raw copy", MEMORY: "tiny raw copy", OP_FILE: "tiny operator -> file://", OP_S3: "tiny operator -> s3://"}
    rows = []
    figures: dict[str, dict[str, Any]] = {}
    for label, attempts in runs.items():
        nbytes = attempts[0][1]
        speeds = sorted(nbytes / MIB / run.result["seconds"] for run, _ in attempts)
        median_speed = speeds[len(speeds) // 2]
        peak = max(run.peak_rss_mib for run, _ in attempts)  # the worst run counts for memory
        base = runs.get(tiny_for.get(label, ""))
        growth = peak - base[0][0].peak_rss_mib if base else None
        cpu = sorted(run.cpu_seconds for run, _ in attempts)[len(attempts) // 2]
        cpu_per_gib = (cpu - base[0][0].cpu_seconds) / (nbytes / MIB / 1024) if base else None
        figures[label] = {
            "cpu_s_per_gib_over_tiny": cpu_per_gib,
            "mib": nbytes / MIB,
            "runs": len(attempts),
            "seconds_median": nbytes / MIB / median_speed,
            "mib_per_s_median": median_speed,
            "mib_per_s_all": speeds,
            "peak_rss_mib": peak,
            "rss_growth_mib": growth,
            "cpu_s_median": cpu,
        }
        spread = f"{speeds[0]:,.0f}-{speeds[-1]:,.0f}" if len(speeds) > 1 else ""
        rows.append([label, nbytes / MIB, len(attempts), nbytes / MIB / median_speed, median_speed, spread, peak, growth, cpu, cpu_per_gib])
    print_table(
        "Streaming transfer benchmark (each run a fresh child process; peak RSS and CPU from os.wait4; medians)",
        ["run", "MiB", "runs", "transfer s", "MiB/s", "MiB/s range", "peak RSS MiB", "RSS growth vs tiny MiB", "CPU s", "CPU s/GiB over tiny"],
        rows,
    )

    raw, op_file, op_s3, memory = (figures.get(label) for label in (RAW, OP_FILE, OP_S3, MEMORY))
    ratio_rows = []
    ok = True
    size_label = f"{size / MIB:,.0f} MiB"
    for name, fig in ((f"operator -> file:// at {size_label}", op_file), (f"operator -> s3:// at {size_label}", op_s3)):
        if fig:
            passed = fig["rss_growth_mib"] <= TARGET_RSS_GROWTH_MIB
            ok &= passed
            ratio_rows.append([f"RSS growth, {name} vs tiny", f"{fig['rss_growth_mib']:.1f} MiB", f"<= {TARGET_RSS_GROWTH_MIB:.0f} MiB", verdict(passed)])
    if op_file and raw:
        ratio = op_file["mib_per_s_median"] / raw["mib_per_s_median"]
        passed = ratio >= TARGET_THROUGHPUT_RATIO
        ok &= passed
        ratio_rows.append(["throughput, operator -> file:// / raw copy (medians)", f"{ratio:.2f}x", f">= {TARGET_THROUGHPUT_RATIO}x", verdict(passed)])
    if op_file and raw and op_file["cpu_s_per_gib_over_tiny"] and raw["cpu_s_per_gib_over_tiny"]:
        ratio = op_file["cpu_s_per_gib_over_tiny"] / raw["cpu_s_per_gib_over_tiny"]
        ratio_rows.append(["client CPU per GiB, operator -> file:// / raw copy", f"{ratio:.2f}x", "(info: sha256, progress)", ""])
    if op_s3 and raw:
        ratio = op_s3["mib_per_s_median"] / raw["mib_per_s_median"]
        ratio_rows.append(["throughput, operator -> s3:// (moto) / raw copy", f"{ratio:.2f}x", "(info: moto-bound)", ""])
    if memory:
        ratio_rows.append(
            [f"RSS growth, in-memory at {memory['mib']:,.0f} MiB vs tiny raw copy", f"{memory['rss_growth_mib']:.1f} MiB", "(baseline)", ""]
        )
        if op_file:
            per_mib = memory["rss_growth_mib"] / memory["mib"]
            ratio_rows.append(
                [
                    f"in-memory pattern extrapolated to {size_label}",
                    f"~{per_mib * size / MIB:,.0f} MiB",
                    f"vs {max(op_file['rss_growth_mib'], 0.0):.1f} MiB streamed",
                    "",
                ]
            )
    print_table("Ratios and targets", ["figure", "measured", "target", ""], ratio_rows)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
