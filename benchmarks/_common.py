"""Measurement helpers shared by the benchmarks: child processes with OS-reported peak RSS, tables, env setup."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
RESULT_PREFIX = "BENCH-RESULT "


@dataclass
class ChildRun:
    """One benchmark child process: what it reported, and what the OS says it cost."""

    name: str
    result: dict[str, Any]
    peak_rss_mib: float  # ru_maxrss of that child alone (os.wait4), in MiB
    cpu_seconds: float  # user + system
    wall_seconds: float  # whole process, interpreter start included
    stderr_tail: str = field(default="", repr=False)


def airflow_env(home: str | None = None, **extra: str) -> dict[str, str]:
    """Environment for a child that imports Airflow: a throw-away AIRFLOW_HOME, no examples, quiet logs."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": home or tempfile.mkdtemp(prefix="arp-bench-home-"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")])),
        }
    )
    env.update(extra)
    return env


def connection_value(conn_type: str, host: str | None, login: str, password: str, extra: Mapping[str, Any]) -> str:
    """An ``AIRFLOW_CONN_*`` value (JSON form)."""
    return json.dumps({"conn_type": conn_type, "host": host, "login": login, "password": password, "extra": dict(extra)})


def run_child(name: str, argv: Sequence[str], env: Mapping[str, str], timeout: float = 1800.0) -> ChildRun:
    """Run ``python <argv>`` and return its JSON result with its own peak RSS and CPU time from ``os.wait4``.

    The child reports by printing one line ``BENCH-RESULT {json}`` (see :func:`emit`). ``wait4`` gives the
    resource usage of exactly that child, unlike ``RUSAGE_CHILDREN`` (the maximum over every child so far).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *argv], stdout=out, stderr=err, env=dict(env), cwd=REPO)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    lines = [line[len(RESULT_PREFIX) :] for line in stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark child {name!r} failed (exit {proc.returncode}):\n{stderr[-4000:]}{stdout[-2000:]}")
    return ChildRun(
        name=name,
        result=json.loads(lines[-1]),
        peak_rss_mib=usage.ru_maxrss / 1024,  # Linux: KiB
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        wall_seconds=wall,
        stderr_tail=stderr[-2000:],
    )


def emit(result: Mapping[str, Any]) -> None:
    """Child side of :func:`run_child`: print the result line."""
    print(RESULT_PREFIX + json.dumps(dict(result)), flush=True)


def self_peak_rss_mib() -> float:
    """Peak RSS of this process so far (OS figure), MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class TimedDownload:
    """The operator's download step as measured inside its child: XCom dict, wall and CPU seconds, RSS before."""

    result: dict[str, Any]
    seconds: float
    cpu_seconds: float
    rss_before_mib: float


def timed_criteo_download(
    args: Any,
    conn_id: str,
    task_id: str,
    *,
    warm_report_id: str | None = None,
    warm_dest: str | None = None,
    on_ready: Any = None,
    **operator_kwargs: Any,
) -> TimedDownload:
    """The Criteo transfer operator's own download step of ``args.report_id`` into ``args.dest``, timed.

    With ``warm_report_id`` the same operator first downloads that (tiny) export to ``warm_dest``, untimed: the
    modules a first download imports, the token and the connection pool are then in place, so the figures are
    the streaming itself (the one-time start-up is the tiny run's own figure). ``on_ready()`` runs just before
    the clock starts."""
    import logging

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator

    operator = CriteoMpoReportToObjectStorageOperator(
        task_id=task_id, destination=args.dest, report_id=args.report_id, criteo_mpo_conn_id=conn_id, **operator_kwargs
    )
    if warm_report_id:
        options = operator.write_options
        operator.download(warm_report_id, options.landing(warm_dest, operator.output_format, operator.column_types))
    before = self_peak_rss_mib()
    landing = operator.landing()
    if on_ready is not None:
        on_ready()
    cpu, started = self_cpu_seconds(), time.perf_counter()
    result = operator.download(args.report_id, landing)
    return TimedDownload(result, time.perf_counter() - started, self_cpu_seconds() - cpu, before)


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(pct / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned text table (numbers right-aligned)."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h)) for i, h in enumerate(headers)]
    numeric = [all(_is_number(row[i]) for row in rows) if rows else False for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths)))

    print(f"\n{title}")
    print(line([str(h) for h in headers]))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print(line(row))
    sys.stdout.flush()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) or value is None


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"
