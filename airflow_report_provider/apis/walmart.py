"""Walmart Marketplace On-request Reports: the sans-IO protocol.

Request models with validation, request building, answer parsing and error mapping for
``POST /v3/reports/reportRequests`` (create), ``GET /v3/reports/reportRequests/{id}`` (status),
``GET /v3/reports/reportRequests`` (list), ``GET /v3/reports/downloadReport`` (pre-signed URL) and the token calls.
No sockets here: the shared transports in ``common/http/transport.py`` move the :class:`HttpRequest` values built below.

Facts and quirks followed (``reference/walmart-reports.md`` wins over the OpenAPI document where they disagree):

- ``reportType`` / ``reportVersion`` are query parameters of the create call, and free strings (types keep coming).
- Every report call carries a fresh ``WM_QOS.CORRELATION_ID``; ``Content-Type: application/json`` goes on POSTs
  only (even with an empty ``{}`` body). Global markets add ``WM_MARKET`` and ``WM_GLOBAL_VERSION: 3.1``.
- Row filters are sent as ``{"type": ...}`` (the spec's RangeFilter schema spells it ``rowFilterType``; Walmart's
  own examples and the notes use ``type``; ``rowFilterType`` is accepted on input and normalised).
- The list answer's ``nextCursor`` is the *whole* query string of the next page.
- The download URL is a pre-signed blob URL: fetched with no Walmart header, never shown unredacted.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from http import HTTPStatus
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, urlsplit

from airflow_report_provider.common.exceptions import (
    ApiError,
    AuthenticationError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    ReportNotFoundError,
    ReportValidationError,
    ServerError,
    TokenExpiredError,
)
from airflow_report_provider.common.http.messages import HttpRequest, HttpResponse
from airflow_report_provider.common.http.protocol import AccessToken, ApiProtocol, Credentials
from airflow_report_provider.common.observability.redaction import redact_url
from airflow_report_provider.common.states import ReportState, ReportStatus
from airflow_report_provider.common.validation import format_utc, parse_datetime, string_list

__all__ = [
    "DATE_GRANULARITY_MAX_SPAN",
    "MARKETS",
    "REQUEST_STATES",
    "SNAPSHOT_REPORT_TYPES",
    "WALMART_DEFAULT_HOST",
    "WALMART_DEFAULT_SERVICE_NAME",
    "WALMART_SANDBOX_HOST",
    "WINDOWED_REPORT_TYPES",
    "WalmartDownloadLink",
    "WalmartProtocol",
    "WalmartReportRequest",
    "canonical_payload",
    "find_reusable_request",
    "validate_request_id",
]

WALMART_DEFAULT_HOST = "https://marketplace.walmartapis.com"
WALMART_SANDBOX_HOST = "https://sandbox.walmartapis.com"
WALMART_DEFAULT_SERVICE_NAME = "Walmart Marketplace"
WALMART_GLOBAL_VERSION = "3.1"

#: Markets of Walmart's global APIs (``WM_MARKET``); the API's own default is ``us``.
MARKETS = frozenset({"us", "ca", "mx", "cl"})

#: ``requestStatus`` -> normalised state. Anything else is treated as still pending (never terminal).
REQUEST_STATES: Mapping[str, ReportState] = {
    "RECEIVED": ReportState.PENDING,
    "SUBMITTED": ReportState.PENDING,
    "INPROGRESS": ReportState.RUNNING,
    "READY": ReportState.SUCCEEDED,
    "ERROR": ReportState.FAILED,
}

#: Informative only: report types describing the state at generation time (no date fields).
SNAPSHOT_REPORT_TYPES = frozenset(
    {
        "ITEM",
        "INVENTORY",
        "CANCELLATION",
        "DELIVERY_DEFECT",
        "RETURN_OVERRIDES",
        "PROMO",
        "CPA",
        "BUYBOX",
        "SHIPPING_CONFIGURATION",
        "SHIPPING_PROGRAM",
        "FITMENT_MISSING_ATTR",
        "FITMENT_ACES_COVERAGE",
        "ASSORTMENT_RECOMMENDATIONS",
    }
)
#: Informative only: report types covering a data window (``dataStartTime`` / ``dataEndTime``).
WINDOWED_REPORT_TYPES = frozenset({"ITEM_PERFORMANCE", "WFS_ORDERS"})

#: reportType -> (first version number, body fields required from that version on).
REQUIRED_BODY_FIELDS: Mapping[str, tuple[int, tuple[str, ...]]] = {
    "ITEM_PERFORMANCE": (3, ("dataStartTime", "dataEndTime", "dateGranularity")),
}

#: How far back ``dataStartTime`` may reach, in calendar years (compared by UTC date).
MAX_LOOKBACK_YEARS = 2


def _days(start: date, end: date) -> int:
    return (end - start).days + 1


def _months(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _quarters(start: date, end: date) -> int:
    return (end.year - start.year) * 4 + (end.month - 1) // 3 - (start.month - 1) // 3 + 1


#: dateGranularity -> (most periods, period name, periods touched by the UTC dates start..end, both included).
#: End stamps are inclusive, as in Walmart's examples (``2026-11-15T23:59:59Z``): a window ending at midnight
#: touches one more day (``common.windows.walmart_window_body`` sends ``end - 1 s`` for that reason).
DATE_GRANULARITY_MAX_SPAN: Mapping[str, tuple[int, str, Callable[[date, date], int]]] = {
    "DAILY": (15, "days", _days),
    "WEEKLY": (7, "weeks", lambda start, end: -(-_days(start, end) // 7)),
    "MONTHLY": (15, "months", _months),
    "QUARTERLY": (4, "quarters", _quarters),
}

_BODY = "request_body"
_KNOWN_BODY_KEYS = ("rowFilters", "excludeColumns", "dataStartTime", "dataEndTime", "dateGranularity")
_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9._-]+$")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


# --------------------------------------------------------------------------------------------- small helpers


def _utc_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)


def _years_before(value: date, years: int) -> date:
    try:
        return value.replace(year=value.year - years)
    except ValueError:  # Feb 29 -> Feb 28
        return value.replace(year=value.year - years, day=28)


def _ci_get(mapping: Mapping[str, Any], *names: str) -> Any:
    """The first of ``names`` present in ``mapping``, compared case-insensitively (requestId / requestID)."""
    lowered = {str(k).lower(): v for k, v in mapping.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _lenient_datetime(value: Any) -> datetime | None:
    """An API timestamp (ISO string or epoch seconds / milliseconds) as aware UTC, or ``None`` if unreadable."""
    if isinstance(value, bool) or value in (None, ""):
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        number = float(value)
        return datetime.fromtimestamp(number / 1000.0 if number > 1e11 else number, timezone.utc)
    try:
        return parse_datetime("timestamp", value)
    except ReportValidationError:
        return None


def _truncate(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_copy(field_name: str, value: Any) -> Any:
    """A deep copy through JSON: proves ``value`` can be sent and detaches it from the caller's objects."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        raise ReportValidationError(
            field_name, "must hold only JSON values (strings, numbers, lists, objects)"
        ) from None


def _str_value(field_name: str, what: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or str(value).strip() == "":
        raise ReportValidationError(field_name, f"{what} must be a non-empty string", value)
    return str(value).strip()


# ----------------------------------------------------------------------------------------------- validation


def _report_type(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ReportValidationError("report_type", "is required: a Walmart report type such as 'ITEM'", value)
    text = value.strip().upper()
    if not _NAME_RE.match(text):
        rule = "must be a report type name such as 'ITEM' (letters, digits, _)"
        raise ReportValidationError("report_type", rule, value)
    return text


def _report_version(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ReportValidationError("report_version", "is required: a report version such as 'v1'", value)
    text = value.strip()
    if not _VERSION_RE.match(text):
        raise ReportValidationError("report_version", "must be a version such as 'v4' (no spaces)", value)
    return text.lower() if re.fullmatch(r"[vV]\d+", text) else text


def _body_dict(value: Any) -> dict[str, Any]:
    """``request_body`` as a dict: ``None`` is empty, a JSON object string is parsed, anything else is refused."""
    if value is None:
        return {}
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            raise ReportValidationError(
                _BODY,
                "must be a dict or a JSON object string (a templated dict renders as Python text unless the DAG "
                "sets render_template_as_native_obj=True)",
                _truncate(text, 80),
            ) from None
    if not isinstance(value, Mapping):
        raise ReportValidationError(_BODY, "must be a JSON object (a dict)", type(value).__name__)
    body = {str(k): v for k, v in value.items()}
    known = {k.lower(): k for k in _KNOWN_BODY_KEYS}
    for key in body:
        if key.lower() in known and key not in _KNOWN_BODY_KEYS:
            raise ReportValidationError(f"{_BODY}.{key}", f"unknown key: Walmart spells it {known[key.lower()]!r}")
    return body


#: filter type -> (keys it may carry, keys of which at least one is required, list-valued key or None).
_FILTER_RULES: Mapping[str, tuple[frozenset[str], tuple[str, ...], str | None]] = {
    "rangeFilter": (frozenset({"type", "columnName", "from", "to"}), ("from", "to"), None),
    "enumFilter": (frozenset({"type", "columnName", "values"}), ("values",), "values"),
    "multiValueFilter": (frozenset({"type", "columnName", "values"}), ("values",), "values"),
}


def _row_filter(index: int, raw: Any) -> dict[str, Any]:
    fld = f"{_BODY}.rowFilters"
    where = f"item {index}"
    if not isinstance(raw, Mapping):
        raise ReportValidationError(fld, f"{where} must be an object with type and columnName", raw)
    item = {str(k): v for k, v in raw.items()}
    if "rowFilterType" in item and "type" not in item:  # the spec's RangeFilter spelling
        item["type"] = item.pop("rowFilterType")
    kind = item.get("type")
    if kind not in _FILTER_RULES:
        raise ReportValidationError(fld, f"{where}: type must be one of {sorted(_FILTER_RULES)}", kind)
    allowed, needs_one, list_key = _FILTER_RULES[kind]
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise ReportValidationError(fld, f"{where}: a {kind} takes only {sorted(allowed)}", unknown)
    out: dict[str, Any] = {"type": kind, "columnName": _str_value(fld, f"{where}: columnName", item.get("columnName"))}
    if not any(item.get(k) not in (None, "") for k in needs_one):
        raise ReportValidationError(fld, f"{where}: a {kind} needs {' or '.join(needs_one)}")
    for key in sorted(allowed - {"type", "columnName"}):
        value = item.get(key)
        if value in (None, ""):
            continue
        if key == list_key:
            out[key] = string_list(fld, value, required=True)
        else:
            out[key] = _str_value(fld, f"{where}: {key}", value)
    return out


def _row_filters(value: Any) -> tuple[dict[str, Any], ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ReportValidationError(f"{_BODY}.rowFilters", "must be a list of filter objects", value)
    return tuple(_row_filter(i, item) for i, item in enumerate(value))


def _granularity(value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = value.strip().upper() if isinstance(value, str) else None
    if text not in DATE_GRANULARITY_MAX_SPAN:
        rule = f"must be one of {list(DATE_GRANULARITY_MAX_SPAN)}"
        raise ReportValidationError(f"{_BODY}.dateGranularity", rule, value)
    return text


# ------------------------------------------------------------------------------------------------ the model


@dataclass(frozen=True)
class WalmartReportRequest:
    """A validated create-report request: query parameters plus the optional JSON body.

    Build it with :meth:`build` from operator arguments; direct construction validates everything that does not
    depend on the clock (the clock rules, "not in the future" and the two-year lookback, live in :meth:`build`).
    """

    report_type: str
    report_version: str
    row_filters: tuple[dict[str, Any], ...] = ()
    exclude_columns: tuple[str, ...] = ()
    data_start_time: datetime | None = None
    data_end_time: datetime | None = None
    date_granularity: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = {
            "report_type": _report_type(self.report_type),
            "report_version": _report_version(self.report_version),
            "row_filters": _row_filters(self.row_filters),
            "exclude_columns": tuple(string_list(f"{_BODY}.excludeColumns", self.exclude_columns)),
            "data_start_time": parse_datetime(f"{_BODY}.dataStartTime", self.data_start_time),
            "data_end_time": parse_datetime(f"{_BODY}.dataEndTime", self.data_end_time),
            "date_granularity": _granularity(self.date_granularity),
            "extra": _json_copy(_BODY, self.extra or {}),
        }
        if not isinstance(values["extra"], dict):
            raise ReportValidationError(_BODY, "extra must be a JSON object", type(self.extra).__name__)
        clash = sorted(set(values["extra"]) & set(_KNOWN_BODY_KEYS))
        if clash:
            raise ReportValidationError(_BODY, "extra must not repeat the modelled keys", clash)
        for name, value in values.items():
            object.__setattr__(self, name, value)
        self._check_required()
        self._check_window()

    def _check_required(self) -> None:
        present = {
            "dataStartTime": self.data_start_time,
            "dataEndTime": self.data_end_time,
            "dateGranularity": self.date_granularity,
        }
        first, required = REQUIRED_BODY_FIELDS.get(self.report_type, (0, ()))
        number = re.fullmatch(r"v(\d+)", self.report_version)
        if not number or int(number.group(1)) < first:
            return
        for key in required:
            if present[key] is None:
                raise ReportValidationError(
                    f"{_BODY}.{key}", f"is required for {self.report_type} {self.report_version}"
                )

    def _check_window(self) -> None:
        start, end = self.data_start_time, self.data_end_time
        if start is None or end is None:
            return
        if end < start:
            raise ReportValidationError(f"{_BODY}.dataEndTime", "must not be before dataStartTime", format_utc(end))
        if self.date_granularity is not None:
            limit, unit, periods = DATE_GRANULARITY_MAX_SPAN[self.date_granularity]
            if periods(start.date(), end.date()) > limit:
                raise ReportValidationError(
                    f"{_BODY}.dataEndTime",
                    f"a {self.date_granularity} report spans at most {limit} {unit}, end included "
                    f"(dataStartTime {format_utc(start)})",
                    format_utc(end),
                )

    def check_clock(self, now: datetime | None = None) -> WalmartReportRequest:
        """Refuse dates in the future or older than the two-year lookback; return ``self``."""
        now = _utc_now(now)
        floor = _years_before(now.date(), MAX_LOOKBACK_YEARS)
        for key, value in (("dataStartTime", self.data_start_time), ("dataEndTime", self.data_end_time)):
            if value is None:
                continue
            if value > now:
                raise ReportValidationError(f"{_BODY}.{key}", "must not be in the future", format_utc(value))
            if value.date() < floor:
                raise ReportValidationError(
                    f"{_BODY}.{key}", f"must be within the last {MAX_LOOKBACK_YEARS} years", format_utc(value)
                )
        return self

    @classmethod
    def from_arguments(
        cls,
        *,
        report_type: Any,
        report_version: Any,
        request_body: Mapping[str, Any] | str | None = None,
    ) -> WalmartReportRequest:
        """Validate operator arguments (``request_body`` as a dict or a JSON object string), clock rules aside."""
        body = _body_dict(request_body)
        picked = {key: body.pop(key, None) for key in _KNOWN_BODY_KEYS}
        return cls(
            report_type=report_type,
            report_version=report_version,
            row_filters=picked["rowFilters"],  # type: ignore[arg-type]
            exclude_columns=picked["excludeColumns"],  # type: ignore[arg-type]
            data_start_time=picked["dataStartTime"],
            data_end_time=picked["dataEndTime"],
            date_granularity=picked["dateGranularity"],
            extra=body,
        )

    @classmethod
    def build(
        cls,
        *,
        report_type: Any,
        report_version: Any,
        request_body: Mapping[str, Any] | str | None = None,
        now: datetime | None = None,
    ) -> WalmartReportRequest:
        """Validate operator arguments, the clock rules included (dates not in the future, within two years)."""
        request = cls.from_arguments(report_type=report_type, report_version=report_version, request_body=request_body)
        return request.check_clock(now)

    def body(self) -> dict[str, Any] | None:
        """The JSON body as the API spells it, or ``None`` when there is nothing to send."""
        candidates = {
            "rowFilters": [dict(f) for f in self.row_filters] or None,
            "excludeColumns": list(self.exclude_columns) or None,
            "dataStartTime": format_utc(self.data_start_time) if self.data_start_time else None,
            "dataEndTime": format_utc(self.data_end_time) if self.data_end_time else None,
            "dateGranularity": self.date_granularity,
        }
        body = {k: v for k, v in candidates.items() if v is not None}
        body.update(_json_copy(_BODY, self.extra))
        return body or None

    def fingerprint(self) -> tuple[str, str, str]:
        """``(reportType, reportVersion, canonical body)`` to match against listed requests."""
        return (self.report_type, self.report_version, canonical_payload(self.body()))

    @property
    def is_windowed(self) -> bool:
        """True when the request covers a data window (a windowed type, or date fields given)."""
        return (
            self.report_type in WINDOWED_REPORT_TYPES
            or self.data_start_time is not None
            or self.data_end_time is not None
        )

    def __hash__(self) -> int:
        return hash(self.fingerprint())


#: A report type with no required body fields: checks a body on its own when the real type is not known yet.
_ANY_REPORT_TYPE, _ANY_REPORT_VERSION = "UNSPECIFIED", "v1"


def check_arguments(arguments: Mapping[str, Any]) -> None:
    """Check the operator arguments given (any subset of report_type, report_version, request_body; a missing one
    is not known yet), clock rules aside. Raises :class:`ReportValidationError` naming the argument."""
    if {"report_type", "report_version", "request_body"} <= arguments.keys():
        WalmartReportRequest.from_arguments(**{name: arguments[name] for name in ("report_type", "report_version", "request_body")})
        return
    if "report_type" in arguments:
        _report_type(arguments["report_type"])
    if "report_version" in arguments:
        _report_version(arguments["report_version"])
    if "request_body" in arguments:
        WalmartReportRequest.from_arguments(
            report_type=_ANY_REPORT_TYPE, report_version=_ANY_REPORT_VERSION, request_body=arguments["request_body"]
        )


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


# ------------------------------------------------------------------------------------------- download links


@dataclass(frozen=True)
class WalmartDownloadLink:
    """A pre-signed report URL and when it stops working. The signature never shows in ``repr``."""

    url: str = field(repr=False)
    expires_at: datetime | None = None

    @property
    def redacted(self) -> str:
        """The URL without its query string (where the signature lives), for logs."""
        return redact_url(self.url)

    def is_expired(self, now: datetime | None = None, margin: float | timedelta = timedelta(seconds=30)) -> bool:
        """True when the URL expires within ``margin`` of ``now``; a link without expiry never expires."""
        if self.expires_at is None:
            return False
        margin = margin if isinstance(margin, timedelta) else timedelta(seconds=float(margin))
        return _utc_now(now) >= self.expires_at - margin

    def __repr__(self) -> str:
        expires = format_utc(self.expires_at) if self.expires_at else None
        return f"WalmartDownloadLink(url={self.redacted!r}, expires_at={expires!r})"

    __str__ = __repr__


def _sas_expiry(url: str) -> datetime | None:
    """The ``se`` (signed expiry) of an Azure-style pre-signed URL, when the answer gave no expiration time."""
    values = parse_qs(urlsplit(url).query).get("se")
    return _lenient_datetime(values[0]) if values else None


# -------------------------------------------------------------------------------------------------- errors

#: Walmart error code (before any ``.GMP_...`` suffix) -> typed error.
ERROR_CODES: Mapping[str, type[ApiError]] = {
    "INVALID_REQUEST_PARAM": InvalidRequestError,
    "MISSING_REQUEST_HEADER": InvalidRequestError,
    "MISSING_REQUEST_PARAM": InvalidRequestError,
    "INVALID_REQUEST_CONTENT": InvalidRequestError,
    "INVALID_REQUEST_HEADER": InvalidRequestError,
    "UNAUTHORIZED": AuthenticationError,
    "INVALID_CLIENT": AuthenticationError,
    "INVALID_GRANT": AuthenticationError,
    "FORBIDDEN": PermissionDeniedError,
    "CONTENT_NOT_FOUND": ReportNotFoundError,
    "REQUEST_THRESHOLD_VIOLATED": RateLimitedError,
    "SYSTEM_ERROR": ServerError,
    "DOWNSTREAM_SYSTEM_TIME_OUT": ServerError,
}
#: HTTP status -> typed error, when the code is missing or unknown.
ERROR_STATUSES: Mapping[int, type[ApiError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: ReportNotFoundError,
    409: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitedError,
}

_STATUS_NOTE_KEYS = frozenset({"message", "errormessage", "statusmessage", "description"})
_XML_FIELD = r"<(?:\w+:)?{name}\b[^>]*>(.*?)</(?:\w+:)?{name}>"
_MAX_ERRORS_SHOWN = 3


def _error_entries(payload: Any) -> list[dict[str, Any]]:
    """Every error object of any Walmart envelope: ``errors`` / ``error`` lists, ``errors.error``, one object."""
    if isinstance(payload, list):
        return [e for item in payload for e in _error_entries(item)]
    if isinstance(payload, str):
        return [{"description": payload}] if payload.strip() else []
    if not isinstance(payload, Mapping):
        return []
    for key in ("errors", "error"):
        inner = payload.get(key)
        if isinstance(inner, str) and key == "error":  # OAuth style {"error": "invalid_client", "error_description"}
            return [{"code": inner, "description": payload.get("error_description") or payload.get("message")}]
        if isinstance(inner, (list, Mapping)) and inner:
            if isinstance(inner, Mapping) and not any(k in inner for k in ("errors", "error")):
                return [dict(inner)]
            return _error_entries(inner)
    if any(k in payload for k in ("code", "description", "message", "info")):
        return [dict(payload)]
    return []


def _xml_entries(text: str) -> list[dict[str, Any]]:
    def find(name: str) -> list[str]:
        return [m.strip() for m in re.findall(_XML_FIELD.format(name=name), text, flags=re.S | re.I)]

    codes, descriptions, fields, infos = find("code"), find("description"), find("field"), find("info")
    count = max(len(codes), len(descriptions))
    pick = lambda seq, i: seq[i] if i < len(seq) else None  # noqa: E731
    return [
        {"code": pick(codes, i), "description": pick(descriptions, i), "field": pick(fields, i), "info": pick(infos, i)}
        for i in range(count)
    ]


def _entry_text(entry: Mapping[str, Any]) -> tuple[str, str]:
    """``(base code, human text)`` of one error object."""
    raw_code = str(entry.get("code") or "").strip()
    base = raw_code.split(".", 1)[0].upper()
    description = str(entry.get("description") or entry.get("message") or "").strip()
    info = str(entry.get("info") or "").strip()
    field_name = str(entry.get("field") or "").strip()
    words = [w for w in (description, info if info and info != description else "") if w]
    text = " - ".join(words) or raw_code or "error"
    if raw_code and raw_code != text:
        text = f"{raw_code}: {text}"
    if field_name and field_name.upper() != base and field_name not in text:
        text = f"{text} (field {field_name})"
    return base, _truncate(text, 300)


# ------------------------------------------------------------------------------------------------ protocol


def validate_request_id(value: Any) -> str:
    """A report request id safe to put in a URL path (Walmart's are UUIDs)."""
    if not isinstance(value, str) or not value.strip():
        raise ReportValidationError("request_id", "is required: the requestId answered by the create call", value)
    text = value.strip()
    if not _REQUEST_ID_RE.match(text):
        raise ReportValidationError("request_id", "must be a request id such as a UUID (letters, digits, '-')", value)
    return text


def _optional_text(field_name: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ReportValidationError(field_name, "must be a string", value)
    return value.strip()


class WalmartProtocol(ApiProtocol):
    """Authentication, call building, answer parsing and error mapping of Walmart On-request Reports."""

    api_name: ClassVar[str] = "walmart"
    #: Walmart publishes no figure for these endpoints; status polls every 30 s have been throttled. Ten calls a
    #: minute per credential (one every 6 s, shared by every hook and trigger of a process) covers a task's list,
    #: create, status and download-URL calls with room to spare, while pollers wait minutes between checks.
    default_calls_per_minute: ClassVar[float] = 10.0

    def __init__(
        self,
        host: str = WALMART_DEFAULT_HOST,
        service_name: str = WALMART_DEFAULT_SERVICE_NAME,
        channel_type: str | None = None,
        market: str | None = None,
        correlation_id: Callable[[], Any] = uuid.uuid4,
    ) -> None:
        host = (_optional_text("host", host) or WALMART_DEFAULT_HOST).rstrip("/")
        if not re.match(r"^https?://[^/?#\s]+", host):
            raise ReportValidationError("host", "must be a base URL such as https://marketplace.walmartapis.com", host)
        self.host = host
        self.service_name = _optional_text("service_name", service_name) or WALMART_DEFAULT_SERVICE_NAME
        self.channel_type = _optional_text("channel_type", channel_type)
        market_text = _optional_text("market", market)
        if market_text is not None and market_text.lower() not in MARKETS:
            raise ReportValidationError("market", f"must be one of {sorted(MARKETS)}", market)
        self.market = market_text.lower() if market_text else None
        self._correlation_id = correlation_id

    # -- headers and auth

    def _common_headers(self) -> dict[str, str]:
        """Headers of every Walmart call, with a fresh correlation id."""
        headers = {
            "Accept": "application/json",
            "WM_QOS.CORRELATION_ID": str(self._correlation_id()),
            "WM_SVC.NAME": self.service_name,
        }
        optional = {
            "WM_CONSUMER.CHANNEL.TYPE": self.channel_type,
            "WM_MARKET": self.market,
            "WM_GLOBAL_VERSION": WALMART_GLOBAL_VERSION if self.market else None,
        }
        headers.update({k: v for k, v in optional.items() if v})
        return headers

    def token_request(self, credentials: Credentials) -> HttpRequest:
        """``POST /v3/token`` with HTTP Basic client credentials and ``grant_type=client_credentials``."""
        basic = base64.b64encode(f"{credentials.client_id}:{credentials.client_secret}".encode()).decode("ascii")
        host = (credentials.host or self.host).rstrip("/")
        return HttpRequest(
            method="POST",
            url=f"{host}/v3/token",
            endpoint="walmart.token",
            headers={
                **self._common_headers(),
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            form={"grant_type": "client_credentials"},
            idempotent=True,
            authenticated=False,
            rate_limited=False,
        )

    def parse_token(self, response: HttpResponse, now: float | None = None) -> AccessToken:
        """Read ``access_token`` / ``expires_in`` (JSON, or the XML ``accessToken`` / ``expiresIn`` variant)."""
        if not response.ok:
            raise self.error_for(response)
        data = response.json()
        if isinstance(data, Mapping):
            value, expires_in = data.get("access_token"), data.get("expires_in")
        else:
            text = response.body.decode("utf-8", "replace")
            found = {
                name: re.search(_XML_FIELD.format(name=name), text, flags=re.S | re.I)
                for name in ("accessToken", "expiresIn")
            }
            value = found["accessToken"].group(1).strip() if found["accessToken"] else None
            expires_in = found["expiresIn"].group(1).strip() if found["expiresIn"] else None
        if not isinstance(value, str) or not value.strip():
            raise AuthenticationError(
                "the token answer carried no access token", status=response.status, api=self.api_name
            )
        try:
            lifetime = float(expires_in) if expires_in not in (None, "") else 900.0
        except (TypeError, ValueError):
            lifetime = 900.0
        return AccessToken(value=value.strip(), expires_at=(time.time() if now is None else now) + lifetime)

    def authorize(self, request: HttpRequest, token: str) -> HttpRequest:
        """Add the token and the per-call headers; a fresh correlation id each time (called once per attempt)."""
        if not request.authenticated:
            return request
        headers = {**self._common_headers(), "WM_SEC.ACCESS_TOKEN": token}
        if request.method.upper() in ("POST", "PUT", "PATCH"):
            headers["Content-Type"] = "application/json"
        return request.with_headers(headers)

    def error_for(self, response: HttpResponse) -> ApiError:
        """Map an error answer (any envelope, JSON, XML, text or empty) to a typed error with Walmart's code."""
        data = response.json()
        text = response.body.decode("utf-8", "replace") if response.body else ""
        if data is not None:
            entries = _error_entries(data)
        elif re.search(r"<(?:\w+:)?code\b", text, flags=re.I):
            entries = _xml_entries(text)
        else:
            entries = []
        described = [_entry_text(e) for e in entries]
        codes = [code for code, _ in described if code]
        code = next((c for c in codes if c in ERROR_CODES), codes[0] if codes else None)
        if described:
            message = "; ".join(t for _, t in described[:_MAX_ERRORS_SHOWN])
            if len(described) > _MAX_ERRORS_SHOWN:
                message += f" (+{len(described) - _MAX_ERRORS_SHOWN} more)"
        else:
            try:
                reason = HTTPStatus(response.status).phrase
            except ValueError:
                reason = "error"
            snippet = _truncate(re.sub(r"<[^>]+>", " ", text), 200) if text.strip() else ""
            message = f"{reason}: {snippet}" if snippet else f"{reason} (empty answer)"
        message = _truncate(message, 1000)
        cls = ERROR_CODES.get(code or "") or ERROR_STATUSES.get(response.status)
        if cls is None:
            cls = ServerError if response.status >= 500 else ApiError
        if cls is AuthenticationError and "expired" in message.lower():
            cls = TokenExpiredError
        retry_after = self.retry_after(response) if response.status == 429 or cls is RateLimitedError else None
        return cls(message, status=response.status, code=code, api=self.api_name, retry_after=retry_after)

    # -- report calls

    def _url(self, path: str) -> str:
        return f"{self.host}/v3/{path}"

    def create_request(self, report: WalmartReportRequest) -> HttpRequest:
        """``POST /v3/reports/reportRequests?reportType=..&reportVersion=..`` (never retried blindly)."""
        return HttpRequest(
            method="POST",
            url=self._url("reports/reportRequests"),
            endpoint="walmart.create",
            params={"reportType": report.report_type, "reportVersion": report.report_version},
            json=report.body() or {},
            idempotent=False,
        )

    def status_request(self, request_id: str) -> HttpRequest:
        """``GET /v3/reports/reportRequests/{requestId}``."""
        rid = quote(validate_request_id(request_id), safe="")
        return HttpRequest(method="GET", url=self._url(f"reports/reportRequests/{rid}"), endpoint="walmart.status")

    def list_request(
        self,
        *,
        report_type: str | None = None,
        report_version: str | None = None,
        request_status: str | None = None,
        submitted_after: datetime | str | None = None,
        submitted_before: datetime | str | None = None,
        request_id: str | None = None,
        cursor: str | None = None,
    ) -> HttpRequest:
        """``GET /v3/reports/reportRequests`` with filters, or the next page: ``cursor`` is the whole query string.

        The submission dates go together (Walmart answers INVALID_REQUEST_PARAM to only one of them).
        """
        base = self._url("reports/reportRequests")
        if cursor is not None:
            query = _optional_text("cursor", cursor)
            if not query or any(c.isspace() or c == "#" for c in query):
                raise ReportValidationError("cursor", "must be the nextCursor query string of a list answer", cursor)
            return HttpRequest(method="GET", url=f"{base}?{query.lstrip('?')}", endpoint="walmart.list")
        status = _optional_text("request_status", request_status)
        if status is not None and status.upper() not in REQUEST_STATES:
            raise ReportValidationError("request_status", f"must be one of {sorted(REQUEST_STATES)}", request_status)
        after = parse_datetime("submitted_after", submitted_after)
        before = parse_datetime("submitted_before", submitted_before)
        if (after is None) != (before is None):
            missing = "submitted_before" if before is None else "submitted_after"
            raise ReportValidationError(missing, "is required with the other submission date: Walmart needs both")
        if after is not None and before is not None and before < after:
            raise ReportValidationError("submitted_before", "must not be before submitted_after", format_utc(before))
        params = {
            "reportType": _report_type(report_type) if report_type is not None else None,
            "reportVersion": _report_version(report_version) if report_version is not None else None,
            "requestStatus": status.upper() if status else None,
            "requestSubmissionStartDate": format_utc(after) if after else None,
            "requestSubmissionEndDate": format_utc(before) if before else None,
            "requestId": validate_request_id(request_id) if request_id is not None else None,
        }
        return HttpRequest(
            method="GET", url=base, endpoint="walmart.list", params={k: v for k, v in params.items() if v is not None}
        )

    def download_url_request(self, request_id: str) -> HttpRequest:
        """``GET /v3/reports/downloadReport?requestId=..``: answers a short-lived pre-signed URL."""
        return HttpRequest(
            method="GET",
            url=self._url("reports/downloadReport"),
            endpoint="walmart.download_url",
            params={"requestId": validate_request_id(request_id)},
        )

    def token_detail_request(self) -> HttpRequest:
        """``GET /v3/token/detail``: the token's scopes, a cheap connection test."""
        return HttpRequest(method="GET", url=self._url("token/detail"), endpoint="walmart.token_detail")

    def blob_request(self, link: WalmartDownloadLink) -> HttpRequest:
        """``GET`` the pre-signed URL itself: no Walmart header, no token, outside the API's rate limit."""
        if not isinstance(link, WalmartDownloadLink):
            raise TypeError("blob_request takes a WalmartDownloadLink")
        return HttpRequest(
            method="GET",
            url=link.url,
            endpoint="walmart.blob",
            # identity: byte counts, Content-Length checks and Range resumes all speak of the file's own bytes.
            headers={"Accept-Encoding": "identity"},
            authenticated=False,
            rate_limited=False,
        )

    # -- answers

    def _answer(self, response_or_json: HttpResponse | Any, what: str) -> Any:
        if isinstance(response_or_json, HttpResponse):
            if not response_or_json.ok:
                raise self.error_for(response_or_json)
            data = response_or_json.json()
            if data is None:
                raise ApiError(f"the {what} answer is not JSON", status=response_or_json.status, api=self.api_name)
            return data
        return response_or_json

    def _status_from(self, data: Any) -> ReportStatus:
        if not isinstance(data, Mapping):
            raise ApiError("a report request answer is not a JSON object", api=self.api_name)
        job_id = _ci_get(data, "requestId")
        if not isinstance(job_id, str) or not job_id.strip():
            raise ApiError("a report request answer carried no requestId", api=self.api_name)
        raw = str(_ci_get(data, "requestStatus") or "").strip()
        payload = _ci_get(data, "payload")
        details = {
            "reportType": _ci_get(data, "reportType"),
            "reportVersion": _ci_get(data, "reportVersion"),
            "requestSubmissionDate": _lenient_datetime(_ci_get(data, "requestSubmissionDate")),
            "payload": dict(payload) if isinstance(payload, Mapping) else {},
            "reportGenerationDate": _lenient_datetime(_ci_get(data, "reportGenerationDate")),
        }
        envelope = {k: v for k, v in data.items() if k in ("errors", "error")}
        errors = [_entry_text(e)[1] for e in _error_entries(envelope)]
        notes = [str(v) for k, v in data.items() if str(k).lower() in _STATUS_NOTE_KEYS and v]
        return ReportStatus(
            job_id=job_id.strip(),
            state=REQUEST_STATES.get(raw.upper(), ReportState.PENDING),
            raw_status=raw,
            message=_truncate("; ".join(notes + errors), 1000),
            details=details,
        )

    def parse_request(self, response_or_json: HttpResponse | Mapping[str, Any]) -> ReportStatus:
        """A create or status answer (or its parsed JSON) as a :class:`ReportStatus`."""
        return self._status_from(self._answer(response_or_json, "report request"))

    def parse_list(self, response_or_json: HttpResponse | Mapping[str, Any]) -> tuple[list[ReportStatus], str | None]:
        """The listed requests (entries without a requestId are skipped) and the next page's cursor, if any."""
        data = self._answer(response_or_json, "list")
        if not isinstance(data, Mapping):
            raise ApiError("the list answer is not a JSON object", api=self.api_name)
        items = data.get("requests") or []
        requests = [self._status_from(i) for i in items if isinstance(i, Mapping) and _ci_get(i, "requestId")]
        cursor = data.get("nextCursor")
        cursor = cursor.strip().lstrip("?") if isinstance(cursor, str) else None
        return requests, cursor or None

    def parse_download(self, response_or_json: HttpResponse | Any) -> list[WalmartDownloadLink]:
        """The pre-signed URL(s) of a READY report: one object, a list of them, or several URLs (split reports)."""
        data = self._answer(response_or_json, "download")
        links: list[WalmartDownloadLink] = []

        def collect(node: Any, expires: Any) -> None:
            if isinstance(node, str):
                url = node.strip()
                if not url:
                    return
                if not re.match(r"^https?://[^/?#\s]+", url):
                    raise ApiError(f"the download answer carried an invalid URL {redact_url(url)!r}", api=self.api_name)
                when = _lenient_datetime(expires) or _sas_expiry(url)
                if url not in {link.url for link in links}:
                    links.append(WalmartDownloadLink(url=url, expires_at=when))
            elif isinstance(node, list):
                for item in node:
                    collect(item, expires)
            elif isinstance(node, Mapping):
                own = _ci_get(node, "downloadURLExpirationTime", "expirationTime", "expiresAt") or expires
                for key in ("downloadURL", "downloadURLs", "url", "urls", "files"):
                    if _ci_get(node, key) is not None:
                        collect(_ci_get(node, key), own)

        collect(data, None)
        if not links:
            status = _ci_get(data, "requestStatus") if isinstance(data, Mapping) else None
            job_id = _ci_get(data, "requestId") if isinstance(data, Mapping) else None
            shown = f" (requestStatus {status})" if status else ""
            raise ApiError(f"the download answer carried no download URL{shown}", api=self.api_name, job_id=job_id)
        return links


# ---------------------------------------------------------------------------------------------- idempotency


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
        version = str(details.get("reportVersion") or "").strip()
        if (version.lower() if re.fullmatch(r"[vV]\d+", version) else version) != want_version:
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
