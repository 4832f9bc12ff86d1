"""Query-ready output through real Airflow (dag.test()), the simulator over loopback HTTP, file:// and moto s3://.

Criteo exports and Walmart reports land as typed Parquet / NDJSON; split Walmart reports land whole; a bad value,
mismatched parts or a cut download fail the task with nothing at the destination.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_report_provider.common.exceptions import ReportContentError, ReportValidationError
from tests.dags import output_format_dags as dags
from tests.support.airflow_env import task_states, xcom_value

LOGICAL_DATE = datetime(2026, 11, 23, 5, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _fast_jobs(sim):
    sim.config.walmart_job_seconds = 0.5
    sim.config.criteo_job_seconds = 0.5


def run(dag, destination: str, **conf):
    """Every param given (a run's conf must not lean on an earlier run's)."""
    conf = {**dags.PARAMS, "destination": destination, **conf}
    dag_run = dag.test(logical_date=LOGICAL_DATE, run_conf=conf)
    return dag_run, task_states(dag_run)["transfer"]


# ------------------------------------------------------------------------------------------------ Criteo


def served_rows(raw: bytes, file_format: str) -> list[dict]:
    """The export's rows as the type rules read them, parsed here independently of the provider."""
    if file_format == "json":
        export = json.loads(raw)
        columns, rows = export["columns"], [[str(v) for v in row] for row in export["data"]]
    else:
        columns, *rows = list(csv.reader(io.StringIO(raw.decode())))
    convert = {
        "Clicks": int,
        "Displays": int,
        "Cost": float,
        "Hour": lambda v: datetime.fromisoformat(v).astimezone(timezone.utc),
    }
    return [{c: convert.get(c, str)(v) for c, v in zip(columns, row)} for row in rows]


@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_criteo_csv_and_json_exports_land_as_typed_parquet(sim, airflow_db, tmp_path, file_format):
    target = tmp_path / "report.parquet"
    dag_run, state = run(dags.criteo_output_format, f"file://{target}", file_format=file_format)
    assert state == "success"
    table = pq.read_table(target)
    (report_id,) = sim.criteo_jobs
    assert table.to_pylist() == served_rows(sim.criteo_report_bytes(report_id), file_format)
    result = xcom_value(dag_run, "transfer")
    assert result["rows"] == table.num_rows == 50
    assert result["output_format"] == "parquet"
    assert result["columns"] == [
        {"name": "AdvertiserId", "type": "string"},
        {"name": "CampaignId", "type": "string"},
        {"name": "Hour", "type": "timestamp"},
        {"name": "Clicks", "type": "int64"},
        {"name": "Displays", "type": "int64"},
        {"name": "Cost", "type": "float64"},
    ]
    assert table.schema.field("Hour").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("Clicks").type == pa.int64() and table.schema.field("Cost").type == pa.float64()
    # ids stay strings: the leading zero and the digits past 2**53 survive
    assert set(table.column("AdvertiserId").to_pylist()) == {"00123", "9007199254740993"}
    assert [p.name for p in tmp_path.iterdir()] == ["report.parquet"]


def test_criteo_ndjson_to_s3(sim, airflow_db, s3_bucket):
    key = "mpo/2026-11-23/report.ndjson"
    dag_run, state = run(dags.criteo_output_format, s3_bucket.url(key), output_format="ndjson", file_format="json")
    assert state == "success"
    lines = s3_bucket.read(key).decode().splitlines()
    assert len(lines) == 50 == xcom_value(dag_run, "transfer")["rows"]
    first = json.loads(lines[0])
    assert list(first) == ["AdvertiserId", "CampaignId", "Hour", "Clicks", "Displays", "Cost"]
    assert isinstance(first["Clicks"], int) and isinstance(first["Cost"], float) and isinstance(first["CampaignId"], str)
    assert first["Hour"].endswith("+00:00")
    assert s3_bucket.keys() == [key] and s3_bucket.pending_uploads() == []


def test_criteo_column_types_override_and_a_bad_value_fails_with_nothing_written(sim, airflow_db, tmp_path, mocker):
    target = tmp_path / "typed.parquet"
    _, state = run(dags.criteo_output_format, f"file://{target}", column_types={"Cost": "decimal(12,2)", "CampaignId": "int64"})
    assert state == "success"
    schema = pq.read_schema(target)
    assert schema.field("Cost").type == pa.decimal128(12, 2) and schema.field("CampaignId").type == pa.int64()

    raised = mocker.spy(ReportContentError, "__init__")
    bad = tmp_path / "bad/typed.parquet"
    _, state = run(dags.criteo_output_format, f"file://{bad}", column_types={"Hour": "int64"})
    assert state == "failed"
    message = raised.call_args_list[0].args[1]
    assert "'Hour'" in message and "data row 1" in message and "T" in message.split("value ", 1)[1]
    assert not bad.parent.exists() or not list(bad.parent.iterdir())


def test_cut_download_during_a_conversion_leaves_nothing(sim, airflow_db, tmp_path):
    sim.inject_fault("criteo.download", cut_after_bytes=200, times=100)
    target = tmp_path / "cut/report.parquet"
    _, state = run(dags.criteo_output_format, f"file://{target}")
    assert state == "failed"
    assert not target.parent.exists() or not list(target.parent.iterdir())


def test_a_cut_download_resumes_during_a_conversion(sim, airflow_db, tmp_path):
    sim.inject_fault("criteo.download", cut_after_bytes=300)
    target = tmp_path / "report.parquet"
    dag_run, state = run(dags.criteo_output_format, f"file://{target}")
    assert state == "success"
    assert pq.read_table(target).num_rows == 50
    assert xcom_value(dag_run, "transfer")["attempts"] == 2


def test_bad_output_format_fails_before_any_http_call(sim, airflow_db, tmp_path, mocker):
    raised = mocker.spy(ReportValidationError, "__init__")
    _, state = run(dags.criteo_output_format, f"file://{tmp_path}/x.parquet", output_format="orc")
    assert state == "failed" and sim.stats.total_calls() == 0
    assert "output_format" in [call.args[1] for call in raised.call_args_list]


# ------------------------------------------------------------------------------------------------ Walmart


def _csv_rows(csv: bytes) -> tuple[bytes, list[bytes]]:
    header, _, body = csv.partition(b"\n")
    return header, body.splitlines()


def test_walmart_parquet_strings_by_default_and_typed_on_request(sim, airflow_db, s3_bucket):
    key = "walmart/item.parquet"
    dag_run, state = run(dags.walmart_output_format, s3_bucket.url(key))
    assert state == "success"
    table = pq.read_table(io.BytesIO(s3_bucket.read(key)))
    assert table.column_names[0] == "SKU"  # the BOM is gone from the first name
    assert all(field.type == pa.string() for field in table.schema)
    assert table.num_rows == xcom_value(dag_run, "transfer")["rows"] == 50

    sim.reset()
    typed = "walmart/typed.parquet"
    _, state = run(
        dags.walmart_output_format,
        s3_bucket.url(typed),
        column_types={"Price": "decimal(10,2)", "Inventory Count": "int64", "Average Rating": "float64"},
    )
    assert state == "success"
    schema = pq.read_schema(io.BytesIO(s3_bucket.read(typed)))
    assert schema.field("Price").type == pa.decimal128(10, 2) and schema.field("Inventory Count").type == pa.int64()
    assert sorted(s3_bucket.keys()) == sorted([key, typed]) and s3_bucket.pending_uploads() == []


@pytest.mark.parametrize(("files", "zip_parts"), [(1, 3), (2, 2)])
def test_split_walmart_report_lands_whole_as_csv(sim, airflow_db, tmp_path, files, zip_parts):
    sim.config.walmart_rows = 300
    sim.config.walmart_zip_parts = zip_parts
    sim.config.walmart_download_files = files
    target = tmp_path / "items.csv"
    dag_run, state = run(dags.walmart_output_format, f"file://{target}", output_format="csv")
    assert state == "success"
    (request_id,) = sim.walmart_requests
    assert target.read_bytes() == sim.walmart_report_csv(request_id, bom=False)  # header once, every part's rows in order
    result = xcom_value(dag_run, "transfer")
    assert result["rows"] == 300 and len(result["members"]) == files * zip_parts
    assert sim.stats.calls["walmart.blob"] == files


def test_split_walmart_report_lands_whole_as_ndjson(sim, airflow_db, tmp_path):
    sim.config.walmart_rows = 300
    sim.config.walmart_zip_parts = 3
    target = tmp_path / "items.ndjson"
    _, state = run(dags.walmart_output_format, f"file://{target}", output_format="ndjson")
    assert state == "success"
    (request_id,) = sim.walmart_requests
    header, rows = _csv_rows(sim.walmart_report_csv(request_id, bom=False))
    lines = target.read_text().splitlines()
    assert len(lines) == 300
    assert [json.loads(line)["SKU"] for line in lines] == [row.split(b",", 1)[0].decode() for row in rows]


def test_mismatched_parts_fail_naming_the_member_with_nothing_written(sim, airflow_db, tmp_path, mocker):
    sim.config.walmart_rows = 90
    sim.config.walmart_zip_parts = 3
    sim.config.walmart_mismatched_part = True
    raised = mocker.spy(ReportContentError, "__init__")
    target = tmp_path / "out/items.parquet"
    _, state = run(dags.walmart_output_format, f"file://{target}")
    assert state == "failed"
    assert "_part3.csv" in raised.call_args_list[0].args[1]
    assert not target.parent.exists() or not list(target.parent.iterdir())


def test_walmart_bad_value_names_column_row_and_value(sim, airflow_db, tmp_path, mocker):
    raised = mocker.spy(ReportContentError, "__init__")
    target = tmp_path / "out/items.parquet"
    _, state = run(dags.walmart_output_format, f"file://{target}", column_types={"Product Name": "int64"})
    assert state == "failed"
    message = raised.call_args_list[0].args[1]
    assert "'Product Name'" in message and "data row 1" in message and "is not a valid int64" in message
    assert not target.parent.exists() or not list(target.parent.iterdir())


def test_raw_of_a_split_report_fails_clearly(sim, airflow_db, tmp_path, mocker):
    sim.config.walmart_download_files = 2
    target = tmp_path / "out/items.zip"
    _, state = run(dags.walmart_output_format, f"file://{target}", output_format="raw")
    assert state == "failed"
    assert not target.parent.exists() or not list(target.parent.iterdir())


# ------------------------------------------------------------------------------------------------ DAG parse


def test_literal_output_parameters_are_checked_at_dag_parse():
    from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator
    from airflow_report_provider.transfers.walmart_to_object_storage import WalmartReportToObjectStorageOperator

    common = {"task_id": "t", "destination": "file:///tmp/x", "report_id": "0b1c2d3e-0000-4000-8000-000000000000"}
    for bad, field in (
        ({"output_format": "orc"}, "output_format"),
        ({"column_types": {"Cost": "money"}}, "column_types"),
        ({"output_format": "parquet", "compression": "gzip"}, "compression"),
        ({"parquet_compression": "lz4"}, "parquet_compression"),
        ({"row_group_size": -1}, "row_group_size"),
    ):
        with pytest.raises(ReportValidationError) as caught:
            CriteoMpoReportToObjectStorageOperator(**common, **bad)
        assert caught.value.field == field
    # templated or lazy values wait for execute
    CriteoMpoReportToObjectStorageOperator(**common, output_format="{{ params.f }}", column_types="{{ params.t }}")
    walmart = {"task_id": "w", "destination": "file:///tmp/x", "request_id": "0b1c2d3e-0000-4000-8000-000000000000"}
    assert WalmartReportToObjectStorageOperator(**walmart).output_format == "csv"
    with pytest.warns(DeprecationWarning, match="unpack"):
        assert WalmartReportToObjectStorageOperator(**walmart, unpack=False).output_format == "raw"
    text = WalmartReportToObjectStorageOperator(**walmart, column_types='{"Price": "decimal(10,2)"}')
    assert text.write_options.output_settings(text.output_format, text.column_types).column_types == {"Price": "decimal(10,2)"}


def test_missing_pyarrow_fails_naming_the_extra_before_any_http_call(sim, airflow_db, tmp_path, mocker, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    raised = mocker.spy(ReportValidationError, "__init__")
    _, state = run(dags.criteo_output_format, f"file://{tmp_path}/x.parquet")
    assert state == "failed" and sim.stats.total_calls() == 0
    assert any("airflow-report-provider[parquet]" in call.args[2] for call in raised.call_args_list)
    assert not list(tmp_path.iterdir())
