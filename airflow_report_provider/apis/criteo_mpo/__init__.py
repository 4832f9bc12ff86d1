"""Criteo Marketplace Performance Outcomes (MPO) real-time report export: the sans-IO protocol.

Pure functions and dataclasses, no I/O. The shared transports (``common/http/transport.py``) send the
:class:`~airflow_report_provider.common.http.messages.HttpRequest` values built here and hand the answers back to be
parsed.

Workflow: ``POST {base}/realtime-reports/export`` creates a job, ``GET {base}/report-jobs/{id}`` polls it until
``Done``, ``GET {base}/realtime-reports/{id}`` returns the file bytes (CSV or JSON). Where the product documentation
and the OpenAPI spec disagree (``csv`` vs ``Csv``, ``productId`` vs ``ProductId``) both spellings are accepted on
input and the spec's spelling is sent.

Modules, one job each: :mod:`.validation` (the enums and the operator-argument checks), :mod:`.requests` (the
export request and its body), :mod:`.parsing` (token and job answers), :mod:`.errors` (error answers -> typed
errors), :mod:`.protocol` (the class the transports drive). Every name is re-exported here.
"""

from __future__ import annotations

from airflow_report_provider.apis.criteo_mpo.errors import ERRORS_BY_CODE, ERRORS_BY_STATUS, MAX_MESSAGE
from airflow_report_provider.apis.criteo_mpo.parsing import DEFAULT_TOKEN_LIFETIME, STATES
from airflow_report_provider.apis.criteo_mpo.protocol import (
    API_NAME,
    CRITEO_DEFAULT_API_VERSION,
    CRITEO_DEFAULT_HOST,
    CriteoMpoProtocol,
)
from airflow_report_provider.apis.criteo_mpo.requests import CONTENT_TYPES, RESOURCE_TYPE, CriteoReportRequest
from airflow_report_provider.apis.criteo_mpo.validation import (
    ARGUMENT_CHECKS,
    DIMENSIONS,
    EXCLUSIVE_DIMENSIONS,
    FILE_FORMATS,
    LOOKBACK_MINUTES,
    METRICS,
    check_arguments,
    validate_report_id,
)

__all__ = [
    "API_NAME",
    "ARGUMENT_CHECKS",
    "CONTENT_TYPES",
    "CRITEO_DEFAULT_API_VERSION",
    "CRITEO_DEFAULT_HOST",
    "DEFAULT_TOKEN_LIFETIME",
    "DIMENSIONS",
    "ERRORS_BY_CODE",
    "ERRORS_BY_STATUS",
    "EXCLUSIVE_DIMENSIONS",
    "FILE_FORMATS",
    "LOOKBACK_MINUTES",
    "MAX_MESSAGE",
    "METRICS",
    "RESOURCE_TYPE",
    "STATES",
    "CriteoMpoProtocol",
    "CriteoReportRequest",
    "check_arguments",
    "validate_report_id",
]
