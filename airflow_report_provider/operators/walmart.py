"""Operator that creates (or reuses) a Walmart on-request report request, optionally waiting for it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_report_provider.apis.walmart import WINDOWED_REPORT_TYPES, WalmartReportRequest
from airflow_report_provider.common.exceptions import RateLimitedError, ReportValidationError
from airflow_report_provider.common.states import ReportState, ReportStatus
from airflow_report_provider.common.windows import (
    is_past_interval,
    resolve_window,
    walmart_window_body,
    window_from_interval,
)
from airflow_report_provider.hooks.walmart import WalmartMarketplaceHook
from airflow_report_provider.operators.base import ReportJobWaitMixin, default_deferrable, fail_task, is_templated
from airflow_report_provider.triggers.walmart import WalmartReportTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

WALMART_REPORT_FIELDS: Sequence[str] = ("report_type", "report_version", "request_body")


class WalmartReportMixin(ReportJobWaitMixin):
    """Report parameters, window defaults and request reuse shared by the Walmart operators."""

    trigger_class = WalmartReportTrigger
    hook_class = WalmartMarketplaceHook
    job_id_field = "request_id"
    state_store_key = "walmart_request_id"

    def _init_report_params(
        self,
        *,
        report_type: str | None,
        report_version: str | None,
        request_body: Any,
        walmart_conn_id: str,
        reuse_existing: bool,
        max_quota_wait: float | None,
        use_data_interval: bool,
        deferrable: bool,
        poll_interval: float | None,
        max_poll_interval: float | None,
        timeout: Any,
        check_static: bool = True,
    ) -> None:
        self.report_type = report_type
        self.report_version = report_version
        self.request_body = request_body
        self.walmart_conn_id = walmart_conn_id
        self.reuse_existing = reuse_existing
        self.max_quota_wait = max_quota_wait
        self.use_data_interval = use_data_interval
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.timeout = timeout
        if check_static and not any(is_templated(v) for v in (report_type, report_version, request_body)):
            WalmartReportRequest.build(report_type=report_type, report_version=report_version, request_body=self._static_body())

    def _is_windowed(self) -> bool:
        return str(self.report_type or "").upper() in WINDOWED_REPORT_TYPES

    def _takes_interval(self, body: Any) -> bool:
        """True when the run's data interval fills this body's dataStartTime / dataEndTime."""
        if not (self.use_data_interval and self._is_windowed()):
            return False
        return body is None or (isinstance(body, dict) and "dataStartTime" not in body and "dataEndTime" not in body)

    def _parsed_body(self) -> Any:
        """``request_body`` with a JSON object string parsed; anything else as given (the request model refuses
        a non-JSON string naming ``request_body``)."""
        body = self.request_body
        if isinstance(body, str) and body.strip().startswith("{"):
            try:
                return json.loads(body)
            except ValueError:
                return body
        return body

    def _static_body(self) -> Any:
        """The body checked at parse time: the run's window is not known yet, so a placeholder day stands in
        for the dates the data interval will fill (the other rules, e.g. dateGranularity, still apply)."""
        body = self._parsed_body()
        if not self._takes_interval(body):
            return body
        today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        return {**(body or {}), **walmart_window_body(window_from_interval(today - timedelta(days=1), today))}

    def request_body_for_run(self, context: Context) -> Any:
        """The body to send: the user's, with the run's data interval as dataStartTime / dataEndTime for
        windowed report types that do not set them."""
        body = self._parsed_body()
        if not self.use_data_interval:
            return body
        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        if self._is_windowed():
            if not self._takes_interval(body):
                return body
            window = resolve_window(data_interval_start=start, data_interval_end=end)
            if window is None:
                return body
            self.log.info("Report window from the data interval: %s", window)
            return {**(body or {}), **walmart_window_body(window)}
        if end is not None and is_past_interval(end, datetime.now(timezone.utc)):
            self.log.warning(
                "%s is a snapshot report: it describes the catalogue now, not the data interval ending %s. "
                "A backfilled run gets today's snapshot.",
                self.report_type,
                end,
            )
        return body

    def build_report(self, context: Context) -> WalmartReportRequest:
        """Validated request for this run (raises before any HTTP call; not retried by Airflow)."""
        try:
            return WalmartReportRequest.build(
                report_type=self.report_type,
                report_version=self.report_version,
                request_body=self.request_body_for_run(context),
            )
        except ReportValidationError as exc:
            raise fail_task(exc) from exc

    # -- hooks ------------------------------------------------------------------------------------------------
    def conn_id_value(self) -> str:
        return self.walmart_conn_id

    def on_create_throttled(self, error: RateLimitedError) -> None:
        """The hourly create quota is spent (by another request of this type): when deferrable, wait for its
        replenishment in the triggerer (no worker slot, no retry spent), then submit again."""
        wait = error.retry_after
        limit = self.wait_timeout_seconds() if self.max_quota_wait is None else float(self.max_quota_wait)
        if not self.deferrable or wait is None or wait > limit:
            return
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        moment = datetime.now(timezone.utc) + timedelta(seconds=wait + 1)
        self.log.warning("Walmart's one-request-per-type-per-hour quota is spent; waiting until %s to request again", moment)
        self.defer(trigger=DateTimeTrigger(moment=moment), method_name="execute_after_quota")  # type: ignore[attr-defined]

    def execute_after_quota(self, context: Context, event: Any = None) -> Any:
        """Resume after the quota wait: submit again (reusing a matching request if one appeared)."""
        return self.execute(context)  # type: ignore[attr-defined]

    def create_job(self, report: WalmartReportRequest) -> ReportStatus:
        """A matching request of the last hour (``reuse_existing``), or a new one."""
        return self.hook.create_report_request(report, reuse=self.reuse_existing)


class WalmartCreateReportRequestOperator(WalmartReportMixin, BaseOperator):
    """Create a Walmart on-request report request and return its request id (XCom).

    Walmart allows one request per report type per hour: a matching request (same type, version and body)
    made within the hour is reused instead (``reuse_existing``), and a retried task reattaches to its own.
    With ``wait_for_completion`` it also waits until READY, deferring when ``deferrable``.

    :param report_type: e.g. ``ITEM``, ``INVENTORY``, ``ITEM_PERFORMANCE`` (free string).
    :param report_version: e.g. ``v4`` (free string).
    :param request_body: optional body: rowFilters, excludeColumns, dataStartTime, dataEndTime, dateGranularity.
    :param max_quota_wait: when the report type's hourly quota is spent, defer up to this many seconds for it to
        come back (default: ``timeout``; 0 fails at once and leaves it to Airflow's retries).
    :param use_data_interval: fill dataStartTime / dataEndTime of windowed types from the data interval.
    :param walmart_conn_id: the ``walmart_marketplace`` connection.
    :param wait_for_completion: wait until READY before succeeding.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls (default 60 s backing off to 5 minutes).
    :param timeout: seconds (or timedelta) to wait before failing (default 2 hours).
    """

    template_fields: Sequence[str] = (*WALMART_REPORT_FIELDS, "walmart_conn_id")
    template_fields_renderers = {"request_body": "json"}
    ui_color = "#cfe3f7"

    def __init__(
        self,
        *,
        report_type: str,
        report_version: str,
        request_body: Any = None,
        walmart_conn_id: str = "walmart_marketplace_default",
        reuse_existing: bool = True,
        max_quota_wait: float | None = None,
        use_data_interval: bool = True,
        wait_for_completion: bool = False,
        deferrable: bool = default_deferrable(),
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.wait_for_completion = wait_for_completion
        self._init_report_params(
            report_type=report_type,
            report_version=report_version,
            request_body=request_body,
            walmart_conn_id=walmart_conn_id,
            reuse_existing=reuse_existing,
            max_quota_wait=max_quota_wait,
            use_data_interval=use_data_interval,
            deferrable=deferrable,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            timeout=timeout,
        )

    def execute(self, context: Context) -> str:
        status = self.submit(context, self.build_report(context))
        if not self.wait_for_completion or status.state is ReportState.SUCCEEDED:
            return status.job_id
        return self.wait_until_done(status.job_id, "execute_complete")

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger: fail with the request's status and description unless READY."""
        return self.check_event(event)
