"""The fault matrix: every case is a whole DAG run (``dag.test()``) against the simulator, for both APIs.

Each run ends with the right file at the destination or a failed task whose log says what happened; the
simulator's counters prove what the provider did on the wire (token calls, retries, creates).
"""

from __future__ import annotations

import inspect
import math
import time
import uuid
from typing import Any

import pytest

from airflow_report_provider.hooks.criteo_mpo import CriteoMpoHook
from airflow_report_provider.hooks.walmart import WalmartMarketplaceHook
from airflow_report_provider.operators.waiting import JobWait
from airflow_report_provider.transfers.criteo_mpo_to_object_storage import CriteoMpoReportToObjectStorageOperator
from airflow_report_provider.triggers.criteo_mpo import CriteoMpoReportTrigger
from airflow_report_provider.triggers.walmart import WalmartReportTrigger
from tests.dags import reliability_dags as dags
from tests.reliability.conftest import bad_credentials, files_under, run, task_facts
from tests.support.airflow_env import simulator_connections

APIS = ["criteo", "walmart"]
DAGS = {
    "criteo": {"deferrable": dags.rel_criteo_deferrable, "blocking": dags.rel_criteo_blocking},
    "walmart": {"deferrable": dags.rel_walmart_deferrable, "blocking": dags.rel_walmart_blocking},
}
TRIGGERS = {"criteo": CriteoMpoReportTrigger, "walmart": WalmartReportTrigger}
#: The endpoint that serves the report bytes.
DOWNLOAD = {"criteo": "criteo.download", "walmart": "walmart.blob"}


def only_job(sim: Any, api: str) -> str:
    jobs = sim.criteo_jobs if api == "criteo" else sim.walmart_requests
    (job_id,) = jobs
    return job_id


def report_bytes(sim: Any, api: str, job_id: str) -> bytes:
    return sim.criteo_report_bytes(job_id) if api == "criteo" else sim.walmart_report_csv(job_id, bom=False)


def assert_landed(sim: Any, api: str, dag_run: Any, target: Any) -> str:
    """The task succeeded, made exactly one job and wrote exactly its bytes."""
    assert task_facts(dag_run)["transfer"].state == "success"
    job_id = only_job(sim, api)
    assert target.read_bytes() == report_bytes(sim, api, job_id)
    return job_id


# -- hooks into the first call of a method (faults timed to the moment the provider acts) --------------------------
def on_first_call(monkeypatch: pytest.MonkeyPatch, owner: type, name: str, before: Any = None, after: Any = None) -> None:
    """Run ``before()`` / ``after()`` around the first call of ``owner.name`` (sync or async); later calls pass."""
    original = getattr(owner, name)
    calls: list[int] = []

    def first(hook: Any) -> None:
        if hook is not None and len(calls) == 1:
            hook()

    if inspect.iscoroutinefunction(original):

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            first(before)
            result = await original(*args, **kwargs)
            first(after)
            return result

    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            first(before)
            result = original(*args, **kwargs)
            first(after)
            return result

    monkeypatch.setattr(owner, name, wrapper)


def poller(api: str, mode: str) -> tuple[type, str]:
    """Where the status polls happen: the trigger (deferrable) or the operator's blocking wait."""
    return (TRIGGERS[api], "fetch_status") if mode == "deferrable" else (JobWait, "poll_once")


# -- token expiry --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["deferrable", "blocking"])
@pytest.mark.parametrize("api", APIS)
def test_token_expiring_mid_poll_is_refreshed_and_the_run_succeeds(sim, airflow_db, tmp_path, monkeypatch, api, mode):
    sim.config.criteo_job_seconds = sim.config.walmart_job_seconds = 1.0  # several polls
    on_first_call(monkeypatch, *poller(api, mode), after=sim.expire_tokens)  # every token expires after poll 1
    target = tmp_path / "report.csv"
    dag_run = run(DAGS[api][mode], destination=f"file://{target}")
    assert_landed(sim, api, dag_run, target)
    # The poll after the expiry got 401 (authorization-token-expired / UNAUTHORIZED), one new token was
    # fetched and the poll was sent again.
    assert sim.stats.status_codes[(f"{api}.status", 401)] == 1
    assert sim.stats.tokens_issued[api] == 2


# -- wrong credentials ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("api", "dag", "message"),
    [
        ("criteo", dags.rel_criteo_retries_allowed, "[criteo_mpo HTTP 401 invalid-client]"),
        ("walmart", dags.rel_walmart_retries_allowed, "[walmart HTTP 401 UNAUTHORIZED]"),
    ],
)
def test_wrong_credentials_fail_fast_without_a_retry_storm(sim, airflow_db, tmp_path, monkeypatch, logs, api, dag, message):
    conn_ids = bad_credentials(monkeypatch, sim)
    dag_run = run(dag, destination=f"file://{tmp_path}/report.csv", conn_id=conn_ids[api])
    # Failed on the first try although two retries were allowed: a refused credential is not retried.
    assert task_facts(dag_run)["transfer"] == ("failed", 1)
    assert sim.stats.calls[f"{api}.token"] == 1
    assert sim.stats.total_calls() == 1 and sim.stats.tokens_issued[api] == 0
    assert message in logs.text()
    assert not files_under(tmp_path)


# -- throttling ----------------------------------------------------------------------------------------------------
class Throttle:
    """One 429 per endpoint, injected when called, each carrying the API's own header with a reset at least
    ``seconds`` ahead: ``x-ratelimit-reset`` (Criteo, Unix seconds) or ``X-Next-Replenishment-Time`` (Walmart,
    epoch milliseconds)."""

    def __init__(self, sim: Any, api: str, endpoints: tuple[str, ...], seconds: float) -> None:
        self.sim, self.api, self.endpoints, self.seconds = sim, api, endpoints, seconds
        self.reset: float | None = None

    def __call__(self) -> None:
        self.reset = reset = float(math.ceil(time.time() + self.seconds))
        for endpoint in self.endpoints:
            if self.api == "criteo":
                self.sim.inject_fault(endpoint, status=429, headers={"x-ratelimit-reset": str(int(reset))})
            else:
                self.sim.inject_fault(endpoint, status=429, headers={"X-Next-Replenishment-Time": str(int(reset * 1000))})

    def assert_waited_out(self) -> list[Any]:
        """Every throttled call was sent again only after the announced reset; returns the 429 records."""
        assert self.reset is not None
        throttled = [r for r in self.sim.stats.records() if r.status == 429]
        assert throttled and any(r.time < self.reset for r in throttled)
        for refused in throttled:
            again = next(r for r in self.sim.stats.records(refused.endpoint) if r.time > refused.time)
            assert again.time >= self.reset, f"{refused.endpoint} was sent again before the reset the API announced"
        return throttled


THROTTLED = {
    "criteo": ("criteo.create", "criteo.status", "criteo.download"),
    "walmart": ("walmart.list", "walmart.create", "walmart.status", "walmart.download_url"),
}
CREATE = {"criteo": (CriteoMpoHook, "create_report"), "walmart": (WalmartMarketplaceHook, "create_report_request")}


@pytest.mark.parametrize("api", APIS)
def test_429_with_the_apis_headers_is_waited_out_and_the_run_succeeds(sim, airflow_db, tmp_path, monkeypatch, api):
    simulator_connections(sim, monkeypatch, retry_max_delay=5.0)  # the transport waits up to 5 s itself
    throttle = Throttle(sim, api, THROTTLED[api], seconds=1)
    on_first_call(monkeypatch, *CREATE[api], before=throttle)  # from the create on, every endpoint answers 429 once
    target = tmp_path / "report.csv"
    dag_run = run(DAGS[api]["deferrable"], destination=f"file://{target}")
    assert_landed(sim, api, dag_run, target)
    assert len(throttle.assert_waited_out()) == len(THROTTLED[api])
    assert sim.stats.calls[f"{api}.create"] == 2  # the throttled create (not processed), then the one that made the job


@pytest.mark.parametrize("mode", ["deferrable", "blocking"])
@pytest.mark.parametrize("api", APIS)
def test_429_asking_for_a_longer_wait_is_honoured_while_polling(sim, airflow_db, tmp_path, monkeypatch, api, mode):
    """A reset beyond what the transport waits (retry_max_delay) comes back to the poller (the trigger, or the
    blocking wait) as an error: it must wait for the reset too, not poll again on its own (short) schedule."""
    simulator_connections(sim, monkeypatch, retry_max_delay=0.5)
    sim.config.criteo_job_seconds = sim.config.walmart_job_seconds = 0.05
    throttle = Throttle(sim, api, (f"{api}.status",), seconds=1)
    on_first_call(monkeypatch, *poller(api, mode), before=throttle)
    target = tmp_path / "report.csv"
    dag_run = run(DAGS[api][mode], destination=f"file://{target}")
    assert_landed(sim, api, dag_run, target)
    throttle.assert_waited_out()
    assert sim.stats.calls[f"{api}.status"] == 2  # one refused poll, then the one after the reset


# -- 5xx bursts ----------------------------------------------------------------------------------------------------
BURSTS = {
    "criteo": {"criteo.token": [500, 503], "criteo.create": [503], "criteo.status": [500, 503, 504], "criteo.download": [504, 500]},
    "walmart": {
        "walmart.token": [503, 500],
        "walmart.list": [504],
        "walmart.status": [500, 503, 504],
        "walmart.download_url": [503],
        "walmart.blob": [500, 503],
    },
}


@pytest.mark.parametrize("api", APIS)
def test_bursts_of_500_503_504_are_retried_and_the_run_succeeds(sim, airflow_db, tmp_path, api):
    for endpoint, statuses in BURSTS[api].items():
        for status in statuses:
            sim.inject_fault(endpoint, status=status)
    target = tmp_path / "report.csv"
    dag_run = run(DAGS[api]["deferrable"], destination=f"file://{target}")
    assert_landed(sim, api, dag_run, target)
    for endpoint, statuses in BURSTS[api].items():
        for status in set(statuses):
            assert sim.stats.status_codes[(endpoint, status)] == statuses.count(status), endpoint
    assert sim.faults.pending() == 0


# -- cut downloads -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["file", "s3"])
@pytest.mark.parametrize("api", APIS)
def test_download_cut_on_every_attempt_fails_and_leaves_nothing(sim, airflow_db, tmp_path, request, logs, api, where):
    sim.inject_fault(DOWNLOAD[api], cut_after_bytes=40, times=100)
    if where == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        destination = bucket.url("reports/report.csv")
    else:
        destination = f"file://{tmp_path}/out/report.csv"
    dag_run = run(DAGS[api]["deferrable"], destination=destination)
    assert task_facts(dag_run)["transfer"].state == "failed"
    # Three opens (the first and two re-opens, max_download_attempts=3), each cut: the transfer gives up.
    assert sim.stats.calls[DOWNLOAD[api]] == 3
    assert "cut" in logs.text()
    if where == "s3":
        assert bucket.keys() == [] and bucket.pending_uploads() == []
    else:
        assert files_under(tmp_path) == []


# -- failed and expired jobs -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("api", "setting", "words"),
    [
        ("criteo", {"criteo_job_outcome": "Failure"}, "did not complete (failed): report_id {job} is Failure: The export failed (simulated)"),
        ("criteo", {"criteo_job_outcome": "Expired"}, "did not complete (expired): report_id {job} is Expired: The export has expired"),
        ("walmart", {"walmart_job_outcome": "ERROR"}, "did not complete (failed): request_id {job} is ERROR"),
    ],
    ids=["criteo-Failure", "criteo-Expired", "walmart-ERROR"],
)
def test_failed_or_expired_job_fails_the_task_naming_the_job_and_the_apis_words(sim, airflow_db, tmp_path, logs, api, setting, words):
    for name, value in setting.items():
        setattr(sim.config, name, value)
    dag_run = run(DAGS[api]["deferrable"], destination=f"file://{tmp_path}/report.csv")
    assert task_facts(dag_run)["transfer"].state == "failed"
    job_id = only_job(sim, api)
    assert words.format(job=job_id) in logs.text()
    assert sim.stats.calls[DOWNLOAD[api]] == 0 and not files_under(tmp_path)


def test_criteo_export_expiring_before_its_download_fails_clearly(sim, airflow_db, tmp_path, monkeypatch, logs):
    original = CriteoMpoReportToObjectStorageOperator.download

    def download_later(self: Any, report_id: str, destination: Any) -> Any:
        sim.advance_clock(sim.config.criteo_export_ttl_seconds + 60)  # the export's output is deleted meanwhile
        return original(self, report_id, destination)

    monkeypatch.setattr(CriteoMpoReportToObjectStorageOperator, "download", download_later)
    dag_run = run(dags.rel_criteo_deferrable, destination=f"file://{tmp_path}/report.csv")
    assert task_facts(dag_run)["transfer"].state == "failed"
    assert "[criteo_mpo HTTP 400 export-alreadyexpired] Export already expired" in logs.text()
    assert not files_under(tmp_path)


@pytest.mark.parametrize(
    ("api", "dag", "field", "words"),
    [
        ("criteo", dags.rel_criteo_by_id, "report_id", "(error): [criteo_mpo HTTP 403 export-not-found] Export job not found"),
        ("walmart", dags.rel_walmart_by_id, "request_id", "(error): [walmart HTTP 404 CONTENT_NOT_FOUND"),
    ],
)
def test_unknown_or_purged_job_fails_clearly(sim, airflow_db, tmp_path, logs, api, dag, field, words):
    job_id = str(uuid.uuid4())
    dag_run = run(dag, logical_date=None, destination=f"file://{tmp_path}/report.csv", **{field: job_id})
    assert task_facts(dag_run)["transfer"] == ("failed", 1)
    text = logs.text()
    assert f"{field} {job_id} did not complete {words}" in text
    assert sim.stats.calls[f"{api}.status"] == 1  # no polling on after the API said the job does not exist
    assert not files_under(tmp_path)


# -- Walmart download URLs -------------------------------------------------------------------------------------------
def test_walmart_download_url_expired_at_the_blob_store_is_renewed(sim, airflow_db, tmp_path, monkeypatch):
    original = WalmartMarketplaceHook.get_download_links
    calls: list[int] = []

    def links_then_time_passes(self: Any, request_id: str) -> Any:
        links = original(self, request_id)
        calls.append(1)
        if len(calls) == 1:  # the URL expires before the download starts
            sim.advance_clock(sim.config.walmart_download_url_ttl_seconds + 60)
        return links

    monkeypatch.setattr(WalmartMarketplaceHook, "get_download_links", links_then_time_passes)
    target = tmp_path / "report.csv"
    dag_run = run(dags.rel_walmart_deferrable, destination=f"file://{target}")
    assert_landed(sim, "walmart", dag_run, target)
    assert sim.stats.status_codes[("walmart.blob", 403)] == 1  # the expired URL was refused ...
    assert sim.stats.calls["walmart.download_url"] == 2  # ... and a new one asked for


def test_walmart_download_url_expiring_before_a_resume_is_renewed(sim, airflow_db, tmp_path):
    sim.config.walmart_download_url_ttl_seconds = 20  # inside the client's 30 s safety margin: stale at once
    sim.inject_fault("walmart.blob", cut_after_bytes=40)
    target = tmp_path / "report.csv"
    dag_run = run(dags.rel_walmart_deferrable, destination=f"file://{target}")
    assert_landed(sim, "walmart", dag_run, target)
    blobs = sim.stats.records("walmart.blob")
    assert len(blobs) == 2  # the cut download was opened again ...
    assert sim.stats.calls["walmart.download_url"] == 2  # ... with a fresh URL: the first one was stale


# -- the task's own deadline ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("api", "dag", "field"),
    [("criteo", dags.rel_criteo_deadline, "report_id"), ("walmart", dags.rel_walmart_deadline, "request_id")],
)
def test_deadline_passing_fails_the_task_through_the_triggers_timeout_event(sim, airflow_db, tmp_path, logs, mocker, api, dag, field):
    sim.config.criteo_job_seconds = sim.config.walmart_job_seconds = 3600
    run_spy = mocker.spy(TRIGGERS[api], "run")
    dag_run = run(dag, destination=f"file://{tmp_path}/report.csv")
    assert task_facts(dag_run)["transfer"].state == "failed"
    job_id = only_job(sim, api)
    assert f"{field} {job_id} did not complete (timeout): {field} {job_id} was not ready before the deadline" in logs.text()
    assert run_spy.call_count == 1 and sim.stats.calls[f"{api}.status"] >= 2
    assert not files_under(tmp_path)
