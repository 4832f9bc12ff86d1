"""Deferrable wait for a Walmart on-request report."""

from __future__ import annotations

from typing import Any

from airflow_report_provider.hooks.walmart import WalmartMarketplaceAsyncHook
from airflow_report_provider.operators.report_api import WALMART
from airflow_report_provider.triggers.base import ReportJobTrigger


class WalmartReportTrigger(ReportJobTrigger):
    """Polls a Walmart report request until READY or ERROR, or until the absolute deadline.

    Walmart throttles status polls and takes up to 45 minutes (sometimes more) to generate a report: polls
    start at 60 s and back off to 5 minutes, and the default deadline is 2 hours (``poll_interval``,
    ``max_poll_interval``, ``deadline`` and ``timeout`` as in :class:`~airflow_report_provider.triggers.base.ReportJobTrigger`).

    :param request_id: the report request id.
    :param walmart_conn_id: the ``walmart_marketplace`` connection.
    """

    api = WALMART
    hook_class = WalmartMarketplaceAsyncHook

    def __init__(self, request_id: str, walmart_conn_id: str = "walmart_marketplace_default", **wait: Any) -> None:
        super().__init__(job_id=request_id, conn_id=walmart_conn_id, **wait)
