"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_report_provider import __version__
from airflow_report_provider.common.observability.lineage import ASSET_SCHEMES
from airflow_report_provider.hooks.forms import CONN_FIELDS, UI_FIELD_BEHAVIOUR

_PACKAGE = "airflow_report_provider"
#: Each API's module name (the same in hooks/, operators/, sensors/, triggers/) -> its integration name.
_INTEGRATIONS = {"criteo_mpo": "Criteo Marketplace Performance Outcomes", "walmart": "Walmart Marketplace"}


def _modules(kind: str) -> list[dict[str, Any]]:
    """The ``hooks`` / ``operators`` / ``sensors`` / ``triggers`` entries: one module per API."""
    return [
        {"integration-name": integration, "python-modules": [f"{_PACKAGE}.{kind}.{module}"]}
        for module, integration in _INTEGRATIONS.items()
    ]


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
                "conn-fields": CONN_FIELDS["criteo_mpo"],
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR["criteo_mpo"],
            },
            {
                "connection-type": "walmart_marketplace",
                "hook-class-name": f"{_PACKAGE}.hooks.walmart.WalmartMarketplaceHook",
                "hook-name": "Walmart Marketplace",
                "conn-fields": CONN_FIELDS["walmart_marketplace"],
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR["walmart_marketplace"],
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
        "hooks": _modules("hooks"),
        "operators": _modules("operators"),
        "sensors": _modules("sensors"),
        "triggers": _modules("triggers"),
        # Reports read through the hooks are hook-level lineage inputs (common/observability/lineage.py names them).
        "asset-uris": [
            {
                "schemes": ASSET_SCHEMES,
                "handler": None,
                "to_openlineage_converter": f"{_PACKAGE}.common.observability.lineage.asset_to_openlineage",
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
