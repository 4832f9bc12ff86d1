"""Typed output without Airflow: type rules, CSV/JSON parity, NDJSON, column_types, row groups, split CSV parts,
a bad value or a cut download leaving nothing at the destination (openers over in-memory bytes and local files)."""

from __future__ import annotations

import json
import sys
import zipfile
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_report_provider.common.exceptions import ReportContentError, ReportValidationError, TransferError, TransportError
from airflow_report_provider.common.landing.formats.column_types import check_column_types
from airflow_report_provider.common.landing.formats.csv import RowCounter
from airflow_report_provider.common.landing.writer import check_output_params, write_report
from airflow_report_provider.common.landing.sources import file_opener, iter_opener

COLUMNS = ["AdvertiserId", "CampaignId", "SellerName", "Hour", "Clicks", "Displays", "Cost", "Mystery"]
ROWS = [
    ["00042", "9007199254740993", "Seller, Inc.", "2026-11-24T10:00:00+01:00", "3", "100", "1.25", "7"],
    ["00043", "12345678901234567890", "Plain", "2026-11-24T11:00:00Z", "", "7", "2.5", "x"],
]
CSV = ("\n".join([",".join(COLUMNS)] + [",".join(f'"{v}"' if "," in v else v for v in row) for row in ROWS]) + "\n").encode()


def json_export(ids_as_numbers: bool = True) -> bytes:
    def cell(name: str, value: str):
        if value == "":
            return None
        if name in ("Clicks", "Displays") or (ids_as_numbers and name == "CampaignId"):
            return int(value)
        if name == "Cost":
            return float(value)
        return value

    data = [[cell(n, v) for n, v in zip(COLUMNS, row)] for row in ROWS]
    return json.dumps({"columns": COLUMNS, "data": data, "rows": len(data)}, indent=1).encode()


def opener(data: bytes, size: int = 5):
    """Tiny chunks: every parser boundary gets crossed."""
    return iter_opener(lambda: (data[i : i + size] for i in range(0, len(data), size)), total_size=len(data))


def settings(fmt: str = "parquet", **kwargs):
    return check_output_params(output_format=fmt, **kwargs)


def land(tmp_path, data: bytes, fmt: str = "parquet", source: str = "csv", api: str = "criteo", name: str = "out", **kwargs):
    target = tmp_path / name
    result = write_report(opener(data), f"file://{target}", settings(fmt, **kwargs), api=api, source_format=source)
    return target, result


# ------------------------------------------------------------------------------------------------ type rules


def test_criteo_type_rules(tmp_path):
    target, result = land(tmp_path, CSV)
    table = pq.read_table(target)
    assert table.column_names == COLUMNS  # names and order as served
    types = {field.name: field.type for field in table.schema}
    assert types == {
        "AdvertiserId": pa.string(),
        "CampaignId": pa.string(),
        "SellerName": pa.string(),
        "Hour": pa.timestamp("us", tz="UTC"),
        "Clicks": pa.int64(),
        "Displays": pa.int64(),
        "Cost": pa.float64(),
        "Mystery": pa.string(),  # unknown to the provider
    }
    rows = table.to_pylist()
    assert [r["AdvertiserId"] for r in rows] == ["00042", "00043"]  # leading zeros kept
    assert [r["CampaignId"] for r in rows] == ["9007199254740993", "12345678901234567890"]  # past 2**53, exact
    assert [r["Hour"].isoformat() for r in rows] == ["2026-11-24T09:00:00+00:00", "2026-11-24T11:00:00+00:00"]
    assert [r["Clicks"] for r in rows] == [3, None] and rows[0]["SellerName"] == "Seller, Inc."
    assert result["rows"] == 2 and [c["name"] for c in result["columns"]] == COLUMNS


def test_minute_is_a_timestamp_and_ids_of_every_kind_are_strings(tmp_path):
    data = b"PartnerId,SellerId,ProductId,Minute\n0007,0008,000123456789012345678,2026-11-24T10:05:00-05:00\n"
    table = pq.read_table(land(tmp_path, data)[0])
    assert table.to_pylist() == [
        {
            "PartnerId": "0007",
            "SellerId": "0008",
            "ProductId": "000123456789012345678",
            "Minute": table.column("Minute")[0].as_py(),
        }
    ]
    assert table.column("Minute")[0].as_py().isoformat() == "2026-11-24T15:05:00+00:00"
    assert all(field.type == pa.string() for field in table.schema if field.name.endswith("Id"))


@pytest.mark.parametrize("ids_as_numbers", [True, False])
def test_csv_and_json_exports_give_the_same_parquet(tmp_path, ids_as_numbers):
    from_csv = pq.read_table(land(tmp_path, CSV, name="csv.parquet")[0])
    from_json = pq.read_table(land(tmp_path, json_export(ids_as_numbers), source="json", name="json.parquet")[0])
    assert from_csv.equals(from_json)


def test_json_export_is_read_incrementally_in_batches(tmp_path, monkeypatch):
    from airflow_report_provider.common.landing.formats import readers

    monkeypatch.setattr(readers, "_JSON_READ_SIZE", 64)
    rows = [["00001", str(i), f"2026-11-24T{i % 24:02d}:00:00Z", str(i), str(2 * i), f"{i}.5"] for i in range(5000)]
    columns = ["AdvertiserId", "CampaignId", "Hour", "Clicks", "Displays", "Cost"]
    export = json.dumps({"columns": columns, "data": [[r[0], int(r[1]), r[2], int(r[3]), int(r[4]), float(r[5])] for r in rows], "rows": 5000})
    csv = ("\n".join([",".join(columns)] + [",".join(r) for r in rows]) + "\n").encode()
    monkeypatch.setattr(json, "load", lambda *a, **k: pytest.fail("json.load of the whole export"))
    reads = []
    real_batches = readers._json_rows

    def counting(*args, **kwargs):
        for batch in real_batches(*args, **kwargs):
            reads.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(readers, "_json_rows", counting)
    monkeypatch.setattr(readers, "JSON_BATCH_ROWS", 1000)
    from_json = pq.read_table(land(tmp_path, export.encode(), source="json", name="j.parquet")[0])
    assert from_json.equals(pq.read_table(land(tmp_path, csv, name="c.parquet")[0]))
    assert from_json.num_rows == 5000 and len(reads) >= 1


def test_ndjson(tmp_path):
    target, result = land(tmp_path, CSV, fmt="ndjson", column_types={"Cost": "decimal(6,2)"})
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines[0] == {
        "AdvertiserId": "00042",
        "CampaignId": "9007199254740993",
        "SellerName": "Seller, Inc.",
        "Hour": "2026-11-24T09:00:00+00:00",
        "Clicks": 3,
        "Displays": 100,
        "Cost": "1.25",  # decimals keep their exact digits
        "Mystery": "7",
    }
    assert lines[1]["Clicks"] is None and list(lines[1]) == COLUMNS
    assert result["rows"] == 2 and result["columns"][6] == {"name": "Cost", "type": "decimal(6,2)"}


def test_ndjson_can_be_gzipped(tmp_path):
    import gzip

    target, _ = land(tmp_path, CSV, fmt="ndjson", compression="gzip")
    assert len(gzip.decompress(target.read_bytes()).splitlines()) == 2


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "raw"])
def test_checksum_none_writes_the_same_file_without_a_digest(tmp_path, fmt):
    import hashlib

    _, hashed = land(tmp_path, CSV, fmt=fmt, name="a")
    target = tmp_path / "b"
    unhashed = write_report(opener(CSV), f"file://{target}", settings(fmt), api="criteo", checksum=None)
    assert target.read_bytes() == (tmp_path / "a").read_bytes()
    assert unhashed["sha256"] is None and hashed["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()


def test_column_types_override_every_type(tmp_path):
    data = b"When,Day,Amount,Units,Ratio,Code\n2026-11-24T10:00:00,2026-11-24,12.30,5,0.25,0012\n,,,,,\n"
    types = {"When": "timestamp", "Day": "date", "Amount": "decimal(10,2)", "Units": "int64", "Ratio": "float64", "Code": "string"}
    table = pq.read_table(land(tmp_path, data, api="walmart", column_types=types)[0])
    row, empty = table.to_pylist()
    assert row["When"].isoformat() == "2026-11-24T10:00:00+00:00"  # no offset: taken as UTC
    assert row["Day"].isoformat() == "2026-11-24" and row["Amount"] == Decimal("12.30")
    assert row["Units"] == 5 and row["Ratio"] == 0.25 and row["Code"] == "0012"
    assert empty == {"When": None, "Day": None, "Amount": None, "Units": None, "Ratio": None, "Code": ""}


def test_walmart_columns_are_strings_and_the_bom_is_dropped(tmp_path):
    data = b"\xef\xbb\xbfSKU,Price,Inventory Count\nA-1,5.00,007\n"
    table = pq.read_table(land(tmp_path, data, api="walmart")[0])
    assert table.column_names == ["SKU", "Price", "Inventory Count"]
    assert table.to_pylist() == [{"SKU": "A-1", "Price": "5.00", "Inventory Count": "007"}]


@pytest.mark.parametrize(
    ("types", "column", "row", "value"),
    [
        ({"Clicks": "int64"}, "Clicks", 3, "lots"),
        ({"Cost": "decimal(5,1)"}, "Cost", 2, "1.25"),
        ({"Hour": "timestamp"}, "Hour", 3, "yesterday"),
        ({"Day": "date"}, "Day", 1, "24/11/2026"),
    ],
)
def test_a_bad_value_fails_with_column_row_and_value_and_nothing_is_written(tmp_path, types, column, row, value):
    data = (
        b"Clicks,Cost,Hour,Day\n"
        b"1,1.0,2026-11-24T10:00:00Z,24/11/2026\n"
        b"2,1.25,2026-11-24T10:00:00Z,2026-11-24\n"
        b"lots,1.0,yesterday,2026-11-24\n"
    )
    with pytest.raises(ReportContentError) as caught:
        land(tmp_path, data, api="walmart", column_types=types, name="dir/out.parquet")
    message = str(caught.value)
    assert f"{column!r}" in message and f"data row {row}" in message and repr(value) in message
    assert not caught.value.retryable
    assert list((tmp_path / "dir").iterdir()) == []  # no partial file, no temporary sibling


def test_a_bad_value_after_the_first_batch_counts_rows_across_batches(tmp_path):
    data = b"Clicks\n" + b"1\n" * 300_000 + b"x\n"
    with pytest.raises(ReportContentError, match="data row 300001"):
        land(tmp_path, data, column_types={"Clicks": "int64"})


def test_row_groups_and_compression(tmp_path):
    data = b"Clicks\n" + b"".join(b"%d\n" % i for i in range(10))
    target, _ = land(tmp_path, data, row_group_size=3, parquet_compression="snappy")
    meta = pq.ParquetFile(target).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [3, 3, 3, 1]
    assert meta.row_group(0).column(0).compression == "SNAPPY"
    target, _ = land(tmp_path, data, name="z.parquet")
    assert pq.ParquetFile(target).metadata.row_group(0).column(0).compression == "ZSTD"
    assert pq.read_table(target).column("Clicks").to_pylist() == list(range(10))


def test_header_only_report_gives_an_empty_typed_file(tmp_path):
    target, result = land(tmp_path, b"AdvertiserId,Clicks\n")
    table = pq.read_table(target)
    assert table.num_rows == 0 and table.schema.field("Clicks").type == pa.int64() and result["rows"] == 0


def test_json_export_with_data_before_columns_is_refused(tmp_path):
    with pytest.raises(ReportContentError, match="before its columns"):
        land(tmp_path, b'{"data": [[1]], "columns": ["Clicks"]}', source="json", name="d/o.parquet")
    assert list((tmp_path / "d").iterdir()) == []


def test_csv_of_a_json_export(tmp_path):
    target, result = land(tmp_path, json_export(), fmt="csv", source="json")
    assert target.read_bytes() == CSV.replace(b'"Seller, Inc."', b'"Seller, Inc."')
    assert result["rows"] == 2 and "columns" not in result


# ------------------------------------------------------------------------------------------------ cut downloads


def _cut_after(data: bytes, cut: int):
    def chunks():
        yield data[:cut]
        raise TransportError("connection reset")

    return chunks


def test_cut_download_during_a_conversion_leaves_nothing(tmp_path):
    data = b"Clicks\n" + b"1\n" * 50_000
    cut = iter_opener(_cut_after(data, 1000), total_size=len(data))
    target = tmp_path / "d/out.parquet"
    with pytest.raises(TransferError, match="after 2 attempt"):
        write_report(cut, f"file://{target}", settings(), api="criteo", max_attempts=2)
    assert list((tmp_path / "d").iterdir()) == []


@pytest.mark.parametrize("honour_range", [True, False])
def test_cut_download_resumes_during_a_conversion(tmp_path, honour_range):
    data = b"Clicks\n" + b"".join(b"%d\n" % i for i in range(50_000))
    calls = []

    def chunks():
        calls.append(1)
        if len(calls) == 1:
            yield from _cut_after(data, 12_345)()
        else:
            yield from (data[i : i + 4096] for i in range(0, len(data), 4096))

    flaky = iter_opener(chunks, total_size=len(data), honour_range=honour_range)
    target = tmp_path / "out.parquet"
    result = write_report(flaky, f"file://{target}", settings(), api="criteo")
    assert pq.read_table(target).column("Clicks").to_pylist() == list(range(50_000))
    assert result["attempts"] == 2 and result["source_bytes"] == len(data)


# ------------------------------------------------------------------------------------------------ split reports


def zip_of(tmp_path, members: dict[str, bytes], name: str = "report.zip"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


PARTS = {
    "Report_part2.csv": b"\xef\xbb\xbfSKU,Units\nB,2\nC,3",  # no newline at its end
    "Report_part1.csv": b"\xef\xbb\xbfSKU,Units\nA,1\n",
    "Report_part10.csv": b"\xef\xbb\xbfSKU,Units\nD,4\n",
}


@pytest.mark.parametrize("strip_bom", [False, True])
def test_zip_parts_land_as_one_csv(tmp_path, strip_bom):
    path = zip_of(tmp_path, PARTS)
    target = tmp_path / "out.csv"
    result = write_report(
        file_opener(path), f"file://{target}", settings("csv", strip_bom=strip_bom), api="walmart", archived=True
    )
    bom = b"" if strip_bom else b"\xef\xbb\xbf"
    assert target.read_bytes() == bom + b"SKU,Units\nA,1\nB,2\nC,3\nD,4\n"
    assert result["rows"] == 4 and result["format"] == "zip"
    assert result["members"] == ["Report_part1.csv", "Report_part2.csv", "Report_part10.csv"]


def test_several_files_land_as_one_parquet(tmp_path):
    first = zip_of(tmp_path, {"a_1.csv": b"SKU,Units\nA,1\n", "a_2.csv": b"SKU,Units\nB,2\n"}, "one.zip")
    second = tmp_path / "two.csv"
    second.write_bytes(b"\xef\xbb\xbfSKU,Units\nC,3\n")
    target = tmp_path / "out.parquet"
    result = write_report(
        [file_opener(first), file_opener(second)], f"file://{target}",
        settings(column_types={"Units": "int64"}), api="walmart", archived=True,
    )
    assert pq.read_table(target).to_pylist() == [{"SKU": s, "Units": u} for s, u in (("A", 1), ("B", 2), ("C", 3))]
    assert result["rows"] == 3 and result["format"] == ["zip", "plain"]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "ndjson"])
def test_mismatched_parts_fail_naming_the_member(tmp_path, fmt):
    path = zip_of(tmp_path, {"r_1.csv": b"SKU,Units\nA,1\n", "r_2.csv": b"SKU,Units,Extra\nB,2,x\n"})
    (tmp_path / "d").mkdir()
    with pytest.raises(ReportContentError, match="r_2.csv"):
        write_report(file_opener(path), f"file://{tmp_path}/d/out", settings(fmt), api="walmart", archived=True)
    assert list((tmp_path / "d").iterdir()) == []


def test_raw_refuses_a_report_in_several_files(tmp_path):
    one = tmp_path / "a.csv"
    one.write_bytes(b"a\n1\n")
    with pytest.raises(ReportContentError, match="split into 2 files"):
        write_report([file_opener(one), file_opener(one)], f"file://{tmp_path}/o", settings("raw"), api="walmart")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


# ------------------------------------------------------------------------------------------------ parameters


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"output_format": "orc"}, "output_format"),
        ({"output_format": "parquet", "column_types": {"a": "integer"}}, "column_types"),
        ({"output_format": "parquet", "column_types": {"a": "decimal(40,2)"}}, "column_types"),
        ({"output_format": "parquet", "column_types": ["a"]}, "column_types"),
        ({"output_format": "parquet", "parquet_compression": "gzip"}, "parquet_compression"),
        ({"output_format": "parquet", "row_group_size": 0}, "row_group_size"),
        ({"output_format": "parquet", "compression": "gzip"}, "compression"),
    ],
)
def test_bad_parameters_name_the_field(kwargs, field):
    with pytest.raises(ReportValidationError) as caught:
        check_output_params(**kwargs)
    assert caught.value.field == field


def test_templated_parameters_wait_for_execute():
    assert check_output_params(output_format="{{ params.f }}", column_types={"a": "int64"}, at_parse=True) is None
    with pytest.raises(ReportValidationError):
        check_output_params(output_format="{{ params.f }}", column_types={"a": "int"}, at_parse=True)
    assert check_column_types({"Cost": " Decimal( 12 , 2 ) "}) == {"Cost": "decimal(12,2)"}


def test_missing_pyarrow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ReportValidationError, match=r"airflow-report-provider\[parquet\]"):
        land(tmp_path, CSV)


def test_row_counter_ignores_newlines_inside_quotes():
    counter = RowCounter()
    for piece in (b'a,"multi', b'\nline"\nb,c\n', b'"x""', b'y",z'):
        counter.feed(piece)
    assert counter.finish() == 3


def test_timestamps_without_offset_late_in_the_file_are_taken_as_utc(tmp_path):
    data = b"Hour,Clicks\n" + b"2026-11-24T10:00:00+01:00,1\n" * 200_000 + b"2026-11-24 10:00:00,2\n"
    table = pq.read_table(land(tmp_path, data, name="late.parquet")[0])
    hours = table.column("Hour")
    assert table.num_rows == 200_001 and hours.type == pa.timestamp("us", tz="UTC")
    assert hours[0].as_py().isoformat() == "2026-11-24T09:00:00+00:00"
    assert hours[200_000].as_py().isoformat() == "2026-11-24T10:00:00+00:00"
    assert [p.name for p in tmp_path.iterdir()] == ["late.parquet"]


@pytest.mark.parametrize("read_size", [7, 64, 1 << 20])
def test_json_rows_with_brackets_inside_strings(tmp_path, monkeypatch, read_size):
    from airflow_report_provider.common.landing.formats import readers

    monkeypatch.setattr(readers, "_JSON_READ_SIZE", read_size)
    names = ['a"],["b', "x]", "[y", "],", 'q\\"],[', "plain"]
    data = [[f"{i:04d}", names[i % len(names)], i] for i in range(3000)]
    export = json.dumps({"columns": ["SellerId", "SellerName", "Clicks"], "data": data, "rows": len(data)}).encode()
    table = pq.read_table(land(tmp_path, export, source="json", name=f"b{read_size}.parquet")[0])
    assert table.to_pylist() == [{"SellerId": a, "SellerName": b, "Clicks": c} for a, b, c in data]


def test_json_booleans_and_nested_values_become_their_json_text(tmp_path):
    export = b'{"columns": ["Flag", "Extra", "Clicks"], "data": [[true, ["a", "b"], 1], [false, {"k": null}, null]]}'
    table = pq.read_table(land(tmp_path, export, source="json")[0])
    assert table.to_pylist() == [
        {"Flag": "true", "Extra": '["a","b"]', "Clicks": 1},
        {"Flag": "false", "Extra": '{"k":null}', "Clicks": None},
    ]
