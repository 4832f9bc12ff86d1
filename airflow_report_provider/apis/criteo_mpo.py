"""Criteo Marketplace Performance Outcomes (MPO) real-time report export: the sans-IO protocol.

Pure functions and dataclasses, no I/O. The shared transports (``common/http/transport.py``) send the
:class:`~airflow_report_provider.common.http.messages.HttpRequest` values built here and hand the answers back to be parsed.

Workflow: ``POST {base}/realtime-reports/export`` creates a job, ``GET {base}/report-jobs/{id}`` polls it until
``Done``, ``GET {base}/realtime-reports/{id}`` returns the file bytes (CSV or JSON). Where the product documentation
and the OpenAPI spec disagree (``csv`` vs ``Csv``, ``productId`` vs ``ProductId``) both spellings are accepted on
input and the spec's spelling is sent.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from airflow_report_provider.common.exceptions import (
    ApiError,
    AuthenticationError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    ReportExpiredError,
    ReportNotFoundError,
    ReportValidationError,
    ServerError,
    TokenExpiredError,
)
from airflow_report_provider.common.http.messages import HttpRequest, HttpResponse
from airflow_report_provider.common.http.protocol import AccessToken, ApiProtocol, Credentials
from airflow_report_provider.common.states import ReportState, ReportStatus
from airflow_report_provider.common.validation import (
    format_utc,
    iana_timezone,
    integer,
    parse_datetime,
    string_list,
)

CRITEO_DEFAULT_HOST = "https://api.criteo.com"
CRITEO_DEFAULT_API_VERSION = "preview"
API_NAME = "criteo_mpo"

#: Dimensions of the spec enum (``RealTimeProductReportJob.dimensions``), in the spec's spelling.
DIMENSIONS: tuple[str, ...] = (
    "AdvertiserId",
    "PartnerId",
    "CampaignId",
    "SellerId",
    "ProductId",
    "SellerName",
    "Year",
    "Month",
    "Week",
    "Day",
    "Hour",
    "Minute",
)
#: Metrics of the spec enum (``RealTimeProductReportJob.metrics``).
METRICS: tuple[str, ...] = ("Clicks", "Displays", "Cost")
#: At most one of these may appear in one request (``invalid-dimensioncombination``).
EXCLUSIVE_DIMENSIONS: tuple[str, ...] = ("ProductId", "Hour", "Minute")
#: Operator spelling (lower-case) -> spec enum spelling of ``fileFormat``.
FILE_FORMATS: dict[str, str] = {"csv": "Csv", "json": "Json"}
CONTENT_TYPES: dict[str, str] = {"csv": "text/csv", "json": "application/json"}
LOOKBACK_MINUTES = (60, 1440)
#: Token lifetime assumed when the token answer has no usable ``expires_in`` (documented: 15 minutes).
DEFAULT_TOKEN_LIFETIME = 900.0
RESOURCE_TYPE = "RealTimeProductReportJob"
MAX_MESSAGE = 300

_API_VERSION = re.compile(r"^(preview|experimental|\d{4}-(0[1-9]|1[0-2]))$")
_BAD_ID_CHARS = re.compile(r"[\s,;\[\]'\"/]")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
_ROWS_COUNT = re.compile(r"rows_count\s*=\s*(\d+)")


# --------------------------------------------------------------------------------------------------------------
# Request model
# --------------------------------------------------------------------------------------------------------------


def _key(name: str) -> str:
    """Spelling-insensitive lookup key: ``productId``, ``ProductId``, ``product_id`` -> ``productid``."""
    return name.replace("_", "").replace("-", "").lower()


_DIMENSION_BY_KEY = {_key(name): name for name in DIMENSIONS}
_METRIC_BY_KEY = {_key(name): name for name in METRICS}


def _ids(field: str, value: Any, *, required: bool = False) -> tuple[str, ...]:
    """A de-duplicated tuple of ids; refuses items that look like a list rendered as text (``"1,2"``)."""
    items = string_list(field, value, required=required)
    for item in items:
        if _BAD_ID_CHARS.search(item):
            raise ReportValidationError(
                field, "ids must not contain spaces, commas, slashes, brackets or quotes (one id per list item)", item
            )
    return tuple(dict.fromkeys(items))


def _names(field: str, value: Any, known: dict[str, str], kind: str) -> tuple[str, ...]:
    """Known enum values in any camelCase / PascalCase spelling, normalised to the spec's, de-duplicated."""
    names = []
    for item in string_list(field, value):
        name = known.get(_key(item))
        if name is None:
            raise ReportValidationError(field, f"unknown {kind}; expected some of {', '.join(known.values())}", item)
        names.append(name)
    return tuple(dict.fromkeys(names))


def _dimensions(value: Any) -> tuple[str, ...]:
    dimensions = _names("dimensions", value, _DIMENSION_BY_KEY, "dimension")
    exclusive = [name for name in dimensions if name in EXCLUSIVE_DIMENSIONS]
    if len(exclusive) > 1:
        raise ReportValidationError(
            "dimensions", f"at most one of {', '.join(EXCLUSIVE_DIMENSIONS)} per request", exclusive
        )
    return dimensions


def _file_format(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in FILE_FORMATS:
        raise ReportValidationError("file_format", "must be 'csv' or 'json'", value)
    return text


def _optional_int(field: str, value: Any, minimum: int, maximum: int, unit: str = "") -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return integer(field, value, minimum=minimum, maximum=maximum, unit=unit)


def _timezone(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return iana_timezone("timezone", value)


def _currency(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _CURRENCY.match(value.strip()):
        raise ReportValidationError("currency", "must be a three-letter ISO 4217 code such as 'EUR'", value)
    return value.strip().upper()


def _whole_seconds(field: str, value: Any) -> datetime | None:
    """Aware UTC datetime cut to whole seconds: what is stored is exactly what is sent."""
    parsed = parse_datetime(field, value)
    return None if parsed is None else parsed.replace(microsecond=0)


def _check_window(lookback: int | None, start: datetime | None, end: datetime | None) -> None:
    """Exactly one of a lookback window or an absolute window (start, optional end after it)."""
    if lookback is not None and (start is not None or end is not None):
        raise ReportValidationError(
            "lookback_window", "cannot be combined with report_start/report_end; set one or the other", lookback
        )
    if lookback is None and start is None:
        if end is not None:
            raise ReportValidationError(
                "report_end", "requires report_start (or use lookback_window instead)", format_utc(end)
            )
        raise ReportValidationError(
            "lookback_window", "exactly one of lookback_window (minutes) or report_start[/report_end] is required"
        )
    if start is not None and end is not None and end <= start:
        raise ReportValidationError("report_end", f"must be after report_start ({format_utc(start)})", format_utc(end))


#: Operator argument -> its check (raises naming the argument; returns the normalised value).
ARGUMENT_CHECKS: dict[str, Any] = {
    "advertiser_ids": lambda value: _ids("advertiser_ids", value, required=True),
    "campaign_ids": lambda value: _ids("campaign_ids", value),
    "seller_ids": lambda value: _ids("seller_ids", value),
    "partner_ids": lambda value: _ids("partner_ids", value),
    "dimensions": _dimensions,
    "metrics": lambda value: _names("metrics", value, _METRIC_BY_KEY, "metric"),
    "file_format": _file_format,
    "lookback_window": lambda value: _optional_int("lookback_window", value, *LOOKBACK_MINUTES, unit="minutes"),
    "report_start": lambda value: _whole_seconds("report_start", value),
    "report_end": lambda value: _whole_seconds("report_end", value),
    "timezone": _timezone,
    "currency": _currency,
}
_WINDOW_ARGUMENTS = ("lookback_window", "report_start", "report_end")


def check_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Check the operator arguments given (any subset; a missing one is not known yet) and return them normalised.

    The window rule (exactly one of a lookback or a start) applies once all three window arguments are given.
    Raises :class:`ReportValidationError` naming the argument.
    """
    values = {name: ARGUMENT_CHECKS[name](value) for name, value in arguments.items() if name in ARGUMENT_CHECKS}
    if all(name in values for name in _WINDOW_ARGUMENTS):
        _check_window(*(values[name] for name in _WINDOW_ARGUMENTS))
    return values


@dataclass(frozen=True)
class CriteoReportRequest:
    """A validated MPO real-time export request.

    Construction validates and normalises every field (errors name the operator's argument); :meth:`build`
    takes the operator's argument names and raw values (lists, ISO strings, numeric strings).
    """

    advertiser_ids: tuple[str, ...]
    campaign_ids: tuple[str, ...] = ()
    seller_ids: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    file_format: str = "csv"
    lookback_window: int | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    timezone: str | None = None
    currency: str | None = None
    partner_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        arguments = {
            "advertiser_ids": self.advertiser_ids,
            "campaign_ids": self.campaign_ids,
            "seller_ids": self.seller_ids,
            "partner_ids": self.partner_ids,
            "dimensions": self.dimensions,
            "metrics": self.metrics,
            "file_format": self.file_format,
            "lookback_window": self.lookback_window,
            "report_start": self.start_date,
            "report_end": self.end_date,
            "timezone": self.timezone,
            "currency": self.currency,
        }
        values = check_arguments(arguments)
        values["start_date"], values["end_date"] = values.pop("report_start"), values.pop("report_end")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def build(
        cls,
        *,
        advertiser_ids: Any,
        campaign_ids: Any = None,
        seller_ids: Any = None,
        dimensions: Any = None,
        metrics: Any = None,
        file_format: Any = "csv",
        lookback_window: Any = None,
        report_start: Any = None,
        report_end: Any = None,
        timezone: Any = None,
        currency: Any = None,
        partner_ids: Any = None,
    ) -> CriteoReportRequest:
        """Validate the operator's raw arguments; raises :class:`ReportValidationError` naming the argument."""
        return cls(
            advertiser_ids=advertiser_ids,
            campaign_ids=campaign_ids,
            seller_ids=seller_ids,
            dimensions=dimensions,
            metrics=metrics,
            file_format=file_format,
            lookback_window=lookback_window,
            start_date=report_start,
            end_date=report_end,
            timezone=timezone,
            currency=currency,
            partner_ids=partner_ids,
        )

    def attributes(self) -> dict[str, Any]:
        """The ``RealTimeProductReportJob`` attributes, spelled as the spec spells them; unset fields omitted."""
        attributes: dict[str, Any] = {
            "advertiserIds": list(self.advertiser_ids),
            "campaignIds": list(self.campaign_ids),
            "sellerIds": list(self.seller_ids),
            "partnerIds": list(self.partner_ids),
            "dimensions": list(self.dimensions),
            "metrics": list(self.metrics),
            "fileFormat": FILE_FORMATS[self.file_format],
            "lookbackWindow": self.lookback_window,
            "startDate": format_utc(self.start_date) if self.start_date else None,
            "endDate": format_utc(self.end_date) if self.end_date else None,
            "timezone": self.timezone,
            "currency": self.currency,
        }
        return {key: value for key, value in attributes.items() if value not in (None, [])}

    def body(self) -> dict[str, Any]:
        """The JSON body of the create call."""
        return {"data": {"type": RESOURCE_TYPE, "attributes": self.attributes()}}

    def fingerprint(self) -> str:
        """A stable digest of the body: tells a retried task whether a stored job id is for this same request."""
        canonical = json.dumps(self.body(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def file_extension(self) -> str:
        return self.file_format

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.file_format]

    def describe(self) -> str:
        """A short description for logs, e.g. ``csv export for advertisers 123, 456 over the last 60 minutes``."""
        shown = ", ".join(self.advertiser_ids[:5])
        if len(self.advertiser_ids) > 5:
            shown += f" (+{len(self.advertiser_ids) - 5} more)"
        noun = "advertiser" if len(self.advertiser_ids) == 1 else "advertisers"
        if self.lookback_window is not None:
            window = f"over the last {self.lookback_window} minutes"
        else:
            end = format_utc(self.end_date) if self.end_date else "now"
            window = f"from {format_utc(self.start_date)} to {end}"  # type: ignore[arg-type]
        zone = f" ({self.timezone})" if self.timezone else ""
        return f"Criteo MPO {self.file_format} export for {noun} {shown} {window}{zone}"


def validate_report_id(value: Any) -> str:
    """An export id as the API returns it (a UUID in practice): a non-empty string without spaces or slashes."""
    if not isinstance(value, str) or not value.strip() or _BAD_ID_CHARS.search(value.strip()):
        raise ReportValidationError("report_id", "must be a non-empty export id without spaces or slashes", value)
    return value.strip()


# --------------------------------------------------------------------------------------------------------------
# Answer parsing helpers
# --------------------------------------------------------------------------------------------------------------

#: Job status (lower-cased) -> normalised state. Anything else is treated as not finished yet.
STATES: dict[str, ReportState] = {
    "unknown": ReportState.PENDING,
    "pending": ReportState.PENDING,
    "done": ReportState.SUCCEEDED,
    "failure": ReportState.FAILED,
    "expired": ReportState.EXPIRED,
}

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


def _shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def _error_code(problems: list[dict[str, Any]]) -> str | None:
    codes = [str(problem["code"]) for problem in problems if problem.get("code")]
    return next((code for code in codes if code in ERRORS_BY_CODE), codes[0] if codes else None)


def _error_class(code: str | None, status: int) -> type[ApiError]:
    if code in ERRORS_BY_CODE:
        return ERRORS_BY_CODE[code]  # type: ignore[index]
    if status >= 500:
        return ServerError
    return ERRORS_BY_STATUS.get(status, ApiError)


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unexpected answer"


def _rows_count(message: str) -> int | None:
    match = _ROWS_COUNT.search(message)
    return int(match.group(1)) if match else None


# --------------------------------------------------------------------------------------------------------------
# Protocol
# --------------------------------------------------------------------------------------------------------------


def _normalise_host(host: str | None) -> str:
    host = (host or "").strip().rstrip("/") or CRITEO_DEFAULT_HOST
    return host if "://" in host else f"https://{host}"


class CriteoMpoProtocol(ApiProtocol):
    """Requests and answers of the MPO real-time export API under one host and API version, free of I/O."""

    api_name = API_NAME
    default_calls_per_minute = 40  # reporting endpoints: 40 calls/min per application

    def __init__(self, host: str = CRITEO_DEFAULT_HOST, api_version: str = CRITEO_DEFAULT_API_VERSION) -> None:
        version = (api_version or CRITEO_DEFAULT_API_VERSION).strip().lower()
        if not _API_VERSION.match(version):
            raise ReportValidationError(
                "api_version", "must be 'preview', 'experimental' or a YYYY-MM version", api_version
            )
        self.host = _normalise_host(host)
        self.api_version = version

    def __repr__(self) -> str:
        return f"CriteoMpoProtocol(host={self.host!r}, api_version={self.api_version!r})"

    @property
    def base_url(self) -> str:
        return f"{self.host}/{self.api_version}/marketing-solutions/marketplace-performance-outcomes/stats"

    # -- authentication ------------------------------------------------------------------------------------

    def token_request(self, credentials: Credentials) -> HttpRequest:
        """``POST {host}/oauth2/token`` with the client-credentials grant (form-encoded)."""
        return HttpRequest(
            method="POST",
            url=f"{_normalise_host(credentials.host or self.host)}/oauth2/token",
            endpoint="criteo.token",
            headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
            form={
                "grant_type": "client_credentials",
                "client_id": credentials.client_id,
                "client_secret": credentials.client_secret,
            },
            authenticated=False,
            rate_limited=False,
        )

    def parse_token(self, response: HttpResponse, now: float | None = None) -> AccessToken:
        """The bearer token of a token answer; an error answer raises its mapped error."""
        if not response.ok:
            raise self.error_for(response)
        body = response.json()
        value = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            # Never quote the body: it may hold a token.
            raise ApiError("token answer has no access_token", status=response.status, api=self.api_name)
        token_type = str(body.get("token_type") or "Bearer")
        if token_type.lower() != "bearer":
            raise ApiError(f"unsupported token type {token_type[:20]!r}", status=response.status, api=self.api_name)
        try:
            lifetime = float(body.get("expires_in"))
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME
        lifetime = lifetime if lifetime > 0 else DEFAULT_TOKEN_LIFETIME
        return AccessToken(value=value, expires_at=(time.time() if now is None else now) + lifetime)

    def authorize(self, request: HttpRequest, token: str) -> HttpRequest:
        """Add ``Authorization: Bearer``, a default ``Accept`` and, on JSON calls, ``Content-Type``."""
        headers = {"Authorization": f"Bearer {token}"}
        present = {name.lower() for name in request.headers}
        if "accept" not in present:
            headers["Accept"] = "application/json"
        if request.json is not None and "content-type" not in present:
            headers["Content-Type"] = "application/json"
        return request.with_headers(headers)

    def error_for(self, response: HttpResponse) -> ApiError:
        """The typed error of an error answer (code first, then HTTP status); never quotes headers or tokens."""
        body = response.json()
        problems = _problems(body)
        code = _error_code(problems)
        message = "; ".join(text for text in map(_problem_text, problems[:3]) if text)
        if not message:
            text = _shorten(response.text(MAX_MESSAGE)) if body is None else ""
            message = f"{_status_phrase(response.status)}: {text}" if text else _status_phrase(response.status)
        error_class = _error_class(code, response.status)
        retry_after = self.retry_after(response) if response.status == 429 or response.status >= 500 else None
        return error_class(
            _shorten(message), status=response.status, code=code, api=self.api_name, retry_after=retry_after
        )

    # -- report calls --------------------------------------------------------------------------------------

    def create_request(self, report: CriteoReportRequest) -> HttpRequest:
        """``POST {base}/realtime-reports/export``: never resent blindly (the hooks reattach instead)."""
        return HttpRequest(
            method="POST",
            url=f"{self.base_url}/realtime-reports/export",
            endpoint="criteo.create",
            headers={"Accept": "application/json", "Content-Type": "application/json"},
            json=report.body(),
            idempotent=False,
        )

    def status_request(self, report_id: str) -> HttpRequest:
        """``GET {base}/report-jobs/{id}``."""
        return HttpRequest(
            method="GET",
            url=f"{self.base_url}/report-jobs/{quote(validate_report_id(report_id), safe='')}",
            endpoint="criteo.status",
            headers={"Accept": "application/json"},
        )

    def download_request(self, report_id: str) -> HttpRequest:
        """``GET {base}/realtime-reports/{id}``: the raw file (200 only once the job is Done)."""
        return HttpRequest(
            method="GET",
            url=f"{self.base_url}/realtime-reports/{quote(validate_report_id(report_id), safe='')}",
            endpoint="criteo.download",
            # identity: byte counts, Content-Length checks and Range resumes all speak of the file's own bytes.
            headers={"Accept": "text/csv, application/json, */*", "Accept-Encoding": "identity"},
        )

    def parse_job(self, response: HttpResponse) -> ReportStatus:
        """The job of a create or status answer; error answers (and ``errors`` in a 200) raise."""
        if not response.ok:
            raise self.error_for(response)
        body = response.json()
        if not isinstance(body, dict):
            raise ApiError(
                f"job answer is not a JSON object: {_shorten(response.text(100)) or 'empty body'}",
                status=response.status,
                api=self.api_name,
            )
        if body.get("errors"):
            raise self.error_for(response)
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        attributes = data.get("attributes") if isinstance(data.get("attributes"), dict) else {}
        job_id = attributes.get("exportId") or data.get("id")
        if not isinstance(job_id, str) or not job_id.strip():
            raise ApiError(
                "job answer has no export id (data.attributes.exportId or data.id)",
                status=response.status,
                api=self.api_name,
            )
        raw_status = str(attributes.get("status") or "Unknown")
        message = str(attributes.get("message") or "")
        details: dict[str, Any] = {}
        if (rows := _rows_count(message)) is not None:
            details["rows_count"] = rows
        if body.get("warnings"):
            details["warnings"] = [_problem_text(w) for w in body["warnings"] if isinstance(w, dict)]
        return ReportStatus(
            job_id=job_id.strip(),
            state=STATES.get(raw_status.lower(), ReportState.PENDING),
            raw_status=raw_status,
            message=message,
            details=details,
        )


__all__ = [
    "CONTENT_TYPES",
    "CRITEO_DEFAULT_API_VERSION",
    "CRITEO_DEFAULT_HOST",
    "DIMENSIONS",
    "ERRORS_BY_CODE",
    "ERRORS_BY_STATUS",
    "EXCLUSIVE_DIMENSIONS",
    "FILE_FORMATS",
    "METRICS",
    "STATES",
    "CriteoMpoProtocol",
    "CriteoReportRequest",
    "validate_report_id",
]
