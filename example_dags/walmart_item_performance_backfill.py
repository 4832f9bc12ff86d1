"""Walmart ITEM_PERFORMANCE (v3, daily rows) per UTC day, backfilled from ``start_date`` (``catchup=True``).

ITEM_PERFORMANCE is a *windowed* report: the run for the day ``[D, D+1)`` asks for
``dataStartTime D 00:00:00Z`` / ``dataEndTime D 23:59:59Z`` (Walmart's end stamps are inclusive) with
``dateGranularity DAILY``, and writes ``<reports_destination>/walmart/item_performance/dt=D/item_performance.csv``.
Re-running a day overwrites its partition atomically.

Walmart accepts **one request per report type per hour**. Each day of a backfill is a different request, so a
30-day backfill needs about 30 hours against the real API. The DAG paces itself: one run at a time
(``max_active_runs=1``), and a create refused with HTTP 429 (``RateLimitedError``) is retried an hour later by
the retry policy below instead of failing. For a faster backfill, use wider windows: a weekly schedule with
``dateGranularity DAILY`` still gives daily rows (up to 15 days per request) for one request per week.

Settings: the ``walmart_marketplace_default`` connection and the Variable ``reports_destination``
(see ``walmart_item_report_daily.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable, ExceptionRetryPolicy, RetryRule

from airflow_report_provider.transfers.walmart_to_object_storage import WalmartReportToObjectStorageOperator

REPORTS_DESTINATION = "{{ var.value.get('reports_destination', 'file:///tmp/airflow-reports') }}"

#: Walmart's hourly create quota: wait an hour after a 429 (it is not worth a failed task); other errors keep
#: the task's normal retry delay.
HOURLY_QUOTA = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception="airflow_report_provider.common.exceptions.RateLimitedError",
            retry_delay=timedelta(hours=1),
            reason="Walmart allows one report request per report type per hour",
        )
    ]
)

with DAG(
    dag_id="walmart_item_performance_backfill",
    description="Daily Walmart ITEM_PERFORMANCE windows, backfilled one day per run",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),  # the first day you need (at most 2 years back)
    catchup=True,
    max_active_runs=1,
    default_args={"retries": 48, "retry_delay": timedelta(minutes=10), "retry_policy": HOURLY_QUOTA},
    tags=["walmart", "reports", "example", "backfill"],
) as dag:
    WalmartReportToObjectStorageOperator(
        task_id="item_performance",
        report_type="ITEM_PERFORMANCE",
        report_version="v3",
        # dataStartTime / dataEndTime come from the run's data interval.
        request_body={"dateGranularity": "DAILY"},
        destination=f"{REPORTS_DESTINATION}/walmart/item_performance/dt={{{{ data_interval_start | ds }}}}/item_performance.csv",
        deferrable=True,
        timeout=timedelta(hours=3),
    )
