"""Error answers in each API's own shape: Criteo problems, Walmart error envelopes, Azure-like blob XML."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

JSON = "application/json"

# --------------------------------------------------------------------------- Criteo


def criteo_problem(
    code: str,
    title: str,
    detail: str | None = None,
    type_: str = "validation",
    instance: str | None = None,
    field: str | None = None,
) -> dict[str, Any]:
    """One CommonProblem object (every field of the spec's schema)."""
    trace = uuid.uuid4().hex
    return {
        "traceIdentifier": trace,
        "traceId": trace,
        "type": type_,
        "code": code,
        "instance": instance,
        "title": title,
        "detail": detail or title,
        "source": {"pointer": f"/data/attributes/{field}"} if field else None,
    }


def criteo_error(status: int, problems: list[dict], headers: dict[str, str] | None = None) -> web.Response:
    """`{"errors": [...]}` with the given HTTP status."""
    return web.Response(
        status=status, body=json.dumps({"errors": problems}).encode(), content_type=JSON, headers=headers
    )


# --------------------------------------------------------------------------- Walmart


def walmart_error_obj(
    code: str, description: str, field: str | None = None, category: str = "REQUEST", info: str | None = None
) -> dict[str, Any]:
    """One Walmart error object."""
    return {
        "code": code,
        "field": field,
        "description": description,
        "info": info or description,
        "severity": "ERROR",
        "category": category,
        "causes": [],
        "errorIdentifiers": {},
    }


def walmart_envelope(errors: list[dict], envelope: str) -> dict[str, Any]:
    """Wrap errors as `{"errors": [...]}`, `{"error": [...]}` or `{"errors": {"error": [...]}}`."""
    if envelope == "error":
        return {"error": errors}
    if envelope == "errors.error":
        return {"errors": {"error": errors}}
    return {"errors": errors}


def walmart_error(
    status: int,
    code: str,
    description: str,
    envelope: str,
    field: str | None = None,
    category: str = "REQUEST",
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = walmart_envelope([walmart_error_obj(code, description, field, category)], envelope)
    return web.Response(status=status, body=json.dumps(body).encode(), content_type=JSON, headers=headers)


# --------------------------------------------------------------------------- blob (Azure-like)

_BLOB_DEFAULTS = {
    403: "AuthenticationFailed",
    404: "BlobNotFound",
    416: "InvalidRange",
    500: "InternalError",
    503: "ServerBusy",
}


def blob_error(status: int, code: str | None = None, message: str = "", detail: str | None = None) -> web.Response:
    """An Azure Storage style XML error."""
    code = code or _BLOB_DEFAULTS.get(status, "Error")
    when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    extra = f"<AuthenticationErrorDetail>{detail}</AuthenticationErrorDetail>" if detail else ""
    xml = (
        '<?xml version="1.0" encoding="utf-8"?><Error>'
        f"<Code>{code}</Code><Message>{message or code}\nRequestId:{uuid.uuid4()}\nTime:{when}</Message>{extra}</Error>"
    )
    return web.Response(status=status, text=xml, content_type="application/xml", headers={"x-ms-error-code": code})


# --------------------------------------------------------------------------- injected faults

# The usual error of each API for a status: Criteo (problem type, code, title), Walmart (code, category, description).
_INJECTED = {
    ("criteo", 400): ("validation", "bad-request", "Bad request"),
    ("walmart", 400): ("INVALID_REQUEST_PARAM", "REQUEST", "Invalid request parameter"),
    ("criteo", 401): ("authentication", "authorization-token-expired", "The authorization token has expired"),
    ("walmart", 401): ("UNAUTHORIZED", "REQUEST", "Unauthorized token or token is expired"),
    ("criteo", 403): ("authorization", "forbidden", "Insufficient permissions"),
    ("walmart", 403): ("FORBIDDEN", "REQUEST", "Forbidden"),
    ("criteo", 404): ("unknown", "not-found", "Resource not found"),
    ("walmart", 404): ("CONTENT_NOT_FOUND", "DATA", "Content not found"),
    ("criteo", 409): ("validation", "conflict", "Conflicting parameters"),
    ("criteo", 429): ("quota", "too-many-requests", "Throttling limit reached"),
    ("walmart", 429): ("REQUEST_THRESHOLD_VIOLATED", "REQUEST", "Request threshold violated"),
    ("criteo", 500): ("unknown", "internal-error", "Internal server error"),
    ("walmart", 500): ("SYSTEM_ERROR", "SYSTEM", "There is an error in the system. Please wait and try again later."),
    ("criteo", 502): ("availability", "bad-gateway", "Bad gateway"),
    ("walmart", 502): ("BAD_GATEWAY", "SYSTEM", "Bad gateway"),
    ("criteo", 503): ("availability", "service-unavailable", "Service unavailable"),
    ("walmart", 503): ("SERVICE_UNAVAILABLE", "SYSTEM", "Service unavailable"),
    ("criteo", 504): ("availability", "gateway-timeout", "Gateway timeout"),
    ("walmart", 504): ("DOWNSTREAM_SYSTEM_TIME_OUT", "SYSTEM", "Downstream system timed out"),
}


def injected_error(endpoint: str, status: int, envelope: str) -> web.Response:
    """The answer of a status fault on `endpoint`: that API's usual error for `status`, marked "(injected)"."""
    if endpoint == "walmart.blob":
        return blob_error(status)
    if endpoint.startswith("criteo."):
        type_, code, title = _INJECTED.get(("criteo", status), ("unknown", f"http-{status}", f"HTTP {status}"))
        return criteo_error(status, [criteo_problem(code, title, title + " (injected)", type_)])
    code, category, text = _INJECTED.get(("walmart", status), (f"HTTP_{status}", "SYSTEM", f"HTTP {status}"))
    return walmart_error(status, code, text + " (injected)", envelope, category=category)
