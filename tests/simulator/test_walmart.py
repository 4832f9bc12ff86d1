"""Walmart on-request reports endpoints of the simulator, over loopback HTTP."""

from __future__ import annotations

import base64
import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_report_provider.simulator import SimulatorConfig, run_simulator
from airflow_report_provider.simulator.testing import (
    criteo_token,
    walmart_headers,
    walmart_token,
)

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture
def sim():
    with run_simulator(SimulatorConfig(walmart_job_seconds=3.0)) as s:
        yield s


@pytest.fixture
def token(sim):
    return walmart_token(sim)


def _errors(resp: requests.Response) -> list[dict]:
    return resp.json()["errors"]


def _code(resp: requests.Response) -> str:
    return _errors(resp)[0]["code"]


def _create(sim, token, report_type="ITEM", report_version="v4", body=None, headers=None, params=None):
    q = {"reportType": report_type, "reportVersion": report_version} if params is None else params
    return requests.post(
        sim.url + "/v3/reports/reportRequests",
        params=q,
        json=body if body is not None else {},
        headers=headers or walmart_headers(token),
    )


def _status(sim, token, request_id):
    return requests.get(sim.url + f"/v3/reports/reportRequests/{request_id}", headers=walmart_headers(token))


def _download_url(sim, token, request_id):
    return requests.get(
        sim.url + "/v3/reports/downloadReport", params={"requestId": request_id}, headers=walmart_headers(token)
    )


def _token_headers(**extra):
    base = {
        "WM_SVC.NAME": "Walmart Marketplace",
        "WM_QOS.CORRELATION_ID": str(uuid.uuid4()),
        "Accept": "application/json",
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def _day(days_ago: int) -> str:
    d = datetime.now(UTC).date() - timedelta(days=days_ago)
    return d.strftime("%Y-%m-%dT00:00:00Z")


# ------------------------------------------------------------------ token


def test_token_json(sim):
    r = requests.post(
        sim.url + "/v3/token",
        data={"grant_type": "client_credentials"},
        auth=("sim-walmart-client", "sim-walmart-secret"),
        headers=_token_headers(),
    )
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and body["access_token"]
    assert sim.stats.tokens_issued["walmart"] == 1


def test_token_xml_without_accept_json(sim):
    r = requests.post(
        sim.url + "/v3/token",
        data={"grant_type": "client_credentials"},
        auth=("sim-walmart-client", "sim-walmart-secret"),
        headers=_token_headers(Accept=None),
    )
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/xml")
    assert "<accessToken>" in r.text and "<expiresIn>900</expiresIn>" in r.text


@pytest.mark.parametrize("missing", ["WM_SVC.NAME", "WM_QOS.CORRELATION_ID"])
def test_token_requires_headers(sim, missing):
    r = requests.post(
        sim.url + "/v3/token",
        data={"grant_type": "client_credentials"},
        auth=("sim-walmart-client", "sim-walmart-secret"),
        headers=_token_headers(**{missing: None}),
    )
    assert r.status_code == 400
    assert _code(r) == "MISSING_REQUEST_HEADER" and _errors(r)[0]["field"] == missing


@pytest.mark.parametrize("auth", [("sim-walmart-client", "wrong"), ("sim-criteo-client", "sim-criteo-secret"), None])
def test_token_bad_credentials(sim, auth):
    r = requests.post(
        sim.url + "/v3/token", data={"grant_type": "client_credentials"}, auth=auth, headers=_token_headers()
    )
    assert r.status_code == 401 and _code(r) == "UNAUTHORIZED"


def test_token_grant_type(sim):
    r = requests.post(
        sim.url + "/v3/token",
        data={"grant_type": "password"},
        auth=("sim-walmart-client", "sim-walmart-secret"),
        headers=_token_headers(),
    )
    assert r.status_code == 400 and _code(r) == "INVALID_REQUEST_PARAM"
    r = requests.post(
        sim.url + "/v3/token", auth=("sim-walmart-client", "sim-walmart-secret"), headers=_token_headers()
    )
    assert r.status_code == 400 and _code(r) == "MISSING_REQUEST_PARAM"


def test_token_detail(sim, token):
    r = requests.get(sim.url + "/v3/token/detail", headers=walmart_headers(token))
    assert r.status_code == 200
    body = r.json()
    assert body["scopes"]["reports"] == "full_access" and body["is_valid"] is True
    assert int(body["expire_at"]) - int(body["issued_at"]) == 900_000
    sim.expire_tokens()
    assert requests.get(sim.url + "/v3/token/detail", headers=walmart_headers(token)).status_code == 401


# ------------------------------------------------------------------ headers and auth


@pytest.mark.parametrize("header", ["WM_SEC.ACCESS_TOKEN", "WM_QOS.CORRELATION_ID", "WM_SVC.NAME", "Accept"])
def test_report_calls_require_headers(sim, token, header):
    headers = walmart_headers(token)
    del headers[header]
    for r in (
        requests.get(sim.url + "/v3/reports/reportRequests", headers=headers),
        requests.get(sim.url + "/v3/reports/reportRequests/x", headers=headers),
        requests.get(sim.url + "/v3/reports/downloadReport?requestId=x", headers=headers),
        _create(sim, token, headers=headers),
    ):
        assert r.status_code == 400, r.text
        assert _code(r) == "MISSING_REQUEST_HEADER" and _errors(r)[0]["field"] == header


def test_accept_must_name_json(sim, token):
    r = requests.get(sim.url + "/v3/reports/reportRequests", headers={**walmart_headers(token), "Accept": "*/*"})
    assert r.status_code == 400 and _errors(r)[0]["field"] == "Accept"


def test_create_requires_json_content_type(sim, token):
    r = requests.post(
        sim.url + "/v3/reports/reportRequests?reportType=ITEM&reportVersion=v4", headers=walmart_headers(token)
    )
    assert r.status_code == 400 and _errors(r)[0]["field"] == "Content-Type"


def test_bad_and_expired_tokens(sim, token):
    for bad in ("nope", criteo_token(sim)):
        r = requests.get(sim.url + "/v3/reports/reportRequests", headers=walmart_headers(bad))
        assert r.status_code == 401 and _code(r) == "UNAUTHORIZED"
    sim.advance_clock(901)
    r = requests.get(sim.url + "/v3/reports/reportRequests", headers=walmart_headers(token))
    assert r.status_code == 401 and _code(r) == "UNAUTHORIZED"


# ------------------------------------------------------------------ lifecycle


def test_create_status_progression(sim, token):
    body = {
        "rowFilters": [{"type": "enumFilter", "columnName": "Publish Status", "values": ["PUBLISHED"]}],
        "excludeColumns": ["Shelf Name"],
    }
    r = _create(sim, token, body=body)
    assert r.status_code == 200
    created = r.json()
    assert created["requestStatus"] == "RECEIVED"
    assert created["reportType"] == "ITEM" and created["reportVersion"] == "v4"
    assert ISO_Z.match(created["requestSubmissionDate"])
    assert created["payload"] == body
    assert uuid.UUID(created["requestId"])
    rid = created["requestId"]

    assert _status(sim, token, rid).json()["requestStatus"] == "RECEIVED"
    sim.advance_clock(1.1)
    assert _status(sim, token, rid).json()["requestStatus"] == "INPROGRESS"
    r = _download_url(sim, token, rid)
    assert r.status_code == 200 and r.json()["requestStatus"] == "INPROGRESS" and "downloadURL" not in r.json()
    sim.advance_clock(2)
    status = _status(sim, token, rid).json()
    assert status["requestStatus"] == "READY" and ISO_Z.match(status["reportGenerationDate"])
    assert sim.walmart_requests[rid].first_reported_done_at is not None

    r = _download_url(sim, token, rid)
    assert r.status_code == 200
    body = r.json()
    assert body["requestStatus"] == "READY" and body["requestId"] == rid
    url = urlsplit(body["downloadURL"])
    assert url.path.startswith("/blob/ItemReport_") and url.path.endswith(".zip")
    q = parse_qs(url.query)
    expiry = datetime.fromtimestamp(int(q["se"][0]), UTC)
    assert body["downloadURLExpirationTime"] == expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert 299 <= int(q["se"][0]) - sim.clock.now() <= 300
    header, *rows = csv.reader(io.StringIO(sim.walmart_report_csv(rid).decode("utf-8-sig")))
    assert "Shelf Name" not in header and "SKU" in header
    assert len(rows) == 50 and all(row[header.index("Publish Status")] == "PUBLISHED" for row in rows)


def test_error_outcome(sim, token):
    sim.config.walmart_job_seconds = 0
    sim.config.walmart_job_outcome = "ERROR"
    rid = _create(sim, token).json()["requestId"]
    assert _status(sim, token, rid).json()["requestStatus"] == "ERROR"
    r = _download_url(sim, token, rid)
    assert r.status_code == 200 and r.json()["requestStatus"] == "ERROR" and "downloadURL" not in r.json()


def test_unknown_foreign_and_old_requests_are_404(sim, token):
    sim.config.walmart_job_seconds = 0
    assert _code(_status(sim, token, "nope")) == "CONTENT_NOT_FOUND"
    assert _download_url(sim, token, "nope").status_code == 404
    rid = _create(sim, token).json()["requestId"]
    sim.config.extra_credentials["other"] = "x"
    other = walmart_token(sim, "other", "x")
    assert _status(sim, other, rid).status_code == 404
    sim.advance_clock(30 * 86400 + 1)
    token = walmart_token(sim)
    assert _status(sim, token, rid).status_code == 404
    assert _download_url(sim, token, rid).status_code == 404
    assert (
        requests.get(sim.url + "/v3/reports/reportRequests", headers=walmart_headers(token)).json()["totalCount"] == 0
    )


def test_download_url_requires_request_id(sim, token):
    r = requests.get(sim.url + "/v3/reports/downloadReport", headers=walmart_headers(token))
    assert r.status_code == 400 and _code(r) == "MISSING_REQUEST_PARAM" and _errors(r)[0]["field"] == "requestId"


# ------------------------------------------------------------------ create validation


@pytest.mark.parametrize(
    "params, code, field",
    [
        ({"reportVersion": "v4"}, "MISSING_REQUEST_PARAM", "reportType"),
        ({"reportType": "ITEM"}, "MISSING_REQUEST_PARAM", "reportVersion"),
        ({"reportType": "item", "reportVersion": "v4"}, "INVALID_REQUEST_PARAM", "reportType"),
        ({"reportType": "ITEM", "reportVersion": "4"}, "INVALID_REQUEST_PARAM", "reportVersion"),
    ],
)
def test_create_query_params(sim, token, params, code, field):
    r = _create(sim, token, params=params)
    assert r.status_code == 400 and _code(r) == code and _errors(r)[0]["field"] == field


def test_create_body_must_be_json_object(sim, token):
    headers = {**walmart_headers(token), "Content-Type": "application/json"}
    for raw in (b"{oops", b"[1]"):
        r = requests.post(
            sim.url + "/v3/reports/reportRequests?reportType=ITEM&reportVersion=v4", data=raw, headers=headers
        )
        assert r.status_code == 400 and _code(r) == "INVALID_REQUEST_CONTENT"
    r = _create(sim, token, body={"rowFilters": [{"columnName": "Price"}]})
    assert r.status_code == 400 and _errors(r)[0]["field"] == "rowFilters"


class Day(int):
    """Days before today, turned into a date when the test runs (not when it is collected: a run may cross midnight)."""


WINDOW_CASES = [
    ({"dataEndTime": Day(2), "dateGranularity": "DAILY"}, "dataStartTime"),
    ({"dataStartTime": Day(3), "dateGranularity": "DAILY"}, "dataEndTime"),
    ({"dataStartTime": Day(3), "dataEndTime": Day(2)}, "dateGranularity"),
    ({"dataStartTime": Day(3), "dataEndTime": Day(2), "dateGranularity": "HOURLY"}, "dateGranularity"),
    ({"dataStartTime": "2026/01/01", "dataEndTime": Day(2), "dateGranularity": "DAILY"}, "dataStartTime"),
    ({"dataStartTime": Day(2), "dataEndTime": Day(3), "dateGranularity": "DAILY"}, "dataStartTime"),
    ({"dataStartTime": Day(17), "dataEndTime": Day(2), "dateGranularity": "DAILY"}, "dataEndTime"),
    ({"dataStartTime": Day(60), "dataEndTime": Day(2), "dateGranularity": "WEEKLY"}, "dataEndTime"),
    ({"dataStartTime": Day(500), "dataEndTime": Day(2), "dateGranularity": "MONTHLY"}, "dataEndTime"),
    ({"dataStartTime": Day(500), "dataEndTime": Day(2), "dateGranularity": "QUARTERLY"}, "dataEndTime"),
    ({"dataStartTime": Day(800), "dataEndTime": Day(790), "dateGranularity": "DAILY"}, "dataStartTime"),
    ({"dataStartTime": Day(1), "dataEndTime": Day(-1), "dateGranularity": "DAILY"}, "dataEndTime"),
]


@pytest.mark.parametrize("body, field", WINDOW_CASES)
def test_item_performance_v3_window_rules(sim, token, body, field):
    body = {key: _day(value) if isinstance(value, Day) else value for key, value in body.items()}
    r = _create(sim, token, "ITEM_PERFORMANCE", "v3", body=body)
    assert r.status_code == 400, r.text
    assert _code(r) == "INVALID_REQUEST_CONTENT" and _errors(r)[0]["field"] == field


@pytest.mark.parametrize(
    "start, end, granularity",
    [
        (_day(16), _day(2), "DAILY"),
        (_day(50), _day(2), "WEEKLY"),
        (_day(380), _day(2), "MONTHLY"),
        (_day(250), _day(2), "QUARTERLY"),
    ],
)
def test_item_performance_v3_valid_windows(sim, token, start, end, granularity):
    sim.config.walmart_create_limit_per_hour = 0
    end = end.replace("T00:00:00Z", "T23:59:59Z")
    body = {"dataStartTime": start, "dataEndTime": end, "dateGranularity": granularity}
    r = _create(sim, token, "ITEM_PERFORMANCE", "v3", body=body)
    assert r.status_code == 200, r.text
    sim.config.walmart_job_seconds = 0
    csv_text = sim.walmart_report_csv(r.json()["requestId"]).decode("utf-8-sig")
    assert csv_text.startswith("Date,SKU,")


# ------------------------------------------------------------------ one per hour


def test_one_request_per_report_type_per_hour(sim, token):
    first = _create(sim, token, "ITEM", "v4")
    assert first.status_code == 200 and first.headers["X-Current-Token-Count"] == "0"
    r = _create(sim, token, "ITEM", "v3")
    assert r.status_code == 429 and _code(r) == "REQUEST_THRESHOLD_VIOLATED"
    assert r.headers["X-Current-Token-Count"] == "0"
    next_ms = int(r.headers["X-Next-Replenishment-Time"])
    assert abs(next_ms / 1000 - (sim.clock.now() + 3600)) < 5
    assert sim.stats.throttled["walmart.create"] == 1
    assert _create(sim, token, "INVENTORY", "v1").status_code == 200
    sim.config.extra_credentials["other"] = "x"
    assert _create(sim, walmart_token(sim, "other", "x"), "ITEM", "v4").status_code == 200
    sim.advance_clock(3599)
    token = walmart_token(sim)
    assert _create(sim, token, "ITEM", "v4").status_code == 429
    sim.advance_clock(2)
    assert _create(sim, token, "ITEM", "v4").status_code == 200
    sim.config.walmart_create_limit_per_hour = 0
    assert _create(sim, token, "ITEM", "v4").status_code == 200


# ------------------------------------------------------------------ list


def test_list_pages_with_next_cursor(sim, token):
    sim.config.walmart_create_limit_per_hour = None
    sim.config.walmart_job_seconds = 0
    created = []
    for _ in range(23):
        created.append(_create(sim, token).json()["requestId"])
        sim.advance_clock(1)
    _create(sim, token, "INVENTORY", "v1")
    seen, pages, query = [], 0, "reportType=ITEM"
    while query is not None:
        r = requests.get(sim.url + "/v3/reports/reportRequests?" + query, headers=walmart_headers(token))
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        assert body["page"] == pages and body["limit"] == 10 and body["totalCount"] == 23
        seen += [item["requestId"] for item in body["requests"]]
        query = body.get("nextCursor")
        if query:
            assert "reportType=ITEM" in query and f"page={pages + 1}" in query
    assert pages == 3
    assert seen == list(reversed(created))  # newest first
    everything = requests.get(sim.url + "/v3/reports/reportRequests?limit=100", headers=walmart_headers(token)).json()
    assert everything["totalCount"] == 24 and "nextCursor" not in everything


def test_list_filters(sim, token):
    sim.config.walmart_create_limit_per_hour = None
    ready = _create(sim, token).json()
    sim.advance_clock(10)
    fresh = _create(sim, token).json()
    url = sim.url + "/v3/reports/reportRequests"

    def ids(**params):
        r = requests.get(url, params=params, headers=walmart_headers(token))
        assert r.status_code == 200, r.text
        return [item["requestId"] for item in r.json()["requests"]]

    assert ids(requestStatus="READY") == [ready["requestId"]]
    assert ids(requestStatus="RECEIVED") == [fresh["requestId"]]
    assert ids(reportType="ITEM", reportVersion="v3") == []
    assert ids(requestId=fresh["requestId"]) == [fresh["requestId"]]
    when = ready["requestSubmissionDate"]
    assert ids(requestSubmissionStartDate=when, requestSubmissionEndDate=when) == [ready["requestId"]]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"requestStatus": "DONE"}, "requestStatus"),
        ({"requestSubmissionStartDate": "2026-01-01T00:00:00Z"}, "requestSubmissionEndDate"),
        (
            {"requestSubmissionStartDate": "yesterday", "requestSubmissionEndDate": "today"},
            "requestSubmissionStartDate",
        ),
        ({"requestSubmissionStartDate": _day(40), "requestSubmissionEndDate": _day(0)}, "requestSubmissionStartDate"),
        ({"page": "0"}, "page"),
        ({"limit": "x"}, "limit"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_list_invalid_params(sim, token, params, field):
    r = requests.get(sim.url + "/v3/reports/reportRequests", params=params, headers=walmart_headers(token))
    assert r.status_code == 400 and _code(r) == "INVALID_REQUEST_PARAM" and _errors(r)[0]["field"] == field


# ------------------------------------------------------------------ envelopes and limits


@pytest.mark.parametrize(
    "envelope, extract",
    [
        ("errors", lambda b: b["errors"]),
        ("error", lambda b: b["error"]),
        ("errors.error", lambda b: b["errors"]["error"]),
    ],
)
def test_error_envelope_variants(sim, token, envelope, extract):
    sim.config.walmart_error_envelope = envelope
    r = _status(sim, token, "nope")
    (err,) = extract(r.json())
    assert err["code"] == "CONTENT_NOT_FOUND"
    assert set(err) == {"code", "field", "description", "info", "severity", "category", "causes", "errorIdentifiers"}


def test_status_rate_limit(sim, token):
    sim.config.walmart_status_rate_limit_per_minute = 2
    sim.advance_clock(61 - sim.clock.now() % 60)
    token = walmart_token(sim)
    rid = _create(sim, token).json()["requestId"]
    first = _status(sim, token, rid)
    assert first.status_code == 200 and first.headers["X-Current-Token-Count"] == "1"
    assert _status(sim, token, rid).status_code == 200
    r = _status(sim, token, rid)
    assert r.status_code == 429 and _code(r) == "REQUEST_THRESHOLD_VIOLATED"
    assert int(r.headers["X-Next-Replenishment-Time"]) > sim.clock.now() * 1000
    assert requests.get(sim.url + "/v3/reports/reportRequests", headers=walmart_headers(token)).status_code == 200
    sim.advance_clock(60)
    assert _status(sim, token, rid).status_code == 200


def test_basic_auth_header_is_parsed_strictly(sim):
    bad = base64.b64encode(b"sim-walmart-client").decode()
    r = requests.post(
        sim.url + "/v3/token",
        data={"grant_type": "client_credentials"},
        headers={**_token_headers(), "Authorization": f"Basic {bad}"},
    )
    assert r.status_code == 401
