"""Walmart success answers -> values: the token, report-request states, list pages and pre-signed download links."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_report_provider.apis.walmart.errors import _xml_values, error_texts
from airflow_report_provider.apis.walmart.validation import _HTTP_URL, _utc_now
from airflow_report_provider.common.http.answers import shorten, token_expiry
from airflow_report_provider.common.exceptions import ApiError, AuthenticationError, ReportValidationError
from airflow_report_provider.common.http.messages import HttpResponse
from airflow_report_provider.common.http.protocol import AccessToken
from airflow_report_provider.common.observability.redaction import redact_url
from airflow_report_provider.common.states import ReportState, ReportStatus
from airflow_report_provider.common.validation import format_utc, parse_datetime

#: ``requestStatus`` -> normalised state. Anything else is treated as still pending (never terminal).
REQUEST_STATES: Mapping[str, ReportState] = {
    "RECEIVED": ReportState.PENDING,
    "SUBMITTED": ReportState.PENDING,
    "INPROGRESS": ReportState.RUNNING,
    "READY": ReportState.SUCCEEDED,
    "ERROR": ReportState.FAILED,
}

_STATUS_NOTE_KEYS = frozenset({"message", "errormessage", "statusmessage", "description"})


def _ci_get(mapping: Mapping[str, Any], *names: str) -> Any:
    """The first of ``names`` present in ``mapping``, compared case-insensitively (requestId / requestID)."""
    lowered = {str(k).lower(): v for k, v in mapping.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _lenient_datetime(value: Any) -> datetime | None:
    """An API timestamp (ISO string or epoch seconds / milliseconds) as aware UTC, or ``None`` if unreadable."""
    if isinstance(value, bool) or value in (None, ""):
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        number = float(value)
        return datetime.fromtimestamp(number / 1000.0 if number > 1e11 else number, timezone.utc)
    try:
        return parse_datetime("timestamp", value)
    except ReportValidationError:
        return None


def access_token(response: HttpResponse, api: str, now: float | None = None) -> AccessToken:
    """The token of a successful token answer: JSON ``access_token`` / ``expires_in`` or the XML ``accessToken`` /
    ``expiresIn`` variant (no usable lifetime: 15 minutes)."""
    data = response.json()
    if isinstance(data, Mapping):
        value, expires_in = data.get("access_token"), data.get("expires_in")
    else:
        text = response.body.decode("utf-8", "replace")
        value, expires_in = (next(iter(_xml_values(text, name)), None) for name in ("accessToken", "expiresIn"))
    if not isinstance(value, str) or not value.strip():
        raise AuthenticationError("the token answer carried no access token", status=response.status, api=api)
    return AccessToken(value=value.strip(), expires_at=token_expiry(expires_in, 900.0, now))


def report_status(data: Any, api: str) -> ReportStatus:
    """One report request of a create, status or list answer (its parsed JSON) as a :class:`ReportStatus`."""
    if not isinstance(data, Mapping):
        raise ApiError("a report request answer is not a JSON object", api=api)
    job_id = _ci_get(data, "requestId")
    if not isinstance(job_id, str) or not job_id.strip():
        raise ApiError("a report request answer carried no requestId", api=api)
    raw = str(_ci_get(data, "requestStatus") or "").strip()
    payload = _ci_get(data, "payload")
    details = {
        "reportType": _ci_get(data, "reportType"),
        "reportVersion": _ci_get(data, "reportVersion"),
        "requestSubmissionDate": _lenient_datetime(_ci_get(data, "requestSubmissionDate")),
        "payload": dict(payload) if isinstance(payload, Mapping) else {},
        "reportGenerationDate": _lenient_datetime(_ci_get(data, "reportGenerationDate")),
    }
    errors = error_texts({k: v for k, v in data.items() if k in ("errors", "error")})
    notes = [str(v) for k, v in data.items() if str(k).lower() in _STATUS_NOTE_KEYS and v]
    return ReportStatus(
        job_id=job_id.strip(),
        state=REQUEST_STATES.get(raw.upper(), ReportState.PENDING),
        raw_status=raw,
        message=shorten("; ".join(notes + errors), 1000, "…"),
        details=details,
    )


def listed_requests(data: Any, api: str) -> tuple[list[ReportStatus], str | None]:
    """The requests of a list answer (entries without a requestId skipped) and the next page's cursor, if any."""
    if not isinstance(data, Mapping):
        raise ApiError("the list answer is not a JSON object", api=api)
    items = data.get("requests") or []
    requests = [report_status(i, api) for i in items if isinstance(i, Mapping) and _ci_get(i, "requestId")]
    cursor = data.get("nextCursor")
    cursor = cursor.strip().lstrip("?") if isinstance(cursor, str) else None
    return requests, cursor or None


@dataclass(frozen=True)
class WalmartDownloadLink:
    """A pre-signed report URL and when it stops working. The signature never shows in ``repr``."""

    url: str = field(repr=False)
    expires_at: datetime | None = None

    @property
    def redacted(self) -> str:
        """The URL without its query string (where the signature lives), for logs."""
        return redact_url(self.url)

    def is_expired(self, now: datetime | None = None, margin: float | timedelta = timedelta(seconds=30)) -> bool:
        """True when the URL expires within ``margin`` of ``now``; a link without expiry never expires."""
        if self.expires_at is None:
            return False
        margin = margin if isinstance(margin, timedelta) else timedelta(seconds=float(margin))
        return _utc_now(now) >= self.expires_at - margin

    def __repr__(self) -> str:
        expires = format_utc(self.expires_at) if self.expires_at else None
        return f"WalmartDownloadLink(url={self.redacted!r}, expires_at={expires!r})"

    __str__ = __repr__


def _sas_expiry(url: str) -> datetime | None:
    """The ``se`` (signed expiry) of an Azure-style pre-signed URL, when the answer gave no expiration time."""
    values = parse_qs(urlsplit(url).query).get("se")
    return _lenient_datetime(values[0]) if values else None


def download_links(data: Any, api: str) -> list[WalmartDownloadLink]:
    """The pre-signed URL(s) of a READY report's download answer (its parsed JSON): one object, a list of them, or
    several URLs (split reports)."""
    links: list[WalmartDownloadLink] = []

    def collect(node: Any, expires: Any) -> None:
        if isinstance(node, str):
            url = node.strip()
            if not url:
                return
            if not _HTTP_URL.match(url):
                raise ApiError(f"the download answer carried an invalid URL {redact_url(url)!r}", api=api)
            when = _lenient_datetime(expires) or _sas_expiry(url)
            if url not in {link.url for link in links}:
                links.append(WalmartDownloadLink(url=url, expires_at=when))
        elif isinstance(node, list):
            for item in node:
                collect(item, expires)
        elif isinstance(node, Mapping):
            own = _ci_get(node, "downloadURLExpirationTime", "expirationTime", "expiresAt") or expires
            for key in ("downloadURL", "downloadURLs", "url", "urls", "files"):
                if _ci_get(node, key) is not None:
                    collect(_ci_get(node, key), own)

    collect(data, None)
    if not links:
        status = _ci_get(data, "requestStatus") if isinstance(data, Mapping) else None
        job_id = _ci_get(data, "requestId") if isinstance(data, Mapping) else None
        shown = f" (requestStatus {status})" if status else ""
        raise ApiError(f"the download answer carried no download URL{shown}", api=api, job_id=job_id)
    return links
