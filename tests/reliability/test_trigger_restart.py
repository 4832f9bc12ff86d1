"""Triggerer restart: a trigger rebuilt from its serialized form resumes the same job with the same absolute deadline.

The restart goes the way the triggerer goes: ``Trigger.from_object`` (the row Airflow stores, kwargs encrypted
and serialized with Airflow's serde), then ``import_string(row.classpath)(**row.kwargs)``. The first instance is
discarded mid-wait by cancelling its ``run()``, as a triggerer shutting down does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest

from airflow_report_provider.apis.criteo_mpo import CriteoReportRequest
from airflow_report_provider.apis.walmart import WalmartReportRequest
from airflow_report_provider.common.http.transport import SESSIONS
from airflow_report_provider.hooks.criteo_mpo import CriteoMpoHook
from airflow_report_provider.hooks.walmart import WalmartMarketplaceHook
from airflow_report_provider.triggers.criteo_mpo import CriteoMpoReportTrigger
from airflow_report_provider.triggers.walmart import WalmartReportTrigger

APIS = ["criteo", "walmart"]
TRIGGERS = {"criteo": CriteoMpoReportTrigger, "walmart": WalmartReportTrigger}
FIELDS = {"criteo": ("report_id", "criteo_mpo_conn_id"), "walmart": ("request_id", "walmart_conn_id")}


def create_job(api: str) -> str:
    if api == "criteo":
        return CriteoMpoHook().create_report(CriteoReportRequest.build(advertiser_ids=["123"], lookback_window=60)).job_id
    report = WalmartReportRequest.build(report_type="ITEM", report_version="v4")
    return WalmartMarketplaceHook().create_report_request(report, reuse=False).job_id


def restart(trigger: Any) -> tuple[Any, dict[str, Any]]:
    """What the triggerer does with a stored trigger: its database row, then a new instance from the row."""
    from airflow.models.trigger import Trigger
    from airflow.sdk._shared.module_loading import import_string

    row = Trigger.from_object(trigger)
    kwargs = row.kwargs
    return import_string(row.classpath)(**kwargs), kwargs


async def discard_mid_wait(trigger: Any, sim: Any, endpoint: str) -> None:
    """Run the trigger until it has polled at least once (the job still pending), then cancel its run()."""
    task = asyncio.ensure_future(anext(trigger.run()))
    while sim.stats.calls[endpoint] < 1 and not task.done():
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    assert not task.done(), "the first instance must still be waiting when it is discarded"
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.mark.parametrize("api", APIS)
async def test_rebuilt_trigger_resumes_the_same_job_with_the_same_deadline(sim, api):
    sim.config.criteo_job_seconds = sim.config.walmart_job_seconds = 1.0
    job_field, conn_field = FIELDS[api]
    job_id = await asyncio.to_thread(create_job, api)
    first = TRIGGERS[api](**{job_field: job_id}, poll_interval=0.1, timeout=60)
    await discard_mid_wait(first, sim, f"{api}.status")
    assert SESSIONS.open_count() == 0  # the discarded instance let go of its HTTP session

    await asyncio.sleep(0.1)  # the triggerer is down for a while
    rebuilt, kwargs = restart(first)
    # Only ids, the connection id, poll settings and the absolute deadline travel (no secret, no token).
    assert kwargs == {
        job_field: job_id,
        conn_field: first.conn_id,
        "poll_interval": 0.1,
        "max_poll_interval": None,
        "deadline": first.deadline,
    }
    assert rebuilt.job_id == job_id and rebuilt.deadline == first.deadline  # not moved by the restart
    events = [event async for event in rebuilt.run()]
    assert len(events) == 1
    assert events[0].payload["status"] == "success" and events[0].payload[job_field] == job_id
    jobs = sim.criteo_jobs if api == "criteo" else sim.walmart_requests
    assert list(jobs) == [job_id] and sim.stats.calls[f"{api}.create"] == 1
    assert SESSIONS.open_count() == 0


@pytest.mark.parametrize("api", APIS)
async def test_deadline_passing_while_the_triggerer_is_down_ends_in_one_timeout_event(sim, api):
    sim.config.criteo_job_seconds = sim.config.walmart_job_seconds = 3600
    job_field, _ = FIELDS[api]
    job_id = await asyncio.to_thread(create_job, api)
    deadline = time.time() + 0.5
    first = TRIGGERS[api](**{job_field: job_id}, poll_interval=0.1, deadline=deadline)
    await discard_mid_wait(first, sim, f"{api}.status")
    while time.time() <= deadline:  # the deadline passes while no triggerer runs the trigger
        await asyncio.sleep(0.05)

    rebuilt, _ = restart(first)
    assert rebuilt.deadline == deadline
    polls_before = sim.stats.calls[f"{api}.status"]
    events = [event async for event in rebuilt.run()]
    assert [event.payload["status"] for event in events] == ["timeout"]
    expected = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(deadline))
    assert events[0].payload[job_field] == job_id and expected in events[0].payload["message"]
    assert sim.stats.calls[f"{api}.status"] - polls_before == 1  # one last look at the job, then the event
