"""Walmart On-request Reports protocol: validation, request building, answer parsing, error mapping. No network."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator

import airflow_report_provider.apis.walmart as walmart_module
from airflow_report_provider.apis.walmart import (
    REQUEST_STATES,
    SNAPSHOT_REPORT_TYPES,
    WALMART_DEFAULT_HOST,
    WALMART_DEFAULT_SERVICE_NAME,
    WINDOWED_REPORT_TYPES,
    WalmartDownloadLink,
    WalmartProtocol,
    WalmartReportRequest,
    canonical_payload,
    find_reusable_request,
    validate_request_id,
)
from airflow_report_provider.common.exceptions import (
    ApiError,
    AuthenticationError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    ReportNotFoundError,
    ReportValidationError,
    ServerError,
    TokenExpiredError,
)
from airflow_report_provider.common.http.messages import Headers, HttpRequest, HttpResponse
from airflow_report_provider.common.http.protocol import Credentials
from airflow_report_provider.common.http.retry import retry_after_from_headers
from airflow_report_provider.common.states import ReportState, ReportStatus

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
HOST = "https://marketplace.walmartapis.com"
RID = "98884f2c-6d2f-4f3f-8d52-0f7a3f1a2b3c"
SIGNED = "https://blob.example.net/reports/ItemReport_10001_2026-11-24.zip?sv=2020&se=2026-11-24T12%3A30%3A00Z&sig=S3CR3T"
SPEC_DIR = Path(walmart_module.__file__).resolve().parents[2] / "simulator" / "openapi"


# ------------------------------------------------------------------------------------------------ fixtures


def _load(name: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load((SPEC_DIR / name).read_text(encoding="utf-8"), Loader=loader)


def _resolve(node: Any, root: dict[str, Any]) -> Any:
    """Inline local ``$ref``s so a schema can be validated on its own."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = root
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _resolve(target, root)
        return {k: _resolve(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, root) for v in node]
    return node


@pytest.fixture(scope="module")
def reports_spec() -> dict[str, Any]:
    return _load("walmart-on-request-reports.yml")


@pytest.fixture(scope="module")
def auth_spec() -> dict[str, Any]:
    return _load("walmart-authentication.yml")


def _operation(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    return _resolve(spec["paths"][path][method], spec)


def _json_schema(operation: dict[str, Any], *, request: bool = False) -> dict[str, Any]:
    holder = operation["requestBody"] if request else operation["responses"]["200"]
    return holder["content"]["application/json"]["schema"]


@pytest.fixture(scope="module")
def body_validator(reports_spec) -> OAS30Validator:
    return OAS30Validator(_json_schema(_operation(reports_spec, "/v3/reports/reportRequests", "post"), request=True))


def _counter():
    numbers = itertools.count(1)
    return lambda: f"corr-{next(numbers)}"


@pytest.fixture()
def proto() -> WalmartProtocol:
    return WalmartProtocol(correlation_id=_counter())


def _build(report_type: str = "ITEM", report_version: str = "v4", body: Any = None) -> WalmartReportRequest:
    return WalmartReportRequest.build(report_type=report_type, report_version=report_version, request_body=body, now=NOW)


def _resp(status: int, body: Any = b"", headers: dict[str, str] | None = None) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status, Headers(headers or {}), raw)


def _ip3(start: str, end: str, granularity: str = "DAILY") -> dict[str, str]:
    return {"dataStartTime": start, "dataEndTime": end, "dateGranularity": granularity}


# ----------------------------------------------------------------------------------------------- validation

BAD_REQUESTS = [
    # (report_type, report_version, request_body, field, fragment of the rule)
    (None, "v4", None, "report_type", "required"),
    ("", "v4", None, "report_type", "required"),
    ("   ", "v4", None, "report_type", "required"),
    (5, "v4", None, "report_type", "required"),
    ("ITEM REPORT", "v4", None, "report_type", "report type name"),
    ("{{ params.type }}", "v4", None, "report_type", "report type name"),
    ("ITEM", None, None, "report_version", "required"),
    ("ITEM", "", None, "report_version", "required"),
    ("ITEM", 4, None, "report_version", "required"),
    ("ITEM", "v 4", None, "report_version", "no spaces"),
    ("ITEM", "v4", 42, "request_body", "JSON object"),
    ("ITEM", "v4", ["rowFilters"], "request_body", "JSON object"),
    ("ITEM", "v4", "{'excludeColumns': ['Shelf Name']}", "request_body", "render_template_as_native_obj"),
    ("ITEM", "v4", "[1, 2]", "request_body", "JSON object"),
    ("ITEM", "v4", {"datastarttime": "2026-11-01T00:00:00Z"}, "request_body.datastarttime", "dataStartTime"),
    ("ITEM", "v4", {"ExcludeColumns": ["x"]}, "request_body.ExcludeColumns", "excludeColumns"),
    ("ITEM", "v4", {"custom": {1, 2}}, "request_body", "JSON values"),
    ("ITEM", "v4", {"rowFilters": "Price"}, "request_body.rowFilters", "list of filter objects"),
    ("ITEM", "v4", {"rowFilters": {"type": "enumFilter"}}, "request_body.rowFilters", "list of filter objects"),
    ("ITEM", "v4", {"rowFilters": [5]}, "request_body.rowFilters", "item 0 must be an object"),
    ("ITEM", "v4", {"rowFilters": [{"type": "betweenFilter", "columnName": "Price"}]}, "request_body.rowFilters", "type must be one of"),
    ("ITEM", "v4", {"rowFilters": [{"columnName": "Price", "from": "1"}]}, "request_body.rowFilters", "type must be one of"),
    ("ITEM", "v4", {"rowFilters": [{"type": "rangeFilter", "from": "1"}]}, "request_body.rowFilters", "columnName"),
    ("ITEM", "v4", {"rowFilters": [{"type": "rangeFilter", "columnName": " ", "from": "1"}]}, "request_body.rowFilters", "columnName"),
    ("ITEM", "v4", {"rowFilters": [{"type": "rangeFilter", "columnName": "Price"}]}, "request_body.rowFilters", "needs from or to"),
    ("ITEM", "v4", {"rowFilters": [{"type": "rangeFilter", "columnName": "Price", "from": [1]}]}, "request_body.rowFilters", "from must be"),
    (
        "ITEM", "v4", {"rowFilters": [{"type": "rangeFilter", "columnName": "Price", "from": "1", "values": ["a"]}]},
        "request_body.rowFilters", "takes only",
    ),
    ("ITEM", "v4", {"rowFilters": [{"type": "enumFilter", "columnName": "Publish Status"}]}, "request_body.rowFilters", "needs values"),
    (
        "ITEM", "v4", {"rowFilters": [{"type": "enumFilter", "columnName": "Publish Status", "values": "PUBLISHED"}]},
        "request_body.rowFilters", "not a string",
    ),
    (
        "ITEM", "v4", {"rowFilters": [{"type": "enumFilter", "columnName": "Publish Status", "values": []}]},
        "request_body.rowFilters", "non-empty list",
    ),
    (
        "ITEM", "v4", {"rowFilters": [{"type": "multiValueFilter", "columnName": "brand", "values": [{"a": 1}]}]},
        "request_body.rowFilters", "non-empty strings",
    ),
    (
        "ITEM", "v4", {"rowFilters": [{"type": "enumFilter", "columnName": "x", "values": ["A"], "from": "1"}]},
        "request_body.rowFilters", "takes only",
    ),
    ("ITEM", "v4", {"excludeColumns": "Shelf Name"}, "request_body.excludeColumns", "not a string"),
    ("ITEM", "v4", {"excludeColumns": ["Shelf Name", ""]}, "request_body.excludeColumns", "non-empty strings"),
    ("ITEM", "v4", {"excludeColumns": 7}, "request_body.excludeColumns", "must be a list"),
    ("ITEM_PERFORMANCE", "v1", {"dataStartTime": "yesterday"}, "request_body.dataStartTime", "ISO-8601"),
    ("ITEM_PERFORMANCE", "v1", {"dataEndTime": 1700000000}, "request_body.dataEndTime", "ISO-8601"),
    (
        "ITEM_PERFORMANCE", "v1", {"dataStartTime": "2026-11-10T00:00:00Z", "dataEndTime": "2026-11-09T23:59:59Z"},
        "request_body.dataEndTime", "before dataStartTime",
    ),
    (
        "ITEM_PERFORMANCE", "v1", {"dataStartTime": "2026-11-20T00:00:00Z", "dataEndTime": "2026-11-24T12:00:01Z"},
        "request_body.dataEndTime", "future",
    ),
    ("WFS_ORDERS", "v1", {"dataStartTime": "2026-11-25T00:00:00Z"}, "request_body.dataStartTime", "future"),
    ("WFS_ORDERS", "v1", {"dataStartTime": "2024-11-23T23:59:59Z"}, "request_body.dataStartTime", "last 2 years"),
    ("WFS_ORDERS", "v1", {"dataEndTime": "2023-01-01T00:00:00Z"}, "request_body.dataEndTime", "last 2 years"),
    ("ITEM_PERFORMANCE", "v1", {"dateGranularity": "HOURLY"}, "request_body.dateGranularity", "must be one of"),
    ("ITEM_PERFORMANCE", "v1", {"dateGranularity": 7}, "request_body.dateGranularity", "must be one of"),
    (
        "ITEM_PERFORMANCE", "v3", {"dataEndTime": "2026-11-15T23:59:59Z", "dateGranularity": "DAILY"},
        "request_body.dataStartTime", "required for ITEM_PERFORMANCE v3",
    ),
    (
        "ITEM_PERFORMANCE", "v3", {"dataStartTime": "2026-11-01T00:00:00Z", "dateGranularity": "DAILY"},
        "request_body.dataEndTime", "required for ITEM_PERFORMANCE v3",
    ),
    (
        "ITEM_PERFORMANCE", "v3", {"dataStartTime": "2026-11-01T00:00:00Z", "dataEndTime": "2026-11-15T23:59:59Z"},
        "request_body.dateGranularity", "required for ITEM_PERFORMANCE v3",
    ),
    ("item_performance", "V3", None, "request_body.dataStartTime", "required for ITEM_PERFORMANCE v3"),
    ("ITEM_PERFORMANCE", "v4", {"dateGranularity": "DAILY"}, "request_body.dataStartTime", "required for ITEM_PERFORMANCE v4"),
    (
        "ITEM_PERFORMANCE", "v3", _ip3("2026-11-01T00:00:00Z", "2026-11-16T00:00:00Z", "DAILY"),
        "request_body.dataEndTime", "at most 15 days",
    ),
    (
        "ITEM_PERFORMANCE", "v3", _ip3("2026-09-01T00:00:00Z", "2026-10-20T00:00:00Z", "weekly"),
        "request_body.dataEndTime", "at most 7 weeks",
    ),
    (
        "ITEM_PERFORMANCE", "v3", _ip3("2025-01-31T00:00:00Z", "2026-04-01T00:00:00Z", "Monthly"),
        "request_body.dataEndTime", "at most 15 months",
    ),
    (
        "ITEM_PERFORMANCE", "v3", _ip3("2025-12-31T00:00:00Z", "2026-10-01T00:00:00Z", "QUARTERLY"),
        "request_body.dataEndTime", "at most 4 quarters",
    ),
]


@pytest.mark.parametrize(("report_type", "report_version", "body", "field", "fragment"), BAD_REQUESTS)
def test_every_rule_names_its_field(report_type, report_version, body, field, fragment) -> None:
    with pytest.raises(ReportValidationError) as info:
        WalmartReportRequest.build(report_type=report_type, report_version=report_version, request_body=body, now=NOW)
    assert info.value.field == field
    assert fragment in info.value.rule
    assert repr(field) in str(info.value)
    assert info.value.retryable is False


# Periods are counted over the UTC dates start..end, both included (Walmart's end stamps are inclusive).
SPANS_AT_THE_LIMIT = [
    _ip3("2026-11-01T00:00:00Z", "2026-11-15T23:59:59Z", "DAILY"),  # Walmart's own example: 15 days
    _ip3("2026-11-09T12:00:00Z", "2026-11-23T00:00:00Z", "daily"),  # 15 dates touched
    _ip3("2026-09-01T00:00:00Z", "2026-10-19T23:59:59Z", "WEEKLY"),  # 49 days = 7 weeks
    _ip3("2025-01-31T00:00:00Z", "2026-03-01T00:00:00Z", "MONTHLY"),  # Jan 2025 .. Mar 2026 = 15 months
    _ip3("2025-10-01T00:00:00Z", "2026-09-30T23:59:59Z", "QUARTERLY"),  # Q4 2025 .. Q3 2026
]


@pytest.mark.parametrize("body", SPANS_AT_THE_LIMIT)
def test_item_performance_v3_spans_at_the_limit_are_accepted(body, body_validator) -> None:
    request = _build("ITEM_PERFORMANCE", "v3", body)
    sent = request.body()
    assert sent["dateGranularity"] == body["dateGranularity"].upper()
    assert sent["dataStartTime"] == body["dataStartTime"]
    assert request.is_windowed
    body_validator.validate(sent)


def test_lookback_boundary_is_two_calendar_years() -> None:
    ok = _build("WFS_ORDERS", "v1", {"dataStartTime": "2024-11-24T00:00:00Z", "dataEndTime": "2024-11-25T00:00:00Z"})
    assert ok.data_start_time == datetime(2024, 11, 24, tzinfo=UTC)
    leap_now = datetime(2028, 2, 29, tzinfo=UTC)
    WalmartReportRequest.build(
        report_type="WFS_ORDERS", report_version="v1", request_body={"dataStartTime": "2026-02-28T00:00:00Z"}, now=leap_now
    )
    with pytest.raises(ReportValidationError, match="last 2 years"):
        WalmartReportRequest.build(
            report_type="WFS_ORDERS", report_version="v1", request_body={"dataStartTime": "2026-02-27T23:59:59Z"}, now=leap_now
        )


def test_end_equal_to_now_and_naive_now_are_accepted() -> None:
    body = {"dataStartTime": "2026-11-24T00:00:00", "dataEndTime": NOW}
    request = WalmartReportRequest.build(
        report_type="WFS_ORDERS", report_version="v1", request_body=body, now=NOW.replace(tzinfo=None)
    )
    assert request.body() == {"dataStartTime": "2026-11-24T00:00:00Z", "dataEndTime": "2026-11-24T12:00:00Z"}


def test_build_normalises_and_passes_unknown_keys_through(body_validator) -> None:
    body = {
        "rowFilters": [
            {"rowFilterType": "rangeFilter", "columnName": " Price ", "from": 10, "to": "100"},
            {"type": "enumFilter", "columnName": "Publish Status", "values": ["PUBLISHED", 1]},
            {"type": "rangeFilter", "columnName": "Offer End Date", "to": "2021-06-16", "from": None},
        ],
        "excludeColumns": ["Shelf Name", "Average Rating"],
        "dataStartTime": None,
        "shopFilter": {"market": "US"},
    }
    request = WalmartReportRequest.build(report_type=" item ", report_version=" V4 ", request_body=json.dumps(body), now=NOW)
    assert (request.report_type, request.report_version) == ("ITEM", "v4")
    assert request.body() == {
        "rowFilters": [
            {"type": "rangeFilter", "columnName": "Price", "from": "10", "to": "100"},
            {"type": "enumFilter", "columnName": "Publish Status", "values": ["PUBLISHED", "1"]},
            {"type": "rangeFilter", "columnName": "Offer End Date", "to": "2021-06-16"},
        ],
        "excludeColumns": ["Shelf Name", "Average Rating"],
        "shopFilter": {"market": "US"},
    }
    assert request.extra == {"shopFilter": {"market": "US"}}
    assert not request.is_windowed
    body_validator.validate(request.body())


def test_the_specs_own_example_body_round_trips(reports_spec, body_validator) -> None:
    operation = _operation(reports_spec, "/v3/reports/reportRequests", "post")
    example = operation["requestBody"]["content"]["application/json"]["example"]
    request = _build("ITEM", "v4", example)
    assert request.body() == example
    body_validator.validate(request.body())


@pytest.mark.parametrize("body", [None, {}, "", "  ", {"rowFilters": [], "excludeColumns": [], "dataStartTime": ""}])
def test_empty_bodies(body) -> None:
    request = _build("INVENTORY", "v1", body)
    assert request.body() is None
    assert request.fingerprint() == ("INVENTORY", "v1", "{}")
    assert request.report_type in SNAPSHOT_REPORT_TYPES


def test_model_is_frozen_hashable_and_validates_direct_construction() -> None:
    request = _build("ITEM", "v4", {"excludeColumns": ["Shelf Name"]})
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.report_type = "INVENTORY"  # type: ignore[misc]
    assert hash(request) == hash(_build("item", "V4", {"excludeColumns": ["Shelf Name"]}))
    assert request == _build("item", "V4", {"excludeColumns": ["Shelf Name"]})
    with pytest.raises(ReportValidationError) as info:
        WalmartReportRequest(report_type="ITEM", report_version="v4", exclude_columns="Shelf Name")  # type: ignore[arg-type]
    assert info.value.field == "request_body.excludeColumns"
    with pytest.raises(ReportValidationError) as info:
        WalmartReportRequest(report_type="ITEM", report_version="v4", extra={"rowFilters": []})
    assert info.value.field == "request_body"
    # direct construction skips the clock rules; check_clock applies them
    future = WalmartReportRequest(report_type="WFS_ORDERS", report_version="v1", data_end_time=NOW + timedelta(days=1))
    with pytest.raises(ReportValidationError, match="future"):
        future.check_clock(NOW)


def test_windowed_flag_and_informative_sets() -> None:
    assert "ITEM_PERFORMANCE" in WINDOWED_REPORT_TYPES and "WFS_ORDERS" in WINDOWED_REPORT_TYPES
    assert {"ITEM", "INVENTORY"} <= SNAPSHOT_REPORT_TYPES
    assert not WINDOWED_REPORT_TYPES & SNAPSHOT_REPORT_TYPES
    assert _build("WFS_ORDERS", "v1").is_windowed
    assert _build("SETTLEMENT", "v2", {"dataStartTime": "2026-11-01T00:00:00Z"}).is_windowed  # free type string
    assert not _build("BRAND_NEW_TYPE", "v9").is_windowed


@pytest.mark.parametrize("value", [None, "", "  ", 5, "a/b", "x y", "id?x=1", "../status", "x" * 129])
def test_bad_request_ids(value) -> None:
    with pytest.raises(ReportValidationError) as info:
        validate_request_id(value)
    assert info.value.field == "request_id"


def test_request_id_is_stripped() -> None:
    assert validate_request_id(f"  {RID} ") == RID


# ---------------------------------------------------------------------------------------- request building


def test_protocol_defaults_and_settings_validation() -> None:
    proto = WalmartProtocol()
    assert (proto.host, proto.service_name) == (WALMART_DEFAULT_HOST, WALMART_DEFAULT_SERVICE_NAME)
    assert WalmartProtocol.api_name == "walmart"
    assert 0 < WalmartProtocol.default_calls_per_minute <= 20
    assert WalmartProtocol(host="http://127.0.0.1:8080/", service_name="", channel_type=" ", market="").host == (
        "http://127.0.0.1:8080"
    )
    assert WalmartProtocol(market=" MX ").market == "mx"
    for kwargs, field in (({"market": "uk"}, "market"), ({"host": "ftp://x"}, "host"), ({"channel_type": 7}, "channel_type")):
        with pytest.raises(ReportValidationError) as info:
            WalmartProtocol(**kwargs)
        assert info.value.field == field


def test_token_request_uses_basic_auth_and_the_form(proto) -> None:
    creds = Credentials(host="http://127.0.0.1:9999", client_id="client-id", client_secret="s3cr3t:with:colons")
    request = proto.token_request(creds)
    assert (request.method, request.url, request.endpoint) == ("POST", "http://127.0.0.1:9999/v3/token", "walmart.token")
    assert request.form == {"grant_type": "client_credentials"}
    assert request.json is None
    assert (request.authenticated, request.rate_limited) == (False, False)
    scheme, encoded = request.headers["Authorization"].split(" ")
    assert scheme == "Basic" and base64.b64decode(encoded).decode() == "client-id:s3cr3t:with:colons"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["WM_SVC.NAME"] == "Walmart Marketplace"
    assert request.headers["WM_QOS.CORRELATION_ID"] == "corr-1"
    assert "WM_SEC.ACCESS_TOKEN" not in request.headers
    assert "s3cr3t" not in repr(creds)
    assert proto.token_request(creds).headers["WM_QOS.CORRELATION_ID"] == "corr-2"


def test_authorize_adds_fresh_headers_on_every_attempt() -> None:
    proto = WalmartProtocol()
    request = proto.status_request(RID)
    first, second = proto.authorize(request, "tok"), proto.authorize(request, "tok")
    assert set(first.headers) == {"Accept", "WM_QOS.CORRELATION_ID", "WM_SVC.NAME", "WM_SEC.ACCESS_TOKEN"}
    assert first.headers["WM_SEC.ACCESS_TOKEN"] == "tok"
    assert first.headers["Accept"] == "application/json"
    ids = {first.headers["WM_QOS.CORRELATION_ID"], second.headers["WM_QOS.CORRELATION_ID"]}
    assert len(ids) == 2 and all(uuid.UUID(i) for i in ids)
    assert request.headers == {}  # the built request itself is untouched


def test_content_type_only_on_post(proto) -> None:
    built = {
        "create": proto.create_request(_build()),
        "status": proto.status_request(RID),
        "list": proto.list_request(report_type="ITEM"),
        "download_url": proto.download_url_request(RID),
        "token_detail": proto.token_detail_request(),
    }
    for name, request in built.items():
        headers = proto.authorize(request, "tok").headers
        assert ("Content-Type" in headers) is (request.method == "POST"), name
    assert proto.authorize(built["create"], "tok").headers["Content-Type"] == "application/json"


def test_channel_and_market_headers() -> None:
    proto = WalmartProtocol(service_name="Acme Sync", channel_type="0f3e4dd4-0514", market="ca", correlation_id=lambda: "c")
    headers = proto.authorize(proto.status_request(RID), "tok").headers
    assert headers["WM_SVC.NAME"] == "Acme Sync"
    assert headers["WM_CONSUMER.CHANNEL.TYPE"] == "0f3e4dd4-0514"
    assert (headers["WM_MARKET"], headers["WM_GLOBAL_VERSION"]) == ("ca", "3.1")
    token_headers = proto.token_request(Credentials(HOST, "id", "secret")).headers
    assert token_headers["WM_CONSUMER.CHANNEL.TYPE"] == "0f3e4dd4-0514" and token_headers["WM_MARKET"] == "ca"
    plain = WalmartProtocol().authorize(WalmartProtocol().status_request(RID), "tok").headers
    assert not {"WM_CONSUMER.CHANNEL.TYPE", "WM_MARKET", "WM_GLOBAL_VERSION"} & set(plain)


def test_create_request(proto) -> None:
    request = proto.create_request(_build("ITEM", "v4", {"excludeColumns": ["Shelf Name"]}))
    assert (request.method, request.url, request.endpoint) == ("POST", f"{HOST}/v3/reports/reportRequests", "walmart.create")
    assert request.params == {"reportType": "ITEM", "reportVersion": "v4"}
    assert request.json == {"excludeColumns": ["Shelf Name"]}
    assert request.idempotent is False and request.authenticated and request.rate_limited
    assert proto.create_request(_build("INVENTORY", "v1")).json == {}


def test_status_download_and_detail_requests(proto) -> None:
    status = proto.status_request(f" {RID} ")
    assert (status.method, status.url, status.endpoint) == ("GET", f"{HOST}/v3/reports/reportRequests/{RID}", "walmart.status")
    assert status.params is None and status.idempotent
    download = proto.download_url_request(RID)
    assert (download.url, download.params, download.endpoint) == (
        f"{HOST}/v3/reports/downloadReport",
        {"requestId": RID},
        "walmart.download_url",
    )
    detail = proto.token_detail_request()
    assert (detail.method, detail.url, detail.endpoint) == ("GET", f"{HOST}/v3/token/detail", "walmart.token_detail")
    with pytest.raises(ReportValidationError):
        proto.status_request("a/b")


def test_list_request_filters(proto) -> None:
    request = proto.list_request(
        report_type="item",
        report_version="V4",
        request_status="ready",
        submitted_after=datetime(2026, 11, 24, 11, 0, 0, 999, tzinfo=UTC),
        submitted_before="2026-11-24T13:00:00+01:00",
    )
    assert (request.url, request.endpoint) == (f"{HOST}/v3/reports/reportRequests", "walmart.list")
    assert request.params == {
        "reportType": "ITEM",
        "reportVersion": "v4",
        "requestStatus": "READY",
        "requestSubmissionStartDate": "2026-11-24T11:00:00Z",
        "requestSubmissionEndDate": "2026-11-24T12:00:00Z",
    }
    assert proto.list_request().params == {}
    with pytest.raises(ReportValidationError) as info:
        proto.list_request(request_status="DONE")
    assert info.value.field == "request_status"
    for kwargs, field in (
        ({"submitted_after": "last week", "submitted_before": NOW}, "submitted_after"),
        ({"submitted_after": NOW}, "submitted_before"),
        ({"submitted_before": NOW}, "submitted_after"),
        ({"submitted_after": NOW, "submitted_before": NOW - timedelta(seconds=1)}, "submitted_before"),
        ({"request_id": "a b"}, "request_id"),
        ({"report_type": "ITEM REPORT"}, "report_type"),
    ):
        with pytest.raises(ReportValidationError) as info:
            proto.list_request(**kwargs)
        assert info.value.field == field
    assert proto.list_request(request_id=RID).params == {"requestId": RID}


def test_list_cursor_is_the_whole_query_string(proto) -> None:
    data = {"page": 1, "totalCount": 15, "limit": 10, "nextCursor": "reportType=ITEM&page=2&limit=10", "requests": []}
    _, cursor = proto.parse_list(_resp(200, data))
    request = proto.list_request(report_type="INVENTORY", cursor=cursor)
    assert request.url == f"{HOST}/v3/reports/reportRequests?reportType=ITEM&page=2&limit=10"
    assert request.params is None
    assert proto.list_request(cursor="?page=3").url.endswith("/reportRequests?page=3")
    for bad in ("", "page=2 limit=1", "page=2#x"):
        with pytest.raises(ReportValidationError) as info:
            proto.list_request(cursor=bad)
        assert info.value.field == "cursor"


def test_blob_request_has_no_walmart_headers(proto) -> None:
    link = WalmartDownloadLink(url=SIGNED)
    request = proto.blob_request(link)
    assert (request.method, request.url, request.endpoint) == ("GET", SIGNED, "walmart.blob")
    assert dict(request.headers) == {"Accept-Encoding": "identity"}  # the file's own bytes, for length checks and Range
    assert (request.authenticated, request.rate_limited, request.idempotent) == (False, False, True)
    assert proto.authorize(request, "tok") is request  # never given a token, even by mistake
    with pytest.raises(TypeError):
        proto.blob_request(SIGNED)  # type: ignore[arg-type]


# Every required header and query parameter of the spec's operations is on the authorized request.
SPEC_CALLS = [
    ("reports", "/v3/reports/reportRequests", "post", lambda p: p.create_request(_build())),
    ("reports", "/v3/reports/reportRequests", "get", lambda p: p.list_request(report_type="ITEM")),
    ("reports", "/v3/reports/reportRequests/{requestId}", "get", lambda p: p.status_request(RID)),
    ("reports", "/v3/reports/downloadReport", "get", lambda p: p.download_url_request(RID)),
    ("auth", "/v3/token/detail", "get", lambda p: p.token_detail_request()),
]


@pytest.mark.parametrize(("which", "path", "method", "make"), SPEC_CALLS)
def test_requests_carry_what_the_spec_requires(which, path, method, make, reports_spec, auth_spec) -> None:
    spec = reports_spec if which == "reports" else auth_spec
    operation = _operation(spec, path, method)
    proto = WalmartProtocol(channel_type="chan")
    request = proto.authorize(make(proto), "tok")
    assert request.method == method.upper()
    for param in operation.get("parameters", []):
        if param["in"] == "header" and param["name"] == "Content-Type" and method == "get":
            continue  # the auth spec lists it on a body-less GET; the notes send it on POST only
        if param["in"] == "header" and (param.get("required") or param["name"] == "WM_CONSUMER.CHANNEL.TYPE"):
            assert param["name"] in request.headers, param["name"]
        if param["in"] == "query" and param.get("required"):
            assert param["name"] in (request.params or {}), param["name"]
        if param["in"] == "path":
            assert "{" not in request.url


def test_token_request_carries_what_the_auth_spec_requires(auth_spec) -> None:
    operation = _operation(auth_spec, "/v3/token", "post")
    request = WalmartProtocol().token_request(Credentials(HOST, "id", "secret"))
    for param in operation["parameters"]:
        if param["in"] == "header" and param.get("required"):
            assert param["name"] in request.headers, param["name"]
    schema = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    OAS30Validator(schema).validate(dict(request.form))


# ---------------------------------------------------------------------------------------------- token answers


def test_parse_token_json_and_xml(proto, auth_spec) -> None:
    example = _operation(auth_spec, "/v3/token", "post")["responses"]["200"]["content"]["application/json"]["examples"]
    token = proto.parse_token(_resp(200, example["clientCredentialsRes"]["value"]), now=1000.0)
    assert token.value.startswith("eyJ") and token.expires_at == 1900.0
    assert token.value not in repr(token)
    xml = b'<OAuthTokenDTO xmlns=""><accessToken>abc.def</accessToken><tokenType>Bearer</tokenType><expiresIn>600</expiresIn></OAuthTokenDTO>'
    token = proto.parse_token(HttpResponse(200, Headers({"Content-Type": "application/xml"}), xml), now=0.0)
    assert (token.value, token.expires_at) == ("abc.def", 600.0)
    assert proto.parse_token(_resp(200, {"access_token": "t"}), now=0.0).expires_at == 900.0
    before = time.time()
    assert proto.parse_token(_resp(200, {"access_token": "t", "expires_in": 60})).expires_at >= before + 60


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (_resp(200, {"token_type": "Bearer"}), AuthenticationError),
        (_resp(200, b"<html>oops</html>"), AuthenticationError),
        (_resp(401, {"error": "invalid_client", "error_description": "Bad client credentials"}), AuthenticationError),
        (_resp(400, {"errors": [{"code": "INVALID_REQUEST_CONTENT", "description": "grant_type"}]}), InvalidRequestError),
        (_resp(503, b""), ServerError),
    ],
)
def test_parse_token_errors(proto, response, error) -> None:
    with pytest.raises(error) as info:
        proto.parse_token(response)
    assert type(info.value) is error


# ------------------------------------------------------------------------------------------------- errors


def _err(code: str, description: str = "something", **more: Any) -> dict[str, Any]:
    return {"code": code, "field": more.pop("field", "reportType"), "description": description, "info": more.pop("info", description),
            "severity": "ERROR", "category": "DATA", "causes": [], "errorIdentifiers": {}, **more}


ERROR_CODES = [
    (400, "INVALID_REQUEST_PARAM", InvalidRequestError),
    (400, "MISSING_REQUEST_HEADER", InvalidRequestError),
    (400, "MISSING_REQUEST_PARAM", InvalidRequestError),
    (400, "INVALID_REQUEST_CONTENT", InvalidRequestError),
    (401, "UNAUTHORIZED", AuthenticationError),
    (403, "FORBIDDEN", PermissionDeniedError),
    (404, "CONTENT_NOT_FOUND", ReportNotFoundError),
    (429, "REQUEST_THRESHOLD_VIOLATED", RateLimitedError),
    (500, "SYSTEM_ERROR", ServerError),
    (503, "SERVICE_UNAVAILABLE", ServerError),
    (504, "DOWNSTREAM_SYSTEM_TIME_OUT", ServerError),
    (400, "SOMETHING_NEW", InvalidRequestError),  # unknown code: the status decides
    (418, "SOMETHING_NEW", ApiError),
]


@pytest.mark.parametrize(("status", "code", "error"), ERROR_CODES)
def test_every_error_code(proto, status, code, error) -> None:
    err = proto.error_for(_resp(status, {"errors": [_err(code, "Request failed")]}))
    assert type(err) is error
    assert (err.status, err.code, err.api) == (status, code, "walmart")
    assert code in str(err) and "Request failed" in str(err) and f"HTTP {status}" in str(err)


def test_code_suffix_is_stripped_and_field_shown(proto) -> None:
    body = {"errors": [_err("INVALID_REQUEST_PARAM.GMP_REPORT_API", "Invalid report type", field="reportType", info="")]}
    err = proto.error_for(_resp(400, body))
    assert type(err) is InvalidRequestError and err.code == "INVALID_REQUEST_PARAM"
    assert "INVALID_REQUEST_PARAM.GMP_REPORT_API: Invalid report type (field reportType)" in str(err)


ENVELOPES = [
    {"errors": [_err("CONTENT_NOT_FOUND", "requestId not found")]},
    {"error": [_err("CONTENT_NOT_FOUND", "requestId not found")]},
    {"errors": {"error": [_err("CONTENT_NOT_FOUND", "requestId not found")]}},
    {"errors": {"error": _err("CONTENT_NOT_FOUND", "requestId not found")}},
    {"error": _err("CONTENT_NOT_FOUND", "requestId not found")},
    {"errors": _err("CONTENT_NOT_FOUND", "requestId not found")},
    _err("CONTENT_NOT_FOUND", "requestId not found"),
    [_err("CONTENT_NOT_FOUND", "requestId not found")],
    (
        b'<?xml version="1.0"?><ns2:errors xmlns:ns2="http://walmart.com/"><ns2:error><ns2:code>CONTENT_NOT_FOUND'
        b"</ns2:code><ns2:field>requestId</ns2:field><ns2:description>requestId not found</ns2:description>"
        b"</ns2:error></ns2:errors>"
    ),
]


@pytest.mark.parametrize("body", ENVELOPES)
def test_every_envelope(proto, body) -> None:
    err = proto.error_for(_resp(404, body))
    assert type(err) is ReportNotFoundError and err.code == "CONTENT_NOT_FOUND"
    assert "requestId not found" in str(err)


@pytest.mark.parametrize(
    ("status", "body", "error", "fragment"),
    [
        (503, b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>", ServerError, "503 Service Temporarily"),
        (504, b"", ServerError, "Gateway Timeout (empty answer)"),
        (502, b"upstream connect error", ServerError, "Bad Gateway: upstream connect error"),
        (401, b"", AuthenticationError, "Unauthorized"),
        (429, b"Too many requests", RateLimitedError, "Too many requests"),
        (404, {"unexpected": "shape"}, ReportNotFoundError, "Not Found"),
        (400, {"errors": []}, InvalidRequestError, "Bad Request"),
        (599, b"", ServerError, "error"),
    ],
)
def test_non_json_and_empty_bodies(proto, status, body, error, fragment) -> None:
    err = proto.error_for(_resp(status, body))
    assert type(err) is error and err.code is None
    assert fragment in str(err)
    assert "<" not in str(err)


def test_expired_token_and_plain_unauthorized(proto) -> None:
    expired = _err("UNAUTHORIZED.GMP_GATEWAY_API", "Unauthorized", info="Access token has expired", field="UNAUTHORIZED")
    err = proto.error_for(_resp(401, {"error": [expired]}))
    assert type(err) is TokenExpiredError and err.retryable
    plain = _err("UNAUTHORIZED.GMP_GATEWAY_API", "Unauthorized", info="Unauthorized token or invalid Token", field="UNAUTHORIZED")
    err = proto.error_for(_resp(401, {"error": [plain]}))
    assert type(err) is AuthenticationError and not err.retryable
    assert "Unauthorized - Unauthorized token or invalid Token" in str(err)


def test_messages_are_truncated_and_carry_no_headers(proto) -> None:
    many = {"errors": [_err("INVALID_REQUEST_PARAM", "x" * 2000) for _ in range(5)]}
    secret_headers = {"WM_SEC.ACCESS_TOKEN": "tok-SECRET", "Set-Cookie": "session=SECRET"}
    err = proto.error_for(_resp(400, many, secret_headers))
    assert len(err.description) <= 1000
    assert "(+2 more)" in str(err)
    assert "SECRET" not in str(err)


def test_rate_limited_error_reads_x_next_replenishment_time(proto) -> None:
    in_30s_ms = str(int((time.time() + 30) * 1000))
    headers = {"X-Current-Token-Count": "0", "X-Next-Replenishment-Time": in_30s_ms}
    err = proto.error_for(_resp(429, {"errors": [_err("REQUEST_THRESHOLD_VIOLATED", "Too many requests")]}, headers))
    assert type(err) is RateLimitedError
    assert 25 <= err.retry_after <= 30.5
    assert proto.error_for(_resp(429, b"")).retry_after is None
    assert proto.error_for(_resp(500, b"", headers)).retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1700000045000", 45.0),  # epoch milliseconds
        ("1700000045", 45.0),  # epoch seconds
        ("2023-11-14T22:14:05Z", 45.0),  # ISO
        ("Tue, 14 Nov 2023 22:14:05 GMT", 45.0),  # HTTP date
        ("12", 12.0),  # a delta in seconds
        ("1699999000000", 0.0),  # already passed
        ("soon", None),
    ],
)
def test_retry_after_formats(proto, value, expected) -> None:
    now = 1700000000.0
    response = _resp(429, b"", {"X-Next-Replenishment-Time": value})
    assert proto.retry_after(response, now=now) == expected
    assert retry_after_from_headers(response.headers, now=now) == expected  # the shared parser does the work


# --------------------------------------------------------------------------------------------- status answers


def _status_answer(status: str = "RECEIVED", **more: Any) -> dict[str, Any]:
    return {
        "requestId": RID,
        "requestStatus": status,
        "requestSubmissionDate": "2026-11-24T09:14:19Z",
        "reportType": "ITEM",
        "reportVersion": "v4",
        "payload": {"excludeColumns": ["Shelf Name"]},
        **more,
    }


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("RECEIVED", ReportState.PENDING),
        ("SUBMITTED", ReportState.PENDING),
        ("INPROGRESS", ReportState.RUNNING),
        ("READY", ReportState.SUCCEEDED),
        ("ERROR", ReportState.FAILED),
        ("ready", ReportState.SUCCEEDED),
        ("QUEUED", ReportState.PENDING),
        ("", ReportState.PENDING),
    ],
)
def test_status_mapping(proto, raw, state) -> None:
    status = proto.parse_request(_status_answer(raw))
    assert status.state is state and status.raw_status == raw
    assert REQUEST_STATES.get(raw.upper(), ReportState.PENDING) is state
    if raw.upper() not in REQUEST_STATES:
        assert not status.state.is_terminal


def test_parse_request_details(proto, reports_spec) -> None:
    answer = _status_answer("READY", reportGenerationDate="2026-11-24T09:40:02Z")
    schema = _json_schema(_operation(reports_spec, "/v3/reports/reportRequests/{requestId}", "get"))
    OAS30Validator(schema).validate(answer)
    status = proto.parse_request(_resp(200, answer))
    assert isinstance(status, ReportStatus)
    assert status.job_id == RID and status.message == ""
    assert status.details == {
        "reportType": "ITEM",
        "reportVersion": "v4",
        "requestSubmissionDate": datetime(2026, 11, 24, 9, 14, 19, tzinfo=UTC),
        "payload": {"excludeColumns": ["Shelf Name"]},
        "reportGenerationDate": datetime(2026, 11, 24, 9, 40, 2, tzinfo=UTC),
    }


def test_parse_request_variants(proto) -> None:
    status = proto.parse_request({"requestID": RID, "requestStatus": "INPROGRESS", "requestSubmissionDate": "1795511659000"})
    assert status.job_id == RID and status.state is ReportState.RUNNING
    assert status.details["requestSubmissionDate"] == datetime.fromtimestamp(1795511659, UTC)
    assert status.details["payload"] == {} and status.details["reportGenerationDate"] is None
    failed = proto.parse_request(
        _status_answer("ERROR", errors=[{"code": "SYSTEM_ERROR", "description": "Report generation failed"}])
    )
    assert failed.state is ReportState.FAILED and "Report generation failed" in failed.message
    assert "bad data" in proto.parse_request(_status_answer("ERROR", message="bad data")).message


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (_resp(404, {"errors": [_err("CONTENT_NOT_FOUND", "requestId not found")]}), ReportNotFoundError),
        (_resp(200, b"<html/>"), ApiError),
        (_resp(200, {"requestStatus": "READY"}), ApiError),
        ({"requestId": "", "requestStatus": "READY"}, ApiError),
        (["not", "an", "object"], ApiError),
    ],
)
def test_parse_request_failures(proto, answer, error) -> None:
    with pytest.raises(error) as info:
        proto.parse_request(answer)
    assert type(info.value) is error


def test_parse_list(proto, reports_spec) -> None:
    answer = {
        "page": 1,
        "totalCount": 3,
        "limit": 10,
        "nextCursor": "",
        "requests": [
            _status_answer("READY"),
            _status_answer("INPROGRESS", requestId="11111111-2222-3333-4444-555555555555"),
            {"requestStatus": "ERROR"},  # no id: skipped
        ],
    }
    schema = _json_schema(_operation(reports_spec, "/v3/reports/reportRequests", "get"))
    OAS30Validator(schema).validate(answer)
    requests, cursor = proto.parse_list(_resp(200, answer))
    assert [r.job_id for r in requests] == [RID, "11111111-2222-3333-4444-555555555555"]
    assert [r.state for r in requests] == [ReportState.SUCCEEDED, ReportState.RUNNING]
    assert cursor is None
    assert proto.parse_list({"requests": []}) == ([], None)
    assert proto.parse_list({})[1] is None
    assert proto.parse_list({"nextCursor": " reportType=ITEM&page=2 "})[1] == "reportType=ITEM&page=2"
    with pytest.raises(RateLimitedError):
        proto.parse_list(_resp(429, {"errors": [_err("REQUEST_THRESHOLD_VIOLATED")]}))
    with pytest.raises(ApiError):
        proto.parse_list([])


# ------------------------------------------------------------------------------------------- download answers


def test_parse_download_single_object(proto, reports_spec) -> None:
    answer = {
        "requestId": RID,
        "requestStatus": "READY",
        "reportType": "ITEM",
        "reportVersion": "v4",
        "downloadURL": SIGNED,
        "downloadURLExpirationTime": "2026-11-24T12:03:41Z",
    }
    OAS30Validator(_json_schema(_operation(reports_spec, "/v3/reports/downloadReport", "get"))).validate(answer)
    (link,) = proto.parse_download(_resp(200, answer))
    assert link.url == SIGNED
    assert link.expires_at == datetime(2026, 11, 24, 12, 3, 41, tzinfo=UTC)
    assert not link.is_expired(NOW)
    assert link.is_expired(NOW + timedelta(minutes=3, seconds=11))  # within the default 30 s margin
    assert not link.is_expired(NOW + timedelta(minutes=3, seconds=11), margin=0)
    assert link.is_expired(NOW, margin=timedelta(minutes=5))
    assert link.is_expired(NOW.replace(tzinfo=None) + timedelta(hours=1))


def test_parse_download_split_reports(proto) -> None:
    part = "https://blob.example.net/reports/part{}.csv.gz?sv=1&sig=S3CR3T{}"
    top_level_list = [
        {"downloadURL": part.format(1, 1), "downloadURLExpirationTime": "2026-11-24T12:10:00Z"},
        {"downloadURL": part.format(2, 2), "downloadURLExpirationTime": "2026-11-24T12:11:00Z"},
    ]
    links = proto.parse_download(top_level_list)
    assert [l.url for l in links] == [part.format(1, 1), part.format(2, 2)]
    assert links[1].expires_at == datetime(2026, 11, 24, 12, 11, tzinfo=UTC)
    url_list = {"requestId": RID, "downloadURL": [part.format(1, 1), part.format(2, 2), part.format(1, 1)],
                "downloadURLExpirationTime": "2026-11-24T12:10:00Z"}
    links = proto.parse_download(url_list)
    assert len(links) == 2 and all(l.expires_at == datetime(2026, 11, 24, 12, 10, tzinfo=UTC) for l in links)
    nested = {"requestId": RID, "downloadURLs": [{"url": part.format(3, 3)}], "downloadURLExpirationTime": "2026-11-24T12:10:00Z"}
    assert proto.parse_download(nested)[0].expires_at == datetime(2026, 11, 24, 12, 10, tzinfo=UTC)


def test_expiry_falls_back_to_the_signed_expiry(proto) -> None:
    (link,) = proto.parse_download({"downloadURL": SIGNED})
    assert link.expires_at == datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    (link,) = proto.parse_download({"downloadURL": "https://blob.example.net/r.zip"})
    assert link.expires_at is None and not link.is_expired(NOW)


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        ({"requestId": RID, "requestStatus": "INPROGRESS"}, "requestStatus INPROGRESS"),
        ({"requestId": RID, "downloadURL": ""}, "no download URL"),
        ({"downloadURL": "ftp://blob.example.net/r.zip?sig=S3CR3T"}, "invalid URL"),
        ([], "no download URL"),
    ],
)
def test_parse_download_without_a_url(proto, answer, fragment) -> None:
    with pytest.raises(ApiError) as info:
        proto.parse_download(answer)
    assert fragment in str(info.value) and "S3CR3T" not in str(info.value)


def test_parse_download_maps_error_answers(proto) -> None:
    with pytest.raises(ReportNotFoundError):
        proto.parse_download(_resp(404, {"errors": [_err("CONTENT_NOT_FOUND", "expired")]}))


def test_download_link_never_shows_its_signature() -> None:
    link = WalmartDownloadLink(url=SIGNED, expires_at=NOW)
    for text in (repr(link), str(link), f"{link}", repr([link]), link.redacted):
        assert "S3CR3T" not in text and "sig=" not in text
    assert link.redacted == "https://blob.example.net/reports/ItemReport_10001_2026-11-24.zip?<redacted>"
    assert "2026-11-24T12:00:00Z" in repr(link)
    assert not next(f for f in dataclasses.fields(WalmartDownloadLink) if f.name == "url").repr


# ------------------------------------------------------------------------------------------------ reattaching


def _listed(
    job_id: str,
    minutes_ago: float,
    *,
    state: str = "RECEIVED",
    report_type: str = "ITEM",
    version: str = "v4",
    payload: Any = None,
) -> ReportStatus:
    submitted = NOW - timedelta(minutes=minutes_ago)
    answer = {
        "requestId": job_id,
        "requestStatus": state,
        "requestSubmissionDate": submitted.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "reportType": report_type,
        "reportVersion": version,
    }
    if payload is not None:
        answer["payload"] = payload
    return WalmartProtocol().parse_request(answer)


def test_reuses_the_newest_matching_request() -> None:
    report = _build("ITEM", "v4", {"excludeColumns": ["Shelf Name"]})
    candidates = [
        _listed("old", 50, payload={"excludeColumns": ["Shelf Name"]}),
        _listed("new", 5, state="INPROGRESS", payload={"excludeColumns": ["Shelf Name"]}),
        _listed("ready", 20, state="READY", payload={"excludeColumns": ["Shelf Name"]}),
    ]
    assert find_reusable_request(candidates, report, NOW).job_id == "new"
    assert find_reusable_request([], report, NOW) is None


@pytest.mark.parametrize(
    ("candidate", "why"),
    [
        (_listed("x", 61, payload={"excludeColumns": ["Shelf Name"]}), "older than the hour"),
        (_listed("x", 5, state="ERROR", payload={"excludeColumns": ["Shelf Name"]}), "failed"),
        (_listed("x", 5, payload={"excludeColumns": ["Average Rating"]}), "different body"),
        (_listed("x", 5, payload={}), "empty payload vs a body"),
        (_listed("x", 5, version="v3", payload={"excludeColumns": ["Shelf Name"]}), "different version"),
        (_listed("x", 5, report_type="INVENTORY", payload={"excludeColumns": ["Shelf Name"]}), "different type"),
        (
            ReportStatus("x", ReportState.PENDING, "RECEIVED", details={"reportType": "ITEM", "reportVersion": "v4",
                                                                       "payload": {"excludeColumns": ["Shelf Name"]}}),
            "no submission date",
        ),
    ],
)
def test_does_not_reuse(candidate, why) -> None:
    report = _build("ITEM", "v4", {"excludeColumns": ["Shelf Name"]})
    assert find_reusable_request([candidate], report, NOW) is None, why


def test_missing_or_empty_payload_matches_an_empty_body() -> None:
    report = _build("INVENTORY", "v1")
    assert find_reusable_request([_listed("a", 5, report_type="INVENTORY", version="v1")], report, NOW).job_id == "a"
    assert find_reusable_request([_listed("b", 5, report_type="INVENTORY", version="v1", payload={})], report, NOW).job_id == "b"
    assert find_reusable_request(
        [_listed("c", 5, report_type="INVENTORY", version="v1", payload={"rowFilters": []})], report, NOW
    ).job_id == "c"
    assert find_reusable_request(
        [_listed("d", 5, report_type="INVENTORY", version="v1", payload={"excludeColumns": ["x"]})], report, NOW
    ) is None


def test_windowed_requests_match_only_the_same_window() -> None:
    body = _ip3("2026-11-01T00:00:00Z", "2026-11-15T23:59:59Z")
    report = _build("ITEM_PERFORMANCE", "v3", body)
    echoed = {"dataStartTime": "2026-11-01T00:00:00.000Z", "dataEndTime": "2026-11-15T23:59:59Z", "dateGranularity": "daily"}
    same = _listed("same", 10, report_type="ITEM_PERFORMANCE", version="v3", payload=echoed)
    other = _listed("other", 5, report_type="ITEM_PERFORMANCE", version="v3",
                    payload=_ip3("2026-10-17T00:00:00Z", "2026-10-31T23:59:59Z"))
    undated = _listed("undated", 3, report_type="ITEM_PERFORMANCE", version="v3", payload={})
    assert find_reusable_request([same, other, undated], report, NOW).job_id == "same"


def test_payload_comparison_is_canonical() -> None:
    ours = _build("ITEM", "v4", {
        "rowFilters": [
            {"type": "enumFilter", "columnName": "Publish Status", "values": ["PUBLISHED"]},
            {"type": "rangeFilter", "columnName": "Price", "from": "10", "to": "100"},
        ],
        "excludeColumns": ["Shelf Name", "Average Rating"],
    })
    echoed = {
        "excludeColumns": ["Average Rating", "Shelf Name"],
        "rowFilters": [
            {"columnName": "Price", "rowFilterType": "rangeFilter", "to": "100", "from": "10"},
            {"values": ["PUBLISHED"], "columnName": "Publish Status", "type": "enumFilter"},
        ],
    }
    assert canonical_payload(echoed) == ours.fingerprint()[2]
    assert find_reusable_request([_listed("x", 1, payload=echoed)], ours, NOW).job_id == "x"
    assert canonical_payload(None) == canonical_payload({}) == "{}"


def test_window_and_clock_edges() -> None:
    report = _build("INVENTORY", "v1")
    candidate = _listed("x", 90, report_type="INVENTORY", version="v1")
    assert find_reusable_request([candidate], report, NOW) is None
    assert find_reusable_request([candidate], report, NOW, window_seconds=2 * 3600).job_id == "x"
    assert find_reusable_request([candidate], report, NOW.replace(tzinfo=None), window_seconds=2 * 3600).job_id == "x"
    skewed = _listed("skewed", -1, report_type="INVENTORY", version="v1")  # Walmart's clock a minute ahead
    assert find_reusable_request([skewed], report, NOW).job_id == "skewed"
    raw_date = ReportStatus("raw", ReportState.RUNNING, "INPROGRESS", details={
        "reportType": "INVENTORY", "reportVersion": "v1", "requestSubmissionDate": "2026-11-24T11:30:00Z"})
    assert find_reusable_request([raw_date], report, NOW).job_id == "raw"


# ---------------------------------------------------------------------------------------------- no I/O here


def test_module_is_sans_io() -> None:
    modules = sorted(Path(walmart_module.__file__).parent.glob("*.py"))  # every module of the protocol package
    assert len(modules) > 1
    source = "\n".join(module.read_text(encoding="utf-8") for module in modules)
    for banned in ("import requests", "import aiohttp", "import socket", "from airflow.", "import airflow"):
        assert banned not in source
    assert isinstance(WalmartProtocol().status_request(RID), HttpRequest)
