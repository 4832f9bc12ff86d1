"""The sans-IO protocol class of Criteo MPO that the shared transports drive: hosts, requests, answers, errors."""

from __future__ import annotations

import re
from urllib.parse import quote

from airflow_report_provider.apis.criteo_mpo.errors import answer_error
from airflow_report_provider.apis.criteo_mpo.parsing import bearer_token, job_status
from airflow_report_provider.apis.criteo_mpo.requests import CriteoReportRequest
from airflow_report_provider.apis.criteo_mpo.validation import validate_report_id
from airflow_report_provider.common.http.answers import successful
from airflow_report_provider.common.exceptions import ApiError, ReportValidationError
from airflow_report_provider.common.http.messages import HttpRequest, HttpResponse
from airflow_report_provider.common.http.protocol import AccessToken, ApiProtocol, Credentials
from airflow_report_provider.common.states import ReportStatus

CRITEO_DEFAULT_HOST = "https://api.criteo.com"
CRITEO_DEFAULT_API_VERSION = "preview"
API_NAME = "criteo_mpo"

_API_VERSION = re.compile(r"^(preview|experimental|\d{4}-(0[1-9]|1[0-2]))$")
_JSON = "application/json"


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
            headers={"Accept": _JSON, "Content-Type": "application/x-www-form-urlencoded"},
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
        return bearer_token(successful(response, self.error_for), self.api_name, now)

    def authorize(self, request: HttpRequest, token: str) -> HttpRequest:
        """Add ``Authorization: Bearer``, a default ``Accept`` and, on JSON calls, ``Content-Type``."""
        headers = {"Authorization": f"Bearer {token}"}
        present = {name.lower() for name in request.headers}
        if "accept" not in present:
            headers["Accept"] = _JSON
        if request.json is not None and "content-type" not in present:
            headers["Content-Type"] = _JSON
        return request.with_headers(headers)

    def error_for(self, response: HttpResponse) -> ApiError:
        """The typed error of an error answer (code first, then HTTP status); never quotes headers or tokens."""
        return answer_error(response, self.api_name, self.retry_after)

    # -- report calls --------------------------------------------------------------------------------------

    def create_request(self, report: CriteoReportRequest) -> HttpRequest:
        """``POST {base}/realtime-reports/export``: never resent blindly (the hooks reattach instead)."""
        return HttpRequest(
            method="POST",
            url=f"{self.base_url}/realtime-reports/export",
            endpoint="criteo.create",
            headers={"Accept": _JSON, "Content-Type": _JSON},
            json=report.body(),
            idempotent=False,
        )

    def _export_request(self, endpoint: str, collection: str, report_id: str, headers: dict[str, str]) -> HttpRequest:
        """``GET {base}/{collection}/{id}`` of one export."""
        url = f"{self.base_url}/{collection}/{quote(validate_report_id(report_id), safe='')}"
        return HttpRequest(method="GET", url=url, endpoint=endpoint, headers=headers)

    def status_request(self, report_id: str) -> HttpRequest:
        """``GET {base}/report-jobs/{id}``."""
        return self._export_request("criteo.status", "report-jobs", report_id, {"Accept": _JSON})

    def download_request(self, report_id: str) -> HttpRequest:
        """``GET {base}/realtime-reports/{id}``: the raw file (200 only once the job is Done)."""
        # identity: byte counts, Content-Length checks and Range resumes all speak of the file's own bytes.
        headers = {"Accept": "text/csv, application/json, */*", "Accept-Encoding": "identity"}
        return self._export_request("criteo.download", "realtime-reports", report_id, headers)

    def parse_job(self, response: HttpResponse) -> ReportStatus:
        """The job of a create or status answer; error answers (and ``errors`` in a 200) raise."""
        body = successful(response, self.error_for).json()
        if isinstance(body, dict) and body.get("errors"):
            raise self.error_for(response)
        return job_status(response, body, self.api_name)
