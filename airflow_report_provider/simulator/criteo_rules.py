"""Validation and normalization of a Criteo MPO real-time export request (the seed's rules).

Dimension and metric names and their defaults are read from the vendor's OpenAPI document shipped in `openapi/`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SPEC = Path(__file__).parent / "openapi" / "criteo-mpo-realtime-preview.json"
_JOB_ATTRIBUTES = json.loads(SPEC.read_text(encoding="utf-8"))["components"]["schemas"]["RealTimeProductReportJob"]


def _spec_names(attribute: str) -> tuple[list[str], list[str]]:
    """The spec's enum for a list attribute of the export request, and the default its description gives."""
    prop = _JOB_ATTRIBUTES["properties"][attribute]
    names = list(prop["items"]["enum"])
    default = re.search(r"Default: (\[.*?\])", prop["description"])
    assert default is not None, f"no default in the spec's description of {attribute}"
    canonical = {n.lower(): n for n in names}
    return names, [canonical[d.lower()] for d in json.loads(default.group(1))]


DIMENSIONS, DEFAULT_DIMENSIONS = _spec_names("dimensions")
METRICS, DEFAULT_METRICS = _spec_names("metrics")
EXCLUSIVE_DIMENSIONS = ("ProductId", "Hour", "Minute")  # the seed's rule: at most one of them in a request
_DIM_BY_LOWER = {d.lower(): d for d in DIMENSIONS}
_MET_BY_LOWER = {m.lower(): m for m in METRICS}
ID_LISTS = ("advertiserIds", "campaignIds", "sellerIds", "partnerIds")


@dataclass
class Problem:
    """A rejected rule: the Criteo error code, a title and the attribute concerned."""

    code: str
    title: str
    detail: str
    field: str | None = None


@dataclass
class ExportRequest:
    """A valid, normalized export request."""

    attributes: dict[str, Any]
    window: tuple[datetime, datetime]
    cacheable: bool
    problems: list[Problem] = field(default_factory=list)

    def cache_key(self, client_id: str) -> str:
        return client_id + "|" + json.dumps(self.attributes, sort_keys=True)


class ExportRejected(Exception):
    """The request breaks rules; `problems` lists them."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.detail for p in problems))
        self.problems = problems


@lru_cache(maxsize=512)
def valid_timezone(name: str) -> bool:
    """Whether `name` is an IANA time zone."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


def _parse_dt(value: str) -> datetime:
    dt = datetime.fromisoformat(value.strip())
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _serialization(field_name: str, detail: str) -> Problem:
    return Problem("json-serialization-error", "Unsupported value", detail, field_name)


def parse_export(body: Any, now: datetime) -> ExportRequest:
    """Check `body` (decoded JSON) against the rules and normalize it, or raise ExportRejected."""
    if not isinstance(body, dict):
        raise ExportRejected([_serialization("data", "The request body must be a JSON object")])
    data = body.get("data")
    attrs = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attrs, dict):
        raise ExportRejected(
            [Problem("invalid-query", "Invalid query definition", "data.attributes is required", "data")]
        )

    # 1. deserialization: types and enums (the API answers json-serialization-error)
    problems: list[Problem] = []
    fmt = attrs.get("fileFormat", "csv")
    if fmt is None:
        fmt = "csv"
    if not isinstance(fmt, str) or fmt.lower() not in ("csv", "json"):
        problems.append(
            _serialization("fileFormat", f"Unsupported fileFormat {fmt!r}: only csv and json are supported")
        )
    for name in (*ID_LISTS, "dimensions", "metrics"):
        value = attrs.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            problems.append(_serialization(name, f"{name} must be an array of strings"))
    lookback = attrs.get("lookbackWindow")
    if lookback is not None and (isinstance(lookback, bool) or not isinstance(lookback, int)):
        problems.append(_serialization("lookbackWindow", "lookbackWindow must be an integer number of minutes"))
    dates: dict[str, datetime | None] = {}
    for name in ("startDate", "endDate"):
        value = attrs.get(name)
        dates[name] = None
        if value is None:
            continue
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            dates[name] = _parse_dt(value)
        except ValueError:
            problems.append(_serialization(name, f"{name} must be an ISO-8601 date-time"))
    for name in ("timezone", "currency"):
        if attrs.get(name) is not None and not isinstance(attrs.get(name), str):
            problems.append(_serialization(name, f"{name} must be a string"))
    if problems:
        raise ExportRejected(problems)

    # 2. validation rules
    if not attrs.get("advertiserIds"):
        problems.append(
            Problem("invalid-query", "Invalid query definition", "advertiserIds is required", "advertiserIds")
        )
    start, end = dates["startDate"], dates["endDate"]
    if lookback is not None and (start or end):
        problems.append(
            Problem(
                "invalid-time-interval",
                "Invalid time interval definition",
                "lookbackWindow cannot be combined with startDate/endDate",
                "lookbackWindow",
            )
        )
    elif lookback is None and start is None:
        detail = "endDate requires startDate" if end else "Exactly one of lookbackWindow or startDate is required"
        problems.append(Problem("invalid-time-interval", "Invalid time interval definition", detail, "startDate"))
    if lookback is not None and not 60 <= lookback <= 1440:
        problems.append(
            Problem(
                "invalid-lookbackwindow",
                "Invalid lookback window",
                "lookbackWindow must be between 60 and 1440 minutes",
                "lookbackWindow",
            )
        )
    if start is not None and lookback is None:
        stop = end or now
        if start > now:
            problems.append(
                Problem(
                    "invalid-time-interval",
                    "Invalid time interval definition",
                    "startDate is in the future",
                    "startDate",
                )
            )
        elif start >= stop:
            problems.append(
                Problem(
                    "invalid-time-interval",
                    "Invalid time interval definition",
                    "startDate must be before endDate",
                    "endDate",
                )
            )
    tz = attrs.get("timezone") or "UTC"
    if not valid_timezone(tz):
        problems.append(
            Problem("invalid-query", "Invalid query definition", f"Unknown IANA time zone {tz!r}", "timezone")
        )
    dims: list[str] = []
    for d in attrs.get("dimensions") or DEFAULT_DIMENSIONS:
        canon = _DIM_BY_LOWER.get(d.lower())
        if canon is None:
            problems.append(
                Problem("invalid-query", "Invalid query definition", f"Unknown dimension {d!r}", "dimensions")
            )
        elif canon not in dims:
            dims.append(canon)
    metrics: list[str] = []
    for m in attrs.get("metrics") or DEFAULT_METRICS:
        canon = _MET_BY_LOWER.get(m.lower())
        if canon is None:
            problems.append(Problem("invalid-query", "Invalid query definition", f"Unknown metric {m!r}", "metrics"))
        elif canon not in metrics:
            metrics.append(canon)
    exclusive = [d for d in dims if d in EXCLUSIVE_DIMENSIONS]
    if len(exclusive) > 1:
        problems.append(
            Problem(
                "invalid-dimensioncombination",
                "Invalid combination of dimensions",
                f"Only one of productId, hour, minute can be used in a request (got {', '.join(exclusive)})",
                "dimensions",
            )
        )
    if problems:
        raise ExportRejected(problems)

    norm: dict[str, Any] = {name: sorted(set(attrs.get(name) or [])) for name in ID_LISTS}
    norm.update(dimensions=dims, metrics=metrics, fileFormat=fmt.lower(), timezone=tz)
    if attrs.get("currency"):
        norm["currency"] = attrs["currency"].upper()
    if lookback is not None:
        norm["lookbackWindow"] = lookback
        window = (now - timedelta(minutes=lookback), now)
    else:
        assert start is not None
        norm["startDate"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        if end is not None:
            norm["endDate"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
        window = (start, end or now)
    return ExportRequest(norm, window, cacheable=lookback is None and end is not None)
