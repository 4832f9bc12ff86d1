"""Deferrable wait for a Walmart on-request report."""

from __future__ import annotations

from typing import Any

from airflow_report_provider.common.states import ReportStatus
from airflow_report_provider.hooks.walmart import WalmartMarketplaceAsyncHook
from airflow_report_provider.triggers.base import ReportJobTrigger


class WalmartReportTrigger(ReportJobTrigger):
    """Polls a Walmart report request until READY or ERROR, or until the absolute deadline.

    Walmart throttles status polls and takes up to 45 minutes (sometimes more) to generate a report: polls
    start at 60 s and back off to 5 minutes; the default deadline is 2 hours.

    :param request_id: the report request id.
    :param walmart_conn_id: the ``walmart_marketplace`` connection.
    :param poll_interval: first (and, without ``max_poll_interval``, every) wait between polls, in seconds.
    :param max_poll_interval: cap of the back-off, in seconds.
    :param deadline: epoch seconds after which the trigger emits a ``timeout`` event.
    :param timeout: seconds from now, used when no ``deadline`` is given.
    """

    job_id_field = "request_id"
    conn_id_field = "walmart_conn_id"
    api_min_poll_interval = 60.0
    api_max_poll_interval = 300.0
    default_timeout_seconds = 2 * 3600.0

    def __init__(self, request_id: str, walmart_conn_id: str = "walmart_marketplace_default", **wait: Any) -> None:
        super().__init__(job_id=request_id, conn_id=walmart_conn_id, **wait)
        self.request_id = request_id
        self.walmart_conn_id = walmart_conn_id

    def make_hook(self) -> WalmartMarketplaceAsyncHook:
        return WalmartMarketplaceAsyncHook(walmart_conn_id=self.conn_id)

    async def fetch_status(self, hook: Any) -> ReportStatus:
        return await hook.get_request_status(self.job_id)
