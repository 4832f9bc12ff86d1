"""Streaming-transfer benchmark: a large Criteo export into file:// and moto s3://, against two baselines.

The simulator serves the export (in this process); moto's ThreadedMotoServer runs in a helper process; every
measured transfer runs in a fresh child process whose peak RSS and CPU time come from the OS (``os.wait4``).

Runs (every large run alternates with its yardstick; each child first downloads a tiny export, untimed, so that
imports, the token and the connection pool are in place and the figures are the streaming itself):
  operator -> file://   CriteoMpoReportToObjectStorageOperator(report_id=...).download(): the real transfer path
  raw copy              requests ``iter_content`` into a local file (the speed a streaming copy can reach)
  raw copy + sha256     the same, hashing what it reads: the floor for the operator, which hashes by default
  checksum=None         the operator without its sha256 (the option for CPU-bound workers)
  gzip                  the operator with compression="gzip" against the raw copy through zlib at the same level
  s3:// (moto)          the operator into moto through an ``aws`` connection, against requests into an s3fs file
  in-memory             ``response.content`` then write (Airflow's HttpToS3Operator pattern), at a size it can hold
  tiny                  the same programs on a tiny export: the RSS baseline each growth figure is measured against

CPU and seconds are measured inside each child around the download alone; peak RSS comes from the OS (os.wait4).
``--profile FILE`` writes cProfile's heaviest functions of each large operator run.

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
import zlib
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
    self_cpu_seconds,
    self_peak_rss_mib,
    timed_criteo_download,
    verdict,
)

CRITEO_CONN_ID = "criteo_bench"
S3_CONN_ID = "moto_bench"
BUCKET = "bench-transfer"
RAW_CHUNK = 1024 * 1024
RAW = "raw copy (requests iter_content)"
RAW_SHA = "raw copy + sha256 (the floor)"
OP_FILE = "operator -> file://"
OP_NOSUM = "operator -> file://, checksum=None"
RAW_GZIP = "raw copy, gzip (zlib level 6)"
OP_GZIP = "operator -> file://, gzip"
RAW_S3 = "raw copy -> s3:// (s3fs, moto)"
OP_S3 = "operator -> s3:// (moto)"
MEMORY = "in-memory (response.content)"
#: The simulator enforces no rate limit here; without this the client's own limiter (Criteo's 40 reporting calls a
#: minute, evenly spaced) would hold the measured download 1.5 s behind the warm-up's, which is not streaming.
UNTHROTTLED = {"max_calls_per_minute": 6000}
TINY_RAW, TINY_FILE, TINY_S3 = "tiny raw copy", "tiny operator -> file://", "tiny operator -> s3://"
#: Each large run's yardstick (measured in the same run) and the tiny run its RSS growth is measured against.
YARDSTICKS = [(OP_FILE, RAW), (OP_FILE, RAW_SHA), (OP_NOSUM, RAW), (OP_GZIP, RAW_GZIP), (OP_S3, RAW_S3)]
TINY_OF = {RAW: TINY_RAW, RAW_SHA: TINY_RAW, RAW_GZIP: TINY_RAW, RAW_S3: TINY_RAW, MEMORY: TINY_RAW, OP_FILE: TINY_FILE, OP_NOSUM: TINY_FILE, OP_GZIP: TINY_FILE, OP_S3: TINY_S3}
TARGET_RSS_GROWTH_MIB = 64.0
TARGET_THROUGHPUT_RATIO = 0.9  # operator -> file:// against the raw copy, medians
TARGET_CPU_RATIO = 2.0  # CPU per GiB, operator -> file:// against the raw copy (sha256 included)


# ----------------------------------------------------------------------------------------------- children


def child_operator(args: argparse.Namespace) -> dict[str, Any]:
    """The transfer operator's own download step (hook.open_download + the report writer), after a warm-up."""
    extra: dict[str, Any] = {"compression": args.compression} if args.compression else {}
    if args.no_checksum:
        extra["checksum"] = None

    def download() -> Any:
        return timed_criteo_download(
            args,
            CRITEO_CONN_ID,
            "bench_transfer",
            warm_report_id=args.warm_report_id,
            warm_dest=args.warm_dest,
            on_ready=lambda: release(args.release),
            **extra,
        )

    if args.profile:  # where the time goes: cProfile of the download step, the heaviest functions to a file
        import cProfile
        import io
        import pstats

        with cProfile.Profile() as profiler:
            run = download()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
        Path(args.profile).write_text(text.getvalue())
    else:
        run = download()
    return {
        "bytes": run.result["source_bytes"],
        "written": run.result["bytes"],
        "sha256": run.result["sha256"],
        "seconds": run.seconds,
        "cpu_seconds": run.cpu_seconds,
        "rss_before_mib": run.rss_before_mib,
    }


def child_raw(args: argparse.Namespace) -> dict[str, Any]:
    """Baseline: a plain requests streaming copy (after the same warm-up copy) into a local file, the same
    gzipped (``--compression gzip``: zlib at the operator's level), or an s3fs file in moto (``--dest s3://``);
    ``--sha256`` also hashes what it reads (the operator's one extra job, as cheap as it can be)."""
    import requests

    def copy(url: str, dest: str) -> int:
        written = 0
        digest = hashlib.sha256() if args.sha256 else None
        deflate = zlib.compressobj(6, zlib.DEFLATED, 31) if args.compression == "gzip" else None
        with requests.get(url, headers=_auth(), stream=True, timeout=(15, 300)) as response:
            response.raise_for_status()
            with _open_raw_dest(dest) as out:
                for chunk in response.iter_content(chunk_size=RAW_CHUNK):
                    if digest:
                        digest.update(chunk)
                    out.write(deflate.compress(chunk) if deflate else chunk)
                    written += len(chunk)
                if deflate:
                    out.write(deflate.flush())
                if not dest.startswith("s3://"):
                    out.flush()
                    os.fsync(out.fileno())
        return written

    if args.warm_url:
        copy(args.warm_url, args.warm_dest)
    before = self_peak_rss_mib()
    release(args.release)
    cpu, started = self_cpu_seconds(), time.perf_counter()
    written = copy(args.url, args.dest)
    return {"bytes": written, "seconds": time.perf_counter() - started, "cpu_seconds": self_cpu_seconds() - cpu, "rss_before_mib": before}


def release(path: str | None) -> None:
    """Delete the previous run's output just before the clock starts, so that every run writes into memory
    freed a moment ago. On this VM freed memory goes back to the host after a second or two (virtio-balloon free
    page reporting) and writing into it again costs several times the CPU; a child that starts slower (Airflow's
    imports) would otherwise always meet colder memory than a plain requests child."""
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _open_raw_dest(dest: str) -> Any:
    if not dest.startswith("s3://"):
        return open(dest, "wb")
    import s3fs

    fs = s3fs.S3FileSystem(
        key="testing", secret="testing", client_kwargs={"endpoint_url": os.environ["BENCH_MOTO_URL"], "region_name": "us-east-1"}
    )
    return fs.open(dest, "wb", block_size=8 * MIB)


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
    p.add_argument("--profile", help="cProfile the large operator runs; their heaviest functions to files PROFILE.<n>.<run>")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed (default: report only)")
    # child modes
    p.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--moto", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--dest", help=argparse.SUPPRESS)
    p.add_argument("--report-id", help=argparse.SUPPRESS)
    p.add_argument("--warm-report-id", help=argparse.SUPPRESS)
    p.add_argument("--warm-url", help=argparse.SUPPRESS)
    p.add_argument("--warm-dest", help=argparse.SUPPRESS)
    p.add_argument("--compression", help=argparse.SUPPRESS)
    p.add_argument("--sha256", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-checksum", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--release", help=argparse.SUPPRESS)
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
                "criteo_mpo", sim.url, config.criteo_client_id, config.criteo_client_secret, UNTHROTTLED
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
            warm_op = ["--warm-report-id", report_ids[tiny], "--warm-dest", f"file://{workdir}/warm-op.csv"]
            warm_raw = ["--warm-url", url_of(tiny), "--warm-dest", str(workdir / "warm-raw.csv")]
            gzip = ["--compression", "gzip"]
            plan: list[tuple[str, str, int, list[str]]] = [
                (TINY_RAW, "raw", tiny, copy(tiny, "tiny-raw.csv")),
                (TINY_FILE, "operator", tiny, operator(tiny, f"file://{workdir}/tiny-op.csv")),
            ]
            if moto is not None:
                plan.append((TINY_S3, "operator", tiny, operator(tiny, f"{s3}/tiny.csv")))
            # An unmeasured copy first: the first run's output is the memory the next run writes into (see release()).
            plan.append(("warm-up (not reported)", "raw", size, copy(size, "warm.csv")))
            for i in range(args.repeat):  # alternate them so that none gets a warmer disk or server
                plan.append((RAW, "raw", size, copy(size, f"raw-{i}.csv") + warm_raw))
                plan.append((OP_FILE, "operator", size, operator(size, f"file://{workdir}/op-{i}.csv") + warm_op))
                plan.append((RAW_SHA, "raw", size, copy(size, f"raw-sha-{i}.csv") + warm_raw + ["--sha256"]))
                plan.append((OP_NOSUM, "operator", size, operator(size, f"file://{workdir}/op-nosum-{i}.csv") + warm_op + ["--no-checksum"]))
            plan.append((RAW_GZIP, "raw", size, copy(size, "raw.csv.gz") + warm_raw + gzip))
            plan.append((OP_GZIP, "operator", size, operator(size, f"file://{workdir}/op.csv.gz") + warm_op + gzip))
            if moto is not None:
                env["BENCH_MOTO_URL"] = moto.url
                plan.append((RAW_S3, "raw", size, ["--url", url_of(size), "--dest", f"s3://{BUCKET}/raw.csv"] + warm_raw))
                plan.append((OP_S3, "operator", size, operator(size, f"{s3}/op.csv") + warm_op))
            plan.append((MEMORY, "memory", memory_size, copy(memory_size, "mem.csv")))

            previous: Path | None = None  # the last large local output, released by the next large run
            for label, kind, nbytes, extra in plan:
                argv = [__file__, "--child", kind, *extra] + (["--verbose"] if args.verbose else [])
                if previous is not None and nbytes == size:
                    argv += ["--release", str(previous)]
                if args.profile and kind == "operator" and nbytes == size:
                    argv += ["--profile", f"{args.profile}.{len(runs.get(label, []))}.{label.split()[-1].strip('(/:)')}"]
                print(f"running {label} ({actual[nbytes] / MIB:,.1f} MiB) ...", flush=True)
                run = run_child(label, argv, env)
                if run.result["bytes"] != actual[nbytes]:
                    raise RuntimeError(f"{label}: read {run.result['bytes']} bytes, expected {actual[nbytes]}")
                if run.result.get("sha256") and "--compression" not in extra:  # the written bytes against the export's
                    if nbytes not in digests:
                        digests[nbytes] = sha256_of(sim, report_ids[nbytes])
                    if run.result["sha256"] != digests[nbytes]:
                        raise RuntimeError(f"{label}: sha256 {run.result['sha256']} differs from the export's")
                print(f"    {actual[nbytes] / MIB / run.result['seconds']:,.1f} MiB/s, peak RSS {run.peak_rss_mib:,.1f} MiB", flush=True)
                if not label.startswith("warm-up"):
                    runs.setdefault(label, []).append((run, actual[nbytes]))
                if args.verbose and run.stderr_tail:
                    print(run.stderr_tail, file=sys.stderr)
                dest = extra[extra.index("--dest") + 1]
                output = Path(dest.removeprefix("file://")) if "://" not in dest.replace("file://", "") else None
                if nbytes == size and output is not None:
                    previous = output
                for leftover in workdir.glob("*.csv*"):
                    if leftover != previous:
                        leftover.unlink()  # the disk holds at most two reports
                if "s3://" in label:
                    check_s3_object(moto, dest.rsplit("/", 1)[-1], actual[nbytes])
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
    """Print the table and the ratios against each run's yardstick; CPU and seconds are the children's own
    figures for the measured download alone (after their warm-up); peak RSS is the OS's for the whole child."""
    rows = []
    figures: dict[str, dict[str, Any]] = {}
    for label, attempts in runs.items():
        nbytes = attempts[0][1]
        gib = nbytes / MIB / 1024
        speeds = sorted(nbytes / MIB / run.result["seconds"] for run, _ in attempts)
        cpus = sorted(run.result.get("cpu_seconds", run.cpu_seconds) for run, _ in attempts)
        median_speed, cpu = speeds[len(speeds) // 2], cpus[len(cpus) // 2]
        peak = max(run.peak_rss_mib for run, _ in attempts)  # the worst run counts for memory
        base = runs.get(TINY_OF.get(label, ""))
        growth = peak - base[0][0].peak_rss_mib if base else None
        figures[label] = {
            "mib": nbytes / MIB,
            "runs": len(attempts),
            "mib_per_s_median": median_speed,
            "mib_per_s_all": speeds,
            "cpu_s_per_gib": cpu / gib,
            "peak_rss_mib": peak,
            "rss_growth_mib": growth,
            "written_mib": attempts[0][0].result.get("written", nbytes) / MIB,
        }
        spread = f"{speeds[0]:,.0f}-{speeds[-1]:,.0f}" if len(speeds) > 1 else ""
        rows.append([label, nbytes / MIB, len(attempts), median_speed, spread, cpu / gib, peak, growth])
    print_table(
        "Streaming transfer benchmark (fresh child per run, warmed by a tiny download first; medians; peak RSS from os.wait4)",
        ["run", "MiB", "runs", "MiB/s", "MiB/s range", "CPU s/GiB", "peak RSS MiB", "RSS growth vs tiny MiB"],
        rows,
    )

    ratio_rows = []
    ok = True
    size_label = f"{size / MIB:,.0f} MiB"
    for label in (OP_FILE, OP_GZIP, OP_S3):
        fig = figures.get(label)
        if fig and fig["rss_growth_mib"] is not None:
            passed = fig["rss_growth_mib"] <= TARGET_RSS_GROWTH_MIB
            ok &= passed
            ratio_rows.append([f"RSS growth, {label} at {size_label} vs tiny", f"{fig['rss_growth_mib']:.1f} MiB", f"<= {TARGET_RSS_GROWTH_MIB:.0f} MiB", verdict(passed)])
    for label, yardstick in YARDSTICKS:
        fig, base = figures.get(label), figures.get(yardstick)
        if not (fig and base):
            continue
        speed = fig["mib_per_s_median"] / base["mib_per_s_median"]
        cpu = fig["cpu_s_per_gib"] / base["cpu_s_per_gib"]
        if yardstick == RAW:
            speed_ok, cpu_ok = speed >= TARGET_THROUGHPUT_RATIO, cpu <= TARGET_CPU_RATIO
            ok &= speed_ok and cpu_ok
            ratio_rows.append([f"throughput, {label} / {yardstick}", f"{speed:.2f}x", f">= {TARGET_THROUGHPUT_RATIO}x", verdict(speed_ok)])
            ratio_rows.append([f"CPU per GiB, {label} / {yardstick}", f"{cpu:.2f}x", f"<= {TARGET_CPU_RATIO:.0f}x", verdict(cpu_ok)])
        else:
            ratio_rows.append([f"throughput, {label} / {yardstick}", f"{speed:.2f}x", "(info)", ""])
            ratio_rows.append([f"CPU per GiB, {label} / {yardstick}", f"{cpu:.2f}x", "(info)", ""])
    memory, op_file = figures.get(MEMORY), figures.get(OP_FILE)
    if memory and op_file:
        per_mib = memory["rss_growth_mib"] / memory["mib"]
        ratio_rows.append([f"RSS growth, in-memory at {memory['mib']:,.0f} MiB vs tiny raw copy", f"{memory['rss_growth_mib']:.1f} MiB", "(baseline)", ""])
        ratio_rows.append([f"in-memory pattern extrapolated to {size_label}", f"~{per_mib * size / MIB:,.0f} MiB", f"vs {max(op_file['rss_growth_mib'], 0.0):.1f} MiB streamed", ""])
    print_table("Ratios and targets", ["figure", "measured", "target", ""], ratio_rows)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
