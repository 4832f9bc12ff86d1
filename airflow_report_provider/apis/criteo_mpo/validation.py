"""Criteo MPO operator arguments: the API's enums and one check per argument, each error naming the argument."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.common.validation import (
    format_utc,
    iana_timezone,
    integer,
    matching_text,
    parse_datetime,
    string_list,
)

#: Dimensions of the spec enum (``RealTimeProductReportJob.dimensions``), in the spec's spelling.
DIMENSIONS: tuple[str, ...] = (
    "AdvertiserId",
    "PartnerId",
    "CampaignId",
    "SellerId",
    "ProductId",
    "SellerName",
    "Year",
    "Month",
    "Week",
    "Day",
    "Hour",
    "Minute",
)
#: Metrics of the spec enum (``RealTimeProductReportJob.metrics``).
METRICS: tuple[str, ...] = ("Clicks", "Displays", "Cost")
#: At most one of these may appear in one request (``invalid-dimensioncombination``).
EXCLUSIVE_DIMENSIONS: tuple[str, ...] = ("ProductId", "Hour", "Minute")
#: Operator spelling (lower-case) -> spec enum spelling of ``fileFormat``.
FILE_FORMATS: dict[str, str] = {"csv": "Csv", "json": "Json"}
LOOKBACK_MINUTES = (60, 1440)

#: One id: no spaces, commas, semicolons, slashes, brackets or quotes (a list rendered as text has some).
_ID = re.compile(r"[^\s,;\[\]'\"/]+")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


def _key(name: str) -> str:
    """Spelling-insensitive lookup key: ``productId``, ``ProductId``, ``product_id`` -> ``productid``."""
    return name.replace("_", "").replace("-", "").lower()


_DIMENSION_BY_KEY = {_key(name): name for name in DIMENSIONS}
_METRIC_BY_KEY = {_key(name): name for name in METRICS}


def _ids(field: str, value: Any, *, required: bool = False) -> tuple[str, ...]:
    """A de-duplicated tuple of ids; refuses items that look like a list rendered as text (``"1,2"``)."""
    items = string_list(field, value, required=required)
    for item in items:
        if not _ID.fullmatch(item):
            raise ReportValidationError(
                field, "ids must not contain spaces, commas, slashes, brackets or quotes (one id per list item)", item
            )
    return tuple(dict.fromkeys(items))


def _names(field: str, value: Any, known: dict[str, str], kind: str) -> tuple[str, ...]:
    """Known enum values in any camelCase / PascalCase spelling, normalised to the spec's, de-duplicated."""
    names = []
    for item in string_list(field, value):
        name = known.get(_key(item))
        if name is None:
            raise ReportValidationError(field, f"unknown {kind}; expected some of {', '.join(known.values())}", item)
        names.append(name)
    return tuple(dict.fromkeys(names))


def _dimensions(value: Any) -> tuple[str, ...]:
    dimensions = _names("dimensions", value, _DIMENSION_BY_KEY, "dimension")
    exclusive = [name for name in dimensions if name in EXCLUSIVE_DIMENSIONS]
    if len(exclusive) > 1:
        raise ReportValidationError(
            "dimensions", f"at most one of {', '.join(EXCLUSIVE_DIMENSIONS)} per request", exclusive
        )
    return dimensions


def _file_format(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in FILE_FORMATS:
        raise ReportValidationError("file_format", "must be 'csv' or 'json'", value)
    return text


def _optional_int(field: str, value: Any, minimum: int, maximum: int, unit: str = "") -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return integer(field, value, minimum=minimum, maximum=maximum, unit=unit)


def _timezone(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return iana_timezone("timezone", value)


def _currency(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _CURRENCY.match(value.strip()):
        raise ReportValidationError("currency", "must be a three-letter ISO 4217 code such as 'EUR'", value)
    return value.strip().upper()


def _whole_seconds(field: str, value: Any) -> datetime | None:
    """Aware UTC datetime cut to whole seconds: what is stored is exactly what is sent."""
    parsed = parse_datetime(field, value)
    return None if parsed is None else parsed.replace(microsecond=0)


def _check_window(lookback: int | None, start: datetime | None, end: datetime | None) -> None:
    """Exactly one of a lookback window or an absolute window (start, optional end after it)."""
    if lookback is not None and (start is not None or end is not None):
        raise ReportValidationError(
            "lookback_window", "cannot be combined with report_start/report_end; set one or the other", lookback
        )
    if lookback is None and start is None:
        if end is not None:
            raise ReportValidationError(
                "report_end", "requires report_start (or use lookback_window instead)", format_utc(end)
            )
        raise ReportValidationError(
            "lookback_window", "exactly one of lookback_window (minutes) or report_start[/report_end] is required"
        )
    if start is not None and end is not None and end <= start:
        raise ReportValidationError("report_end", f"must be after report_start ({format_utc(start)})", format_utc(end))


#: Operator argument -> its check (raises naming the argument; returns the normalised value).
ARGUMENT_CHECKS: dict[str, Any] = {
    "advertiser_ids": lambda value: _ids("advertiser_ids", value, required=True),
    "campaign_ids": lambda value: _ids("campaign_ids", value),
    "seller_ids": lambda value: _ids("seller_ids", value),
    "partner_ids": lambda value: _ids("partner_ids", value),
    "dimensions": _dimensions,
    "metrics": lambda value: _names("metrics", value, _METRIC_BY_KEY, "metric"),
    "file_format": _file_format,
    "lookback_window": lambda value: _optional_int("lookback_window", value, *LOOKBACK_MINUTES, unit="minutes"),
    "report_start": lambda value: _whole_seconds("report_start", value),
    "report_end": lambda value: _whole_seconds("report_end", value),
    "timezone": _timezone,
    "currency": _currency,
}
_WINDOW_ARGUMENTS = ("lookback_window", "report_start", "report_end")


def check_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Check the operator arguments given (any subset; a missing one is not known yet) and return them normalised.

    The window rule (exactly one of a lookback or a start) applies once all three window arguments are given.
    Raises :class:`ReportValidationError` naming the argument.
    """
    values = {name: ARGUMENT_CHECKS[name](value) for name, value in arguments.items() if name in ARGUMENT_CHECKS}
    if all(name in values for name in _WINDOW_ARGUMENTS):
        _check_window(*(values[name] for name in _WINDOW_ARGUMENTS))
    return values


def validate_report_id(value: Any) -> str:
    """An export id as the API returns it (a UUID in practice): a non-empty string without spaces or slashes."""
    return matching_text("report_id", value, _ID, "must be a non-empty export id without spaces or slashes")
