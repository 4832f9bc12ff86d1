"""Deferrable wait for a Criteo MPO export."""

from __future__ import annotations

from typing import Any

from airflow_report_provider.common.states import ReportStatus
from airflow_report_provider.hooks.criteo_mpo import CriteoMpoAsyncHook
from airflow_report_provider.triggers.base import ReportJobTrigger


class CriteoMpoReportTrigger(ReportJobTrigger):
    """Polls a Criteo export until Done, Failure or Expired, or until the absolute deadline.

    Serialises only ``report_id``, ``criteo_mpo_conn_id``, the poll settings and the deadline (epoch seconds).
    Polls start at 5 s (Criteo asks for no more than one poll every 5-10 s) and back off to 60 s.

    :param report_id: the export id.
    :param criteo_mpo_conn_id: the ``criteo_mpo`` connection.
    :param poll_interval: first (and, without ``max_poll_interval``, every) wait between polls, in seconds.
    :param max_poll_interval: cap of the back-off, in seconds.
    :param deadline: epoch seconds after which the trigger emits a ``timeout`` event.
    :param timeout: seconds from now, used when no ``deadline`` is given.
    """

    job_id_field = "report_id"
    conn_id_field = "criteo_mpo_conn_id"
    api_min_poll_interval = 5.0
    api_max_poll_interval = 60.0
    default_timeout_seconds = 3600.0

    def __init__(self, report_id: str, criteo_mpo_conn_id: str = "criteo_mpo_default", **wait: Any) -> None:
        super().__init__(job_id=report_id, conn_id=criteo_mpo_conn_id, **wait)
        self.report_id = report_id
        self.criteo_mpo_conn_id = criteo_mpo_conn_id

    def make_hook(self) -> CriteoMpoAsyncHook:
        return CriteoMpoAsyncHook(criteo_mpo_conn_id=self.conn_id)

    async def fetch_status(self, hook: Any) -> ReportStatus:
        return await hook.get_report_status(self.job_id)
