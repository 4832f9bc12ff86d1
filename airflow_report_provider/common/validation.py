"""Small validators shared by the protocol modules; each raises :class:`ReportValidationError` naming the field."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from airflow_report_provider.common.exceptions import ReportValidationError


def string_list(field: str, value: Any, *, required: bool = False) -> list[str]:
    """A list of non-empty strings (ints are accepted and turned into strings).

    A plain string is refused: a templated list that rendered as text (``"['1', '2']"``) is a classic mistake.
    """
    if value is None or (isinstance(value, (list, tuple, set)) and not value):
        if required:
            raise ReportValidationError(field, "is required and must be a non-empty list")
        return []
    if isinstance(value, (str, bytes)):
        raise ReportValidationError(
            field,
            "must be a list, not a string (a templated list renders as text unless the DAG sets "
            "render_template_as_native_obj=True)",
            value,
        )
    if not isinstance(value, Iterable):
        raise ReportValidationError(field, "must be a list", value)
    if isinstance(value, (set, frozenset)):
        value = sorted(value, key=str)  # a stable order: the same request gives the same body
    items: list[str] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (str, int)) or str(item).strip() == "":
            raise ReportValidationError(field, "items must be non-empty strings or integers", item)
        items.append(str(item).strip())
    return items


def matching_text(
    field: str,
    value: Any,
    pattern: re.Pattern[str],
    rule: str,
    *,
    missing: str | None = None,
    normalise: Callable[[str], str] | None = None,
) -> str:
    """A non-empty string, stripped (then ``normalise``-d), that ``pattern`` matches as a whole.

    Raises with ``missing`` (default: ``rule``) when the value is not a string or is blank, with ``rule`` when the
    pattern does not match; both quote the value as given.
    """
    if not isinstance(value, str) or not value.strip():
        raise ReportValidationError(field, missing or rule, value)
    text = normalise(value.strip()) if normalise else value.strip()
    if not pattern.fullmatch(text):
        raise ReportValidationError(field, rule, value)
    return text


def parse_datetime(field: str, value: Any) -> datetime | None:
    """An aware UTC datetime from a datetime or an ISO-8601 string; naive values are taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ReportValidationError(field, "must be an ISO-8601 date-time such as 2026-11-24T00:00:00Z", value) from None
    else:
        raise ReportValidationError(field, "must be an ISO-8601 string or a datetime", value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    utc = parsed.astimezone(timezone.utc)
    # A plain datetime: pendulum subclasses lose their zone in arithmetic with the stdlib UTC zone.
    return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=timezone.utc)


def format_utc(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds, UTC)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_ZONES: set[str] | None = None


def iana_timezone(field: str, value: Any) -> str:
    """An IANA time-zone name such as ``Europe/Paris`` (``UTC`` included)."""
    global _ZONES
    if not isinstance(value, str) or not value.strip():
        raise ReportValidationError(field, "must be an IANA time-zone name such as 'Europe/Paris'", value)
    name = value.strip()
    if _ZONES is None:
        _ZONES = available_timezones() | {"UTC"}
    if name not in _ZONES:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ReportValidationError(field, "is not a time zone of the IANA database", value) from None
    return name


def integer(
    field: str, value: Any, *, minimum: int | None = None, maximum: int | None = None, unit: str = ""
) -> int:
    """An int (numeric strings from templates are accepted) within optional bounds, in ``unit`` (named in errors)."""
    if isinstance(value, bool):
        raise ReportValidationError(field, "must be an integer", value)
    try:
        number = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ReportValidationError(field, f"must be an integer{f' number of {unit}' if unit else ''}", value) from None
    if isinstance(value, float) and value != number:
        raise ReportValidationError(field, "must be a whole number", value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ReportValidationError(field, f"must be between {minimum} and {maximum}{f' {unit}' if unit else ''}", value)
    return number


def duration(field: str, value: Any, *, allow_zero: bool = False) -> float | None:
    """Seconds from a number of seconds or a timedelta (``None`` stays ``None``): more than 0, or 0 and more."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ReportValidationError(field, "must be a number of seconds or a timedelta", value)
    if not (seconds > 0 or (allow_zero and seconds == 0)):
        raise ReportValidationError(field, "must be 0 seconds or more" if allow_zero else "must be more than 0 seconds", value)
    return seconds
