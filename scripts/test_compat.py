"""The compatibility matrix: one virtualenv per supported Airflow minor, the provider installed there as a user
would (the built wheel with its extras, pinned by constraints/airflow-<minor>.txt; pip's own resolver checked to
resolve it from scratch), and the DAG-level tests of tests/compat run in each.

    python scripts/test_compat.py                 # every minor
    python scripts/test_compat.py 2.11 3.0        # some
    python scripts/test_compat.py --pytest-args "-x -k sensor"

uv builds each virtualenv in seconds from its cache (pip takes minutes per Airflow); the virtualenvs are kept under
.compat/ and brought up to date on every run. Prints minutes per minor and exits non-zero if any minor failed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
from make_constraints import SUPPORTED  # noqa: E402

COMPAT = REPO / ".compat"


def uv() -> str:
    return shutil.which("uv") or str(Path(sys.executable).with_name("uv"))


def build_wheel() -> Path:
    dist = COMPAT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    subprocess.run([uv(), "build", "--wheel", "--quiet", "--out-dir", str(dist), str(REPO)], check=True)
    (wheel,) = dist.glob("*.whl")
    return wheel


def install(minor: str, wheel: Path) -> Path:
    venv = COMPAT / f"airflow-{minor}"
    python = venv / "bin" / "python"
    if not python.exists():
        # This interpreter's Python (the constraints are made for it): uv never downloads one.
        subprocess.run([uv(), "venv", "--quiet", "--no-python-downloads", "--python", sys.executable, str(venv)], check=True)
    constraints = REPO / "constraints" / f"airflow-{minor}.txt"
    # pip's own resolver (the one users run) must resolve the provider and its extras from scratch with the pins.
    subprocess.run(
        [
            sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--dry-run", "--ignore-installed",
            f"{wheel}[s3,parquet,redis]", "-c", str(constraints),
        ],
        check=True,
    )
    subprocess.run(
        [
            uv(), "pip", "install", "--quiet", "--python", str(python),
            "--reinstall-package", "airflow-report-provider",
            f"{wheel}[s3,parquet,redis]",
            "-r", str(REPO / "tests" / "compat" / "requirements.txt"),
            "-c", str(constraints),
        ],
        check=True,
    )
    return python


def run_tests(minor: str, python: Path, pytest_args: list[str]) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV"))}
    env["ARP_COMPAT_AIRFLOW"] = minor
    command = [str(python), "-m", "pytest", "tests/compat", "-p", "no:cacheprovider", *pytest_args]
    print(f"\n=== Airflow {SUPPORTED[minor]}: {' '.join(command[1:])}", flush=True)
    return subprocess.run(command, cwd=REPO, env=env).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("minors", nargs="*", default=list(SUPPORTED))
    parser.add_argument("--pytest-args", default="", help="extra pytest arguments")
    args = parser.parse_args()
    wheel = build_wheel()
    results = []
    for minor in args.minors:
        started = time.monotonic()
        try:
            code = run_tests(minor, install(minor, wheel), shlex.split(args.pytest_args))
        except subprocess.CalledProcessError as exc:
            print(f"Airflow {minor}: install failed ({exc})", flush=True)
            code = 1
        results.append((minor, code, (time.monotonic() - started) / 60))
    print("\nCompatibility matrix")
    for minor, code, minutes in results:
        print(f"  apache-airflow {SUPPORTED[minor]:7} {'passed' if code == 0 else f'FAILED ({code})':12} {minutes:.1f} min")
    failed = sum(1 for _, code, _ in results if code != 0)
    print(f"compat: {len(results) - failed} passed, {failed} failed")  # Airflow minors, for CI's summary line
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
