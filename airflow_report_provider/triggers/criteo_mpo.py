"""Deferrable wait for a Criteo MPO export."""

from __future__ import annotations

from typing import Any

from airflow_report_provider.hooks.criteo_mpo import CriteoMpoAsyncHook
from airflow_report_provider.operators.report_api import CRITEO_MPO
from airflow_report_provider.triggers.base import ReportJobTrigger


class CriteoMpoReportTrigger(ReportJobTrigger):
    """Polls a Criteo export until Done, Failure or Expired, or until the absolute deadline.

    Serialises only ``report_id``, ``criteo_mpo_conn_id``, the poll settings and the deadline (epoch seconds).
    Polls start at 5 s (Criteo asks for no more than one poll every 5-10 s) and back off to 60 s, unless
    ``poll_interval`` / ``max_poll_interval`` say otherwise; without a ``deadline`` or ``timeout`` the trigger
    gives up after 1 hour (the poll settings: :class:`~airflow_report_provider.triggers.base.ReportJobTrigger`).

    :param report_id: the export id.
    :param criteo_mpo_conn_id: the ``criteo_mpo`` connection.
    """

    api = CRITEO_MPO
    hook_class = CriteoMpoAsyncHook

    def __init__(self, report_id: str, criteo_mpo_conn_id: str = "criteo_mpo_default", **wait: Any) -> None:
        super().__init__(job_id=report_id, conn_id=criteo_mpo_conn_id, **wait)
