"""Walmart argument checks: report type and version, request ids, the request body and its row filters, clock helpers.

Each check raises :class:`ReportValidationError` naming the operator argument (or ``request_body.<key>``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any

from airflow_report_provider.apis.walmart.report_types import DATE_GRANULARITY_MAX_SPAN
from airflow_report_provider.common.http.answers import shorten
from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.common.validation import matching_text, string_list

_BODY = "request_body"
_KNOWN_BODY_KEYS = ("rowFilters", "excludeColumns", "dataStartTime", "dataEndTime", "dateGranularity")
_NAME_RE = re.compile(r"[A-Za-z0-9_]+")
_VERSION_RE = re.compile(r"[A-Za-z0-9._-]+")
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: An absolute http(s) URL: scheme and host.
_HTTP_URL = re.compile(r"^https?://[^/?#\s]+")


def _utc_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now.astimezone(timezone.utc)


def _years_before(value: date, years: int) -> date:
    try:
        return value.replace(year=value.year - years)
    except ValueError:  # Feb 29 -> Feb 28
        return value.replace(year=value.year - years, day=28)


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


def _optional_text(field_name: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ReportValidationError(field_name, "must be a string", value)
    return value.strip()


def _normal_version(text: str) -> str:
    """``V4`` -> ``v4``: numbered versions in lower case, any other spelling as given."""
    return text.lower() if re.fullmatch(r"[vV]\d+", text) else text


def _report_type(value: Any) -> str:
    return matching_text(
        "report_type",
        value,
        _NAME_RE,
        "must be a report type name such as 'ITEM' (letters, digits, _)",
        missing="is required: a Walmart report type such as 'ITEM'",
        normalise=str.upper,
    )


def _report_version(value: Any) -> str:
    return matching_text(
        "report_version",
        value,
        _VERSION_RE,
        "must be a version such as 'v4' (no spaces)",
        missing="is required: a report version such as 'v1'",
        normalise=_normal_version,
    )


def validate_request_id(value: Any) -> str:
    """A report request id safe to put in a URL path (Walmart's are UUIDs)."""
    return matching_text(
        "request_id",
        value,
        _REQUEST_ID_RE,
        "must be a request id such as a UUID (letters, digits, '-')",
        missing="is required: the requestId answered by the create call",
    )


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
                shorten(text, 80, "…"),
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
