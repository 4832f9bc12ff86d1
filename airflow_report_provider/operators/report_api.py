"""What the Airflow wrappers (operators, sensors, transfers) need to know about one report API.

Hooks and triggers are named by import path and loaded when a task runs, so importing an operator module at DAG
parse costs no HTTP library.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from airflow_report_provider.common.polling import PollSchedule


@dataclass(frozen=True)
class ReportApi:
    """One API's names, classes and polling guidance."""

    #: The API's protocol name ("criteo_mpo", "walmart"): lineage names and default column types go by it.
    name: str
    #: What one job's report is called in log lines ("Criteo export", "Walmart report").
    job_noun: str
    #: The downloads may be zip / gzip / plain files (spooled locally, unpacked) rather than the report itself.
    archived_downloads: bool

    #: Name of the job id argument and event field ("report_id", "request_id").
    job_id_field: str
    #: Name of the connection id argument ("criteo_mpo_conn_id", "walmart_conn_id").
    conn_id_field: str
    #: Key of the job record in Airflow's task state store (stable: renaming it breaks in-flight retries).
    state_store_key: str
    #: ``module:Class`` of the sync hook (its first argument is the connection id) and of the trigger.
    hook_path: str
    trigger_path: str
    #: First poll interval and cap of the back-off (seconds); default wait before a timeout.
    min_poll_interval: float
    max_poll_interval: float
    default_timeout: float

    @cached_property
    def hook_class(self) -> type:
        return _load(self.hook_path)

    @cached_property
    def trigger_class(self) -> type:
        return _load(self.trigger_path)

    def poll_schedule(self, poll_interval: float | None, max_poll_interval: float | None) -> PollSchedule:
        """The adaptive schedule; an explicit ``poll_interval`` always wins."""
        return PollSchedule.for_api(
            api_minimum=self.min_poll_interval,
            api_maximum=self.max_poll_interval,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
        )


def _load(path: str) -> Any:
    import importlib

    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


CRITEO_MPO = ReportApi(
    name="criteo_mpo",
    job_noun="Criteo export",
    archived_downloads=False,
    job_id_field="report_id",
    conn_id_field="criteo_mpo_conn_id",
    state_store_key="criteo_mpo_report_id",
    hook_path="airflow_report_provider.hooks.criteo_mpo:CriteoMpoHook",
    trigger_path="airflow_report_provider.triggers.criteo_mpo:CriteoMpoReportTrigger",
    min_poll_interval=5.0,
    max_poll_interval=60.0,
    default_timeout=3600.0,
)

WALMART = ReportApi(
    name="walmart",
    job_noun="Walmart report",
    archived_downloads=True,
    job_id_field="request_id",
    conn_id_field="walmart_conn_id",
    state_store_key="walmart_request_id",
    hook_path="airflow_report_provider.hooks.walmart:WalmartMarketplaceHook",
    trigger_path="airflow_report_provider.triggers.walmart:WalmartReportTrigger",
    min_poll_interval=60.0,
    max_poll_interval=300.0,
    default_timeout=2 * 3600.0,
)
