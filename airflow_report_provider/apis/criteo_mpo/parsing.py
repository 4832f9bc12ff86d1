"""Criteo MPO success answers -> values: the access token, and a job's normalised state, row count and warnings."""

from __future__ import annotations

import re
from typing import Any

from airflow_report_provider.apis.criteo_mpo.errors import MAX_MESSAGE, problem_texts
from airflow_report_provider.common.http.answers import shorten, token_expiry
from airflow_report_provider.common.exceptions import ApiError
from airflow_report_provider.common.http.messages import HttpResponse
from airflow_report_provider.common.http.protocol import AccessToken
from airflow_report_provider.common.states import ReportState, ReportStatus

#: Token lifetime assumed when the token answer has no usable ``expires_in`` (documented: 15 minutes).
DEFAULT_TOKEN_LIFETIME = 900.0

#: Job status (lower-cased) -> normalised state. Anything else is treated as not finished yet.
STATES: dict[str, ReportState] = {
    "unknown": ReportState.PENDING,
    "pending": ReportState.PENDING,
    "done": ReportState.SUCCEEDED,
    "failure": ReportState.FAILED,
    "expired": ReportState.EXPIRED,
}

_ROWS_COUNT = re.compile(r"rows_count\s*=\s*(\d+)")


def _rows_count(message: str) -> int | None:
    match = _ROWS_COUNT.search(message)
    return int(match.group(1)) if match else None


def bearer_token(response: HttpResponse, api: str, now: float | None = None) -> AccessToken:
    """The bearer token of a successful token answer (``expires_in`` missing or not above 0: 15 minutes)."""
    body = response.json()
    value = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        # Never quote the body: it may hold a token.
        raise ApiError("token answer has no access_token", status=response.status, api=api)
    token_type = str(body.get("token_type") or "Bearer")
    if token_type.lower() != "bearer":
        raise ApiError(f"unsupported token type {token_type[:20]!r}", status=response.status, api=api)
    expires_at = token_expiry(body.get("expires_in"), DEFAULT_TOKEN_LIFETIME, now, positive=True)
    return AccessToken(value=value, expires_at=expires_at)


def job_status(response: HttpResponse, body: Any, api: str) -> ReportStatus:
    """The job of a successful create or status answer whose JSON ``body`` carries no ``errors``."""
    if not isinstance(body, dict):
        raise ApiError(
            f"job answer is not a JSON object: {shorten(response.text(100), MAX_MESSAGE) or 'empty body'}",
            status=response.status,
            api=api,
        )
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    attributes = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
    job_id = attributes.get("exportId") or data.get("id")
    if not isinstance(job_id, str) or not job_id.strip():
        raise ApiError(
            "job answer has no export id (data.attributes.exportId or data.id)", status=response.status, api=api
        )
    raw_status = str(attributes.get("status") or "Unknown")
    message = str(attributes.get("message") or "")
    details: dict[str, Any] = {}
    if (rows := _rows_count(message)) is not None:
        details["rows_count"] = rows
    if body.get("warnings"):
        details["warnings"] = problem_texts(body["warnings"])
    return ReportStatus(
        job_id=job_id.strip(),
        state=STATES.get(raw_status.lower(), ReportState.PENDING),
        raw_status=raw_status,
        message=message,
        details=details,
    )
