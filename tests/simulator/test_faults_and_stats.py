"""Fault injection, stats, clock controls, the pytest plugin and the command line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from airflow_report_provider.simulator import ENDPOINTS, SimulatorConfig, run_simulator
from airflow_report_provider.simulator.testing import (
    USER_AGENT,
    create_criteo_export,
    create_walmart_request,
    criteo_base,
    criteo_headers,
    criteo_token,
    walmart_headers,
    walmart_token,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sim():
    with run_simulator(SimulatorConfig(criteo_job_seconds=0, walmart_job_seconds=0)) as s:
        yield s


def _status_url(sim, export_id):
    return criteo_base(sim) + f"/report-jobs/{export_id}"


# ------------------------------------------------------------------ faults


def test_status_fault_times_then_normal(sim):
    token = criteo_token(sim)
    export_id = create_criteo_export(sim, token)
    sim.inject_fault("criteo.status", status=503, times=2)
    answers = [requests.get(_status_url(sim, export_id), headers=criteo_headers(token)) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    err = answers[0].json()["errors"][0]
    assert err["type"] == "availability" and err["code"] == "service-unavailable"
    assert sim.stats.status_codes[("criteo.status", 503)] == 2
    assert sim.faults.pending() == 0


def test_criteo_429_fault_has_rate_headers(sim):
    sim.inject_fault("criteo.token", status=429)
    r = requests.post(sim.url + "/oauth2/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 429 and r.json()["errors"][0]["type"] == "quota"
    assert r.headers["x-ratelimit-remaining"] == "0" and int(r.headers["x-ratelimit-reset"]) > time.time()
    assert sim.stats.throttled["criteo.token"] == 1


def test_walmart_faults_use_its_envelope_and_headers(sim):
    token = walmart_token(sim)
    rid = create_walmart_request(sim, token)["requestId"]
    sim.inject_fault("walmart.status", status=429)
    r = requests.get(sim.url + f"/v3/reports/reportRequests/{rid}", headers=walmart_headers(token))
    assert r.status_code == 429 and r.json()["errors"][0]["code"] == "REQUEST_THRESHOLD_VIOLATED"
    assert (
        r.headers["X-Current-Token-Count"] == "0" and int(r.headers["X-Next-Replenishment-Time"]) > time.time() * 1000
    )
    sim.config.walmart_error_envelope = "error"
    sim.inject_fault("walmart.download_url", status=504)
    r = requests.get(sim.url + "/v3/reports/downloadReport", params={"requestId": rid}, headers=walmart_headers(token))
    assert r.status_code == 504 and r.json()["error"][0]["code"] == "DOWNSTREAM_SYSTEM_TIME_OUT"


def test_fault_before_create_does_not_create(sim):
    token = walmart_token(sim)
    sim.inject_fault("walmart.create", status=500)
    r = requests.post(
        sim.url + "/v3/reports/reportRequests?reportType=ITEM&reportVersion=v4", json={}, headers=walmart_headers(token)
    )
    assert r.status_code == 500 and r.json()["errors"][0]["code"] == "SYSTEM_ERROR"
    assert sim.walmart_requests == {}
    assert create_walmart_request(sim, token)["requestStatus"] == "RECEIVED"  # the hourly quota was not used


def test_blob_fault_is_azure_like(sim):
    token = walmart_token(sim)
    rid = create_walmart_request(sim, token)["requestId"]
    url = requests.get(
        sim.url + "/v3/reports/downloadReport", params={"requestId": rid}, headers=walmart_headers(token)
    ).json()["downloadURL"]
    sim.inject_fault("walmart.blob", status=503)
    r = requests.get(url)
    assert r.status_code == 503 and "<Code>ServerBusy</Code>" in r.text
    assert requests.get(url).status_code == 200


def test_custom_body_and_headers(sim):
    sim.inject_fault("walmart.token", status=502, body="<html>bad gateway</html>", headers={"Retry-After": "1"})
    r = requests.post(sim.url + "/v3/token")
    assert r.status_code == 502 and r.text == "<html>bad gateway</html>" and r.headers["Retry-After"] == "1"
    sim.inject_fault("criteo.token", status=400, body={"error": "invalid_request"})
    assert requests.post(sim.url + "/oauth2/token").json() == {"error": "invalid_request"}


def test_cut_json_answer(sim):
    sim.inject_fault("walmart.token_detail", cut_after_bytes=5)
    token = walmart_token(sim)
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(sim.url + "/v3/token/detail", headers=walmart_headers(token))
    assert requests.get(sim.url + "/v3/token/detail", headers=walmart_headers(token)).status_code == 200


def test_delay_fault(sim):
    sim.inject_fault("criteo.token", delay=0.3)
    start = time.monotonic()
    criteo_token(sim)
    # A lower bound with slack for timer rounding: the delay was applied (without it the call takes milliseconds).
    assert time.monotonic() - start >= 0.25


def test_unknown_endpoint_name_is_refused(sim):
    with pytest.raises(ValueError):
        sim.inject_fault("criteo.nope", status=500)
    with pytest.raises(ValueError):
        sim.inject_fault("criteo.status")


# ------------------------------------------------------------------ stats


def test_one_count_per_request_and_records(sim):
    token = criteo_token(sim)
    export_id = create_criteo_export(sim, token)
    requests.get(_status_url(sim, export_id), headers=criteo_headers(token))
    requests.get(_status_url(sim, export_id), headers={"User-Agent": USER_AGENT})  # rejected: still counted
    requests.get(criteo_base(sim) + f"/realtime-reports/{export_id}", headers=criteo_headers(token))
    assert dict(sim.stats.calls) == {"criteo.token": 1, "criteo.create": 1, "criteo.status": 2, "criteo.download": 1}
    assert sim.stats.total_calls() == 5
    assert sim.stats.status_codes[("criteo.status", 401)] == 1
    records = sim.stats.records()
    assert [r.endpoint for r in records] == [
        "criteo.token",
        "criteo.create",
        "criteo.status",
        "criteo.status",
        "criteo.download",
    ]
    assert all(r.user_agent == USER_AGENT for r in records)
    assert records[2].headers["Authorization"] == "<redacted>" and "authorization" in records[2].header_names
    assert token not in repr(records) and "sim-criteo-secret" not in repr(records)
    assert records[-1].status == 200 and records[-1].method == "GET"
    sim.stats.reset()
    assert sim.stats.total_calls() == 0 and sim.stats.records() == []


def test_blob_records_show_which_headers_were_sent(sim):
    token = walmart_token(sim)
    rid = create_walmart_request(sim, token)["requestId"]
    url = requests.get(
        sim.url + "/v3/reports/downloadReport", params={"requestId": rid}, headers=walmart_headers(token)
    ).json()["downloadURL"]
    requests.get(url, headers={"User-Agent": USER_AGENT})
    (blob,) = sim.stats.records("walmart.blob")
    assert not any(h.startswith("wm_") for h in blob.header_names)
    assert "<redacted>" in blob.query and "sig=" in blob.query and blob.path.startswith("/blob/")
    for rec in sim.stats.records():
        if rec.endpoint != "walmart.blob":
            assert "wm_qos.correlation_id" in rec.header_names


def test_unknown_paths_are_counted(sim):
    assert requests.get(sim.url + "/nowhere").status_code == 404
    assert sim.stats.calls["unknown"] == 1 and sim.stats.status_codes[("unknown", 404)] == 1


def test_done_times_and_first_noticed(sim):
    sim.config.criteo_job_seconds = 5
    token = criteo_token(sim)
    export_id = create_criteo_export(sim, token)
    job = sim.criteo_jobs[export_id]
    assert sim.job_done_times[export_id] == job.done_at == pytest.approx(job.created_at + 5)
    sim.advance_clock(7)
    requests.get(_status_url(sim, export_id), headers=criteo_headers(token))
    assert job.first_reported_done_at - job.done_at == pytest.approx(2, abs=0.5)


def test_reset_forgets_everything(sim):
    token = criteo_token(sim)
    create_criteo_export(sim, token)
    sim.inject_fault("criteo.status", status=500)
    sim.reset()
    assert sim.criteo_jobs == {} and sim.faults.pending() == 0 and sim.stats.total_calls() == 0
    assert requests.get(_status_url(sim, "x"), headers=criteo_headers(token)).status_code == 401


def test_all_endpoints_are_routed(sim):
    routed = {route.name for route in sim.build_app().router.routes() if route.name}
    assert set(ENDPOINTS) <= routed


# ------------------------------------------------------------------ plugin and command line


def test_pytest_plugin(tmp_path):
    test_file = tmp_path / "test_uses_plugin.py"
    test_file.write_text(
        textwrap.dedent("""
        import pytest, requests
        from airflow_report_provider.simulator import SimulatorConfig

        @pytest.fixture
        def report_simulator_config():
            return SimulatorConfig(criteo_job_seconds=0)

        def test_it(report_simulator):
            assert report_simulator.config.criteo_job_seconds == 0
            assert requests.get(report_simulator.url + "/health").json() == {"status": "ok"}
    """)
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "airflow_report_provider.simulator.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(test_file),
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_command_line_prints_url_and_credentials():
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_report_provider.simulator",
            "--port",
            "0",
            "--criteo-job-seconds",
            "0",
            "--credential",
            "bench:pw",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            first = proc.stdout.readline()
            assert first.startswith("Report API simulator listening on http://127.0.0.1:")
            url = first.rsplit(" ", 1)[1].strip()
            assert "sim-criteo-secret" in proc.stdout.readline()
            r = requests.post(
                url + "/oauth2/token",
                data={"grant_type": "client_credentials", "client_id": "bench", "client_secret": "pw"},
            )
            assert r.status_code == 200
        finally:
            proc.terminate()
            proc.communicate(timeout=10)
