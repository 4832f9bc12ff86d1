"""Criteo MPO error answers -> typed errors: the code and status tables and the problem texts quoted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_report_provider.common.http.answers import error_class, pick_code, shorten, status_phrase
from airflow_report_provider.common.exceptions import (
    ApiError,
    AuthenticationError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    ReportExpiredError,
    ReportNotFoundError,
    TokenExpiredError,
)
from airflow_report_provider.common.http.messages import HttpResponse

#: Longest message quoted from an answer.
MAX_MESSAGE = 300

#: The API's error code -> error class; looked up before the HTTP status.
ERRORS_BY_CODE: dict[str, type[ApiError]] = {
    "authorization-token-expired": TokenExpiredError,
    "authorization-token-invalid": AuthenticationError,
    "invalid_client": AuthenticationError,  # OAuth 2 errors of the token endpoint (RFC 6749 5.2)
    "invalid_grant": AuthenticationError,
    "unauthorized_client": AuthenticationError,
    "export-not-found": ReportNotFoundError,
    "export-alreadyexpired": ReportExpiredError,
    "invalid-query": InvalidRequestError,
    "invalid-lookbackwindow": InvalidRequestError,
    "invalid-time-interval": InvalidRequestError,
    "invalid-dimensioncombination": InvalidRequestError,
    "json-serialization-error": InvalidRequestError,
}

#: HTTP status -> error class, when the code is not in :data:`ERRORS_BY_CODE` (5xx: ServerError).
ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    409: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitedError,
}


def _problems(body: Any) -> list[dict[str, Any]]:
    """The problems of an error answer: Criteo's ``errors`` array, an OAuth error, or a bare problem object."""
    if not isinstance(body, dict):
        return []
    if isinstance(body.get("errors"), list):
        return [problem for problem in body["errors"] if isinstance(problem, dict)]
    if isinstance(body.get("error"), str):
        return [{"code": body["error"], "title": body.get("error_description") or body["error"]}]
    if body.get("title") or body.get("detail"):
        return [{key: body.get(key) for key in ("code", "title", "detail", "traceId")}]
    return []


def _problem_text(problem: dict[str, Any]) -> str:
    title, detail = (str(problem.get(key) or "").strip() for key in ("title", "detail"))
    text = f"{title}: {detail}" if title and detail and detail != title else title or detail
    trace = problem.get("traceId") or problem.get("traceIdentifier")
    if trace:
        text = f"{text} (trace {trace})" if text else f"trace {trace}"
    return text


def answer_error(
    response: HttpResponse, api: str, retry_after: Callable[[HttpResponse], float | None]
) -> ApiError:
    """The typed error of an error answer (code first, then HTTP status); never quotes headers or tokens.

    ``retry_after`` reads the wait the API asks for; it is consulted for 429 and 5xx answers.
    """
    body = response.json()
    problems = _problems(body)
    code = pick_code((str(problem["code"]) for problem in problems if problem.get("code")), ERRORS_BY_CODE)
    message = "; ".join(text for text in map(_problem_text, problems[:3]) if text)
    if not message:
        phrase = status_phrase(response.status, "Unexpected answer")
        text = shorten(response.text(MAX_MESSAGE), MAX_MESSAGE) if body is None else ""
        message = f"{phrase}: {text}" if text else phrase
    wait = retry_after(response) if response.status == 429 or response.status >= 500 else None
    return error_class(code, response.status, ERRORS_BY_CODE, ERRORS_BY_STATUS)(
        shorten(message, MAX_MESSAGE), status=response.status, code=code, api=api, retry_after=wait
    )


def problem_texts(problems: Any) -> list[str]:
    """The texts of the problem objects of a list (an answer's ``warnings``), others skipped."""
    return [_problem_text(problem) for problem in problems if isinstance(problem, dict)]
