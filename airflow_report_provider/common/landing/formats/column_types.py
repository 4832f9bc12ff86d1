"""Column types of typed output: the defaults of each API, ``column_types`` overrides, and the cast of text.

Specs are ``"string" | "int64" | "float64" | "decimal(p,s)" | "date" | "timestamp"``. Checking a spec needs no
pyarrow (DAG parse); casting does. Every value arrives as text (a CSV cell, or a JSON scalar's literal), so a
CSV and a JSON export of the same rows give the same typed values. An empty cell is null in a typed column and
stays ``""`` in a string column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from airflow_report_provider.common.exceptions import ReportContentError, ReportValidationError

__all__ = ["TYPE_NAMES", "arrow_type", "cast_column", "check_column_types", "default_type", "reader_type", "resolve_types"]

TYPE_NAMES = ("string", "int64", "float64", "decimal(p,s)", "date", "timestamp")
_DECIMAL = re.compile(r"^decimal\(\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)$")
#: Criteo MPO columns whose type the provider knows; every other column (and every ``*Id``) is a string.
_CRITEO_TYPES = {"Clicks": "int64", "Displays": "int64", "Cost": "float64", "Hour": "timestamp", "Minute": "timestamp"}
_TIMESTAMP_UNIT = "us"


def _normalise_spec(column: str, spec: Any) -> str:
    if not isinstance(spec, str):
        raise ReportValidationError("column_types", f"the type of {column!r} must be one of {', '.join(TYPE_NAMES)}", spec)
    text = spec.strip().lower()
    match = _DECIMAL.match(text)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= 38 or scale > precision:
            raise ReportValidationError("column_types", f"the type of {column!r} needs 1 <= p <= 38 and s <= p", spec)
        return f"decimal({precision},{scale})"
    if text not in TYPE_NAMES:
        raise ReportValidationError("column_types", f"the type of {column!r} must be one of {', '.join(TYPE_NAMES)}", spec)
    return text


def check_column_types(value: Any) -> dict[str, str]:
    """``column_types`` as ``{column: normalised spec}``; ``ReportValidationError`` naming the field when invalid."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):  # a template rendered as text: '{"Cost": "decimal(12,2)"}' or a Python dict literal
        value = _parse_mapping_text(value)
    if not isinstance(value, Mapping):
        raise ReportValidationError("column_types", "must be a mapping of column name to type", value)
    checked: dict[str, str] = {}
    for column, spec in value.items():
        if not isinstance(column, str) or not column:
            raise ReportValidationError("column_types", "column names must be non-empty strings", column)
        checked[column] = _normalise_spec(column, spec)
    return checked


def _parse_mapping_text(text: str) -> Any:
    import ast
    import json

    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError):
            continue
    return text


def default_type(api: str, column: str) -> str:
    """The type a column gets without an override: Criteo's known metrics and time buckets; text otherwise."""
    if api.startswith("criteo") and not column.endswith("Id"):
        return _CRITEO_TYPES.get(column, "string")
    return "string"


def resolve_types(api: str, columns: Sequence[str], overrides: Mapping[str, str] | None) -> list[str]:
    """One spec per column: the override when given, else the API's default."""
    overrides = overrides or {}
    return [overrides.get(column) or default_type(api, column) for column in columns]


def arrow_type(spec: str) -> Any:
    """The Arrow type of a spec (timestamps are UTC microseconds)."""
    import pyarrow as pa

    match = _DECIMAL.match(spec)
    if match:
        return pa.decimal128(int(match.group(1)), int(match.group(2)))
    return {
        "string": pa.string(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "date": pa.date32(),
        "timestamp": pa.timestamp(_TIMESTAMP_UNIT, tz="UTC"),
    }[spec]


def reader_type(spec: str) -> Any:
    """The type pyarrow's CSV reader parses a column into: the spec's (timestamps need a zone offset there; a
    column without one is read again as text and cast by :func:`cast_column`)."""
    return arrow_type(spec)


def cast_column(values: Any, spec: str, column: str, first_row: int, *, empties_are_null: bool = False) -> Any:
    """Text values -> the spec's Arrow type. A value that does not fit raises :class:`ReportContentError`
    naming the column, the data row number (1-based, header excluded; ``first_row`` is the first value's) and
    the value. ``empties_are_null``: the CSV reader made every empty cell null already (a text column gets its
    ``""`` back)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    target = arrow_type(spec)
    if values.type == target:  # text, or parsed by the CSV reader already
        if empties_are_null and spec == "string" and values.null_count:
            return values.fill_null("")
        return values
    text = values if empties_are_null else pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    try:
        return text.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if spec != "timestamp":
            raise _bad_value(text, target, spec, column, first_row) from None
    return _cast_timestamps(text, target, spec, column, first_row)


def _cast_timestamps(text: Any, target: Any, spec: str, column: str, first_row: int) -> Any:
    """Timestamps without a zone offset are taken as UTC; each value parsed on its own (the slow path)."""
    import pyarrow as pa

    parsed: list[datetime | None] = []
    for index, value in enumerate(text.to_pylist()):
        if value is None:
            parsed.append(None)
            continue
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise _error(column, first_row + index, value, spec) from None
        parsed.append(when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc))
    return pa.array(parsed, target)


def _bad_value(text: Any, target: Any, spec: str, column: str, first_row: int) -> ReportContentError:
    """The first value that does not cast on its own."""
    import pyarrow as pa

    for index, value in enumerate(text.to_pylist()):
        if value is None:
            continue
        try:
            pa.array([value], pa.string()).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return _error(column, first_row + index, value, spec)
    return ReportContentError(f"column {column!r}: values from data row {first_row} do not fit {spec}")


def _error(column: str, row: int, value: str, spec: str) -> ReportContentError:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return ReportContentError(f"column {column!r}, data row {row}: value {shown!r} is not a valid {spec}; nothing was written")
