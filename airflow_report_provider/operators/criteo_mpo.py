"""Operator that submits a Criteo MPO real-time export (and optionally waits for it)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_report_provider.apis.criteo_mpo import CriteoReportRequest
from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.common.states import ReportState, ReportStatus
from airflow_report_provider.common.windows import DEFAULT_DATA_LATENCY, ReportWindow, resolve_window
from airflow_report_provider.hooks.criteo_mpo import CriteoMpoHook
from airflow_report_provider.operators.base import ReportJobWaitMixin, default_deferrable, fail_task, is_templated
from airflow_report_provider.triggers.criteo_mpo import CriteoMpoReportTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

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


def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class CriteoMpoReportMixin(ReportJobWaitMixin):
    """Report parameters, window resolution, latency wait and reattachment shared by the Criteo operators."""

    trigger_class = CriteoMpoReportTrigger
    hook_class = CriteoMpoHook
    job_id_field = "report_id"
    state_store_key = "criteo_mpo_report_id"

    def _init_report_params(
        self,
        *,
        advertiser_ids: Any,
        campaign_ids: Any,
        seller_ids: Any,
        dimensions: Any,
        metrics: Any,
        file_format: str,
        lookback_window: Any,
        report_start: Any,
        report_end: Any,
        timezone: str | None,
        currency: str | None,
        criteo_mpo_conn_id: str,
        deferrable: bool,
        poll_interval: float | None,
        max_poll_interval: float | None,
        timeout: Any,
        data_latency: Any,
        check_static: bool = True,
    ) -> None:
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
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.timeout = timeout
        self.data_latency = DEFAULT_DATA_LATENCY if data_latency is None else timedelta(seconds=_seconds(data_latency))
        if check_static:
            self._check_static_params()

    # -- validation -------------------------------------------------------------------------------------------
    def _param_values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CRITEO_REPORT_FIELDS}

    def _check_static_params(self) -> None:
        """Validate at DAG-parse time whatever is not templated (the rest is checked at execute time)."""
        values = self._param_values()
        if any(is_templated(v) for v in values.values()):
            return
        self._report_request(values, window=None, check_only=True)

    def _report_request(self, values: dict[str, Any], window: ReportWindow | None, check_only: bool = False) -> CriteoReportRequest:
        start, end, lookback = values["report_start"], values["report_end"], values["lookback_window"]
        if window is not None and lookback in (None, "") and start in (None, ""):
            start, end = window.start, window.end
        if lookback in (None, "") and start in (None, "") and end in (None, ""):
            if not check_only:
                self.log.info("No window, lookback or data interval: using a %d-minute lookback", FALLBACK_LOOKBACK_MINUTES)
            lookback = FALLBACK_LOOKBACK_MINUTES
        return CriteoReportRequest.build(
            advertiser_ids=values["advertiser_ids"],
            campaign_ids=values["campaign_ids"],
            seller_ids=values["seller_ids"],
            dimensions=values["dimensions"],
            metrics=values["metrics"],
            file_format=values["file_format"],
            lookback_window=lookback if lookback not in ("",) else None,
            report_start=start,
            report_end=end,
            timezone=values["timezone"],
            currency=values["currency"],
        )

    def report_window(self, context: Context) -> ReportWindow | None:
        """The window this run asks for: explicit settings first, else the run's data interval."""
        return resolve_window(
            report_start=self.report_start,
            report_end=self.report_end,
            lookback_window=self.lookback_window,
            data_interval_start=context.get("data_interval_start"),
            data_interval_end=context.get("data_interval_end"),
        )

    def build_report(self, context: Context) -> tuple[CriteoReportRequest, ReportWindow | None]:
        """Validated request for this run (raises before any HTTP call; not retried by Airflow)."""
        values = self._param_values()
        try:
            # The parse-time rules first, on the rendered values: the same field and message either way.
            self._report_request(values, window=None, check_only=True)
            window = self.report_window(context)
            return self._report_request(values, window), window
        except ReportValidationError as exc:
            raise fail_task(exc) from exc

    # -- hooks ------------------------------------------------------------------------------------------------
    def conn_id_value(self) -> str:
        return self.criteo_mpo_conn_id

    # -- latency ----------------------------------------------------------------------------------------------
    def seconds_until_settled(self, window: ReportWindow | None) -> float:
        """How long until the window's data is complete (Criteo's data lags about 10 minutes)."""
        if window is None or window.end is None:
            return 0.0
        return window.seconds_until_settled(datetime.now(timezone.utc), self.data_latency)

    def wait_until_settled(self, window: ReportWindow | None, resume_method: str) -> None:
        """Defer (or sleep, when not deferrable) until the window has settled."""
        wait = self.seconds_until_settled(window)
        if wait <= 0:
            return
        assert window is not None and window.end is not None
        moment = window.settles_at(self.data_latency)
        self.log.info("Window %s closes its data latency at %s; waiting %.0f s before submitting", window, moment, wait)
        if self.deferrable:
            from airflow.providers.standard.triggers.temporal import DateTimeTrigger

            self.defer(trigger=DateTimeTrigger(moment=moment), method_name=resume_method)  # type: ignore[attr-defined]
        time.sleep(wait)

    # -- submit -----------------------------------------------------------------------------------------------
    def create_job(self, report: CriteoReportRequest) -> ReportStatus:
        return self.hook.create_report(report)


class CriteoMpoCreateReportOperator(CriteoMpoReportMixin, BaseOperator):
    """Submit a Criteo MPO real-time export job and return its export id (XCom).

    The window is ``lookback_window`` (minutes, 60..1440), or ``report_start`` / ``report_end``, or by default
    the run's data interval (submitted once the interval's data has settled: ``data_latency``, 10 minutes).
    With ``wait_for_completion`` it also waits until the export is Done, deferring when ``deferrable``.

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

    def __init__(
        self,
        *,
        advertiser_ids: Any,
        campaign_ids: Any = None,
        seller_ids: Any = None,
        dimensions: Any = None,
        metrics: Any = None,
        file_format: str = "csv",
        lookback_window: Any = None,
        report_start: Any = None,
        report_end: Any = None,
        timezone: str | None = None,
        currency: str | None = None,
        criteo_mpo_conn_id: str = "criteo_mpo_default",
        wait_for_completion: bool = False,
        deferrable: bool = default_deferrable(),
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        timeout: Any = None,
        data_latency: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self._init_report_params(
            advertiser_ids=advertiser_ids,
            campaign_ids=campaign_ids,
            seller_ids=seller_ids,
            dimensions=dimensions,
            metrics=metrics,
            file_format=file_format,
            lookback_window=lookback_window,
            report_start=report_start,
            report_end=report_end,
            timezone=timezone,
            currency=currency,
            criteo_mpo_conn_id=criteo_mpo_conn_id,
            deferrable=deferrable,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            timeout=timeout,
            data_latency=data_latency,
        )

    def execute(self, context: Context) -> str:
        report, window = self.build_report(context)
        self.wait_until_settled(window, "execute_after_settled")
        return self._submit_and_wait(context, report)

    def execute_after_settled(self, context: Context, event: Any = None) -> str:
        report, _ = self.build_report(context)
        return self._submit_and_wait(context, report)

    def _submit_and_wait(self, context: Context, report: CriteoReportRequest) -> str:
        status = self.submit(context, report)
        if not self.wait_for_completion or status.state is ReportState.SUCCEEDED:
            return status.job_id
        return self.wait_until_done(status.job_id, "execute_complete")

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger: fail with the export's status and code unless it is Done."""
        return self.check_event(event)
