"""Deterministic report content: Criteo CSV/JSON exports and Walmart CSV reports as `Body` objects.

Content depends only on (seed, the normalized request, the client, the size settings captured at creation),
never on wall time or job ids, so a rerun with the same parameters yields the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from .body import PLACEHOLDER_STR, Body, BytesBody, ConcatBody, RowBlocks
from .walmart_rules import parse_walmart_time

TEMPLATE_ROWS = 1024
MAX_BUCKETS = 1024
BOM = "\ufeff"

Cell = tuple[str, bool]  # (text, is_number)
RowFn = Callable[[random.Random, int], list[Cell]]


def seed_int(*parts: object) -> int:
    """A stable 64-bit seed from any JSON-serialisable parts."""
    raw = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":")).encode()
    return int.from_bytes(hashlib.sha256(raw).digest()[:8], "big")


def _csv_text(text: str) -> str:
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _int(rng: random.Random, low: int, high: int) -> int:
    """A number in [low, high) (cheaper than randrange; content only needs to look plausible)."""
    return low + int(rng.random() * (high - low))


def _pick(rng: random.Random, seq: Sequence[str]) -> str:
    return seq[int(rng.random() * len(seq))]


def _json_cell(cell: Cell) -> str:
    text, is_number = cell
    if is_number:
        return text
    if PLACEHOLDER_STR in text:  # generated ids: plain ASCII, no escaping needed; keep the placeholder raw
        return '"' + text + '"'
    return json.dumps(text, ensure_ascii=False)


@dataclass
class Table:
    """A report table: the body and its row count."""

    body: Body
    rows: int


def build_table(
    columns: Sequence[str],
    row_fn: RowFn,
    seed: int,
    fmt: str = "csv",
    rows: int = 50,
    target_bytes: int | None = None,
    bom: bool = False,
) -> Table:
    """Render `columns` + rows from `row_fn` as CSV or columnar JSON, `rows` rows or about `target_bytes`."""
    rng = random.Random(seed)
    template_rows = TEMPLATE_ROWS if target_bytes is not None else max(0, min(rows, TEMPLATE_ROWS))
    encoded: list[bytes] = []
    for r in range(template_rows):
        cells = row_fn(rng, r)
        if fmt == "json":
            line = ",[" + ",".join(_json_cell(c) for c in cells) + "]"
        else:
            line = ",".join(_csv_text(t) if PLACEHOLDER_STR not in t else t for t, _ in cells) + "\n"
        encoded.append(line.encode("utf-8"))
    if fmt == "json":
        header = ('{"columns":' + json.dumps(list(columns), separators=(",", ":")) + ',"data":[').encode()
    else:
        header = ((BOM if bom else "") + ",".join(_csv_text(c) for c in columns) + "\n").encode("utf-8")

    def trailer_for(n: int) -> bytes:
        return f'],"rows":{n}}}'.encode() if fmt == "json" else b""

    if target_bytes is not None:
        avg = sum(len(e) for e in encoded) / max(1, len(encoded))
        guess = max(1, int((target_bytes - len(header)) / max(avg, 1.0)))
        rows = max(1, int((target_bytes - len(header) - len(trailer_for(guess))) / max(avg, 1.0)))
        encoded = encoded[: min(rows, len(encoded))]
    row_ends: list[int] = []
    pos = 0
    for e in encoded:
        pos += len(e)
        row_ends.append(pos)
    parts: list[Body] = [BytesBody(header)]
    if rows and encoded:
        parts.append(RowBlocks(b"".join(encoded), row_ends, rows, b" " if fmt == "json" else b""))
    parts.append(BytesBody(trailer_for(rows)))
    return Table(ConcatBody(parts), rows)


# --------------------------------------------------------------------------- time buckets


def _buckets(start: datetime, end: datetime, tz: tzinfo, unit: str) -> list[str]:
    """Bucket labels covering [start, end) in `tz`, at most MAX_BUCKETS."""
    local = start.astimezone(tz)
    end_local = end.astimezone(tz)
    out: list[str] = []
    if unit in ("Minute", "Hour"):
        step = timedelta(minutes=1) if unit == "Minute" else timedelta(hours=1)
        cur = local.replace(second=0, microsecond=0)
        if unit == "Hour":
            cur = cur.replace(minute=0)
        cur_utc = cur.astimezone(UTC)
        while cur_utc < end and len(out) < MAX_BUCKETS:
            out.append(cur_utc.astimezone(tz).isoformat())
            cur_utc += step
    else:
        d: date = local.date()
        last = end_local.date()
        if unit == "Week":
            d -= timedelta(days=d.weekday())
        elif unit == "Month":
            d = d.replace(day=1)
        elif unit == "Year":
            d = d.replace(month=1, day=1)
        while d <= last and len(out) < MAX_BUCKETS:
            label = {"Day": d.isoformat(), "Week": d.isoformat(), "Month": d.strftime("%Y-%m"), "Year": str(d.year)}
            out.append(label[unit])
            if unit in ("Day", "Week"):
                d += timedelta(days=1 if unit == "Day" else 7)
            elif unit == "Month":
                d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
            else:
                d = date(d.year + 1, 1, 1)
    return out or [local.isoformat()]


# --------------------------------------------------------------------------- Criteo


def criteo_table(
    attributes: dict,
    window: tuple[datetime, datetime],
    client_id: str,
    seed: int,
    rows: int,
    target_bytes: int | None,
) -> Table:
    """The export of a normalized Criteo request (canonical dimension/metric names, lower-case fileFormat)."""
    dims: list[str] = attributes["dimensions"]
    metrics: list[str] = attributes["metrics"]
    tz = ZoneInfo(attributes.get("timezone") or "UTC")
    advertisers = attributes["advertiserIds"] or ["0"]
    filters = {
        "CampaignId": attributes.get("campaignIds") or [],
        "SellerId": attributes.get("sellerIds") or [],
        "PartnerId": attributes.get("partnerIds") or [],
    }
    # An id dimension numbers the rows, so that a large report's repeated template blocks stay distinct. Metrics
    # never do: they hold plausible counts and costs (a report without such a dimension repeats its rows).
    vary = next(
        (d for d in ("ProductId", "CampaignId", "SellerId", "PartnerId", "SellerName") if d in dims and not filters.get(d)),
        None,
    )
    buckets = {
        u: _buckets(window[0], window[1], tz, u)
        for u in ("Year", "Month", "Week", "Day", "Hour", "Minute")
        if u in dims
    }
    ph = PLACEHOLDER_STR

    def row(rng: random.Random, r: int) -> list[Cell]:
        cells: list[Cell] = []
        for d in dims:
            if d == "AdvertiserId":
                cells.append((advertisers[r % len(advertisers)], False))
            elif d in buckets:
                b = buckets[d]
                cells.append((b[r % len(b)], False))
            elif d == vary:
                prefix = {"ProductId": "sku-", "SellerName": "Seller "}.get(d, "7")
                cells.append((f"{prefix}{ph}{r:04d}", False))
            elif filters.get(d):
                cells.append((_pick(rng, filters[d]), False))
            elif d == "ProductId":
                cells.append((f"sku-{_int(rng, 0, 10**6):06d}", False))
            elif d == "SellerName":
                cells.append((f"Seller {_int(rng, 1, 500)}", False))
            else:
                cells.append((str(_int(rng, 1000, 99999)), False))
        for m in metrics:
            if m == "Clicks":
                cells.append((str(_int(rng, 0, 500)), True))
            elif m == "Displays":
                cells.append((str(_int(rng, 500, 100000)), True))
            else:
                cells.append((f"{_int(rng, 0, 100000) / 100:.2f}", True))
        return cells

    s = seed_int(seed, "criteo", client_id, attributes, [w.isoformat() for w in window])
    return build_table(dims + metrics, row, s, attributes["fileFormat"], rows, target_bytes)


# --------------------------------------------------------------------------- Walmart

_ITEM_COLUMNS = [
    "SKU",
    "Item ID",
    "Product Name",
    "Lifecycle Status",
    "Publish Status",
    "Price",
    "Currency",
    "Shelf Name",
    "Brand",
    "Inventory Count",
    "Average Rating",
]
_PERF_COLUMNS = [
    "Date",
    "SKU",
    "Item ID",
    "Product Name",
    "Impressions",
    "Clicks",
    "Units Sold",
    "GMV",
    "Conversion Rate",
]
_OTHER_COLUMNS = ["SKU", "Item ID", "Product Name", "Status", "Quantity", "Amount"]
_CHOICES = {
    "Lifecycle Status": ["ACTIVE", "ARCHIVED", "RETIRED"],
    "Publish Status": ["PUBLISHED", "UNPUBLISHED", "IN_PROGRESS", "SYSTEM_PROBLEM"],
    "Status": ["OPEN", "CLOSED", "PENDING"],
    "Currency": ["USD"],
    "Brand": ["Acme", "Northwind", "Contoso", "FELIX LECHEF", "ANEZUS"],
    "Shelf Name": ["Home", "Kitchen", "Garden", "Toys", "Office Supplies"],
}
_NAMES = ["Desk Lamp", 'Picture Frame 8"x10"', "Coffee Mug", "Garden Hose, 50 ft", "Throw Pillow", "Phone Case"]
_COLORS = ["Blue", "Red", "Black", "White", "Green"]
_NUMERIC = {
    "Price": (5.0, 500.0, 2),
    "Inventory Count": (0, 2000, 0),
    "Average Rating": (1.0, 5.0, 1),
    "Impressions": (0, 50000, 0),
    "Clicks": (0, 2000, 0),
    "Units Sold": (0, 300, 0),
    "GMV": (0.0, 20000.0, 2),
    "Conversion Rate": (0.0, 0.25, 4),
    "Quantity": (0, 500, 0),
    "Amount": (0.0, 999.0, 2),
}


def _walmart_columns(report_type: str, payload: dict) -> list[str]:
    base = (
        _ITEM_COLUMNS
        if report_type.startswith("ITEM") and report_type != "ITEM_PERFORMANCE"
        else (_PERF_COLUMNS if report_type == "ITEM_PERFORMANCE" else _OTHER_COLUMNS)
    )
    excluded = {str(c).strip().lower() for c in payload.get("excludeColumns") or []}
    cols = [c for c in base if c.lower() not in excluded]
    return cols or base[:1]


def _walmart_dates(payload: dict, created: datetime) -> list[str]:
    start = parse_walmart_time(payload.get("dataStartTime")) if payload.get("dataStartTime") else None
    end = parse_walmart_time(payload.get("dataEndTime")) if payload.get("dataEndTime") else None
    if start is None or end is None or end < start:
        day = (created - timedelta(days=1)).date()
        return [day.isoformat()]
    unit = {"WEEKLY": "Week", "MONTHLY": "Month", "QUARTERLY": "Month"}.get(str(payload.get("dateGranularity")), "Day")
    labels = _buckets(start, end, UTC, unit)
    if payload.get("dateGranularity") == "QUARTERLY":
        labels = sorted({f"{lab[:4]}-{(int(lab[5:7]) - 1) // 3 * 3 + 1:02d}" for lab in labels})
    return labels


def walmart_table(
    report_type: str,
    payload: dict,
    partner_id: str,
    created: datetime,
    seed: int,
    rows: int,
    target_bytes: int | None,
    bom: bool,
) -> Table:
    """The CSV of a Walmart report request; honours excludeColumns and simple enum/range row filters."""
    cols = _walmart_columns(report_type, payload)
    choices = dict(_CHOICES)
    ranges = dict(_NUMERIC)
    for f in payload.get("rowFilters") or []:
        if not isinstance(f, dict):
            continue
        name = next((c for c in cols if c.lower() == str(f.get("columnName", "")).lower()), None)
        if name in choices and f.get("values"):
            choices[name] = [str(v) for v in f["values"]]
        elif name in ranges:
            lo, hi, nd = ranges[name]
            try:
                lo = max(lo, float(f["from"])) if f.get("from") not in (None, "") else lo
                hi = min(hi, float(f["to"])) if f.get("to") not in (None, "") else hi
            except (TypeError, ValueError):
                pass
            ranges[name] = (lo, max(lo, hi), nd)
    dates = _walmart_dates(payload, created) if "Date" in cols else []
    vary = "SKU" if "SKU" in cols else ("Item ID" if "Item ID" in cols else None)
    ph = PLACEHOLDER_STR

    def row(rng: random.Random, r: int) -> list[Cell]:
        cells: list[Cell] = []
        for c in cols:
            if c == vary:
                cells.append((f"SKU-{ph}-{r:04d}" if c == "SKU" else f"9{ph}{r:04d}", False))
            elif c == "Date":
                cells.append((dates[r % len(dates)], False))
            elif c == "SKU":
                cells.append((f"SKU-{_int(rng, 0, 10**6):06d}", False))
            elif c == "Item ID":
                cells.append((str(_int(rng, 10**8, 10**9)), False))
            elif c == "Product Name":
                cells.append((f"{_pick(rng, _NAMES)} {_pick(rng, _COLORS)}", False))
            elif c in choices:
                cells.append((_pick(rng, choices[c]), False))
            elif c in ranges:
                lo, hi, nd = ranges[c]
                v = rng.uniform(lo, hi)
                cells.append((f"{v:.{nd}f}" if nd else str(int(v)), False))
            else:
                cells.append(("", False))
        return cells

    s = seed_int(seed, "walmart", partner_id, report_type, payload)
    return build_table(cols, row, s, "csv", rows, target_bytes, bom)
