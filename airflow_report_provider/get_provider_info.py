"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_report_provider import __version__
from airflow_report_provider.common.lineage import ASSET_SCHEMES

_PACKAGE = "airflow_report_provider"

_COMMON_FIELDS = {
    "max_calls_per_minute": {
        "label": "Max calls per minute",
        "description": "Client-side rate limit for this credential (0 = none; default: the API's documented rate)",
        "schema": {"type": ["number", "null"]},
    },
    "verify_ssl": {
        "label": "Verify TLS certificates",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries of a throttled (429) or failed (5xx, cut connection) call (default 5)",
        "schema": {"type": ["integer", "null"], "minimum": 0},
    },
    "retry_base_delay": {
        "label": "Retry base delay (s)",
        "description": "First back-off between retries, doubled each time (default 1)",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "retry_max_delay": {
        "label": "Retry max delay (s)",
        "description": "Longest wait between retries; a longer wait asked by the API fails the call (default 120)",
        "schema": {"type": ["number", "null"], "minimum": 0},
    },
    "proxy": {
        "label": "Proxy URL",
        "description": "HTTP(S) proxy for every call, e.g. http://proxy.internal:3128 (default: HTTPS_PROXY / NO_PROXY)",
        "schema": {"type": ["string", "null"]},
    },
    "rate_limit_storage": {
        "label": "Shared rate-limit storage",
        "description": "A storage URL such as redis://redis:6379/2: one rate limit per credential for every process "
        "of the deployment (default: [report_provider] rate_limit_storage, else per process)",
        "schema": {"type": ["string", "null"]},
    },
}


def get_provider_info() -> dict[str, Any]:
    """Connection types, hooks, operators, sensors, triggers and transfers of this provider."""
    return {
        "package-name": "airflow-report-provider",
        "name": "Report APIs (Criteo MPO, Walmart Marketplace)",
        "description": "Pull reports from asynchronous report APIs into object storage: Criteo Marketplace "
        "Performance Outcomes real-time exports and Walmart Marketplace on-request reports.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Criteo Marketplace Performance Outcomes",
                "external-doc-url": "https://developers.criteo.com/",
                "tags": ["service"],
            },
            {
                "integration-name": "Walmart Marketplace",
                "external-doc-url": "https://developer.walmart.com/",
                "tags": ["service"],
            },
        ],
        "connection-types": [
            {
                "connection-type": "criteo_mpo",
                "hook-class-name": f"{_PACKAGE}.hooks.criteo_mpo.CriteoMpoHook",
                "hook-name": "Criteo MPO",
                "conn-fields": {
                    "api_version": {
                        "label": "API version",
                        "description": "preview (default), experimental, or a dated version such as 2027-01",
                        "schema": {"type": ["string", "null"], "default": "preview"},
                    },
                    **_COMMON_FIELDS,
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {"host": "API base URL", "login": "Client ID", "password": "Client secret"},
                    "placeholders": {
                        "host": "https://api.criteo.com",
                        "login": "your Criteo application's client id",
                        "password": "your Criteo application's client secret",
                    },
                },
            },
            {
                "connection-type": "walmart_marketplace",
                "hook-class-name": f"{_PACKAGE}.hooks.walmart.WalmartMarketplaceHook",
                "hook-name": "Walmart Marketplace",
                "conn-fields": {
                    "service_name": {
                        "label": "Service name (WM_SVC.NAME)",
                        "schema": {"type": ["string", "null"], "default": "Walmart Marketplace"},
                    },
                    "channel_type": {
                        "label": "Channel type (WM_CONSUMER.CHANNEL.TYPE)",
                        "description": "For solution providers; leave empty otherwise",
                        "schema": {"type": ["string", "null"]},
                    },
                    "market": {
                        "label": "Market (WM_MARKET)",
                        "description": "us, ca, mx or cl; leave empty for the US marketplace",
                        "schema": {
                            "type": ["string", "null"],
                            "enum": [None, "us", "ca", "mx", "cl"],
                            # The UI labels each choice through values_display; the empty one is keyed "null".
                            "values_display": {"null": "US (default)", "us": "US", "ca": "Canada", "mx": "Mexico", "cl": "Chile"},
                        },
                    },
                    **_COMMON_FIELDS,
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {"host": "API base URL", "login": "Client ID", "password": "Client secret"},
                    "placeholders": {
                        "host": "https://marketplace.walmartapis.com",
                        "login": "your Walmart Marketplace client id",
                        "password": "your Walmart Marketplace client secret",
                    },
                },
            },
        ],
        "config": {
            "report_provider": {
                "description": "Settings of airflow-report-provider for every connection.",
                "options": {
                    "rate_limit_storage": {
                        "description": "A storage URL (e.g. redis://redis:6379/2) that makes each credential's "
                        "client-side rate limit one for every process of the deployment. A connection's "
                        "rate_limit_storage extra takes precedence. Empty: each process limits its own calls.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "redis://redis:6379/2",
                        "default": "",
                    },
                },
            },
        },
        "hooks": [
            {"integration-name": "Criteo Marketplace Performance Outcomes", "python-modules": [f"{_PACKAGE}.hooks.criteo_mpo"]},
            {"integration-name": "Walmart Marketplace", "python-modules": [f"{_PACKAGE}.hooks.walmart"]},
        ],
        "operators": [
            {"integration-name": "Criteo Marketplace Performance Outcomes", "python-modules": [f"{_PACKAGE}.operators.criteo_mpo"]},
            {"integration-name": "Walmart Marketplace", "python-modules": [f"{_PACKAGE}.operators.walmart"]},
        ],
        "sensors": [
            {"integration-name": "Criteo Marketplace Performance Outcomes", "python-modules": [f"{_PACKAGE}.sensors.criteo_mpo"]},
            {"integration-name": "Walmart Marketplace", "python-modules": [f"{_PACKAGE}.sensors.walmart"]},
        ],
        "triggers": [
            {"integration-name": "Criteo Marketplace Performance Outcomes", "python-modules": [f"{_PACKAGE}.triggers.criteo_mpo"]},
            {"integration-name": "Walmart Marketplace", "python-modules": [f"{_PACKAGE}.triggers.walmart"]},
        ],
        # Reports read through the hooks are hook-level lineage inputs (common/lineage.py names them).
        "asset-uris": [
            {
                "schemes": ASSET_SCHEMES,
                "handler": None,
                "to_openlineage_converter": f"{_PACKAGE}.common.lineage.asset_to_openlineage",
            }
        ],
        "transfers": [
            {
                "source-integration-name": "Criteo Marketplace Performance Outcomes",
                "target-integration-name": "Common IO",
                "python-module": f"{_PACKAGE}.transfers.criteo_mpo_to_object_storage",
            },
            {
                "source-integration-name": "Walmart Marketplace",
                "target-integration-name": "Common IO",
                "python-module": f"{_PACKAGE}.transfers.walmart_to_object_storage",
            },
        ],
    }
