"""Walmart report-type tables: snapshot vs windowed types, body fields required by version, date-granularity spans."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

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
