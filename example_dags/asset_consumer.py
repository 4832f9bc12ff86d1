"""Runs whenever ``criteo_mpo_hourly`` has written an hour: summarises that report next to it.

Scheduled on the Asset the Criteo transfer declares as its outlet. For each triggering asset event (or, in a
manual run, the latest event of the Asset) it reads the transfer's XCom (``uri``, ``bytes``, ``sha256``),
streams the CSV back from object storage, and writes ``_summary.json`` (rows and metric totals) into the same
partition: the leading underscore keeps query engines (Hive, Spark, Athena) from reading it as data.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, Asset, ObjectStoragePath, task

#: The same Asset as in criteo_mpo_hourly.py (Assets are matched by name and URI).
CRITEO_MPO_HOURLY_REPORT = Asset(name="criteo_mpo_hourly_report", uri="reports://criteo_mpo/hourly")
METRICS = ("Clicks", "Displays", "Cost")
log = logging.getLogger(__name__)


def summarise_csv(path: ObjectStoragePath) -> dict[str, Any]:
    """Row count and totals of the metric columns of a Criteo CSV, read as a stream."""
    totals = dict.fromkeys(METRICS, 0.0)
    rows = 0
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        for row in csv.DictReader(text):
            rows += 1
            for metric in METRICS:
                if row.get(metric):
                    totals[metric] += float(row[metric])
    return {"rows": rows, **{name.lower(): round(total, 2) for name, total in totals.items()}}


with DAG(
    dag_id="criteo_mpo_hourly_summary",
    description="Summarise each hourly Criteo MPO report once it has landed",
    schedule=[CRITEO_MPO_HOURLY_REPORT],
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["criteo", "reports", "example", "assets"],
) as dag:

    @task(inlets=[CRITEO_MPO_HOURLY_REPORT])
    def summarise(triggering_asset_events: Any = None, inlet_events: Any = None) -> list[dict[str, Any]]:
        """One ``_summary.json`` per report this run was triggered by."""
        events = list(triggering_asset_events.get(CRITEO_MPO_HOURLY_REPORT, [])) if triggering_asset_events else []
        if not events:  # a manual run: take the latest report
            latest = inlet_events[CRITEO_MPO_HOURLY_REPORT]
            events = [latest[-1]] if len(latest) else []
        summaries = []
        for event in events:
            source = event.source_task_instance
            written = source.xcom_pull() if source is not None else None
            if not written:
                log.warning("Asset event from run %s has no transfer result; skipping", event.source_run_id)
                continue
            report = ObjectStoragePath(written["uri"])
            summary = {"report": written["uri"], "bytes": written["bytes"], "sha256": written["sha256"], **summarise_csv(report)}
            target = report.parent / "_summary.json"
            target.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
            log.info("Wrote %s: %s", target, summary)
            summaries.append({**summary, "summary": str(target)})
        return summaries

    summarise()
