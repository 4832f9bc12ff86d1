"""Conversion benchmark: a large Criteo CSV export to Parquet through the operator vs pyarrow's own conversion.

The simulator serves the export (in this process); every measured run is a fresh child process whose peak RSS
and CPU time come from the OS (``os.wait4``).

Runs:
  operator -> parquet   CriteoMpoReportToObjectStorageOperator(report_id=..., output_format="parquet").download():
                        HTTP download, CSV parsing, typing and Parquet writing (zstd) into file://, in one stream
  pyarrow local         pyarrow.csv.open_csv(local copy of the same bytes) -> pyarrow.parquet.ParquetWriter, the
                        same column types and compression: the speed a streaming conversion can reach here
  tiny operator         the operator on a tiny export: the RSS baseline of the growth figure

Targets: peak RSS growth over the tiny run <= 256 MiB; throughput >= 0.7x the local pyarrow conversion.
Usage: ``python benchmarks/bench_conversion.py [--size-mib 1024]`` (or ``BENCH_CONVERSION_MIB=256``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
DIMENSIONS = ["AdvertiserId", "CampaignId", "SellerId", "Hour"]
METRICS = ["Clicks", "Displays", "Cost"]
OPERATOR = "operator -> parquet (HTTP + convert)"
PYARROW = "pyarrow open_csv -> ParquetWriter (local file)"
TINY = "tiny operator -> parquet"
TARGET_RSS_GROWTH_MIB = 256.0
TARGET_THROUGHPUT_RATIO = 0.7


# ----------------------------------------------------------------------------------------------- children


def child_operator(args: argparse.Namespace) -> dict[str, Any]:
    """The transfer operator's download step with output_format="parquet"."""
    import pyarrow.compute  # noqa: F401 - imported before the clock starts, as the baseline's pyarrow imports are
    import pyarrow.csv  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    run = timed_criteo_download(args, CRITEO_CONN_ID, "bench_conversion", file_format="csv", output_format="parquet")
    return {"rows": run.result["rows"], "source_bytes": run.result["source_bytes"], "seconds": run.seconds, "rss_before_mib": run.rss_before_mib}


def child_pyarrow(args: argparse.Namespace) -> dict[str, Any]:
    """Baseline: pyarrow's own streaming conversion of the local file, with the operator's column types."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    types = {name: pa.string() for name in DIMENSIONS}
    types.update({"Hour": pa.timestamp("us", tz="UTC"), "Clicks": pa.int64(), "Displays": pa.int64(), "Cost": pa.float64()})
    before = self_peak_rss_mib()
    started = time.perf_counter()
    reader = pacsv.open_csv(args.src, convert_options=pacsv.ConvertOptions(column_types=types))
    rows = 0
    with pq.ParquetWriter(args.dest, reader.schema, compression="zstd") as writer:
        pending: list[Any] = []
        pending_rows = 0
        for batch in reader:
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows >= 500_000:
                writer.write_table(pa.Table.from_batches(pending), row_group_size=pending_rows)
                rows += pending_rows
                pending, pending_rows = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=pending_rows)
            rows += pending_rows
    return {"rows": rows, "source_bytes": os.path.getsize(args.src), "seconds": time.perf_counter() - started, "rss_before_mib": before}


CHILDREN = {"operator": child_operator, "pyarrow": child_pyarrow}


# ----------------------------------------------------------------------------------------------- parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_mib = int(os.environ.get("BENCH_CONVERSION_MIB", "1024"))
    p.add_argument("--size-mib", type=int, default=default_mib, help="size of the large export (default 1024 = 1 GiB)")
    p.add_argument("--tiny-kib", type=int, default=64, help="size of the tiny export for the RSS baseline")
    p.add_argument("--repeat", type=int, default=3, help="runs of each large conversion (median shown)")
    p.add_argument("--verbose", action="store_true", help="show the children's progress lines")
    p.add_argument("--json", help="also write the figures to this JSON file")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed (default: report only)")
    p.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--src", help=argparse.SUPPRESS)
    p.add_argument("--dest", help=argparse.SUPPRESS)
    p.add_argument("--report-id", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        emit(CHILDREN[args.child](args))
        return 0
    return run_benchmark(args)


def _export_to_file(sim: Any, report_id: str, path: Path) -> int:
    """The export's exact bytes into a local file (the pyarrow baseline's input)."""
    from airflow_report_provider.simulator.criteo import job_table

    body = job_table(sim, sim.criteo_jobs[report_id]).body
    with open(path, "wb") as out:
        for piece in body.iter_range(0, None, MIB):
            out.write(piece)
    return body.length


def run_benchmark(args: argparse.Namespace) -> int:
    from airflow_report_provider.simulator import SimulatorConfig, run_simulator
    from airflow_report_provider.simulator.testing import create_criteo_export, criteo_token

    size, tiny = args.size_mib * MIB, args.tiny_kib * 1024
    config = SimulatorConfig(criteo_job_seconds=0.0, download_chunk_bytes=MIB)
    workdir = Path(tempfile.mkdtemp(prefix="arp-bench-conversion-"))
    home = tempfile.mkdtemp(prefix="arp-bench-home-")
    runs: dict[str, list[ChildRun]] = {}
    try:
        with run_simulator(config) as sim:
            token = criteo_token(sim)
            report_ids: dict[int, str] = {}
            for nbytes in (tiny, size):
                sim.config.criteo_report_bytes = nbytes
                report_ids[nbytes] = create_criteo_export(sim, token, dimensions=DIMENSIONS, metrics=METRICS)
            local = workdir / "export.csv"
            actual = _export_to_file(sim, report_ids[size], local)
            env = airflow_env(home)
            env[f"AIRFLOW_CONN_{CRITEO_CONN_ID.upper()}"] = connection_value(
                "criteo_mpo", sim.url, config.criteo_client_id, config.criteo_client_secret, {}
            )

            def operator(nbytes: int) -> list[str]:
                return ["operator", "--report-id", report_ids[nbytes], "--dest", f"file://{workdir}/op.parquet"]

            plan: list[tuple[str, list[str]]] = [(TINY, operator(tiny))]
            for _ in range(args.repeat):  # alternate the two so that neither gets a warmer cache
                plan.append((PYARROW, ["pyarrow", "--src", str(local), "--dest", str(workdir / "pa.parquet")]))
                plan.append((OPERATOR, operator(size)))
            for label, extra in plan:
                argv = [__file__, "--child", *extra] + (["--verbose"] if args.verbose else [])
                print(f"running {label} ...", flush=True)
                run = run_child(label, argv, env)
                print(
                    f"    {run.result['source_bytes'] / MIB:,.1f} MiB, {run.result['rows']:,} rows in {run.result['seconds']:.1f} s, "
                    f"peak RSS {run.peak_rss_mib:,.1f} MiB",
                    flush=True,
                )
                runs.setdefault(label, []).append(run)
                for leftover in workdir.glob("*.parquet"):
                    leftover.unlink()
            rows = {label: {run.result["rows"] for run in found} for label, found in runs.items()}
            if rows[OPERATOR] != rows[PYARROW]:
                raise RuntimeError(f"row counts differ: {rows}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    return report(runs, args, actual)


def report(runs: dict[str, list[ChildRun]], args: argparse.Namespace, size: int) -> int:
    figures: dict[str, dict[str, Any]] = {}
    table = []
    for label, found in runs.items():
        seconds = sorted(run.result["seconds"] for run in found)[len(found) // 2]
        nbytes = found[0].result["source_bytes"]
        peak = max(run.peak_rss_mib for run in found)
        figures[label] = {"mib": nbytes / MIB, "seconds_median": seconds, "mib_per_s": nbytes / MIB / seconds, "peak_rss_mib": peak}
        table.append([label, nbytes / MIB, len(found), seconds, nbytes / MIB / seconds, peak])
    print_table(
        "Conversion benchmark (each run a fresh child process; peak RSS from os.wait4; medians)",
        ["run", "MiB", "runs", "seconds", "MiB/s", "peak RSS MiB"],
        table,
    )
    growth = figures[OPERATOR]["peak_rss_mib"] - figures[TINY]["peak_rss_mib"]
    ratio = figures[OPERATOR]["mib_per_s"] / figures[PYARROW]["mib_per_s"]
    ok_rss, ok_speed = growth <= TARGET_RSS_GROWTH_MIB, ratio >= TARGET_THROUGHPUT_RATIO
    size_label = f"{size / MIB:,.0f} MiB"
    print_table(
        "Ratios and targets",
        ["figure", "measured", "target", ""],
        [
            [f"peak RSS growth, operator at {size_label} vs tiny", f"{growth:.1f} MiB", f"<= {TARGET_RSS_GROWTH_MIB:.0f} MiB", verdict(ok_rss)],
            ["throughput, operator / pyarrow local conversion", f"{ratio:.2f}x", f">= {TARGET_THROUGHPUT_RATIO}x", verdict(ok_speed)],
        ],
    )
    if args.json:
        Path(args.json).write_text(json.dumps({**figures, "rss_growth_mib": growth, "throughput_ratio": ratio}, indent=2))
    return 0 if (ok_rss and ok_speed) or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
