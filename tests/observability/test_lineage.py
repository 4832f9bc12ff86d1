"""OpenLineage: a transfer's COMPLETE event carries the report as input and the written object as output.

The DAGs run with ``dag.test()`` in a child process whose Airflow has the OpenLineage provider enabled with a file
transport (set through the environment before Airflow loads its plugins and listeners), against the simulator and
moto's S3 over loopback. The naming rules are checked directly too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_report_provider.common.observability.lineage import report_name, storage_dataset, storage_uri

REPO = Path(__file__).resolve().parents[2]

RUN_DAGS = """
import json, sys
from datetime import datetime, timezone
from tests.dags import criteo_test_dags, walmart_test_dags
from tests.support.airflow_env import task_states
criteo_target, walmart_target = sys.argv[1], sys.argv[2]
when = datetime(2026, 11, 23, 5, tzinfo=timezone.utc)
states = {}
# First: in-process runs share Airflow's hook lineage collector (a deployment runs each task in its own process).
from tests.dags import lineage_dags
run = lineage_dags.criteo_hook_lineage.test(logical_date=when, run_conf={"destination": sys.argv[3]})
states["hook"] = task_states(run)
run = criteo_test_dags.criteo_transfer_deferrable.test(
    logical_date=when, run_conf={"destination": criteo_target, "file_format": "csv"}
)
states["criteo"] = task_states(run)
run = walmart_test_dags.walmart_transfer_blocking.test(logical_date=when, run_conf={"destination": walmart_target})
states["walmart"] = task_states(run)
print("STATES=" + json.dumps(states))
"""


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("s3://aws_default@my-bucket/mpo/dt=2026-11-23/report.csv", ("s3://my-bucket", "mpo/dt=2026-11-23/report.csv")),
        ("s3://user:pa55@my-bucket/a.csv?X-Amz-Signature=abc", ("s3://my-bucket", "a.csv")),
        ("s3a://my-bucket/a.csv", ("s3://my-bucket", "a.csv")),
        ("gs://google_cloud_default@bucket/dir/a.csv", ("gs://bucket", "dir/a.csv")),
        ("gcs://bucket/a.csv", ("gs://bucket", "a.csv")),
        ("file:///data/mpo/a.csv", ("file", "/data/mpo/a.csv")),
        ("file://nas01/data/a.csv", ("file://nas01", "/data/a.csv")),
    ],
)
def test_object_storage_is_named_as_openlineage_names_it(uri, expected):
    assert storage_dataset(uri) == expected
    assert "pa55" not in storage_uri(uri) and "@" not in storage_uri(uri)


def test_report_names():
    """One name per report, whoever records it (hook lineage or a transfer's facets): the job it was served from."""
    assert report_name("criteo_mpo", "r-1") == "marketplace-performance-outcomes/exports/r-1"
    assert report_name("walmart", "q-1") == "reports/requests/q-1"


def openlineage_env(events: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENLINEAGE_DISABLED"}
    env.update(
        {
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events / "event"), "append": False}),
            "AIRFLOW__OPENLINEAGE__NAMESPACE": "report-provider-tests",
            "AIRFLOW__OPENLINEAGE__DISABLED": "False",
            "AIRFLOW__OPENLINEAGE__SELECTIVE_ENABLE": "False",
            # The listener emits from a fork it kills after this many seconds: generous on a busy 2-core machine.
            "AIRFLOW__OPENLINEAGE__EXECUTION_TIMEOUT": "60",
            "PYTHONPATH": str(REPO),
        }
    )
    return env


def complete_event(events: Path, job_name: str) -> dict[str, Any]:
    found = []
    for path in sorted(events.glob("event*")):
        event = json.loads(path.read_text())
        if event.get("eventType") == "COMPLETE" and event.get("job", {}).get("name") == job_name:
            found.append(event)
    names = sorted({json.loads(p.read_text()).get("job", {}).get("name", "?") for p in events.glob("event*")})
    assert len(found) == 1, f"COMPLETE events of {job_name}: {len(found)}; jobs seen: {names}"
    return found[0]


@pytest.mark.observability
@pytest.mark.slow
def test_transfer_complete_events_carry_input_and_output(sim, airflow_db, s3_bucket, tmp_path):
    pytest.importorskip("airflow.providers.openlineage", reason="apache-airflow-providers-openlineage (dev extra)")
    events = tmp_path / "events"
    events.mkdir()
    criteo_key, walmart_file = "mpo/dt=2026-11-23/report.csv", tmp_path / "walmart" / "items.csv"
    hook_file = tmp_path / "hook" / "export.csv"
    done = subprocess.run(
        [sys.executable, "-c", RUN_DAGS, s3_bucket.url(criteo_key), f"file://{walmart_file}", f"file://{hook_file}"],
        env=openlineage_env(events),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (
        'STATES={"hook": {"create": "success", "download": "success"}, '
        '"criteo": {"transfer": "success"}, "walmart": {"transfer": "success"}}'
    ) in done.stdout
    api = sim.url  # http://127.0.0.1:<port>: scheme and host only

    criteo = complete_event(events, "criteo_transfer_deferrable.transfer")
    (source,) = criteo["inputs"]
    assert source["namespace"] == api
    # The export the transfer landed, named as the hook-level lineage names it (one dataset per report).
    jobs = {rid: (j.attributes if hasattr(j, "attributes") else j["attributes"]) for rid, j in sim.criteo_jobs.items()}
    (transferred,) = [rid for rid, a in jobs.items() if sorted(a["advertiserIds"]) == ["123", "456"]]
    assert source["name"] == f"marketplace-performance-outcomes/exports/{transferred}"
    (target,) = criteo["outputs"]
    assert (target["namespace"], target["name"]) == (f"s3://{s3_bucket.name}", criteo_key)
    written = s3_bucket.read(criteo_key)
    assert target["outputFacets"]["outputStatistics"]["size"] == len(written)

    walmart = complete_event(events, "walmart_transfer_blocking.transfer")
    (source,) = walmart["inputs"]
    (request_id,) = sim.walmart_requests
    assert source["namespace"] == api and source["name"] == f"reports/requests/{request_id}"
    (target,) = walmart["outputs"]
    assert (target["namespace"], target["name"]) == ("file", str(walmart_file))
    assert target["outputFacets"]["outputStatistics"]["size"] == walmart_file.stat().st_size

    # A user's task that reads through the hook: hook-level lineage gives the same kind of input and output.
    hook_task = complete_event(events, "criteo_hook_lineage.download")
    (report_id,) = [rid for rid, a in jobs.items() if a["advertiserIds"] == ["123"]]
    inputs = [(d["namespace"], d["name"]) for d in hook_task["inputs"]]
    assert inputs == [(api, f"marketplace-performance-outcomes/exports/{report_id}")]
    assert [(d["namespace"], d["name"]) for d in hook_task["outputs"]] == [("file", str(hook_file))]

    # No secret in any event; no connection id or user in any dataset (the run's conf, shown as given, has one).
    cfg = sim.config
    everything = [json.loads(p.read_text()) for p in events.glob("event*")]
    for secret in (cfg.criteo_client_secret, cfg.walmart_client_secret):
        assert secret not in json.dumps(everything)
    datasets = json.dumps([e.get(k) for e in everything for k in ("inputs", "outputs")])
    assert "@" not in datasets and s3_bucket.conn_id not in datasets


def test_typed_output_gets_a_schema_and_statistics():
    pytest.importorskip("airflow.providers.openlineage", reason="apache-airflow-providers-openlineage (dev extra)")
    from airflow_report_provider.common.observability.lineage import build_lineage

    result = {
        "uri": "s3://aws_default@bucket/mpo/report.parquet",
        "bytes": 2048,
        "rows": 24,
        "columns": [{"name": "AdvertiserId", "type": "string"}, {"name": "Clicks", "type": "int64"}],
    }
    lineage = build_lineage("https://api.criteo.com", "marketplace-performance-outcomes/advertisers=1", result)
    (source,) = lineage.inputs
    assert (source.namespace, source.name) == ("https://api.criteo.com", "marketplace-performance-outcomes/advertisers=1")
    (target,) = lineage.outputs
    assert (target.namespace, target.name) == ("s3://bucket", "mpo/report.parquet")
    assert [(f.name, f.type) for f in target.facets["schema"].fields] == [("AdvertiserId", "string"), ("Clicks", "int64")]
    statistics = target.outputFacets["outputStatistics"]
    assert (statistics.rowCount, statistics.size) == (24, 2048)
    # A mapping of column types works too; raw output (no columns, no rows) has statistics and no schema.
    typed = build_lineage("https://h", "n", {**result, "columns": {"a": "string"}})
    assert [(f.name, f.type) for f in typed.outputs[0].facets["schema"].fields] == [("a", "string")]
    raw = build_lineage("https://h", "n", {"uri": "file:///data/r.csv", "bytes": 10})
    assert "schema" not in raw.outputs[0].facets and raw.outputs[0].outputFacets["outputStatistics"].rowCount is None


def test_hook_level_report_assets_are_scrubbed_and_convert_to_the_operators_naming():
    pytest.importorskip("airflow.providers.openlineage", reason="apache-airflow-providers-openlineage (dev extra)")
    from airflow.sdk import Asset

    from airflow_report_provider.common.observability.lineage import ASSET_SCHEMES, asset_to_openlineage, report_asset_uri
    from airflow_report_provider.get_provider_info import get_provider_info

    uri = report_asset_uri("criteo_mpo", "https://client:s3cret@api.criteo.com/preview?token=abc", "marketplace-performance-outcomes/exports/r1")
    assert uri == "criteo-mpo+https://api.criteo.com/marketplace-performance-outcomes/exports/r1"
    dataset = asset_to_openlineage(Asset(uri=uri))
    assert (dataset.namespace, dataset.name) == ("https://api.criteo.com", "marketplace-performance-outcomes/exports/r1")
    walmart = report_asset_uri("walmart", "http://127.0.0.1:8080", "reports/requests/q1")
    assert walmart.split("://")[0] in ASSET_SCHEMES
    (registered,) = get_provider_info()["asset-uris"]
    assert set(registered["schemes"]) == set(ASSET_SCHEMES) and registered["to_openlineage_converter"].endswith("asset_to_openlineage")
