"""Data interval -> report window mapping, shared by every API.

Pure functions and one frozen dataclass: no I/O, no clock reads, no Airflow import. Every datetime may be a
stdlib ``datetime`` in any time zone or a pendulum ``DateTime`` (what Airflow hands to templates and
``context``); ISO-8601 strings are accepted too, because a templated ``"{{ data_interval_start }}"`` renders as
text unless the DAG renders native objects.

Conventions
-----------
* A :class:`ReportWindow` is the half-open UTC interval ``[start, end)``: ``end`` is *exclusive*. Consecutive
  Airflow data intervals (``interval[i].end == interval[i + 1].start``) therefore map to consecutive windows with
  no gap and no overlap, whatever the DAG's time zone and across DST changes: conversion to UTC keeps the exact
  instant (a local day of 23 h, 25 h or 23.5 h stays that long).
* Bounds are stored as plain stdlib ``datetime`` objects with ``tzinfo=timezone.utc`` (pendulum values are
  converted), so a window pickles, compares and serialises the same way whatever produced it. This also avoids
  two pitfalls: pendulum 3 drops a stdlib ``timezone.utc`` on arithmetic (the result is naive), and by PEP 495 an
  aware datetime on an ambiguous wall time (the repeated hour of a fall back) never compares equal to one in
  another zone. Bounds in UTC compare by instant, always.
* ``iso_start()`` / ``iso_end()`` format whole seconds, ``YYYY-MM-DDTHH:MM:SSZ``, as both APIs expect. Sub-second
  parts are truncated; since the same instant always formats the same way, shared bounds of consecutive windows
  stay shared in text form too.
* Open-ended windows: Criteo's ``startDate`` may come without ``endDate`` (the API then reads "up to now"). Such
  a window is a :class:`ReportWindow` whose ``end`` is ``None`` (``is_open`` is true; ``iso_end()`` returns
  ``None`` so the caller simply omits ``endDate``). It is never filled in with "now" here: that would make a
  retried request differ from the first one and defeat Criteo's reuse of identical requests. Operations that
  need a fixed end (``duration``, ``settles_at``, ``seconds_until_settled``, ``walmart_window_body``) raise
  :class:`ReportValidationError` (field ``report_end``) on an open window. Every window built from a data
  interval is closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.common.validation import duration, format_utc, parse_datetime

__all__ = [
    "DEFAULT_DATA_LATENCY",
    "ReportWindow",
    "is_past_interval",
    "resolve_window",
    "walmart_window_body",
    "window_from_interval",
]

#: Criteo documents about 10 minutes of data latency: an hourly window is complete only some minutes after it ends.
DEFAULT_DATA_LATENCY = timedelta(minutes=10)

_ONE_SECOND = timedelta(seconds=1)


def _to_utc(field: str, value: Any) -> datetime | None:
    """The exact instant of ``value`` as a stdlib UTC datetime (``None``/``""`` stay ``None``).

    Accepts aware datetimes in any zone (pendulum included) and ISO-8601 strings; naive values are taken as UTC,
    as everywhere else in the provider (:func:`~airflow_report_provider.common.validation.parse_datetime`).
    """
    parsed = parse_datetime(field, value)
    if parsed is None:
        return None
    # ``parse_datetime`` already converted to UTC (astimezone keeps the instant, honouring pendulum's fold on
    # ambiguous wall times). Rebuild a plain datetime so pendulum subclasses do not leak into windows.
    return datetime(
        parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute, parsed.second, parsed.microsecond,
        tzinfo=timezone.utc,
    )


def _aware_now(now: Any) -> datetime:
    """``now`` must be an aware datetime: a naive ``datetime.now()`` is local time and would silently be wrong."""
    if not isinstance(now, datetime):
        raise ReportValidationError("now", "must be a timezone-aware datetime", now)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ReportValidationError(
            "now", "must be timezone-aware (use pendulum.now('UTC') or datetime.now(timezone.utc))", now
        )
    return now.astimezone(timezone.utc)


def _latency(value: Any) -> timedelta:
    """A non-negative timedelta; numbers are seconds."""
    if value is None:
        raise ReportValidationError("data_latency", "must be a number of seconds or a timedelta", value)
    return timedelta(seconds=duration("data_latency", value, allow_zero=True))


@dataclass(frozen=True)
class ReportWindow:
    """A half-open UTC report window ``[start, end)``; ``end is None`` means open-ended ("up to now").

    Construct it with :func:`window_from_interval` or :func:`resolve_window`, which name the offending field in
    their errors; the constructor itself normalises both bounds to UTC and checks ``start < end``.
    """

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        start = _to_utc("window.start", self.start)
        if start is None:
            raise ReportValidationError("window.start", "is required")
        end = _to_utc("window.end", self.end)
        if end is not None and not start < end:
            raise ReportValidationError(
                "window", f"start must be before end (start {format_utc(start)}, end {format_utc(end)})"
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    # -- formatting -------------------------------------------------------------------------------------------
    def iso_start(self) -> str:
        """``YYYY-MM-DDTHH:MM:SSZ`` of the inclusive start."""
        return format_utc(self.start)

    def iso_end(self) -> str | None:
        """``YYYY-MM-DDTHH:MM:SSZ`` of the exclusive end; ``None`` for an open-ended window."""
        return None if self.end is None else format_utc(self.end)

    def __str__(self) -> str:
        return f"[{self.iso_start()}, {self.iso_end() or 'now'})"

    # -- arithmetic -------------------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        """True when the window has no fixed end (Criteo ``startDate`` without ``endDate``)."""
        return self.end is None

    def _closed_end(self, what: str) -> datetime:
        if self.end is None:
            raise ReportValidationError("report_end", f"is required for {what} (the window is open-ended)")
        return self.end

    @property
    def duration(self) -> timedelta:
        """Elapsed time between the bounds (a DST day in a local-midnight schedule is 23 h, 25 h, 23.5 h...)."""
        return self._closed_end("a window duration") - self.start

    def settles_at(self, data_latency: timedelta = DEFAULT_DATA_LATENCY) -> datetime:
        """The instant from which the window's data is complete: ``end + data_latency``."""
        return self._closed_end("the settle time") + _latency(data_latency)

    def seconds_until_settled(self, now: datetime, data_latency: timedelta = DEFAULT_DATA_LATENCY) -> float:
        """Seconds to wait from ``now`` (aware) until :meth:`settles_at`; ``0.0`` once settled, never negative."""
        remaining = (self.settles_at(data_latency) - _aware_now(now)).total_seconds()
        return max(0.0, remaining)


def window_from_interval(data_interval_start: Any, data_interval_end: Any) -> ReportWindow:
    """The report window of an Airflow data interval: the same two instants, in UTC.

    Raises :class:`ReportValidationError` naming ``data_interval_start`` / ``data_interval_end`` when one is
    missing or unreadable, and ``data_interval`` when ``start >= end``.
    """
    start = _to_utc("data_interval_start", data_interval_start)
    if start is None:
        raise ReportValidationError("data_interval_start", "is required (the run has no data interval)")
    end = _to_utc("data_interval_end", data_interval_end)
    if end is None:
        raise ReportValidationError("data_interval_end", "is required (the run has no data interval)")
    if not start < end:
        raise ReportValidationError(
            "data_interval",
            f"start must be before end (start {format_utc(start)}, end {format_utc(end)})",
        )
    return ReportWindow(start, end)


def _is_set(value: Any) -> bool:
    """Templated arguments render missing values as ``None`` or ``""``."""
    return value is not None and not (isinstance(value, str) and value.strip() == "")


def resolve_window(
    *,
    report_start: Any = None,
    report_end: Any = None,
    lookback_window: Any = None,
    data_interval_start: Any = None,
    data_interval_end: Any = None,
) -> ReportWindow | None:
    """The absolute window a report request should cover, or ``None`` when it should send none.

    Precedence:

    1. ``lookback_window`` set -> ``None``: a relative window; the caller sends ``lookbackWindow`` itself
       (its 60..1440 range is the API module's rule, not checked here).
    2. ``report_start`` set -> ``[report_start, report_end)``, open-ended when ``report_end`` is unset.
    3. a data interval -> :func:`window_from_interval`.
    4. otherwise ``None``: the run has no data interval (Airflow 3 manual runs without a logical date, or
       ``schedule=None`` runs whose interval is the single instant ``start == end``); the caller decides
       (e.g. a default lookback for Criteo, no date fields for a Walmart snapshot type).

    Explicit settings are validated rather than silently dropped: ``lookback_window`` together with
    ``report_start``/``report_end`` is an error (the APIs accept exactly one of them), as is ``report_end``
    without ``report_start`` or ``report_end <= report_start``. Only one of the two data interval bounds is an
    error too.
    """
    has_lookback = _is_set(lookback_window)
    has_start = _is_set(report_start)
    has_end = _is_set(report_end)

    if has_lookback:
        if has_start or has_end:
            raise ReportValidationError(
                "lookback_window",
                "excludes report_start/report_end: set exactly one of lookback_window or report_start[/report_end]",
                lookback_window,
            )
        return None

    if has_start or has_end:
        start = _to_utc("report_start", report_start)
        if start is None:
            raise ReportValidationError("report_start", "is required when report_end is set", report_start)
        end = _to_utc("report_end", report_end)
        if end is not None and not start < end:
            raise ReportValidationError(
                "report_end",
                f"must be after report_start ({format_utc(start)})",
                format_utc(end),
            )
        return ReportWindow(start, end)

    start_set = _is_set(data_interval_start)
    end_set = _is_set(data_interval_end)
    if not start_set and not end_set:
        return None
    if start_set and end_set:
        start = _to_utc("data_interval_start", data_interval_start)
        end = _to_utc("data_interval_end", data_interval_end)
        if start == end:  # an "exact" interval: a point in time, not a window
            return None
    return window_from_interval(data_interval_start, data_interval_end)


def walmart_window_body(window: ReportWindow, *, inclusive_end: bool = True) -> dict[str, str]:
    """``{"dataStartTime", "dataEndTime"}`` of a Walmart windowed report (ITEM_PERFORMANCE, WFS reports...).

    Walmart's own examples use *inclusive* end stamps (``dataStartTime 2026-11-01T00:00:00Z``,
    ``dataEndTime 2026-11-15T23:59:59Z`` for the first fifteen days of November), so by default the exclusive
    window end is sent minus one second: the daily window ``[2026-11-01, 2026-11-02)`` becomes
    ``00:00:00Z .. 23:59:59Z`` and never leaks into the next day's data. ``inclusive_end=False`` sends the
    exclusive end unchanged. The caller adds ``dateGranularity`` and the rest of the body. Snapshot types
    (ITEM, INVENTORY...) take no date fields at all.
    """
    if not isinstance(window, ReportWindow):
        raise ReportValidationError("window", "must be a ReportWindow", window)
    if window.end is None:
        raise ReportValidationError("dataEndTime", "is required: Walmart windowed reports need a closed window")
    end = window.end - _ONE_SECOND if inclusive_end else window.end
    if end < window.start:
        raise ReportValidationError(
            "dataEndTime", "the window is shorter than one second, too short for Walmart's whole-second bounds"
        )
    return {"dataStartTime": window.iso_start(), "dataEndTime": format_utc(end)}


def is_past_interval(data_interval_end: Any, now: datetime, slack: timedelta = timedelta(hours=1)) -> bool:
    """True when a run's interval ended more than ``slack`` before ``now``: a backfill or catch-up run.

    Used to warn that a snapshot report (Walmart ITEM, INVENTORY...) describes the state at generation time,
    not the past interval the run stands for. A run without a data interval is not a past interval.
    """
    end = _to_utc("data_interval_end", data_interval_end)
    if end is None:
        return False
    if not isinstance(slack, timedelta) or slack < timedelta(0):
        raise ReportValidationError("slack", "must be a non-negative timedelta", slack)
    return _aware_now(now) - end > slack
