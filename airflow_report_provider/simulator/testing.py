"""Raw HTTP helpers (requests) for tests that talk to the simulator directly, e.g. to prepare jobs.

Deliberately thin: no retries, no token cache. They are not the provider's hooks.
"""

from __future__ import annotations

import uuid
from typing import Any

import requests

from .server import Simulator

CRITEO_STATS = "/{version}/marketing-solutions/marketplace-performance-outcomes/stats"
USER_AGENT = "airflow-report-provider/simulator-tests python-requests"


def criteo_base(sim: Simulator, version: str = "preview") -> str:
    """Base URL of the MPO stats calls."""
    return sim.url + CRITEO_STATS.format(version=version)


def criteo_token(sim: Simulator, client_id: str | None = None, client_secret: str | None = None) -> str:
    """A Criteo access token (default credentials of the simulator's config)."""
    r = requests.post(
        sim.url + "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id or sim.config.criteo_client_id,
            "client_secret": client_secret or sim.config.criteo_client_secret,
        },
        headers={"User-Agent": USER_AGENT},
        timeout=10,
    )
    r.raise_for_status()
    return r.json()["access_token"]


def criteo_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": USER_AGENT}


def criteo_export(**attributes: Any) -> dict[str, Any]:
    """A create-export envelope; defaults: advertiserIds ["123"], lookbackWindow 60, csv."""
    attrs: dict[str, Any] = {"advertiserIds": ["123"], "fileFormat": "csv"}
    if "startDate" not in attributes and "endDate" not in attributes:
        attrs["lookbackWindow"] = 60
    attrs.update(attributes)
    attrs = {k: v for k, v in attrs.items() if v is not None}
    return {"data": {"type": "RealTimeProductReportJob", "attributes": attrs}}


def create_criteo_export(sim: Simulator, token: str, **attributes: Any) -> str:
    """Create an export and return its id."""
    r = requests.post(
        criteo_base(sim) + "/realtime-reports/export",
        json=criteo_export(**attributes),
        headers=criteo_headers(token),
        timeout=10,
    )
    r.raise_for_status()
    return r.json()["data"]["attributes"]["exportId"]


def walmart_token(sim: Simulator, client_id: str | None = None, client_secret: str | None = None) -> str:
    """A Walmart access token (default credentials of the simulator's config)."""
    r = requests.post(
        sim.url + "/v3/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id or sim.config.walmart_client_id, client_secret or sim.config.walmart_client_secret),
        headers={
            "Accept": "application/json",
            "WM_SVC.NAME": "Walmart Marketplace",
            "WM_QOS.CORRELATION_ID": str(uuid.uuid4()),
            "User-Agent": USER_AGENT,
        },
        timeout=10,
    )
    r.raise_for_status()
    return r.json()["access_token"]


def walmart_headers(token: str) -> dict[str, str]:
    """Every header a report call needs (a fresh correlation id)."""
    return {
        "WM_SEC.ACCESS_TOKEN": token,
        "WM_QOS.CORRELATION_ID": str(uuid.uuid4()),
        "WM_SVC.NAME": "Walmart Marketplace",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }


def create_walmart_request(
    sim: Simulator, token: str, report_type: str = "ITEM", report_version: str = "v4", body: dict | None = None
) -> dict[str, Any]:
    """Create a report request and return the answer."""
    r = requests.post(
        sim.url + "/v3/reports/reportRequests",
        params={"reportType": report_type, "reportVersion": report_version},
        json=body if body is not None else {},
        headers=walmart_headers(token),
        timeout=10,
    )
    r.raise_for_status()
    return r.json()
