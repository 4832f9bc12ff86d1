"""Sensor waiting for a Criteo MPO export to be Done."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_report_provider.hooks.criteo_mpo import CriteoMpoHook
from airflow_report_provider.operators.base import default_deferrable
from airflow_report_provider.sensors.base import ReportJobSensorBase
from airflow_report_provider.triggers.criteo_mpo import CriteoMpoReportTrigger


class CriteoMpoReportSensor(ReportJobSensorBase):
    """Wait until a Criteo export is Done (poke, reschedule or deferrable); fail on Failure or Expired.

    :param report_id: the export id (templated, e.g. from the create operator's XCom).
    :param criteo_mpo_conn_id: the ``criteo_mpo`` connection.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls (default 5 s, backing off to 60 s when deferrable).
    """

    template_fields: Sequence[str] = ("report_id", "criteo_mpo_conn_id")
    trigger_class = CriteoMpoReportTrigger
    hook_class = CriteoMpoHook
    job_id_field = "report_id"
    state_store_key = "criteo_mpo_report_id"

    def __init__(
        self,
        *,
        report_id: str,
        criteo_mpo_conn_id: str = "criteo_mpo_default",
        deferrable: bool = default_deferrable(),
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(deferrable=deferrable, poll_interval=poll_interval, max_poll_interval=max_poll_interval, **kwargs)
        self.report_id = report_id
        self.criteo_mpo_conn_id = criteo_mpo_conn_id

    def conn_id_value(self) -> str:
        return self.criteo_mpo_conn_id

