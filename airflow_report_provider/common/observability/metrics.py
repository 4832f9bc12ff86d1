"""The provider's metrics, sent through Airflow's Stats (StatsD, Datadog or OpenTelemetry, as ``[metrics]`` says).

Every name starts with :data:`PREFIX`; Airflow puts its own ``[metrics] statsd_prefix`` in front. Each metric goes
out twice, like Airflow's own: once with its variables in the name (for plain StatsD, which drops tags) and once
under the bare name with tags (for Datadog, InfluxDB-style StatsD and OpenTelemetry). Names and tags hold only API
names, endpoint names, HTTP statuses, job outcomes and storage schemes: never an id, a URL or a secret.

==========================================================  ======  ===========================================
name (variables in braces)                                  kind    what
==========================================================  ======  ===========================================
``report_provider.api_calls.{api}.{endpoint}.{status}``     count   API answers, by HTTP status
``report_provider.throttled.{api}.{endpoint}``              count   answers that throttled the call (HTTP 429)
``report_provider.token_refreshes.{api}``                   count   access tokens fetched
``report_provider.bytes_written.{scheme}``                  count   bytes published at the destination
``report_provider.download_time.{scheme}``                  timer   time to stream a report to the destination
``report_provider.wait_time.{api}.{outcome}``               timer   wait from the job's submission to its end
==========================================================  ======  ===========================================
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "report_provider"
API_CALLS = f"{PREFIX}.api_calls"
THROTTLED = f"{PREFIX}.throttled"
TOKEN_REFRESHES = f"{PREFIX}.token_refreshes"
BYTES_WRITTEN = f"{PREFIX}.bytes_written"
DOWNLOAD_TIME = f"{PREFIX}.download_time"
WAIT_TIME = f"{PREFIX}.wait_time"

_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def _part(value: Any) -> str:
    """One dotted segment of a name: StatsD-safe characters only (a dot would add a level)."""
    return _UNSAFE.sub("_", str(value)) or "none"


def _endpoint(endpoint: str) -> str:
    """``criteo.status`` -> ``status``: the API is its own variable already."""
    return _part(endpoint.rpartition(".")[2])


def _stats() -> Any:
    from airflow_report_provider.compat import Stats

    return Stats


def _emit(kind: str, name: str, value: Any, tags: dict[str, str]) -> None:
    """Send the named and the tagged form; a metrics failure never fails a task."""
    try:
        stats = _stats()
        send = getattr(stats, kind)
        detailed = ".".join((name, *(_part(v) for v in tags.values())))
        if kind == "incr":
            send(detailed, count=value)
            send(name, count=value, tags=tags)
        else:
            send(detailed, value)
            send(name, value, tags=tags)
    except Exception:  # pragma: no cover - a broken metrics backend must not break transfers
        log.debug("could not emit %s", name, exc_info=True)


def api_call(api: str, endpoint: str, status: int) -> None:
    """An answer of the API (every attempt, retries included); a 429 also counts as throttled."""
    _emit("incr", API_CALLS, 1, {"api": api, "endpoint": _endpoint(endpoint), "status": str(status)})
    if status == 429:
        _emit("incr", THROTTLED, 1, {"api": api, "endpoint": _endpoint(endpoint)})


def token_refreshed(api: str) -> None:
    """A new access token was issued to this process."""
    _emit("incr", TOKEN_REFRESHES, 1, {"api": api})


def report_written(scheme: str, written_bytes: int, seconds: float) -> None:
    """A report was published at an object-storage destination (``scheme``: file, s3, gs, ...)."""
    tags = {"scheme": scheme or "file"}
    _emit("incr", BYTES_WRITTEN, int(written_bytes), tags)
    _emit("timing", DOWNLOAD_TIME, timedelta(seconds=seconds), tags)


def job_waited(api: str, outcome: str, seconds: float) -> None:
    """A wait for a job ended (``outcome``: success, failed, expired, timeout, error)."""
    _emit("timing", WAIT_TIME, timedelta(seconds=seconds), {"api": api, "outcome": outcome})
