"""Operator that creates (or reuses) a Walmart on-request report request, optionally waiting for it."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_report_provider.apis.walmart import WINDOWED_REPORT_TYPES, WalmartReportRequest, check_arguments
from airflow_report_provider.common.exceptions import RateLimitedError, ReportValidationError
from airflow_report_provider.common.states import ReportStatus
from airflow_report_provider.common.windows import (
    is_past_interval,
    resolve_window,
    walmart_window_body,
    window_from_interval,
)
from airflow_report_provider.compat import task_state_store
from airflow_report_provider.operators.arguments import check_at_parse, known_at_parse
from airflow_report_provider.operators.base import ReportJobOperator
from airflow_report_provider.operators.outcomes import fail_task
from airflow_report_provider.operators.report_api import WALMART

if TYPE_CHECKING:
    from airflow_report_provider.compat import Context

WALMART_REPORT_FIELDS: Sequence[str] = ("report_type", "report_version", "request_body")

#: Stands in at parse time for the dates a run's data interval fills (no clock: any fixed day does).
_PLACEHOLDER_WINDOW = window_from_interval(datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2000, 1, 2, tzinfo=timezone.utc))


def _parsed_body(body: Any) -> Any:
    """A JSON object string parsed; anything else as given (the request model refuses a non-JSON string
    naming ``request_body``)."""
    if isinstance(body, str) and body.strip().startswith("{"):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


class QuotaWaitClock:
    """When this try first deferred for Walmart's create quota, kept in the task state store (a deferral resumes in
    a new process): the waits of one try are bounded in total."""

    KEY = "walmart_quota_wait"

    def __init__(self, context: Any) -> None:
        self.store = task_state_store(context)
        self.try_number = getattr(context.get("ti"), "try_number", None)
        stored = self.store.get(self.KEY) if self.store is not None else None
        self.started = stored["started"] if isinstance(stored, dict) and stored.get("try") == self.try_number else None

    def waited(self) -> float:
        return 0.0 if self.started is None else max(0.0, time.time() - float(self.started))

    def start(self) -> None:
        if self.started is None and self.store is not None:
            self.store.set(self.KEY, {"try": self.try_number, "started": time.time()})


class WalmartReportOperatorBase(ReportJobOperator):
    """The report arguments, data-interval window and request reuse of the Walmart operators."""

    api = WALMART

    def __init__(
        self,
        *,
        report_type: Any = None,
        report_version: Any = None,
        request_body: Any = None,
        walmart_conn_id: str = "walmart_marketplace_default",
        reuse_existing: bool = True,
        max_quota_wait: float | None = None,
        use_data_interval: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report_type = report_type
        self.report_version = report_version
        self.request_body = request_body
        self.walmart_conn_id = walmart_conn_id
        self.reuse_existing = reuse_existing
        self.max_quota_wait = max_quota_wait
        self.use_data_interval = use_data_interval

    def _is_windowed(self) -> bool:
        return str(self.report_type or "").upper() in WINDOWED_REPORT_TYPES

    def _takes_interval(self, body: Any) -> bool:
        """True when the run's data interval fills this body's dataStartTime / dataEndTime."""
        if not (self.use_data_interval and self._is_windowed()):
            return False
        return body is None or (isinstance(body, dict) and "dataStartTime" not in body and "dataEndTime" not in body)

    def check_literal_arguments(self) -> None:
        """DAG-parse check of every literal argument, clock rules aside (the others are checked once rendered).
        A windowed type's dates that the data interval will fill are stood in for by a fixed placeholder day."""
        arguments = {name: getattr(self, name) for name in WALMART_REPORT_FIELDS}
        known = known_at_parse(arguments)
        if "request_body" in known and "report_type" in known:
            body = _parsed_body(known["request_body"])
            if self._takes_interval(body):
                known["request_body"] = {**(body or {}), **walmart_window_body(_PLACEHOLDER_WINDOW)}
        check_at_parse(check_arguments, known)

    def request_body_for_run(self, context: Context) -> Any:
        """The body to send: the user's, with the run's data interval as dataStartTime / dataEndTime for
        windowed report types that do not set them."""
        body = _parsed_body(self.request_body)
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
        """The validated request for this run, clock rules included (raises before any HTTP call; not retried)."""
        try:
            return WalmartReportRequest.build(
                report_type=self.report_type,
                report_version=self.report_version,
                request_body=self.request_body_for_run(context),
            )
        except ReportValidationError as exc:
            raise fail_task(exc) from exc

    def on_create_throttled(self, context: Context, error: RateLimitedError) -> None:
        """The hourly create quota is spent (by another request of this type): when deferrable, wait for its
        replenishment in the triggerer (no worker slot, no retry spent), then submit again. ``max_quota_wait``
        bounds the waits of this try in total, not each one."""
        wait = error.retry_after
        limit = self.job_wait().timeout_seconds() if self.max_quota_wait is None else float(self.max_quota_wait)
        clock = QuotaWaitClock(context)
        waited = clock.waited()
        if not self.deferrable or wait is None or waited + wait > limit:
            if waited > 0:
                self.log.warning("Waited %.0f s for Walmart's create quota in all; not waiting %.0f s more", waited, wait or 0)
            return
        from airflow_report_provider.compat import DateTimeTrigger

        clock.start()
        moment = datetime.now(timezone.utc) + timedelta(seconds=wait + 1)
        self.log.warning("Walmart's one-request-per-type-per-hour quota is spent; waiting until %s to request again", moment)
        self.defer(trigger=DateTimeTrigger(moment=moment), method_name="execute_after_quota")

    def execute_after_quota(self, context: Context, event: Any = None) -> Any:
        """Resume after the quota wait: submit again (reusing a matching request if one appeared)."""
        return self.execute(context)

    def create_job(self, report: WalmartReportRequest) -> ReportStatus:
        """A matching request of the last hour (``reuse_existing``), or a new one."""
        return self.hook.create_report_request(report, reuse=self.reuse_existing)


class WalmartCreateReportRequestOperator(WalmartReportOperatorBase):
    """Create a Walmart on-request report request and return its request id (XCom).

    Walmart allows one request per report type per hour: a matching request (same type, version and body)
    made within the hour is reused instead (``reuse_existing``), and a retried task reattaches to its own.
    With ``wait_for_completion`` it also waits until READY, deferring when ``deferrable``.
    Every report argument accepts a literal, a Jinja template or an XComArg / TaskFlow output.

    :param report_type: e.g. ``ITEM``, ``INVENTORY``, ``ITEM_PERFORMANCE`` (free string).
    :param report_version: e.g. ``v4`` (free string).
    :param request_body: optional body: rowFilters, excludeColumns, dataStartTime, dataEndTime, dateGranularity.
    :param max_quota_wait: when the report type's hourly quota is spent, defer up to this many seconds in all for it
        to come back (default: ``timeout``; 0 fails at once and leaves it to Airflow's retries).
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

    def __init__(self, *, report_type: Any, report_version: Any, wait_for_completion: bool = False, **kwargs: Any) -> None:
        super().__init__(report_type=report_type, report_version=report_version, **kwargs)
        self.wait_for_completion = wait_for_completion
        self.check_literal_arguments()

    def execute(self, context: Context) -> str:
        status = self.submit(context, self.build_report(context))
        request_id = self.wait_until_done(status, "execute_complete") if self.wait_for_completion else status.job_id
        self.ledger(context).consume()
        return request_id

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger: fail with the request's status and description unless READY."""
        request_id = self.job_done(event)
        self.ledger(context).consume()
        return request_id
