"""Typed errors shared by every API of the provider.

Messages never carry secrets: callers pass API codes and descriptions, never tokens or signed URLs.
"""

from __future__ import annotations

from typing import Any

try:  # An Airflow task that raises AirflowException-compatible errors is rendered nicely in the UI.
    from airflow_report_provider.compat import AirflowException as _Base
except Exception:  # pragma: no cover - the protocol layer must also work without Airflow
    _Base = Exception


class ReportProviderError(_Base):
    """Base class of every error raised by this provider.

    ``retryable`` tells the Airflow wrappers whether a task retry can help: bad input, refused credentials
    and missing permissions fail the task at once instead of burning its retries.
    """

    retryable = True


class ReportValidationError(ReportProviderError, ValueError):
    """A request parameter breaks a rule of the API; raised before any HTTP call."""

    retryable = False

    def __init__(self, field: str, rule: str, value: Any = None) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        shown = "" if value is None else f" (got {value!r})"
        super().__init__(f"Invalid {field!r}: {rule}{shown}")


class ApiError(ReportProviderError):
    """An error answer of a report API, with the HTTP status and the API's own code."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        api: str = "",
        retry_after: float | None = None,
        job_id: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.api = api
        self.retry_after = retry_after
        self.job_id = job_id
        self.description = message
        parts = [p for p in (api, f"HTTP {status}" if status else "", code or "") if p]
        prefix = f"[{' '.join(parts)}] " if parts else ""
        super().__init__(f"{prefix}{message}")


class InvalidRequestError(ApiError):
    """The API rejected the request as invalid (HTTP 400 / 409)."""

    retryable = False


class AuthenticationError(ApiError):
    """Credentials or token were refused (HTTP 401)."""

    retryable = False


class TokenExpiredError(AuthenticationError):
    """The access token expired; the transport refreshes it and retries once."""

    retryable = True


class PermissionDeniedError(ApiError):
    """The credential lacks rights for this resource (HTTP 403)."""

    retryable = False


class ReportNotFoundError(ApiError):
    """The report job is unknown, not visible, or past its retention."""


class ReportExpiredError(ApiError):
    """The report exists but its output was deleted."""


class RateLimitedError(ApiError):
    """The API throttled the call (HTTP 429); ``retry_after`` is seconds to wait when known."""


class ServerError(ApiError):
    """A 5xx answer: the API or a gateway failed."""


class TransportError(ReportProviderError):
    """The connection failed or was cut before a full answer arrived."""


class ReportJobFailedError(ReportProviderError):
    """A report job ended without a usable file (failed, expired, timed out)."""

    def __init__(self, message: str, *, job_id: str | None = None, status: str | None = None, code: str | None = None) -> None:
        self.job_id = job_id
        self.status = status
        self.code = code
        super().__init__(message)


class TransferError(ReportProviderError):
    """Streaming a report into object storage failed; nothing was published at the destination."""


class IncompleteDownloadError(TransferError):
    """The body ended before the announced length."""


class ReportContentError(TransferError):
    """The report's content cannot be written as asked (a value that does not fit its column type, parts whose
    headers differ, a malformed file); nothing was published. Retrying downloads the same content: not retried."""

    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
