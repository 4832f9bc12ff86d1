"""The output parameters of the transfers (format, typing, Parquet knobs, gzip), checked at DAG parse or execute."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.common.landing.formats import PARQUET_COMPRESSIONS, check_output_format, require_pyarrow
from airflow_report_provider.common.landing.formats.column_types import check_column_types
from airflow_report_provider.common.landing.sinks import validate_compression

__all__ = ["DEFAULT_ROW_GROUP_SIZE", "OutputSettings", "check_output_params"]

DEFAULT_ROW_GROUP_SIZE = 500_000


@dataclass(frozen=True)
class OutputSettings:
    """How the report lands: format, typing overrides, Parquet knobs, optional gzip, BOM handling."""

    output_format: str = "raw"
    column_types: Mapping[str, str] = field(default_factory=dict)
    parquet_compression: str = "zstd"
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE
    compression: str | None = None
    strip_bom: bool = True

    @property
    def typed(self) -> bool:
        return self.output_format in ("parquet", "ndjson")


def _literal(value: Any) -> bool:
    """A plain value checkable at DAG parse (not a Jinja string, not an XComArg or other lazy object)."""
    if isinstance(value, str):
        return "{{" not in value and "{%" not in value
    if isinstance(value, Mapping):
        return all(_literal(k) and _literal(v) for k, v in value.items())
    return value is None or isinstance(value, (int, float, bool))


def check_output_params(
    *,
    output_format: Any,
    column_types: Any = None,
    parquet_compression: Any = "zstd",
    row_group_size: Any = DEFAULT_ROW_GROUP_SIZE,
    compression: Any = None,
    strip_bom: bool = True,
    at_parse: bool = False,
    check_dependencies: bool = False,
) -> OutputSettings | None:
    """Validate the output parameters (``ReportValidationError`` naming the field); the settings when all are
    plain values. ``at_parse`` skips the values that are templated or lazy (checked again at execute);
    ``check_dependencies`` also requires pyarrow when the settings need it (execute time, before any HTTP call)."""
    values = (output_format, column_types, parquet_compression, row_group_size, compression)
    if at_parse and not all(_literal(value) for value in values):
        # check what can be checked now; the rest waits for execute
        if _literal(output_format):
            check_output_format(output_format)
        if _literal(column_types):
            check_column_types(column_types)
        return None
    fmt = check_output_format(output_format)
    types = check_column_types(column_types)
    codec = parquet_compression.strip().lower() if isinstance(parquet_compression, str) else parquet_compression
    if codec not in PARQUET_COMPRESSIONS:
        raise ReportValidationError("parquet_compression", f"must be one of {', '.join(PARQUET_COMPRESSIONS)}", parquet_compression)
    if isinstance(row_group_size, bool) or not isinstance(row_group_size, int) or row_group_size < 1:
        raise ReportValidationError("row_group_size", "must be a positive number of rows", row_group_size)
    compression = validate_compression(compression)
    if compression is not None and fmt == "parquet":
        raise ReportValidationError("compression", "must be None for parquet (use parquet_compression)", compression)
    settings = OutputSettings(fmt, types, codec, row_group_size, compression, strip_bom)
    if check_dependencies and (settings.typed or settings.column_types):
        require_pyarrow(fmt)
    return settings
