"""Reading a report API's answers, whatever the API: typed-error lookup, trimmed messages and token expiry."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from airflow_report_provider.common.exceptions import ApiError, ServerError
from airflow_report_provider.common.http.messages import HttpResponse


def successful(response: HttpResponse, error_for: Callable[[HttpResponse], ApiError]) -> HttpResponse:
    """``response`` when it is a 2xx answer; otherwise raises the API's typed error for it."""
    if not response.ok:
        raise error_for(response)
    return response


def shorten(text: str, limit: int, ellipsis: str = "...") -> str:
    """``text`` on one line (whitespace runs become one space), cut to ``limit`` characters ending in ``ellipsis``."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - len(ellipsis)] + ellipsis


def status_phrase(status: int, unknown: str) -> str:
    """The reason phrase of an HTTP status (``Not Found``), or ``unknown`` for a status outside the standard."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return unknown


def pick_code(codes: Iterable[str], known: Mapping[str, Any]) -> str | None:
    """The first of an answer's error ``codes`` that ``known`` maps, else its first code, else ``None``."""
    codes = list(codes)
    return next((code for code in codes if code in known), codes[0] if codes else None)


def error_class(
    code: str | None,
    status: int,
    by_code: Mapping[str, type[ApiError]],
    by_status: Mapping[int, type[ApiError]],
) -> type[ApiError]:
    """The error class of an error answer: by the API's code, then by HTTP status, then :class:`ServerError` for
    any other 5xx and :class:`ApiError` for the rest."""
    if code in by_code:
        return by_code[code]  # type: ignore[index]
    if status in by_status:
        return by_status[status]
    return ServerError if status >= 500 else ApiError


def token_expiry(expires_in: Any, default: float, now: float | None = None, *, positive: bool = False) -> float:
    """The wall-clock second a token expires: ``now`` (default: the clock) plus ``expires_in`` seconds, or plus
    ``default`` when ``expires_in`` is missing or not a number (with ``positive``, also when it is not above 0)."""
    try:
        lifetime = float(expires_in)
    except (TypeError, ValueError):
        lifetime = default
    if positive and not lifetime > 0:
        lifetime = default
    return (time.time() if now is None else now) + lifetime
