"""A DAG whose own task reads a report through the hook (hook-level lineage), run by tests/observability."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.sdk import DAG, task

from airflow_report_provider.operators.criteo_mpo import CriteoMpoCreateReportOperator

START = datetime(2026, 1, 1, tzinfo=timezone.utc)

with DAG("criteo_hook_lineage", schedule=None, start_date=START, params={"destination": ""}) as criteo_hook_lineage:
    created = CriteoMpoCreateReportOperator(
        task_id="create",
        advertiser_ids=["123"],
        lookback_window=60,
        wait_for_completion=True,
        deferrable=False,
        poll_interval=0.3,
        timeout=60,
    )

    @task
    def download(report_id: str, destination: str) -> dict:
        """A user's own task: the hook's opener streamed by the provider's writer."""
        from airflow_report_provider.common.landing.streaming import stream_to_object_storage
        from airflow_report_provider.hooks.criteo_mpo import CriteoMpoHook

        return stream_to_object_storage(CriteoMpoHook().open_download(report_id), destination).as_xcom()

    download(created.output, "{{ params.destination }}")
