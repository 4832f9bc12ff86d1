"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_report_provider import __version__
from airflow_report_provider.common.observability.lineage import ASSET_SCHEMES
from airflow_report_provider.hooks.forms import CONN_FIELDS, UI_FIELD_BEHAVIOUR

_PACKAGE = "airflow_report_provider"



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
        # Reports read through the hooks are hook-level lineage inputs (common/observability/lineage.py names them).
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
