"""Sensor waiting for a Walmart report request to be READY."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_report_provider.apis.walmart import validate_request_id
from airflow_report_provider.operators.base import default_deferrable
from airflow_report_provider.operators.report_api import WALMART
from airflow_report_provider.sensors.base import ReportJobSensorBase


class WalmartReportSensor(ReportJobSensorBase):
    """Wait until a Walmart report request is READY (poke, reschedule or deferrable); fail on ERROR.

    :param request_id: the report request id (templated; e.g. the create operator's ``.output``).
    :param walmart_conn_id: the ``walmart_marketplace`` connection.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls (default 60 s; Walmart throttles status polls).
    """

    template_fields: Sequence[str] = ("request_id", "walmart_conn_id")
    api = WALMART

    def __init__(
        self,
        *,
        request_id: Any,
        walmart_conn_id: str = "walmart_marketplace_default",
        deferrable: bool = default_deferrable(),
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poll_interval=poll_interval, max_poll_interval=max_poll_interval, job_id=request_id, conn_id=walmart_conn_id, deferrable=deferrable, **kwargs)

    def validate_job_id(self, job_id: Any) -> str:
        return validate_request_id(job_id)
