"""Operator that submits a Criteo MPO real-time export (and optionally waits for it)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_report_provider.apis.criteo_mpo import CriteoReportRequest, check_arguments
from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.common.states import ReportStatus
from airflow_report_provider.common.validation import duration
from airflow_report_provider.common.windows import DEFAULT_DATA_LATENCY, ReportWindow, resolve_window
from airflow_report_provider.operators.arguments import check_at_parse
from airflow_report_provider.operators.base import ReportJobOperator
from airflow_report_provider.operators.outcomes import fail_task
from airflow_report_provider.operators.report_api import CRITEO_MPO

if TYPE_CHECKING:
    from airflow_report_provider.compat import Context

#: Window used when neither a lookback, explicit bounds nor a data interval is available (manual runs).
FALLBACK_LOOKBACK_MINUTES = 60

CRITEO_REPORT_FIELDS: Sequence[str] = (
    "advertiser_ids",
    "campaign_ids",
    "seller_ids",
    "dimensions",
    "metrics",
    "file_format",
    "lookback_window",
    "report_start",
    "report_end",
    "timezone",
    "currency",
)
_WINDOW_FIELDS = ("lookback_window", "report_start", "report_end")


def _unset(value: Any) -> bool:
    return value is None or value == ""


def _without_unset_window(arguments: dict[str, Any]) -> dict[str, Any]:
    """No lookback, start or end at all means "the run's data interval": the window rule does not apply."""
    if all(name in arguments and _unset(arguments[name]) for name in _WINDOW_FIELDS):
        return {name: value for name, value in arguments.items() if name not in _WINDOW_FIELDS}
    return arguments


class CriteoMpoReportOperatorBase(ReportJobOperator):
    """The report arguments, window and latency wait of the Criteo operators (create and transfer)."""

    api = CRITEO_MPO

    def __init__(
        self,
        *,
        advertiser_ids: Any = None,
        campaign_ids: Any = None,
        seller_ids: Any = None,
        dimensions: Any = None,
        metrics: Any = None,
        file_format: Any = "csv",
        lookback_window: Any = None,
        report_start: Any = None,
        report_end: Any = None,
        timezone: Any = None,
        currency: Any = None,
        criteo_mpo_conn_id: str = "criteo_mpo_default",
        data_latency: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.advertiser_ids = advertiser_ids
        self.campaign_ids = campaign_ids
        self.seller_ids = seller_ids
        self.dimensions = dimensions
        self.metrics = metrics
        self.file_format = file_format
        self.lookback_window = lookback_window
        self.report_start = report_start
        self.report_end = report_end
        self.timezone = timezone
        self.currency = currency
        self.criteo_mpo_conn_id = criteo_mpo_conn_id
        latency = duration("data_latency", data_latency, allow_zero=True)
        self.data_latency = DEFAULT_DATA_LATENCY if latency is None else timedelta(seconds=latency)

    def report_arguments(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CRITEO_REPORT_FIELDS}

    def check_literal_arguments(self) -> None:
        """DAG-parse check of every literal argument (the others are checked once rendered)."""
        check_at_parse(lambda known: check_arguments(_without_unset_window(known)), self.report_arguments())

    def build_report(self, context: Context) -> tuple[CriteoReportRequest, ReportWindow | None]:
        """The validated request for this run and its window (raises before any HTTP call; not retried)."""
        arguments = self.report_arguments()
        try:
            check_arguments(_without_unset_window(arguments))  # the parse-time rules: same field, same message
            window = self.report_window(context)
            if window is not None and _unset(self.lookback_window) and _unset(self.report_start):
                arguments.update(report_start=window.start, report_end=window.end)
            elif all(_unset(arguments[name]) for name in _WINDOW_FIELDS):
                self.log.info("No window, lookback or data interval: using a %d-minute lookback", FALLBACK_LOOKBACK_MINUTES)
                arguments["lookback_window"] = FALLBACK_LOOKBACK_MINUTES
            return CriteoReportRequest.build(**arguments), window
        except ReportValidationError as exc:
            raise fail_task(exc) from exc

    def report_window(self, context: Context) -> ReportWindow | None:
        """The absolute window this run asks for: explicit bounds first, else the run's data interval; ``None``
        for a lookback (or a run without a data interval)."""
        return resolve_window(
            report_start=self.report_start,
            report_end=self.report_end,
            lookback_window=self.lookback_window,
            data_interval_start=context.get("data_interval_start"),
            data_interval_end=context.get("data_interval_end"),
        )

    def wait_until_settled(self, window: ReportWindow | None, resume_method: str) -> None:
        """Defer (or sleep, when not deferrable) until the window's data is complete (Criteo lags ~10 minutes)."""
        if window is None or window.end is None:
            return
        wait = window.seconds_until_settled(datetime.now(timezone.utc), self.data_latency)
        if wait <= 0:
            return
        moment = window.settles_at(self.data_latency)
        self.log.info("Window %s closes its data latency at %s; waiting %.0f s before submitting", window, moment, wait)
        if self.deferrable:
            from airflow_report_provider.compat import DateTimeTrigger

            self.defer(trigger=DateTimeTrigger(moment=moment), method_name=resume_method)
        time.sleep(wait)

    def submit_job(self, context: Context, *, settled: bool = False) -> ReportStatus:
        """Build this run's request, wait until its window has settled (unless it has), submit it."""
        report, window = self.build_report(context)
        if not settled:
            self.wait_until_settled(window, "execute_after_settled")
        return self.submit(context, report)

    def create_job(self, report: CriteoReportRequest) -> ReportStatus:
        return self.hook.create_report(report)


class CriteoMpoCreateReportOperator(CriteoMpoReportOperatorBase):
    """Submit a Criteo MPO real-time export job and return its export id (XCom).

    The window is ``lookback_window`` (minutes, 60..1440), or ``report_start`` / ``report_end``, or by default
    the run's data interval (submitted once the interval's data has settled: ``data_latency``, 10 minutes).
    With ``wait_for_completion`` it also waits until the export is Done, deferring when ``deferrable``.
    Every report argument accepts a literal, a Jinja template or an XComArg / TaskFlow output.

    :param advertiser_ids: advertiser ids (required).
    :param campaign_ids: optional campaign filter.
    :param seller_ids: optional seller filter.
    :param dimensions: e.g. ``["AdvertiserId", "Hour"]`` (camelCase accepted).
    :param metrics: e.g. ``["Clicks", "Displays", "Cost"]``.
    :param file_format: ``csv`` or ``json``.
    :param lookback_window: minutes counted back from now.
    :param report_start: window start (ISO-8601 or datetime).
    :param report_end: window end (exclusive).
    :param timezone: IANA zone for time buckets.
    :param criteo_mpo_conn_id: the ``criteo_mpo`` connection.
    :param wait_for_completion: wait until the export is Done before succeeding.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls (default: 5 s backing off to 60 s).
    :param timeout: seconds (or timedelta) to wait for the export before failing.
    :param data_latency: how long after a window closes its data is complete (default 10 minutes).
    """

    template_fields: Sequence[str] = (*CRITEO_REPORT_FIELDS, "criteo_mpo_conn_id")
    ui_color = "#f7e0c9"

    def __init__(self, *, advertiser_ids: Any, wait_for_completion: bool = False, **kwargs: Any) -> None:
        super().__init__(advertiser_ids=advertiser_ids, **kwargs)
        self.wait_for_completion = wait_for_completion
        self.check_literal_arguments()

    def execute(self, context: Context) -> str:
        return self.execute_after_settled(context, settled=False)

    def execute_after_settled(self, context: Context, event: Any = None, *, settled: bool = True) -> str:
        status = self.submit_job(context, settled=settled)
        report_id = self.wait_until_done(status, "execute_complete") if self.wait_for_completion else status.job_id
        self.ledger(context).consume()
        return report_id

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger: fail with the export's status and code unless it is Done."""
        report_id = self.job_done(event)
        self.ledger(context).consume()
        return report_id
