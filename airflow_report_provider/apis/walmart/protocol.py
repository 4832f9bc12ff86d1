"""The sans-IO protocol class of Walmart On-request Reports that the shared transports drive: hosts and headers,
token and report calls, and the answers handed back to :mod:`.parsing` and :mod:`.errors`."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

from airflow_report_provider.apis.walmart.errors import answer_error
from airflow_report_provider.apis.walmart.parsing import (
    REQUEST_STATES,
    WalmartDownloadLink,
    access_token,
    download_links,
    listed_requests,
    report_status,
)
from airflow_report_provider.apis.walmart.requests import WalmartReportRequest
from airflow_report_provider.apis.walmart.validation import (
    _HTTP_URL,
    _optional_text,
    _report_type,
    _report_version,
    validate_request_id,
)
from airflow_report_provider.common.http.answers import successful
from airflow_report_provider.common.exceptions import ApiError, ReportValidationError
from airflow_report_provider.common.http.messages import HttpRequest, HttpResponse
from airflow_report_provider.common.http.protocol import AccessToken, ApiProtocol, Credentials
from airflow_report_provider.common.states import ReportStatus
from airflow_report_provider.common.validation import format_utc, parse_datetime

WALMART_DEFAULT_HOST = "https://marketplace.walmartapis.com"
WALMART_SANDBOX_HOST = "https://sandbox.walmartapis.com"
WALMART_DEFAULT_SERVICE_NAME = "Walmart Marketplace"
WALMART_GLOBAL_VERSION = "3.1"

#: Markets of Walmart's global APIs (``WM_MARKET``); the API's own default is ``us``.
MARKETS = frozenset({"us", "ca", "mx", "cl"})


class WalmartProtocol(ApiProtocol):
    """Authentication, call building, answer parsing and error mapping of Walmart On-request Reports."""

    api_name: ClassVar[str] = "walmart"
    #: Walmart publishes no figure for these endpoints; status polls every 30 s have been throttled. Ten calls a
    #: minute per credential (one every 6 s, shared by every hook and trigger of a process) covers a task's list,
    #: create, status and download-URL calls with room to spare, while pollers wait minutes between checks.
    default_calls_per_minute: ClassVar[float] = 10.0

    def __init__(
        self,
        host: str = WALMART_DEFAULT_HOST,
        service_name: str = WALMART_DEFAULT_SERVICE_NAME,
        channel_type: str | None = None,
        market: str | None = None,
        correlation_id: Callable[[], Any] = uuid.uuid4,
    ) -> None:
        host = (_optional_text("host", host) or WALMART_DEFAULT_HOST).rstrip("/")
        if not _HTTP_URL.match(host):
            raise ReportValidationError("host", "must be a base URL such as https://marketplace.walmartapis.com", host)
        self.host = host
        self.service_name = _optional_text("service_name", service_name) or WALMART_DEFAULT_SERVICE_NAME
        self.channel_type = _optional_text("channel_type", channel_type)
        market_text = _optional_text("market", market)
        if market_text is not None and market_text.lower() not in MARKETS:
            raise ReportValidationError("market", f"must be one of {sorted(MARKETS)}", market)
        self.market = market_text.lower() if market_text else None
        self._correlation_id = correlation_id

    # -- headers and auth

    def _common_headers(self) -> dict[str, str]:
        """Headers of every Walmart call, with a fresh correlation id."""
        headers = {
            "Accept": "application/json",
            "WM_QOS.CORRELATION_ID": str(self._correlation_id()),
            "WM_SVC.NAME": self.service_name,
        }
        optional = {
            "WM_CONSUMER.CHANNEL.TYPE": self.channel_type,
            "WM_MARKET": self.market,
            "WM_GLOBAL_VERSION": WALMART_GLOBAL_VERSION if self.market else None,
        }
        headers.update({k: v for k, v in optional.items() if v})
        return headers

    def token_request(self, credentials: Credentials) -> HttpRequest:
        """``POST /v3/token`` with HTTP Basic client credentials and ``grant_type=client_credentials``."""
        basic = base64.b64encode(f"{credentials.client_id}:{credentials.client_secret}".encode()).decode("ascii")
        host = (credentials.host or self.host).rstrip("/")
        return HttpRequest(
            method="POST",
            url=f"{host}/v3/token",
            endpoint="walmart.token",
            headers={
                **self._common_headers(),
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            form={"grant_type": "client_credentials"},
            idempotent=True,
            authenticated=False,
            rate_limited=False,
        )

    def parse_token(self, response: HttpResponse, now: float | None = None) -> AccessToken:
        """Read ``access_token`` / ``expires_in`` (JSON, or the XML ``accessToken`` / ``expiresIn`` variant)."""
        return access_token(successful(response, self.error_for), self.api_name, now)

    def authorize(self, request: HttpRequest, token: str) -> HttpRequest:
        """Add the token and the per-call headers; a fresh correlation id each time (called once per attempt)."""
        if not request.authenticated:
            return request
        headers = {**self._common_headers(), "WM_SEC.ACCESS_TOKEN": token}
        if request.method.upper() in ("POST", "PUT", "PATCH"):
            headers["Content-Type"] = "application/json"
        return request.with_headers(headers)

    def error_for(self, response: HttpResponse) -> ApiError:
        """Map an error answer (any envelope, JSON, XML, text or empty) to a typed error with Walmart's code."""
        return answer_error(response, self.api_name, self.retry_after)

    # -- report calls

    def _url(self, path: str) -> str:
        return f"{self.host}/v3/{path}"

    def create_request(self, report: WalmartReportRequest) -> HttpRequest:
        """``POST /v3/reports/reportRequests?reportType=..&reportVersion=..`` (never retried blindly)."""
        return HttpRequest(
            method="POST",
            url=self._url("reports/reportRequests"),
            endpoint="walmart.create",
            params={"reportType": report.report_type, "reportVersion": report.report_version},
            json=report.body() or {},
            idempotent=False,
        )

    def status_request(self, request_id: str) -> HttpRequest:
        """``GET /v3/reports/reportRequests/{requestId}``."""
        rid = quote(validate_request_id(request_id), safe="")
        return HttpRequest(method="GET", url=self._url(f"reports/reportRequests/{rid}"), endpoint="walmart.status")

    def list_request(
        self,
        *,
        report_type: str | None = None,
        report_version: str | None = None,
        request_status: str | None = None,
        submitted_after: datetime | str | None = None,
        submitted_before: datetime | str | None = None,
        request_id: str | None = None,
        cursor: str | None = None,
    ) -> HttpRequest:
        """``GET /v3/reports/reportRequests`` with filters, or the next page: ``cursor`` is the whole query string.

        The submission dates go together (Walmart answers INVALID_REQUEST_PARAM to only one of them).
        """
        base = self._url("reports/reportRequests")
        if cursor is not None:
            query = _optional_text("cursor", cursor)
            if not query or any(c.isspace() or c == "#" for c in query):
                raise ReportValidationError("cursor", "must be the nextCursor query string of a list answer", cursor)
            return HttpRequest(method="GET", url=f"{base}?{query.lstrip('?')}", endpoint="walmart.list")
        status = _optional_text("request_status", request_status)
        if status is not None and status.upper() not in REQUEST_STATES:
            raise ReportValidationError("request_status", f"must be one of {sorted(REQUEST_STATES)}", request_status)
        after = parse_datetime("submitted_after", submitted_after)
        before = parse_datetime("submitted_before", submitted_before)
        if (after is None) != (before is None):
            missing = "submitted_before" if before is None else "submitted_after"
            raise ReportValidationError(missing, "is required with the other submission date: Walmart needs both")
        if after is not None and before is not None and before < after:
            raise ReportValidationError("submitted_before", "must not be before submitted_after", format_utc(before))
        params = {
            "reportType": _report_type(report_type) if report_type is not None else None,
            "reportVersion": _report_version(report_version) if report_version is not None else None,
            "requestStatus": status.upper() if status else None,
            "requestSubmissionStartDate": format_utc(after) if after else None,
            "requestSubmissionEndDate": format_utc(before) if before else None,
            "requestId": validate_request_id(request_id) if request_id is not None else None,
        }
        return HttpRequest(
            method="GET", url=base, endpoint="walmart.list", params={k: v for k, v in params.items() if v is not None}
        )

    def download_url_request(self, request_id: str) -> HttpRequest:
        """``GET /v3/reports/downloadReport?requestId=..``: answers a short-lived pre-signed URL."""
        return HttpRequest(
            method="GET",
            url=self._url("reports/downloadReport"),
            endpoint="walmart.download_url",
            params={"requestId": validate_request_id(request_id)},
        )

    def token_detail_request(self) -> HttpRequest:
        """``GET /v3/token/detail``: the token's scopes, a cheap connection test."""
        return HttpRequest(method="GET", url=self._url("token/detail"), endpoint="walmart.token_detail")

    def blob_request(self, link: WalmartDownloadLink) -> HttpRequest:
        """``GET`` the pre-signed URL itself: no Walmart header, no token, outside the API's rate limit."""
        if not isinstance(link, WalmartDownloadLink):
            raise TypeError("blob_request takes a WalmartDownloadLink")
        return HttpRequest(
            method="GET",
            url=link.url,
            endpoint="walmart.blob",
            # identity: byte counts, Content-Length checks and Range resumes all speak of the file's own bytes.
            headers={"Accept-Encoding": "identity"},
            authenticated=False,
            rate_limited=False,
        )

    # -- answers

    def _answer(self, response_or_json: HttpResponse | Any, what: str) -> Any:
        """The parsed JSON of a successful answer (an error answer raises its typed error); parsed JSON as is."""
        if isinstance(response_or_json, HttpResponse):
            data = successful(response_or_json, self.error_for).json()
            if data is None:
                raise ApiError(f"the {what} answer is not JSON", status=response_or_json.status, api=self.api_name)
            return data
        return response_or_json

    def parse_request(self, response_or_json: HttpResponse | Mapping[str, Any]) -> ReportStatus:
        """A create or status answer (or its parsed JSON) as a :class:`ReportStatus`."""
        return report_status(self._answer(response_or_json, "report request"), self.api_name)

    def parse_list(self, response_or_json: HttpResponse | Mapping[str, Any]) -> tuple[list[ReportStatus], str | None]:
        """The listed requests (entries without a requestId are skipped) and the next page's cursor, if any."""
        return listed_requests(self._answer(response_or_json, "list"), self.api_name)

    def parse_download(self, response_or_json: HttpResponse | Any) -> list[WalmartDownloadLink]:
        """The pre-signed URL(s) of a READY report: one object, a list of them, or several URLs (split reports)."""
        return download_links(self._answer(response_or_json, "download"), self.api_name)
