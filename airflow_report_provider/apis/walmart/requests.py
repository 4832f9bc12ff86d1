"""The Walmart create-report request: a validated value (query parameters plus JSON body) built from operator
arguments, and the parse-time check of any subset of those arguments."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_report_provider.apis.walmart.report_types import (
    DATE_GRANULARITY_MAX_SPAN,
    MAX_LOOKBACK_YEARS,
    REQUIRED_BODY_FIELDS,
    WINDOWED_REPORT_TYPES,
)
from airflow_report_provider.apis.walmart.reuse import canonical_payload
from airflow_report_provider.apis.walmart.validation import (
    _BODY,
    _KNOWN_BODY_KEYS,
    _body_dict,
    _granularity,
    _json_copy,
    _report_type,
    _report_version,
    _row_filters,
    _utc_now,
    _years_before,
)
from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.common.validation import format_utc, parse_datetime, string_list


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
    names = ("report_type", "report_version", "request_body")
    if set(names) <= arguments.keys():
        WalmartReportRequest.from_arguments(**{name: arguments[name] for name in names})
        return
    if "report_type" in arguments:
        _report_type(arguments["report_type"])
    if "report_version" in arguments:
        _report_version(arguments["report_version"])
    if "request_body" in arguments:
        WalmartReportRequest.from_arguments(
            report_type=_ANY_REPORT_TYPE, report_version=_ANY_REPORT_VERSION, request_body=arguments["request_body"]
        )
