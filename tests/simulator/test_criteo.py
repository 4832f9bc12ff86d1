"""Criteo MPO real-time export endpoints of the simulator, over loopback HTTP."""

from __future__ import annotations

import csv
import io
import json

import pytest
import requests

from airflow_report_provider.simulator import SimulatorConfig, run_simulator
from airflow_report_provider.simulator.testing import (
    create_criteo_export,
    criteo_base,
    criteo_export,
    criteo_headers,
    criteo_token,
    walmart_token,
)


@pytest.fixture
def sim():
    with run_simulator(SimulatorConfig(criteo_job_seconds=2.0)) as s:
        yield s


@pytest.fixture
def token(sim):
    return criteo_token(sim)


def _codes(resp: requests.Response) -> list[str]:
    return [e["code"] for e in resp.json()["errors"]]


def _create(sim, token, body, version="preview"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(
        criteo_base(sim, version) + "/realtime-reports/export",
        data=data,
        headers={**criteo_headers(token), "Content-Type": "application/json"},
    )


def _get(sim, token, path, **kw):
    return requests.get(criteo_base(sim) + path, headers=criteo_headers(token), **kw)


# ------------------------------------------------------------------ token


def test_token_happy_path(sim):
    r = requests.post(
        sim.url + "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sim-criteo-client",
            "client_secret": "sim-criteo-secret",
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and len(body["access_token"]) > 20
    assert sim.stats.tokens_issued["criteo"] == 1


@pytest.mark.parametrize(
    "form, status, code",
    [
        (
            {"grant_type": "client_credentials", "client_id": "sim-criteo-client", "client_secret": "nope"},
            401,
            "invalid-client",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "sim-walmart-client",
                "client_secret": "sim-walmart-secret",
            },
            401,
            "invalid-client",
        ),
        (
            {"grant_type": "password", "client_id": "sim-criteo-client", "client_secret": "sim-criteo-secret"},
            400,
            "unsupported-grant-type",
        ),
    ],
)
def test_token_refusals(sim, form, status, code):
    r = requests.post(sim.url + "/oauth2/token", data=form)
    assert r.status_code == status
    assert _codes(r) == [code]


def test_token_requires_form_encoding(sim):
    r = requests.post(
        sim.url + "/oauth2/token",
        json={
            "grant_type": "client_credentials",
            "client_id": "sim-criteo-client",
            "client_secret": "sim-criteo-secret",
        },
    )
    assert r.status_code == 400


def test_extra_credentials_accepted(sim):
    sim.config.extra_credentials["bench-1"] = "s1"
    assert criteo_token(sim, "bench-1", "s1")
    assert walmart_token(sim, "bench-1", "s1")


def test_several_tokens_valid_at_once(sim):
    t1, t2 = criteo_token(sim), criteo_token(sim)
    assert t1 != t2
    for t in (t1, t2):
        assert _create(sim, t, criteo_export()).status_code == 200


# ------------------------------------------------------------------ lifecycle


def test_create_poll_download_csv(sim, token):
    r = _create(sim, token, criteo_export(dimensions=["advertiserId", "campaignId", "day"], metrics=["Clicks", "Cost"]))
    assert r.status_code == 200
    body = r.json()
    assert body["warnings"] == [] and body["errors"] == []
    attrs = body["data"]["attributes"]
    assert body["data"]["type"] == "RealTimeProductReportJob" and "id" not in body["data"]
    assert attrs["status"] == "Pending"
    export_id = attrs["exportId"]

    r = _get(sim, token, f"/report-jobs/{export_id}")
    assert r.status_code == 200 and r.json()["data"]["attributes"]["status"] == "Pending"
    r = _get(sim, token, f"/realtime-reports/{export_id}")
    assert r.status_code == 409 and _codes(r) == ["export-not-ready"]

    sim.advance_clock(2.0)
    r = _get(sim, token, f"/report-jobs/{export_id}")
    attrs = r.json()["data"]["attributes"]
    assert attrs["status"] == "Done" and attrs["message"] == "rows_count=50"

    r = _get(sim, token, f"/realtime-reports/{export_id}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/csv"
    assert int(r.headers["Content-Length"]) == len(r.content)
    assert r.content == sim.criteo_report_bytes(export_id)
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["AdvertiserId", "CampaignId", "Day", "Clicks", "Cost"]
    assert len(rows) == 51 and all(row[0] == "123" for row in rows[1:])


def test_json_download_is_columnar(sim, token):
    sim.config.criteo_job_seconds = 0
    export_id = create_criteo_export(sim, token, fileFormat="Json", dimensions=["ProductId"], metrics=["displays"])
    r = _get(sim, token, f"/realtime-reports/{export_id}")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    doc = r.json()
    assert doc["columns"] == ["ProductId", "Displays"]
    assert doc["rows"] == len(doc["data"]) == 50
    assert all(isinstance(row[0], str) and isinstance(row[1], int) for row in doc["data"])


def test_rows_setting(sim, token):
    sim.config.criteo_job_seconds = 0
    sim.config.criteo_rows = 3
    export_id = create_criteo_export(sim, token)
    assert len(_get(sim, token, f"/realtime-reports/{export_id}").text.splitlines()) == 4


@pytest.mark.parametrize("version", ["preview", "experimental", "2027-01"])
def test_versions(sim, token, version):
    assert _create(sim, token, criteo_export(), version).status_code == 200


def test_unknown_version_is_404(sim, token):
    r = requests.post(
        sim.url + "/v1/marketing-solutions/marketplace-performance-outcomes/stats/realtime-reports/export",
        json=criteo_export(),
        headers=criteo_headers(token),
    )
    assert r.status_code == 404


def test_failure_outcome(sim, token):
    sim.config.criteo_job_seconds = 0
    sim.config.criteo_job_outcome = "Failure"
    export_id = create_criteo_export(sim, token)
    assert _get(sim, token, f"/report-jobs/{export_id}").json()["data"]["attributes"]["status"] == "Failure"
    r = _get(sim, token, f"/realtime-reports/{export_id}")
    assert r.status_code == 409 and _codes(r) == ["export-failed"]


def test_expired_outcome_and_ttl(sim, token):
    sim.config.criteo_job_seconds = 0
    sim.config.criteo_job_outcome = "Expired"
    first = create_criteo_export(sim, token)
    assert _get(sim, token, f"/report-jobs/{first}").json()["data"]["attributes"]["status"] == "Expired"
    r = _get(sim, token, f"/realtime-reports/{first}")
    assert r.status_code == 400 and _codes(r) == ["export-alreadyexpired"]

    sim.config.criteo_job_outcome = "Done"
    sim.config.criteo_export_ttl_seconds = 100
    second = create_criteo_export(sim, token)
    assert _get(sim, token, f"/realtime-reports/{second}").status_code == 200
    sim.advance_clock(101)
    token = criteo_token(sim)
    assert _get(sim, token, f"/report-jobs/{second}").json()["data"]["attributes"]["status"] == "Expired"
    assert _codes(_get(sim, token, f"/realtime-reports/{second}")) == ["export-alreadyexpired"]


def test_unknown_and_foreign_exports_are_403(sim, token):
    for path in ("/report-jobs/00000000-0000-0000-0000-000000000000", "/realtime-reports/nope"):
        r = _get(sim, token, path)
        assert r.status_code == 403 and _codes(r) == ["export-not-found"]
    export_id = create_criteo_export(sim, token)
    sim.config.extra_credentials["other"] = "x"
    other = criteo_token(sim, "other", "x")
    assert _codes(_get(sim, other, f"/report-jobs/{export_id}")) == ["export-not-found"]


# ------------------------------------------------------------------ validation

VALIDATION_CASES = [
    ({"advertiserIds": None}, "invalid-query"),
    ({"advertiserIds": []}, "invalid-query"),
    ({"fileFormat": "xml"}, "json-serialization-error"),
    ({"fileFormat": 3}, "json-serialization-error"),
    ({"advertiserIds": [123]}, "json-serialization-error"),
    ({"lookbackWindow": "60"}, "json-serialization-error"),
    ({"lookbackWindow": None, "startDate": "yesterday"}, "json-serialization-error"),
    ({"lookbackWindow": 60, "startDate": "2026-01-01T00:00:00Z"}, "invalid-time-interval"),
    ({"lookbackWindow": None}, "invalid-time-interval"),
    ({"lookbackWindow": None, "endDate": "2026-01-01T00:00:00Z"}, "invalid-time-interval"),
    (
        {"lookbackWindow": None, "startDate": "2026-01-02T00:00:00Z", "endDate": "2026-01-01T00:00:00Z"},
        "invalid-time-interval",
    ),
    ({"lookbackWindow": None, "startDate": "2999-01-01T00:00:00Z"}, "invalid-time-interval"),
    ({"lookbackWindow": 59}, "invalid-lookbackwindow"),
    ({"lookbackWindow": 1441}, "invalid-lookbackwindow"),
    ({"timezone": "Mars/Olympus_Mons"}, "invalid-query"),
    ({"timezone": "../etc/passwd"}, "invalid-query"),
    ({"dimensions": ["ProductId", "Hour"]}, "invalid-dimensioncombination"),
    ({"dimensions": ["hour", "minute"]}, "invalid-dimensioncombination"),
    ({"dimensions": ["AdvertiserId", "Country"]}, "invalid-query"),
    ({"metrics": ["Clicks", "Revenue"]}, "invalid-query"),
]


@pytest.mark.parametrize("attrs, code", VALIDATION_CASES)
def test_validation_rules(sim, token, attrs, code):
    r = _create(
        sim,
        token,
        criteo_export(
            **{k: v for k, v in attrs.items() if v is not None}, **{k: None for k, v in attrs.items() if v is None}
        ),
    )
    assert r.status_code == 400, r.text
    assert code in _codes(r)
    problem = r.json()["errors"][0]
    assert set(problem) == {"traceIdentifier", "traceId", "type", "code", "instance", "title", "detail", "source"}
    assert problem["type"] == "validation"
    assert sim.criteo_jobs == {}


def test_missing_advertiser_ids_attribute(sim, token):
    body = criteo_export()
    del body["data"]["attributes"]["advertiserIds"]
    assert _codes(_create(sim, token, body)) == ["invalid-query"]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[]"])
def test_malformed_json(sim, token, raw):
    r = _create(sim, token, raw)
    assert r.status_code == 400 and _codes(r) == ["json-serialization-error"]


@pytest.mark.parametrize(
    "attrs",
    [
        {"fileFormat": "CSV"},
        {"fileFormat": "json"},
        {"fileFormat": "Json"},
        {"dimensions": ["advertiserId", "campaignId", "sellerId", "productId", "day"]},
        {"dimensions": ["AdvertiserId", "Minute"], "timezone": "America/New_York"},
        {"lookbackWindow": 1440},
        {"lookbackWindow": None, "startDate": "2026-01-01T00:00:00Z"},
        {"lookbackWindow": None, "startDate": "2026-01-01T00:00:00+02:00", "endDate": "2026-01-01T06:00:00+02:00"},
        {"campaignIds": ["1", "2"], "sellerIds": [], "partnerIds": ["9"], "currency": "eur"},
    ],
)
def test_accepted_variants(sim, token, attrs):
    r = _create(
        sim,
        token,
        criteo_export(
            **{k: v for k, v in attrs.items() if v is not None}, **{k: None for k, v in attrs.items() if v is None}
        ),
    )
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------ caching


def test_identical_window_requests_reuse_the_export(sim, token):
    window = {"startDate": "2026-01-01T00:00:00Z", "endDate": "2026-01-01T01:00:00Z"}
    a = create_criteo_export(sim, token, **window)
    b = create_criteo_export(sim, token, **window, fileFormat="CSV", advertiserIds=["123", "123"])
    assert a == b
    sim.advance_clock(2)
    r = _create(sim, token, criteo_export(**window))
    assert r.json()["data"]["attributes"] == {"exportId": a, "status": "Done", "message": "rows_count=50"}
    assert create_criteo_export(sim, token, **window, fileFormat="json") != a
    assert create_criteo_export(sim, token, startDate=window["startDate"]) != a  # open end: relative to now
    sim.config.extra_credentials["other"] = "x"
    assert create_criteo_export(sim, criteo_token(sim, "other", "x"), **window) != a
    assert len(sim.criteo_jobs) == 4


def test_lookback_requests_are_not_cached(sim, token):
    assert create_criteo_export(sim, token) != create_criteo_export(sim, token)


def test_cache_ends_with_the_export_ttl(sim, token):
    sim.config.criteo_export_ttl_seconds = 10
    window = {"startDate": "2026-01-01T00:00:00Z", "endDate": "2026-01-01T01:00:00Z"}
    a = create_criteo_export(sim, token, **window)
    sim.advance_clock(13)
    assert create_criteo_export(sim, criteo_token(sim), **window) != a


# ------------------------------------------------------------------ auth


def test_bearer_token_required(sim, token):
    export_id = create_criteo_export(sim, token)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": token}):
        r = requests.get(criteo_base(sim) + f"/report-jobs/{export_id}", headers=headers)
        assert r.status_code == 401 and _codes(r) == ["authorization-token-invalid"]
    r = requests.get(criteo_base(sim) + f"/report-jobs/{export_id}", headers=criteo_headers(walmart_token(sim)))
    assert _codes(r) == ["authorization-token-invalid"]


def test_expire_tokens(sim, token):
    sim.expire_tokens()
    r = _create(sim, token, criteo_export())
    assert r.status_code == 401 and _codes(r) == ["authorization-token-expired"]
    assert r.json()["errors"][0]["type"] == "authentication"
    assert _create(sim, criteo_token(sim), criteo_export()).status_code == 200


def test_tokens_expire_with_the_clock(sim, token):
    sim.advance_clock(899)
    assert _create(sim, token, criteo_export()).status_code == 200
    sim.advance_clock(2)
    assert _codes(_create(sim, token, criteo_export())) == ["authorization-token-expired"]


# ------------------------------------------------------------------ rate limit


def test_rate_limit_per_client(sim, token):
    sim.config.criteo_rate_limit_per_minute = 3
    sim.advance_clock(61 - sim.clock.now() % 60)  # start of a fixed 60 s window: no boundary mid-test
    token = criteo_token(sim)
    export_id = create_criteo_export(sim, token)
    assert _get(sim, token, f"/report-jobs/{export_id}").headers["x-ratelimit-remaining"] == "1"
    assert _get(sim, token, f"/report-jobs/{export_id}").status_code == 200
    r = _get(sim, token, f"/report-jobs/{export_id}")
    assert r.status_code == 429
    assert r.json()["errors"][0]["type"] == "quota"
    assert r.headers["x-ratelimit-limit"] == "3" and r.headers["x-ratelimit-remaining"] == "0"
    assert sim.clock.now() < int(r.headers["x-ratelimit-reset"]) <= sim.clock.now() + 60
    assert sim.stats.throttled["criteo.status"] == 1
    sim.config.extra_credentials["other"] = "x"
    other = criteo_token(sim, "other", "x")
    assert _create(sim, other, criteo_export()).status_code == 200
    sim.advance_clock(60)
    assert _get(sim, token, f"/report-jobs/{export_id}").status_code == 200
