"""Sensor waiting for a Criteo MPO export to be Done."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_report_provider.apis.criteo_mpo import validate_report_id
from airflow_report_provider.operators.base import default_deferrable
from airflow_report_provider.operators.report_api import CRITEO_MPO
from airflow_report_provider.sensors.base import ReportJobSensorBase


class CriteoMpoReportSensor(ReportJobSensorBase):
    """Wait until a Criteo export is Done (poke, reschedule or deferrable); fail on Failure or Expired.

    :param report_id: the export id (templated; e.g. the create operator's ``.output``).
    :param criteo_mpo_conn_id: the ``criteo_mpo`` connection.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls (default 5 s, backing off to 60 s when deferrable).
    """

    template_fields: Sequence[str] = ("report_id", "criteo_mpo_conn_id")
    api = CRITEO_MPO

    def __init__(
        self,
        *,
        report_id: Any,
        criteo_mpo_conn_id: str = "criteo_mpo_default",
        deferrable: bool = default_deferrable(),
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poll_interval=poll_interval, max_poll_interval=max_poll_interval, job_id=report_id, conn_id=criteo_mpo_conn_id, deferrable=deferrable, **kwargs)

    def validate_job_id(self, job_id: Any) -> str:
        return validate_report_id(job_id)
