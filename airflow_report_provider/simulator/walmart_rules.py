"""Validation of Walmart report-request parameters, create bodies and list filters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

STATUSES = ("RECEIVED", "INPROGRESS", "READY", "ERROR")
GRANULARITY_LIMITS = {"DAILY": 15, "WEEKLY": 7, "MONTHLY": 15, "QUARTERLY": 4}  # max periods per request
FILTER_TYPES = ("rangeFilter", "enumFilter", "multiValueFilter")
_REPORT_TYPE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_REPORT_VERSION = re.compile(r"^v[0-9]+$")
_ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Rejection(Exception):
    """A Walmart error to answer: HTTP status, code, field, description and category."""

    status: int
    code: str
    field: str | None
    description: str
    category: str = "REQUEST"


def parse_walmart_time(value: Any) -> datetime:
    """`YYYY-MM-DDTHH:mm:ssZ` (or with an offset, or a plain date) as an aware UTC datetime."""
    if not isinstance(value, str) or not (_ISO_Z.match(value.strip()) or _DATE.match(value.strip())):
        raise ValueError(f"not a YYYY-MM-DDTHH:mm:ssZ date-time: {value!r}")
    dt = datetime.fromisoformat(value.strip())
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def check_report_params(report_type: str | None, report_version: str | None) -> tuple[str, str]:
    """reportType / reportVersion query parameters of the create call."""
    if not report_type:
        raise Rejection(400, "MISSING_REQUEST_PARAM", "reportType", "Missing required query parameter reportType")
    if not report_version:
        raise Rejection(400, "MISSING_REQUEST_PARAM", "reportVersion", "Missing required query parameter reportVersion")
    if not _REPORT_TYPE.match(report_type):
        raise Rejection(400, "INVALID_REQUEST_PARAM", "reportType", f"Invalid reportType {report_type!r}")
    if not _REPORT_VERSION.match(report_version):
        raise Rejection(400, "INVALID_REQUEST_PARAM", "reportVersion", f"Invalid reportVersion {report_version!r}")
    return report_type, report_version


def _content(field: str, description: str) -> Rejection:
    return Rejection(400, "INVALID_REQUEST_CONTENT", field, description)


def _years_back(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _periods(start: date, end: date, granularity: str) -> int:
    if granularity == "DAILY":
        return (end - start).days + 1
    if granularity == "WEEKLY":
        return -(-((end - start).days + 1) // 7)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    if granularity == "MONTHLY":
        return months
    return (end.year - start.year) * 4 + (end.month - 1) // 3 - (start.month - 1) // 3 + 1


def check_create_body(report_type: str, report_version: str, body: Any, now: datetime) -> dict | None:
    """Validate the optional JSON body of a create call; returns it (None when absent)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise _content("payload", "The request body must be a JSON object")
    filters = body.get("rowFilters")
    if filters is not None:
        if not isinstance(filters, list):
            raise _content("rowFilters", "rowFilters must be an array")
        for f in filters:
            kind = f.get("type", f.get("rowFilterType")) if isinstance(f, dict) else None
            if not isinstance(f, dict) or not f.get("columnName") or kind not in FILTER_TYPES:
                raise _content(
                    "rowFilters",
                    "Each row filter needs columnName and type (rangeFilter, enumFilter, multiValueFilter)",
                )
            if kind != "rangeFilter" and not isinstance(f.get("values"), list):
                raise _content("rowFilters", f"{kind} on {f['columnName']!r} needs a values array")
    excluded = body.get("excludeColumns")
    if excluded is not None and not (isinstance(excluded, list) and all(isinstance(c, str) for c in excluded)):
        raise _content("excludeColumns", "excludeColumns must be an array of strings")

    windowed = report_type == "ITEM_PERFORMANCE" and int(report_version[1:]) >= 3
    names = ("dataStartTime", "dataEndTime", "dateGranularity")
    if windowed:
        for name in names:
            if body.get(name) in (None, ""):
                raise _content(name, f"{name} is required for {report_type} {report_version}")
    times: dict[str, datetime] = {}
    for name in names[:2]:
        if body.get(name) not in (None, ""):
            try:
                times[name] = parse_walmart_time(body[name])
            except ValueError:
                raise _content(name, f"{name} must be in YYYY-MM-DDTHH:mm:ssZ format") from None
    granularity = body.get("dateGranularity")
    if granularity not in (None, "") and granularity not in GRANULARITY_LIMITS:
        raise _content("dateGranularity", f"dateGranularity must be one of {', '.join(GRANULARITY_LIMITS)}")
    start, end = times.get("dataStartTime"), times.get("dataEndTime")
    if start and end and start > end:
        raise _content("dataStartTime", "dataStartTime must not be after dataEndTime")
    if end and end > now:
        raise _content("dataEndTime", "dataEndTime must not be in the future")
    if start and start.date() < _years_back(now.date(), 2):
        raise _content("dataStartTime", "dataStartTime must be within the last 2 years")
    if start and end and granularity in GRANULARITY_LIMITS:
        limit = GRANULARITY_LIMITS[granularity]
        if _periods(start.date(), end.date(), granularity) > limit:
            raise _content("dataEndTime", f"{granularity} reports span at most {limit} periods")
    return body or None


@dataclass
class ListQuery:
    """Filters and paging of the list call."""

    report_type: str | None
    report_version: str | None
    request_status: str | None
    request_id: str | None
    start: datetime | None
    end: datetime | None
    raw_start: str | None
    raw_end: str | None
    page: int
    limit: int


def check_list_query(query: Any, page_size: int, now: float, retention: float) -> ListQuery:
    """Validate the list call's query parameters."""
    status = query.get("requestStatus")
    if status and status not in STATUSES:
        raise Rejection(
            400, "INVALID_REQUEST_PARAM", "requestStatus", f"requestStatus must be one of {', '.join(STATUSES)}"
        )
    raw_start, raw_end = query.get("requestSubmissionStartDate"), query.get("requestSubmissionEndDate")
    if bool(raw_start) != bool(raw_end):
        raise Rejection(
            400,
            "INVALID_REQUEST_PARAM",
            "requestSubmissionStartDate" if not raw_start else "requestSubmissionEndDate",
            "Provide both requestSubmissionStartDate and requestSubmissionEndDate",
        )
    start = end = None
    if raw_start and raw_end:
        try:
            start, end = parse_walmart_time(raw_start), parse_walmart_time(raw_end)
        except ValueError:
            raise Rejection(
                400, "INVALID_REQUEST_PARAM", "requestSubmissionStartDate", "Dates must be YYYY-MM-DDTHH:mm:ssZ"
            ) from None
        if start > end:
            raise Rejection(400, "INVALID_REQUEST_PARAM", "requestSubmissionStartDate", "Start date is after end date")
        if start.timestamp() < now - retention - 86400:
            raise Rejection(
                400,
                "INVALID_REQUEST_PARAM",
                "requestSubmissionStartDate",
                "requestSubmissionStartDate is beyond the 30 days report retention",
            )
    paging: dict[str, int] = {}
    for name, default, low, high in (("page", 1, 1, 10**6), ("limit", page_size, 1, 1000)):
        raw = query.get(name, str(default))
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise Rejection(400, "INVALID_REQUEST_PARAM", name, f"{name} must be an integer in {low}..{high}")
        paging[name] = int(raw)
    page, limit = paging["page"], paging["limit"]
    return ListQuery(
        query.get("reportType") or None,
        query.get("reportVersion") or None,
        status or None,
        query.get("requestId") or None,
        start,
        end,
        raw_start,
        raw_end,
        page,
        limit,
    )
