"""Sensor waiting for a Walmart report request to be READY."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_report_provider.hooks.walmart import WalmartMarketplaceHook
from airflow_report_provider.operators.base import default_deferrable
from airflow_report_provider.sensors.base import ReportJobSensorBase
from airflow_report_provider.triggers.walmart import WalmartReportTrigger


class WalmartReportSensor(ReportJobSensorBase):
    """Wait until a Walmart report request is READY (poke, reschedule or deferrable); fail on ERROR.

    :param request_id: the report request id (templated, e.g. from the create operator's XCom).
    :param walmart_conn_id: the ``walmart_marketplace`` connection.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls (default 60 s; Walmart throttles status polls).
    """

    template_fields: Sequence[str] = ("request_id", "walmart_conn_id")
    trigger_class = WalmartReportTrigger
    hook_class = WalmartMarketplaceHook
    job_id_field = "request_id"
    state_store_key = "walmart_request_id"

    def __init__(
        self,
        *,
        request_id: str,
        walmart_conn_id: str = "walmart_marketplace_default",
        deferrable: bool = default_deferrable(),
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(deferrable=deferrable, poll_interval=poll_interval, max_poll_interval=max_poll_interval, **kwargs)
        self.request_id = request_id
        self.walmart_conn_id = walmart_conn_id

    def conn_id_value(self) -> str:
        return self.walmart_conn_id

