"""Walmart Marketplace On-request Reports: the sans-IO protocol.

Request models with validation, request building, answer parsing and error mapping for
``POST /v3/reports/reportRequests`` (create), ``GET /v3/reports/reportRequests/{id}`` (status),
``GET /v3/reports/reportRequests`` (list), ``GET /v3/reports/downloadReport`` (pre-signed URL) and the token calls.
No sockets here: the shared transports in ``common/http/transport.py`` move the :class:`HttpRequest` values built
here.

Facts and quirks followed (``reference/walmart-reports.md`` wins over the OpenAPI document where they disagree):

- ``reportType`` / ``reportVersion`` are query parameters of the create call, and free strings (types keep coming).
- Every report call carries a fresh ``WM_QOS.CORRELATION_ID``; ``Content-Type: application/json`` goes on POSTs
  only (even with an empty ``{}`` body). Global markets add ``WM_MARKET`` and ``WM_GLOBAL_VERSION: 3.1``.
- Row filters are sent as ``{"type": ...}`` (the spec's RangeFilter schema spells it ``rowFilterType``; Walmart's
  own examples and the notes use ``type``; ``rowFilterType`` is accepted on input and normalised).
- The list answer's ``nextCursor`` is the *whole* query string of the next page.
- The download URL is a pre-signed blob URL: fetched with no Walmart header, never shown unredacted.

Modules, one job each: :mod:`.report_types` (report-type tables), :mod:`.validation` (argument checks),
:mod:`.requests` (the create-report request), :mod:`.reuse` (finding an equivalent listed request),
:mod:`.parsing` (token, status, list and download answers), :mod:`.errors` (error answers -> typed errors),
:mod:`.protocol` (the class the transports drive). Every name is re-exported here.
"""

from __future__ import annotations

from airflow_report_provider.apis.walmart.errors import ERROR_CODES, ERROR_STATUSES
from airflow_report_provider.apis.walmart.parsing import REQUEST_STATES, WalmartDownloadLink
from airflow_report_provider.apis.walmart.protocol import (
    MARKETS,
    WALMART_DEFAULT_HOST,
    WALMART_DEFAULT_SERVICE_NAME,
    WALMART_GLOBAL_VERSION,
    WALMART_SANDBOX_HOST,
    WalmartProtocol,
)
from airflow_report_provider.apis.walmart.report_types import (
    DATE_GRANULARITY_MAX_SPAN,
    MAX_LOOKBACK_YEARS,
    REQUIRED_BODY_FIELDS,
    SNAPSHOT_REPORT_TYPES,
    WINDOWED_REPORT_TYPES,
)
from airflow_report_provider.apis.walmart.requests import WalmartReportRequest, check_arguments
from airflow_report_provider.apis.walmart.reuse import canonical_payload, find_reusable_request
from airflow_report_provider.apis.walmart.validation import validate_request_id

__all__ = [
    "DATE_GRANULARITY_MAX_SPAN",
    "ERROR_CODES",
    "ERROR_STATUSES",
    "MARKETS",
    "MAX_LOOKBACK_YEARS",
    "REQUEST_STATES",
    "REQUIRED_BODY_FIELDS",
    "SNAPSHOT_REPORT_TYPES",
    "WALMART_DEFAULT_HOST",
    "WALMART_DEFAULT_SERVICE_NAME",
    "WALMART_GLOBAL_VERSION",
    "WALMART_SANDBOX_HOST",
    "WINDOWED_REPORT_TYPES",
    "WalmartDownloadLink",
    "WalmartProtocol",
    "WalmartReportRequest",
    "canonical_payload",
    "check_arguments",
    "find_reusable_request",
    "validate_request_id",
]
