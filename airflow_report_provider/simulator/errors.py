"""Error answers in each API's own shape: Criteo problems, Walmart error envelopes, Azure-like blob XML."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

JSON = "application/json"

# --------------------------------------------------------------------------- Criteo

_CRITEO_DEFAULTS = {
    400: ("validation", "bad-request", "Bad request"),
    401: ("authentication", "authorization-token-expired", "The authorization token has expired"),
    403: ("authorization", "forbidden", "Insufficient permissions"),
    404: ("unknown", "not-found", "Resource not found"),
    409: ("validation", "conflict", "Conflicting parameters"),
    429: ("quota", "too-many-requests", "Throttling limit reached"),
    500: ("unknown", "internal-error", "Internal server error"),
    502: ("availability", "bad-gateway", "Bad gateway"),
    503: ("availability", "service-unavailable", "Service unavailable"),
    504: ("availability", "gateway-timeout", "Gateway timeout"),
}


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


def criteo_default_error(status: int, instance: str | None = None) -> web.Response:
    type_, code, title = _CRITEO_DEFAULTS.get(status, ("unknown", f"http-{status}", f"HTTP {status}"))
    return criteo_error(status, [criteo_problem(code, title, title + " (injected)", type_, instance)])


# --------------------------------------------------------------------------- Walmart

_WALMART_DEFAULTS = {
    400: ("INVALID_REQUEST_PARAM", "REQUEST", "Invalid request parameter"),
    401: ("UNAUTHORIZED", "REQUEST", "Unauthorized token or token is expired"),
    403: ("FORBIDDEN", "REQUEST", "Forbidden"),
    404: ("CONTENT_NOT_FOUND", "DATA", "Content not found"),
    429: ("REQUEST_THRESHOLD_VIOLATED", "REQUEST", "Request threshold violated"),
    500: ("SYSTEM_ERROR", "SYSTEM", "There is an error in the system. Please wait and try again later."),
    502: ("BAD_GATEWAY", "SYSTEM", "Bad gateway"),
    503: ("SERVICE_UNAVAILABLE", "SYSTEM", "Service unavailable"),
    504: ("DOWNSTREAM_SYSTEM_TIME_OUT", "SYSTEM", "Downstream system timed out"),
}


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


def walmart_default_error(status: int, envelope: str) -> web.Response:
    code, category, text = _WALMART_DEFAULTS.get(status, (f"HTTP_{status}", "SYSTEM", f"HTTP {status}"))
    return walmart_error(status, code, text + " (injected)", envelope, category=category)


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
