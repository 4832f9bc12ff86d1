"""Walmart error answers -> typed errors: the code and status tables and the error envelopes (JSON, XML, text)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from airflow_report_provider.common.http.answers import error_class, pick_code, shorten, status_phrase
from airflow_report_provider.common.exceptions import (
    ApiError,
    AuthenticationError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    ReportNotFoundError,
    ServerError,
    TokenExpiredError,
)
from airflow_report_provider.common.http.messages import HttpResponse

#: Walmart error code (before any ``.GMP_...`` suffix) -> typed error.
ERROR_CODES: Mapping[str, type[ApiError]] = {
    "INVALID_REQUEST_PARAM": InvalidRequestError,
    "MISSING_REQUEST_HEADER": InvalidRequestError,
    "MISSING_REQUEST_PARAM": InvalidRequestError,
    "INVALID_REQUEST_CONTENT": InvalidRequestError,
    "INVALID_REQUEST_HEADER": InvalidRequestError,
    "UNAUTHORIZED": AuthenticationError,
    "INVALID_CLIENT": AuthenticationError,
    "INVALID_GRANT": AuthenticationError,
    "FORBIDDEN": PermissionDeniedError,
    "CONTENT_NOT_FOUND": ReportNotFoundError,
    "REQUEST_THRESHOLD_VIOLATED": RateLimitedError,
    "SYSTEM_ERROR": ServerError,
    "DOWNSTREAM_SYSTEM_TIME_OUT": ServerError,
}
#: HTTP status -> typed error, when the code is missing or unknown.
ERROR_STATUSES: Mapping[int, type[ApiError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: ReportNotFoundError,
    409: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitedError,
}

_XML_FIELD = r"<(?:\w+:)?{name}\b[^>]*>(.*?)</(?:\w+:)?{name}>"
_MAX_ERRORS_SHOWN = 3


def _error_entries(payload: Any) -> list[dict[str, Any]]:
    """Every error object of any Walmart envelope: ``errors`` / ``error`` lists, ``errors.error``, one object."""
    if isinstance(payload, list):
        return [e for item in payload for e in _error_entries(item)]
    if isinstance(payload, str):
        return [{"description": payload}] if payload.strip() else []
    if not isinstance(payload, Mapping):
        return []
    for key in ("errors", "error"):
        inner = payload.get(key)
        if isinstance(inner, str) and key == "error":  # OAuth style {"error": "invalid_client", "error_description"}
            return [{"code": inner, "description": payload.get("error_description") or payload.get("message")}]
        if isinstance(inner, (list, Mapping)) and inner:
            if isinstance(inner, Mapping) and not any(k in inner for k in ("errors", "error")):
                return [dict(inner)]
            return _error_entries(inner)
    if any(k in payload for k in ("code", "description", "message", "info")):
        return [dict(payload)]
    return []


def _xml_values(text: str, name: str) -> list[str]:
    """The stripped texts of every ``<name>`` element of an XML answer, any namespace prefix, in order."""
    return [m.strip() for m in re.findall(_XML_FIELD.format(name=name), text, flags=re.S | re.I)]


def _xml_entries(text: str) -> list[dict[str, Any]]:
    codes, descriptions, fields, infos = (_xml_values(text, name) for name in ("code", "description", "field", "info"))
    count = max(len(codes), len(descriptions))
    pick = lambda seq, i: seq[i] if i < len(seq) else None  # noqa: E731
    return [
        {"code": pick(codes, i), "description": pick(descriptions, i), "field": pick(fields, i), "info": pick(infos, i)}
        for i in range(count)
    ]


def _entry_text(entry: Mapping[str, Any]) -> tuple[str, str]:
    """``(base code, human text)`` of one error object."""
    raw_code = str(entry.get("code") or "").strip()
    base = raw_code.split(".", 1)[0].upper()
    description = str(entry.get("description") or entry.get("message") or "").strip()
    info = str(entry.get("info") or "").strip()
    field_name = str(entry.get("field") or "").strip()
    words = [w for w in (description, info if info and info != description else "") if w]
    text = " - ".join(words) or raw_code or "error"
    if raw_code and raw_code != text:
        text = f"{raw_code}: {text}"
    if field_name and field_name.upper() != base and field_name not in text:
        text = f"{text} (field {field_name})"
    return base, shorten(text, 300, "…")


def error_texts(payload: Any) -> list[str]:
    """The human texts of the error objects of any envelope (none: an empty list)."""
    return [_entry_text(entry)[1] for entry in _error_entries(payload)]


def answer_error(
    response: HttpResponse, api: str, retry_after: Callable[[HttpResponse], float | None]
) -> ApiError:
    """Map an error answer (any envelope, JSON, XML, text or empty) to a typed error with Walmart's code.

    ``retry_after`` reads the wait the API asks for; it is consulted for 429 answers and throttling codes.
    """
    data = response.json()
    text = response.body.decode("utf-8", "replace") if response.body else ""
    if data is not None:
        entries = _error_entries(data)
    elif re.search(r"<(?:\w+:)?code\b", text, flags=re.I):
        entries = _xml_entries(text)
    else:
        entries = []
    described = [_entry_text(e) for e in entries]
    code = pick_code((code for code, _ in described if code), ERROR_CODES)
    if described:
        message = "; ".join(t for _, t in described[:_MAX_ERRORS_SHOWN])
        if len(described) > _MAX_ERRORS_SHOWN:
            message += f" (+{len(described) - _MAX_ERRORS_SHOWN} more)"
    else:
        reason = status_phrase(response.status, "error")
        snippet = shorten(re.sub(r"<[^>]+>", " ", text), 200, "…") if text.strip() else ""
        message = f"{reason}: {snippet}" if snippet else f"{reason} (empty answer)"
    message = shorten(message, 1000, "…")
    cls = error_class(code, response.status, ERROR_CODES, ERROR_STATUSES)
    if cls is AuthenticationError and "expired" in message.lower():
        cls = TokenExpiredError
    wait = retry_after(response) if response.status == 429 or cls is RateLimitedError else None
    return cls(message, status=response.status, code=code, api=api, retry_after=wait)
