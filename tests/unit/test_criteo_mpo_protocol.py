"""Unit tests of the Criteo MPO sans-IO protocol: validation, request building, answer parsing, error mapping.

Requests and answer fixtures are checked against Criteo's own OpenAPI document (the MPO real-time subset shipped
with the simulator) so the protocol cannot drift from the contract. No network.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from airflow_report_provider.apis import criteo_mpo
from airflow_report_provider.apis.criteo_mpo import (
    CRITEO_DEFAULT_API_VERSION,
    CRITEO_DEFAULT_HOST,
    DIMENSIONS,
    METRICS,
    CriteoMpoProtocol,
    CriteoReportRequest,
    validate_report_id,
)
from airflow_report_provider.common.exceptions import (
    ApiError,
    AuthenticationError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    ReportExpiredError,
    ReportNotFoundError,
    ReportValidationError,
    ServerError,
    TokenExpiredError,
)
from airflow_report_provider.common.http.messages import Headers, HttpRequest, HttpResponse
from airflow_report_provider.common.http.protocol import AccessToken, ApiProtocol, Credentials
from airflow_report_provider.common.states import ReportState

SPEC_PATH = (
    Path(__file__).resolve().parents[2]
    / "airflow_report_provider"
    / "simulator"
    / "openapi"
    / "criteo-mpo-realtime-preview.json"
)
SPEC = json.loads(SPEC_PATH.read_text())
_REGISTRY = Registry().with_resource("urn:criteo-mpo", Resource.from_contents(SPEC, default_specification=DRAFT4))
BASE = f"{CRITEO_DEFAULT_HOST}/preview/marketing-solutions/marketplace-performance-outcomes/stats"
SECRET = "s3cr3t-client-secret"
TOKEN = "tok-abcdef-123456"
EXPORT_ID = "e0893b6b-be25-477f-9ca3-e6e8c8ec9e30"


def schema_errors(name: str, instance: Any, *, read: bool = False) -> list[str]:
    """Messages of every violation of ``#/components/schemas/<name>`` ($refs resolved from the spec file)."""
    validator_class = OAS30ReadValidator if read else OAS30WriteValidator
    validator = validator_class(
        {"$ref": f"urn:criteo-mpo#/components/schemas/{name}"}, registry=_REGISTRY, format_checker=oas30_format_checker
    )
    return [error.message for error in validator.iter_errors(instance)]


@dataclasses.dataclass
class _OpenApiRequest:
    """An :class:`HttpRequest` seen through openapi-core's request protocol."""

    request: HttpRequest

    def __post_init__(self) -> None:
        parts = urlsplit(self.request.url)
        self.host_url = f"{parts.scheme}://{parts.netloc}"
        self.path = parts.path
        self.full_url_pattern = self.request.url
        self.method = self.request.method.lower()
        self.body = None if self.request.json is None else json.dumps(self.request.json).encode()
        self.content_type = Headers(self.request.headers).get("content-type", "application/json")
        self.parameters = RequestParameters(header=dict(self.request.headers))


# openapi-core does not check OAuth 2 security schemes; it warns about it on each request.
pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_dict(SPEC)


@pytest.fixture
def protocol() -> CriteoMpoProtocol:
    return CriteoMpoProtocol()


def response(status: int, body: Any = b"", headers: dict[str, str] | None = None) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status=status, headers=Headers(headers or {}), body=raw)


def problem(code: str | None, title: str = "Title", detail: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"code": code, "title": title, "detail": detail, "type": "validation", **extra}


def job_answer(status: str | None = "Pending", message: str | None = None, export_id: str | None = EXPORT_ID) -> dict:
    return {
        "data": {
            "type": "RealTimeProductReportJob",
            "attributes": {"exportId": export_id, "status": status, "message": message},
        },
        "warnings": [],
        "errors": [],
    }


def build(**overrides: Any) -> CriteoReportRequest:
    kwargs: dict[str, Any] = {"advertiser_ids": ["123"], "lookback_window": 60}
    kwargs.update(overrides)
    return CriteoReportRequest.build(**kwargs)


# ----------------------------------------------------------------------------------------------------------------
# The module stays sans-IO
# ----------------------------------------------------------------------------------------------------------------


def test_module_imports_no_io_or_airflow() -> None:
    modules = sorted(Path(criteo_mpo.__file__).parent.glob("*.py"))  # every module of the protocol package
    assert len(modules) > 1
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for module in modules
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    forbidden = ("requests", "aiohttp", "airflow.", "socket", "http.client", "urllib.request")
    assert not [name for name in imported if name.startswith(forbidden) or name == "airflow"]


def test_enums_match_the_spec() -> None:
    attributes = SPEC["components"]["schemas"]["RealTimeProductReportJob"]["properties"]
    assert tuple(attributes["dimensions"]["items"]["enum"]) == DIMENSIONS
    assert tuple(attributes["metrics"]["items"]["enum"]) == METRICS
    assert set(criteo_mpo.FILE_FORMATS.values()) == set(attributes["fileFormat"]["enum"])
    statuses = SPEC["components"]["schemas"]["RealTimeProductReportJobStatus"]["properties"]["status"]["enum"]
    assert {status.lower() for status in statuses} == set(criteo_mpo.STATES)


# ----------------------------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)

INVALID = [
    # (overrides, field, words of the rule)
    ({"advertiser_ids": None}, "advertiser_ids", "required"),
    ({"advertiser_ids": []}, "advertiser_ids", "required"),
    ({"advertiser_ids": "123"}, "advertiser_ids", "not a string"),
    ({"advertiser_ids": "['1', '2']"}, "advertiser_ids", "not a string"),
    ({"advertiser_ids": ["1,2"]}, "advertiser_ids", "one id per list item"),
    ({"advertiser_ids": ["12 3"]}, "advertiser_ids", "spaces"),
    ({"advertiser_ids": [""]}, "advertiser_ids", "non-empty"),
    ({"advertiser_ids": [None]}, "advertiser_ids", "non-empty"),
    ({"advertiser_ids": [True]}, "advertiser_ids", "non-empty"),
    ({"advertiser_ids": 123}, "advertiser_ids", "must be a list"),
    ({"campaign_ids": "42"}, "campaign_ids", "not a string"),
    ({"campaign_ids": ["4/2"]}, "campaign_ids", "slashes"),
    ({"seller_ids": ["a b"]}, "seller_ids", "spaces"),
    ({"seller_ids": [1.5]}, "seller_ids", "non-empty strings or integers"),
    ({"partner_ids": "7"}, "partner_ids", "not a string"),
    ({"dimensions": ["Impressions"]}, "dimensions", "unknown dimension"),
    ({"dimensions": "Day"}, "dimensions", "not a string"),
    ({"dimensions": ["ProductId", "hour"]}, "dimensions", "at most one of ProductId, Hour, Minute"),
    ({"dimensions": ["minute", "Hour"]}, "dimensions", "at most one of"),
    ({"dimensions": ["productId", "Minute", "day"]}, "dimensions", "at most one of"),
    ({"metrics": ["Impressions"]}, "metrics", "unknown metric"),
    ({"metrics": ["Day"]}, "metrics", "unknown metric"),
    ({"file_format": "xml"}, "file_format", "'csv' or 'json'"),
    ({"file_format": "parquet"}, "file_format", "'csv' or 'json'"),
    ({"file_format": ""}, "file_format", "'csv' or 'json'"),
    ({"file_format": None}, "file_format", "'csv' or 'json'"),
    ({"file_format": 1}, "file_format", "'csv' or 'json'"),
    ({"lookback_window": 59}, "lookback_window", "between 60 and 1440"),
    ({"lookback_window": 1441}, "lookback_window", "between 60 and 1440"),
    ({"lookback_window": 0}, "lookback_window", "between 60 and 1440"),
    ({"lookback_window": "abc"}, "lookback_window", "integer"),
    ({"lookback_window": 60.5}, "lookback_window", "whole number"),
    ({"lookback_window": True}, "lookback_window", "integer"),
    ({"lookback_window": None}, "lookback_window", "exactly one of"),
    ({"lookback_window": ""}, "lookback_window", "exactly one of"),
    ({"report_start": NOW}, "lookback_window", "cannot be combined"),
    ({"report_end": NOW}, "lookback_window", "cannot be combined"),
    ({"lookback_window": None, "report_end": NOW}, "report_end", "requires report_start"),
    ({"lookback_window": None, "report_start": NOW, "report_end": NOW}, "report_end", "after report_start"),
    (
        {"lookback_window": None, "report_start": NOW, "report_end": NOW - timedelta(hours=1)},
        "report_end",
        "after report_start",
    ),
    (
        {"lookback_window": None, "report_start": "2026-11-24T01:00:00+01:00", "report_end": "2026-11-24T00:00:00Z"},
        "report_end",
        "after report_start",
    ),
    ({"lookback_window": None, "report_start": "yesterday"}, "report_start", "ISO-8601"),
    ({"lookback_window": None, "report_start": "24/11/2026"}, "report_start", "ISO-8601"),
    ({"lookback_window": None, "report_start": 1764000000}, "report_start", "ISO-8601"),
    ({"lookback_window": None, "report_start": NOW, "report_end": "soon"}, "report_end", "ISO-8601"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone", "IANA"),
    ({"timezone": "CEST"}, "timezone", "IANA"),
    ({"timezone": 5}, "timezone", "IANA"),
    ({"currency": "EURO"}, "currency", "ISO 4217"),
    ({"currency": 978}, "currency", "ISO 4217"),
]


@pytest.mark.parametrize(("overrides", "field", "rule"), INVALID, ids=[f"{c[1]}-{i}" for i, c in enumerate(INVALID)])
def test_invalid_arguments_name_the_field(overrides: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(ReportValidationError) as caught:
        build(**overrides)
    error = caught.value
    assert error.field == field
    assert field in str(error)
    assert rule in str(error)
    assert error.retryable is False


def test_required_advertisers_reported_before_the_window() -> None:
    with pytest.raises(ReportValidationError) as caught:
        CriteoReportRequest.build(advertiser_ids=None)
    assert caught.value.field == "advertiser_ids"


def test_direct_construction_validates_too() -> None:
    with pytest.raises(ReportValidationError, match="file_format"):
        CriteoReportRequest(advertiser_ids=("1",), lookback_window=60, file_format="xml")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            ["advertiserId", "campaignId", "sellerId", "productId", "day"],
            ("AdvertiserId", "CampaignId", "SellerId", "ProductId", "Day"),
        ),
        (["AdvertiserId", "Hour"], ("AdvertiserId", "Hour")),
        (["advertiser_id", "SELLERNAME", "partnerid", "minute"], ("AdvertiserId", "SellerName", "PartnerId", "Minute")),
        (["year", "month", "week", "Day", "day"], ("Year", "Month", "Week", "Day")),
        (("sellerName",), ("SellerName",)),
        ([], ()),
        (None, ()),
    ],
)
def test_dimensions_are_normalised(given: Any, expected: tuple[str, ...]) -> None:
    assert build(dimensions=given).dimensions == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["clicks", "displays", "cost"], METRICS),
        (["Cost", "COST", "Clicks"], ("Cost", "Clicks")),
        (None, ()),
    ],
)
def test_metrics_are_normalised(given: Any, expected: tuple[str, ...]) -> None:
    assert build(metrics=given).metrics == expected


@pytest.mark.parametrize(
    ("given", "internal", "sent", "content_type"),
    [
        ("csv", "csv", "Csv", "text/csv"),
        ("CSV", "csv", "Csv", "text/csv"),
        ("Csv", "csv", "Csv", "text/csv"),
        (" json ", "json", "Json", "application/json"),
        ("JSON", "json", "Json", "application/json"),
        ("Json", "json", "Json", "application/json"),
    ],
)
def test_file_format_accepts_both_spellings_and_sends_the_spec_one(
    given: str, internal: str, sent: str, content_type: str
) -> None:
    report = build(file_format=given)
    assert report.file_format == internal
    assert report.file_extension == internal
    assert report.content_type == content_type
    assert report.attributes()["fileFormat"] == sent


def test_ids_are_strings_stripped_and_deduplicated() -> None:
    report = build(advertiser_ids=[123, " 456 ", "123"], campaign_ids=(7, 8), seller_ids={"s-1"}, partner_ids=["9"])
    assert report.advertiser_ids == ("123", "456")
    assert report.campaign_ids == ("7", "8")
    assert report.seller_ids == ("s-1",)
    assert report.partner_ids == ("9",)


@pytest.mark.parametrize(("given", "expected"), [(60, 60), ("120", 120), (" 1440 ", 1440), (90.0, 90)])
def test_lookback_window_accepts_numeric_strings(given: Any, expected: int) -> None:
    assert build(lookback_window=given).lookback_window == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-11-24T00:00:00Z", datetime(2026, 11, 24, tzinfo=timezone.utc)),
        ("2026-11-24T02:00:00+02:00", datetime(2026, 11, 24, tzinfo=timezone.utc)),
        ("2026-11-24T00:00:00", datetime(2026, 11, 24, tzinfo=timezone.utc)),
        ("2026-11-24", datetime(2026, 11, 24, tzinfo=timezone.utc)),
        (
            datetime(2026, 11, 24, 1, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=1))),
            datetime(2026, 11, 24, tzinfo=timezone.utc),
        ),
        (datetime(2026, 11, 24), datetime(2026, 11, 24, tzinfo=timezone.utc)),
    ],
)
def test_report_start_becomes_aware_utc_whole_seconds(given: Any, expected: datetime) -> None:
    report = build(lookback_window=None, report_start=given)
    assert report.start_date == expected
    assert report.start_date.tzinfo is not None
    assert report.end_date is None


def test_absolute_window_with_end() -> None:
    report = build(lookback_window=None, report_start="2026-11-24T00:00:00Z", report_end="2026-11-24T01:00:00Z")
    assert (report.end_date - report.start_date) == timedelta(hours=1)
    assert report.lookback_window is None


def test_future_end_is_allowed() -> None:
    future = datetime.now(timezone.utc) + timedelta(days=1)
    assert build(lookback_window=None, report_start=future - timedelta(hours=1), report_end=future).end_date is not None


@pytest.mark.parametrize(
    ("given", "expected"), [(None, None), ("", None), ("UTC", "UTC"), (" Europe/Paris ", "Europe/Paris")]
)
def test_timezone(given: Any, expected: str | None) -> None:
    assert build(timezone=given).timezone == expected


@pytest.mark.parametrize(("given", "expected"), [(None, None), ("", None), ("eur", "EUR"), ("USD", "USD")])
def test_currency(given: Any, expected: str | None) -> None:
    assert build(currency=given).currency == expected


def test_request_is_frozen_and_comparable() -> None:
    report = build(dimensions=["day"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.file_format = "json"  # type: ignore[misc]
    assert report == build(dimensions=["Day"])
    assert hash(report) == hash(build(dimensions=["Day"]))
    assert report == CriteoReportRequest(advertiser_ids=["123"], lookback_window="60", dimensions=["DAY"])


# ----------------------------------------------------------------------------------------------------------------
# Body
# ----------------------------------------------------------------------------------------------------------------


def test_full_body() -> None:
    report = CriteoReportRequest.build(
        advertiser_ids=["123", 456],
        campaign_ids=["c1"],
        seller_ids=["s1", "s2"],
        partner_ids=["p1"],
        dimensions=["advertiserId", "campaignId", "sellerId", "hour"],
        metrics=["clicks", "cost"],
        file_format="json",
        report_start="2026-11-24T00:00:00.123Z",
        report_end=datetime(2026, 11, 24, 2, 0, tzinfo=timezone(timedelta(hours=1))),
        timezone="Europe/Paris",
        currency="eur",
    )
    assert report.body() == {
        "data": {
            "type": "RealTimeProductReportJob",
            "attributes": {
                "advertiserIds": ["123", "456"],
                "campaignIds": ["c1"],
                "sellerIds": ["s1", "s2"],
                "partnerIds": ["p1"],
                "dimensions": ["AdvertiserId", "CampaignId", "SellerId", "Hour"],
                "metrics": ["Clicks", "Cost"],
                "fileFormat": "Json",
                "startDate": "2026-11-24T00:00:00Z",
                "endDate": "2026-11-24T01:00:00Z",
                "timezone": "Europe/Paris",
                "currency": "EUR",
            },
        }
    }


def test_minimal_body_omits_unset_fields() -> None:
    assert build().attributes() == {"advertiserIds": ["123"], "fileFormat": "Csv", "lookbackWindow": 60}
    start_only = build(lookback_window=None, report_start="2026-11-24T00:00:00Z").attributes()
    assert start_only == {"advertiserIds": ["123"], "fileFormat": "Csv", "startDate": "2026-11-24T00:00:00Z"}


BODIES = {
    "lookback": {},
    "start-only": {"lookback_window": None, "report_start": "2026-11-24T00:00:00Z"},
    "window-json": {
        "lookback_window": None,
        "report_start": NOW - timedelta(hours=1),
        "report_end": NOW,
        "file_format": "JSON",
        "timezone": "America/New_York",
    },
    "everything": {
        "advertiser_ids": [1, 2],
        "campaign_ids": [3],
        "seller_ids": ["4"],
        "partner_ids": [5],
        "dimensions": [*DIMENSIONS[:4], "sellerName", "year", "month", "week", "day", "minute"],
        "metrics": ["clicks", "displays", "cost"],
        "lookback_window": "1440",
        "currency": "usd",
    },
}


@pytest.mark.parametrize("overrides", BODIES.values(), ids=list(BODIES))
def test_body_matches_the_openapi_schema(
    overrides: dict[str, Any], openapi: OpenAPI, protocol: CriteoMpoProtocol
) -> None:
    report = build(**overrides)
    assert schema_errors("RealTimeProductReportJobRequest", report.body()) == []
    openapi.validate_request(_OpenApiRequest(protocol.authorize(protocol.create_request(report), TOKEN)))


def test_schema_check_catches_the_product_doc_spelling() -> None:
    """Guard for the guard: the lower-case product-doc spelling is not what the spec accepts."""
    body = build().body()
    body["data"]["attributes"]["fileFormat"] = "csv"
    body["data"]["attributes"]["dimensions"] = ["advertiserId"]
    assert len(schema_errors("RealTimeProductReportJobRequest", body)) == 2


def test_fingerprint_is_stable_and_tells_requests_apart() -> None:
    assert (
        build(dimensions=["day", "advertiserId"]).fingerprint()
        == build(dimensions=["Day", "AdvertiserId"]).fingerprint()
    )
    assert build().fingerprint() != build(lookback_window=120).fingerprint()
    assert build().fingerprint() != build(file_format="json").fingerprint()


def test_describe() -> None:
    assert build().describe() == "Criteo MPO csv export for advertiser 123 over the last 60 minutes"
    window = build(
        advertiser_ids=[str(i) for i in range(1, 8)],
        lookback_window=None,
        report_start="2026-11-24T00:00:00Z",
        timezone="Europe/Paris",
        file_format="json",
    ).describe()
    assert window == (
        "Criteo MPO json export for advertisers 1, 2, 3, 4, 5 (+2 more) from 2026-11-24T00:00:00Z to now (Europe/Paris)"
    )
    bounded = build(lookback_window=None, report_start="2026-11-24T00:00:00Z", report_end="2026-11-24T01:00:00Z")
    assert "from 2026-11-24T00:00:00Z to 2026-11-24T01:00:00Z" in bounded.describe()


# ----------------------------------------------------------------------------------------------------------------
# Protocol: construction and URLs
# ----------------------------------------------------------------------------------------------------------------


def test_protocol_defaults(protocol: CriteoMpoProtocol) -> None:
    assert isinstance(protocol, ApiProtocol)
    assert CriteoMpoProtocol.api_name == "criteo_mpo"
    assert CriteoMpoProtocol.default_calls_per_minute == 40
    assert CRITEO_DEFAULT_API_VERSION == "preview"
    assert protocol.base_url == BASE


@pytest.mark.parametrize(
    ("host", "version", "base"),
    [
        ("https://api.criteo.com/", "experimental", "https://api.criteo.com/experimental"),
        ("http://127.0.0.1:8080", "2027-01", "http://127.0.0.1:8080/2027-01"),
        ("api.criteo.com", "Preview", "https://api.criteo.com/preview"),
        ("", "", "https://api.criteo.com/preview"),
    ],
)
def test_host_and_version(host: str, version: str, base: str) -> None:
    protocol = CriteoMpoProtocol(host, version)
    assert protocol.base_url == f"{base}/marketing-solutions/marketplace-performance-outcomes/stats"


@pytest.mark.parametrize("version", ["v1", "2027-13", "2027-1", "latest", "preview/../x", "2024_10"])
def test_invalid_api_version(version: str) -> None:
    with pytest.raises(ReportValidationError) as caught:
        CriteoMpoProtocol(api_version=version)
    assert caught.value.field == "api_version"


def test_create_request(protocol: CriteoMpoProtocol) -> None:
    report = build()
    request = protocol.create_request(report)
    assert (request.method, request.url, request.endpoint) == (
        "POST",
        f"{BASE}/realtime-reports/export",
        "criteo.create",
    )
    assert request.json == report.body()
    assert request.idempotent is False
    assert request.authenticated is True
    assert request.rate_limited is True


def test_status_request(protocol: CriteoMpoProtocol, openapi: OpenAPI) -> None:
    request = protocol.status_request(f" {EXPORT_ID} ")
    assert (request.method, request.url, request.endpoint) == (
        "GET",
        f"{BASE}/report-jobs/{EXPORT_ID}",
        "criteo.status",
    )
    assert request.idempotent is True and request.json is None
    openapi.validate_request(_OpenApiRequest(protocol.authorize(request, TOKEN)))


def test_download_request(protocol: CriteoMpoProtocol, openapi: OpenAPI) -> None:
    request = protocol.download_request(EXPORT_ID)
    assert (request.method, request.url, request.endpoint) == (
        "GET",
        f"{BASE}/realtime-reports/{EXPORT_ID}",
        "criteo.download",
    )
    accept = Headers(request.headers)["accept"]
    assert "text/csv" in accept and "application/json" in accept
    authorized = protocol.authorize(request, TOKEN)
    assert Headers(authorized.headers)["accept"] == accept  # not replaced by the JSON default
    openapi.validate_request(_OpenApiRequest(authorized))


def test_report_id_is_quoted_in_the_path(protocol: CriteoMpoProtocol) -> None:
    assert protocol.status_request("a?b#c").url.endswith("/report-jobs/a%3Fb%23c")


@pytest.mark.parametrize("value", [EXPORT_ID, "42", f"  {EXPORT_ID}\n"])
def test_validate_report_id(value: str) -> None:
    assert validate_report_id(value) == value.strip()


@pytest.mark.parametrize("value", [None, "", "   ", 42, "a/b", "a b", "['x']", ["x"]])
def test_invalid_report_id(value: Any, protocol: CriteoMpoProtocol) -> None:
    for call in (validate_report_id, protocol.status_request, protocol.download_request):
        with pytest.raises(ReportValidationError) as caught:
            call(value)
        assert caught.value.field == "report_id"
        assert "report_id" in str(caught.value)


# ----------------------------------------------------------------------------------------------------------------
# Tokens and headers
# ----------------------------------------------------------------------------------------------------------------


def test_token_request(protocol: CriteoMpoProtocol) -> None:
    credentials = Credentials(host=CRITEO_DEFAULT_HOST, client_id="client-1", client_secret=SECRET)
    request = protocol.token_request(credentials)
    assert (request.method, request.url, request.endpoint) == (
        "POST",
        f"{CRITEO_DEFAULT_HOST}/oauth2/token",
        "criteo.token",
    )
    assert request.form == {"grant_type": "client_credentials", "client_id": "client-1", "client_secret": SECRET}
    assert request.json is None
    assert request.authenticated is False and request.rate_limited is False
    assert Headers(request.headers)["accept"] == "application/json"
    assert SECRET not in repr(credentials)


def test_token_request_uses_the_credential_host() -> None:
    credentials = Credentials(host="http://127.0.0.1:9000/", client_id="c", client_secret=SECRET)
    assert CriteoMpoProtocol().token_request(credentials).url == "http://127.0.0.1:9000/oauth2/token"


@pytest.mark.parametrize(("expires_in", "lifetime"), [(900, 900), ("600", 600), (None, 900), ("soon", 900), (0, 900)])
def test_parse_token(protocol: CriteoMpoProtocol, expires_in: Any, lifetime: float) -> None:
    body = {"access_token": TOKEN, "token_type": "Bearer", "expires_in": expires_in}
    token = protocol.parse_token(response(200, body), now=1_000.0)
    assert isinstance(token, AccessToken)
    assert token.value == TOKEN
    assert token.expires_at == 1_000.0 + lifetime
    assert TOKEN not in repr(token)


def test_parse_token_defaults_now_to_the_clock(protocol: CriteoMpoProtocol) -> None:
    before = time.time()
    token = protocol.parse_token(response(200, {"access_token": TOKEN, "expires_in": 900}))
    assert before + 900 <= token.expires_at <= time.time() + 900


@pytest.mark.parametrize(
    ("answer", "error_class"),
    [
        (response(401, {"errors": [problem("authorization-token-invalid", "Invalid client")]}), AuthenticationError),
        (
            response(400, {"error": "invalid_client", "error_description": "Client authentication failed"}),
            AuthenticationError,
        ),
        (response(401, b""), AuthenticationError),
        (response(503, b"<html>down</html>"), ServerError),
        (response(429, {"errors": [problem("quota", "Too many requests")]}), RateLimitedError),
    ],
)
def test_parse_token_error_answers(protocol: CriteoMpoProtocol, answer: HttpResponse, error_class: type) -> None:
    with pytest.raises(error_class) as caught:
        protocol.parse_token(answer)
    assert caught.value.api == "criteo_mpo"
    assert caught.value.status == answer.status


@pytest.mark.parametrize(
    "body",
    [
        {"token_type": "Bearer", "expires_in": 900, "refresh": TOKEN},
        {"access_token": ""},
        [TOKEN],
        b"not json " + TOKEN.encode(),
    ],
)
def test_parse_token_without_token_never_quotes_the_body(protocol: CriteoMpoProtocol, body: Any) -> None:
    with pytest.raises(ApiError) as caught:
        protocol.parse_token(response(200, body))
    assert "access_token" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_parse_token_refuses_other_token_types(protocol: CriteoMpoProtocol) -> None:
    with pytest.raises(ApiError, match="token type"):
        protocol.parse_token(response(200, {"access_token": TOKEN, "token_type": "MAC"}))


def test_authorize_json_call(protocol: CriteoMpoProtocol) -> None:
    original = HttpRequest(method="POST", url=f"{BASE}/x", endpoint="criteo.x", json={"a": 1})
    authorized = protocol.authorize(original, TOKEN)
    headers = Headers(authorized.headers)
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["accept"] == "application/json"
    assert headers["content-type"] == "application/json"
    assert dict(original.headers) == {}  # the original is left as it was


def test_authorize_get_call_has_no_content_type(protocol: CriteoMpoProtocol) -> None:
    headers = Headers(protocol.authorize(protocol.status_request(EXPORT_ID), TOKEN).headers)
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["accept"] == "application/json"
    assert "content-type" not in headers


def test_authorize_create_keeps_its_headers(protocol: CriteoMpoProtocol) -> None:
    headers = Headers(protocol.authorize(protocol.create_request(build()), TOKEN).headers)
    assert headers["content-type"] == "application/json"
    assert len([name for name in headers if name == "content-type"]) == 1


# ----------------------------------------------------------------------------------------------------------------
# Error mapping
# ----------------------------------------------------------------------------------------------------------------

ERRORS = [
    # (status, code, expected class)
    (401, "authorization-token-expired", TokenExpiredError),
    (401, "authorization-token-invalid", AuthenticationError),
    (401, "some-other-auth-code", AuthenticationError),
    (401, None, AuthenticationError),
    (403, "export-not-found", ReportNotFoundError),
    (403, "export-alreadyexpired", ReportExpiredError),
    (400, "export-alreadyexpired", ReportExpiredError),
    (410, "export-alreadyexpired", ReportExpiredError),
    (403, "insufficient-account-permissions", PermissionDeniedError),
    (403, None, PermissionDeniedError),
    (400, "invalid-query", InvalidRequestError),
    (400, "invalid-lookbackwindow", InvalidRequestError),
    (400, "invalid-time-interval", InvalidRequestError),
    (400, "invalid-dimensioncombination", InvalidRequestError),
    (400, "json-serialization-error", InvalidRequestError),
    (400, "whatever-else", InvalidRequestError),
    (409, "invalid-dimensioncombination", InvalidRequestError),
    (409, "conflict", InvalidRequestError),
    (429, "too-many-requests", RateLimitedError),
    (500, "internal-error", ServerError),
    (502, None, ServerError),
    (503, "unavailable", ServerError),
    (404, None, ApiError),
    (418, "teapot", ApiError),
]


@pytest.mark.parametrize(("status", "code", "error_class"), ERRORS, ids=[f"{s}-{c}" for s, c, _ in ERRORS])
def test_error_mapping(protocol: CriteoMpoProtocol, status: int, code: str | None, error_class: type) -> None:
    body = {"errors": [problem(code, "Invalid query definition", "advertiserIds is required", traceId="trace-1")]}
    error = protocol.error_for(response(status, body))
    assert type(error) is error_class
    assert (error.status, error.code, error.api) == (status, code, "criteo_mpo")
    assert error.description == "Invalid query definition: advertiserIds is required (trace trace-1)"
    assert str(error).startswith(f"[criteo_mpo HTTP {status}")
    if code:
        assert code in str(error)


@pytest.mark.parametrize(
    ("status", "body", "error_class", "message"),
    [
        (
            502,
            b"<html><body>Bad   gateway\n</body></html>",
            ServerError,
            "Bad Gateway: <html><body>Bad gateway </body></html>",
        ),
        (500, b"", ServerError, "Internal Server Error"),
        (401, b"", AuthenticationError, "Unauthorized"),
        (403, b"Forbidden", PermissionDeniedError, "Forbidden: Forbidden"),
        (429, b"slow down", RateLimitedError, "Too Many Requests: slow down"),
        (400, b"{not json", InvalidRequestError, "Bad Request: {not json"),
        (400, {"unexpected": "shape"}, InvalidRequestError, "Bad Request"),
        (599, b"", ServerError, "Unexpected answer"),
    ],
)
def test_error_mapping_of_non_envelope_bodies(
    protocol: CriteoMpoProtocol, status: int, body: Any, error_class: type, message: str
) -> None:
    error = protocol.error_for(response(status, body))
    assert type(error) is error_class
    assert error.description == message
    assert error.code is None


def test_error_message_is_short(protocol: CriteoMpoProtocol) -> None:
    long_detail = "x" * 5000
    error = protocol.error_for(response(400, {"errors": [problem("invalid-query", "Invalid", long_detail)]}))
    assert len(error.description) <= 300
    assert error.description.endswith("...")
    html = protocol.error_for(response(502, b"<p>" + b"y" * 5000))
    assert len(html.description) <= 300


def test_error_never_quotes_headers(protocol: CriteoMpoProtocol) -> None:
    headers = {
        "Set-Cookie": f"session={TOKEN}",
        "WWW-Authenticate": f'Bearer error="{TOKEN}"',
        "x-ratelimit-reset": "5",
    }
    for status in (401, 429, 500):
        error = protocol.error_for(response(status, {"errors": [problem(None, "Nope")]}, headers))
        assert TOKEN not in str(error)
        assert TOKEN not in repr(error.args)


def test_error_code_prefers_a_known_code_among_several(protocol: CriteoMpoProtocol) -> None:
    body = {
        "errors": [
            problem("some-warning-like-code", "First"),
            problem("invalid-lookbackwindow", "Invalid lookback window", "must be within 60-1440"),
            problem("invalid-time-interval", "Invalid time interval definition"),
            problem("fourth", "Fourth"),
        ]
    }
    error = protocol.error_for(response(400, body))
    assert error.code == "invalid-lookbackwindow"
    assert error.description == (
        "First; Invalid lookback window: must be within 60-1440; Invalid time interval definition"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"errors": [{"detail": "only a detail"}]}, "only a detail"),
        ({"errors": [{"title": "Same", "detail": "Same"}]}, "Same"),
        ({"errors": [{"traceIdentifier": "t-9"}]}, "trace t-9"),
        ({"errors": ["not an object", {"title": "Kept"}]}, "Kept"),
        (
            {"type": "https://tools.ietf.org/html/rfc7231", "title": "Problem", "status": 400, "traceId": "t-1"},
            "Problem (trace t-1)",
        ),
    ],
)
def test_error_message_shapes(protocol: CriteoMpoProtocol, body: Any, message: str) -> None:
    assert protocol.error_for(response(400, body)).description == message


def test_error_retryability(protocol: CriteoMpoProtocol) -> None:
    def error(status: int, code: str | None) -> ApiError:
        return protocol.error_for(response(status, {"errors": [problem(code)]}))

    assert error(400, "invalid-query").retryable is False
    assert error(401, "authorization-token-invalid").retryable is False
    assert error(401, "authorization-token-expired").retryable is True
    assert error(403, None).retryable is False
    assert error(429, None).retryable is True
    assert error(500, None).retryable is True


def test_retry_after_from_x_ratelimit_reset(protocol: CriteoMpoProtocol) -> None:
    throttled = response(429, {"errors": [problem("quota", "Too many requests")]}, {"x-ratelimit-reset": "1764000030"})
    assert protocol.retry_after(throttled, now=1_764_000_000.0) == pytest.approx(30.0)
    assert protocol.retry_after(response(429, b"", {"X-RateLimit-Reset": "12"}), now=0.0) == 12.0
    assert protocol.retry_after(response(429, b""), now=0.0) is None


def test_rate_limited_error_carries_retry_after(protocol: CriteoMpoProtocol) -> None:
    reset = int(time.time()) + 30
    error = protocol.error_for(response(429, b"", {"x-ratelimit-reset": str(reset), "x-ratelimit-remaining": "0"}))
    assert isinstance(error, RateLimitedError)
    assert 25.0 <= error.retry_after <= 30.0
    assert protocol.error_for(response(429, b"")).retry_after is None
    assert protocol.error_for(response(400, b"", {"x-ratelimit-reset": "5"})).retry_after is None


# ----------------------------------------------------------------------------------------------------------------
# Job answers
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("Unknown", ReportState.PENDING),
        ("Pending", ReportState.PENDING),
        ("Done", ReportState.SUCCEEDED),
        ("Failure", ReportState.FAILED),
        ("Expired", ReportState.EXPIRED),
        (None, ReportState.PENDING),
    ],
)
def test_parse_job_spec_statuses(protocol: CriteoMpoProtocol, status: str | None, state: ReportState) -> None:
    answer = job_answer(status, "rows_count=1232")
    if status is not None:  # a null enum value is a known looseness of OpenAPI 3.0's ``nullable``
        assert schema_errors("RealTimeProductReportJobStatusResponse", answer, read=True) == []
        assert schema_errors("ExportStatusModelResponse", answer, read=True) == []
    job = protocol.parse_job(response(200, answer))
    assert (job.job_id, job.state, job.raw_status) == (EXPORT_ID, state, status or "Unknown")
    assert job.message == "rows_count=1232"
    assert job.details == {"rows_count": 1232}


@pytest.mark.parametrize(
    ("status", "state"),
    [("DONE", ReportState.SUCCEEDED), ("pending", ReportState.PENDING), ("FAILURE", ReportState.FAILED)],
)
def test_parse_job_status_case_insensitive(protocol: CriteoMpoProtocol, status: str, state: ReportState) -> None:
    assert protocol.parse_job(response(200, job_answer(status))).state is state


@pytest.mark.parametrize("status", ["Running", "Queued", "Cancelled", ""])
def test_parse_job_unknown_status_is_not_terminal(protocol: CriteoMpoProtocol, status: str) -> None:
    job = protocol.parse_job(response(200, job_answer(status)))
    assert job.state is ReportState.PENDING
    assert not job.state.is_terminal


def test_parse_job_with_data_id_only(protocol: CriteoMpoProtocol) -> None:
    answer = {"data": {"id": "job-7", "type": "ExportStatus", "attributes": {"status": "Done"}}}
    job = protocol.parse_job(response(200, answer))
    assert (job.job_id, job.state, job.message, job.details) == ("job-7", ReportState.SUCCEEDED, "", {})


def test_parse_job_prefers_export_id(protocol: CriteoMpoProtocol) -> None:
    answer = job_answer("Pending")
    answer["data"]["id"] = "other"
    assert protocol.parse_job(response(200, answer)).job_id == EXPORT_ID


def test_parse_job_keeps_warnings(protocol: CriteoMpoProtocol) -> None:
    answer = job_answer("Done", "cached")
    answer["warnings"] = [problem("deprecation", "Preview endpoint", "may change", traceId="t-2")]
    assert schema_errors("RealTimeProductReportJobStatusResponse", answer, read=True) == []
    job = protocol.parse_job(response(200, answer))
    assert job.details == {"warnings": ["Preview endpoint: may change (trace t-2)"]}
    json.dumps(job.details)  # serialisable into XCom and trigger events


@pytest.mark.parametrize(
    ("code", "error_class"),
    [("export-alreadyexpired", ReportExpiredError), ("export-not-found", ReportNotFoundError), ("something", ApiError)],
)
def test_parse_job_errors_in_a_200_raise(protocol: CriteoMpoProtocol, code: str, error_class: type) -> None:
    answer = {"data": None, "errors": [problem(code, "Export problem")], "warnings": []}
    assert schema_errors("ExportStatusModelResponse", answer, read=True) == []
    with pytest.raises(error_class) as caught:
        protocol.parse_job(response(200, answer))
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("status", "code", "error_class"),
    [
        (403, "export-not-found", ReportNotFoundError),
        (401, "authorization-token-expired", TokenExpiredError),
        (500, None, ServerError),
    ],
)
def test_parse_job_error_answers_raise(
    protocol: CriteoMpoProtocol, status: int, code: str | None, error_class: type
) -> None:
    with pytest.raises(error_class):
        protocol.parse_job(response(status, {"errors": [problem(code)]}))


@pytest.mark.parametrize(
    "answer",
    [
        job_answer("Pending", export_id=None),
        job_answer("Pending", export_id=""),
        {"data": {"attributes": {}}},
        {"data": None},
        {},
        {"data": {"attributes": {"exportId": 42}}},
    ],
)
def test_parse_job_without_id(protocol: CriteoMpoProtocol, answer: Any) -> None:
    with pytest.raises(ApiError, match="no export id") as caught:
        protocol.parse_job(response(200, answer))
    assert caught.value.api == "criteo_mpo"


@pytest.mark.parametrize("body", [b"", b"<html>ok</html>", b"[1, 2]"])
def test_parse_job_non_object_answer(protocol: CriteoMpoProtocol, body: bytes) -> None:
    with pytest.raises(ApiError, match="not a JSON object"):
        protocol.parse_job(response(200, body))
