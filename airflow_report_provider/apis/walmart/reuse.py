"""Idempotency for Walmart creates: canonical payloads, and finding a listed request that asks for the same report."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_report_provider.apis.walmart.parsing import _lenient_datetime
from airflow_report_provider.apis.walmart.validation import _normal_version, _utc_now
from airflow_report_provider.common.states import ReportState, ReportStatus
from airflow_report_provider.common.validation import format_utc

if TYPE_CHECKING:
    from airflow_report_provider.apis.walmart.requests import WalmartReportRequest


def _canonical_value(key: str, value: Any) -> Any:
    if key in ("dataStartTime", "dataEndTime"):
        parsed = _lenient_datetime(value)
        return format_utc(parsed) if parsed else value
    if key == "dateGranularity" and isinstance(value, str):
        return value.strip().upper()
    if key == "rowFilters" and isinstance(value, list):
        items = []
        for item in value:
            if isinstance(item, Mapping):
                item = {("type" if k == "rowFilterType" else k): v for k, v in item.items() if v not in (None, "", [])}
            items.append(item)
        return sorted(items, key=lambda i: json.dumps(i, sort_keys=True, default=str))
    if key == "excludeColumns" and isinstance(value, list):
        return sorted(str(v) for v in value)
    return value


def canonical_payload(payload: Mapping[str, Any] | None) -> str:
    """A body or an echoed ``payload`` as canonical JSON: empty values dropped, dates, filters and columns normalised.

    Two payloads asking for the same report give the same text; a missing or empty payload equals ``"{}"``.
    """
    if not isinstance(payload, Mapping):
        return "{}"
    clean = {str(k): _canonical_value(str(k), v) for k, v in payload.items() if v not in (None, "", [], {})}
    return json.dumps(clean, sort_keys=True, separators=(",", ":"), default=str)


def find_reusable_request(
    candidates: Iterable[ReportStatus],
    report: WalmartReportRequest,
    now: datetime,
    window_seconds: int = 3600,
) -> ReportStatus | None:
    """The newest listed request asking for exactly ``report`` (type, version, body), submitted within the window
    and not failed: a retried task reattaches to it instead of creating another (one create per type per hour).

    Matching is strict: a payload lacking the body's fields (dates, filters) is a different request; a missing or
    empty payload matches an empty body only.
    """
    now = _utc_now(now)
    oldest = now - timedelta(seconds=window_seconds)
    want_type, want_version, want_body = report.fingerprint()
    best: tuple[datetime, ReportStatus] | None = None
    for status in candidates:
        details = status.details or {}
        if status.state in (ReportState.FAILED, ReportState.EXPIRED) or not status.job_id:
            continue
        if str(details.get("reportType") or "").strip().upper() != want_type:
            continue
        if _normal_version(str(details.get("reportVersion") or "").strip()) != want_version:
            continue
        submitted = details.get("requestSubmissionDate")
        submitted = submitted if isinstance(submitted, datetime) else _lenient_datetime(submitted)
        if submitted is None or _utc_now(submitted) < oldest:
            continue
        if canonical_payload(details.get("payload")) != want_body:
            continue
        submitted = _utc_now(submitted)
        if best is None or submitted > best[0]:
            best = (submitted, status)
    return best[1] if best else None
