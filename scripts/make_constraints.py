"""Write constraints/airflow-<minor>.txt: one pinned, tested set of packages per supported Airflow minor.

Airflow publishes a constraints file per release, made when the release was cut; they cannot be fetched here, and
without them pip pairs an older Airflow with packages released after it that it breaks on (apache-airflow 3.2.2 with
pydantic 2.14). This script makes the same kind of file for each minor's latest patch: it resolves Airflow, the
provider with every extra, and the compatibility tests' own requirements with uv, taking only packages uploaded
before that patch's release day was over (``--exclude-newer``), the way Airflow's own file was frozen. The provider's
newer shims package (common-compat) is let through at its current release.

    python scripts/make_constraints.py            # every minor
    python scripts/make_constraints.py 3.1 3.2    # some

uv resolves in seconds where pip would take minutes; it is installed by ``pip install uv`` (Makefile: make
constraints). Needs the package index (PyPI's JSON simple API) for the release dates.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Every supported minor and the patch its constraints pin (the latest).
SUPPORTED = {"2.11": "2.11.2", "3.0": "3.0.6", "3.1": "3.1.8", "3.2": "3.2.2", "3.3": "3.3.2"}
#: Requirements whose release after the Airflow patch is deliberate (the provider needs their current shims).
NEWER_ALLOWED = ("apache-airflow-providers-common-compat",)
EXTRAS = ("s3", "parquet", "redis")
PYTHON = "3.11"
INDEX = "https://pypi.org/simple"


def release_time(package: str, version: str) -> dt.datetime:
    """When ``package==version`` was uploaded (its first file), from the index's JSON simple API (PEP 691)."""
    request = urllib.request.Request(f"{INDEX}/{package}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        files = json.load(answer)["files"]
    times = [f["upload-time"] for f in files if f"-{version}-" in f["filename"] or f["filename"].endswith(f"-{version}.tar.gz")]
    if not times:
        raise SystemExit(f"{package} {version} is not on the index")
    return dt.datetime.fromisoformat(min(times).replace("Z", "+00:00"))


def compile_constraints(minor: str, patch: str, uv: str) -> Path:
    cutoff = release_time("apache-airflow", patch) + dt.timedelta(days=1)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    target = REPO / "constraints" / f"airflow-{minor}.txt"
    with tempfile.TemporaryDirectory() as tmp:
        pinned = Path(tmp) / "airflow.in"
        pinned.write_text(f"apache-airflow=={patch}\n")
        command = [
            uv, "pip", "compile", "--quiet", "--no-header", "--no-annotate",
            "--python-version", PYTHON,
            "--exclude-newer", cutoff.strftime("%Y-%m-%dT%H:%M:%SZ"),
            *(arg for name in NEWER_ALLOWED for arg in ("--exclude-newer-package", f"{name}={now}")),
            *(arg for extra in EXTRAS for arg in ("--extra", extra)),
            str(REPO / "pyproject.toml"), str(pinned), str(REPO / "tests" / "compat" / "requirements.txt"),
        ]
        pins = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO).stdout
    header = (
        f"# Constraints for airflow-report-provider beside apache-airflow {patch} on Python {PYTHON}.\n"
        f"# Packages as released by {cutoff:%Y-%m-%d} (Airflow {patch} came out {cutoff - dt.timedelta(days=1):%Y-%m-%d}),\n"
        f"# with every extra ({', '.join(EXTRAS)}) and the compatibility tests' requirements. Made by\n"
        f"# scripts/make_constraints.py; tested by make test-compat.\n"
        f"#   pip install 'airflow-report-provider[s3,parquet]' -c constraints/airflow-{minor}.txt\n"
    )
    target.write_text(header + pins)
    return target


def main(minors: list[str]) -> None:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    for minor in minors or list(SUPPORTED):
        print(compile_constraints(minor, SUPPORTED[minor], uv))


if __name__ == "__main__":
    main(sys.argv[1:])
