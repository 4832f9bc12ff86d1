"""The provider's metadata: every listed module imports, connection types carry their form fields."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

from airflow_report_provider.get_provider_info import get_provider_info

PUBLIC_CLASSES = {
    "airflow_report_provider.hooks.criteo_mpo": ["CriteoMpoHook", "CriteoMpoAsyncHook"],
    "airflow_report_provider.hooks.walmart": ["WalmartMarketplaceHook", "WalmartMarketplaceAsyncHook"],
    "airflow_report_provider.operators.criteo_mpo": ["CriteoMpoCreateReportOperator"],
    "airflow_report_provider.operators.walmart": ["WalmartCreateReportRequestOperator"],
    "airflow_report_provider.sensors.criteo_mpo": ["CriteoMpoReportSensor"],
    "airflow_report_provider.sensors.walmart": ["WalmartReportSensor"],
    "airflow_report_provider.triggers.criteo_mpo": ["CriteoMpoReportTrigger"],
    "airflow_report_provider.triggers.walmart": ["WalmartReportTrigger"],
    "airflow_report_provider.transfers.criteo_mpo_to_object_storage": ["CriteoMpoReportToObjectStorageOperator"],
    "airflow_report_provider.transfers.walmart_to_object_storage": ["WalmartReportToObjectStorageOperator"],
}


def listed_modules(info: dict) -> set[str]:
    modules = {m for key in ("hooks", "operators", "sensors", "triggers") for entry in info[key] for m in entry["python-modules"]}
    return modules | {entry["python-module"] for entry in info["transfers"]}


def test_every_public_class_is_listed_and_importable():
    info = get_provider_info()
    assert listed_modules(info) == set(PUBLIC_CLASSES)
    for module, names in PUBLIC_CLASSES.items():
        imported = importlib.import_module(module)
        for name in names:
            assert isinstance(getattr(imported, name), type)


def test_connection_types_have_relabelled_fields_and_hooks():
    types = {c["connection-type"]: c for c in get_provider_info()["connection-types"]}
    assert set(types) == {"criteo_mpo", "walmart_marketplace"}
    assert "api_version" in types["criteo_mpo"]["conn-fields"]
    assert {"service_name", "channel_type", "market"} <= set(types["walmart_marketplace"]["conn-fields"])
    for conn in types.values():
        assert {"max_calls_per_minute", "verify_ssl"} <= set(conn["conn-fields"])
        behaviour = conn["ui-field-behaviour"]
        assert behaviour["relabeling"] == {"host": "API base URL", "login": "Client ID", "password": "Client secret"}
        assert behaviour["placeholders"]["host"].startswith("https://")
        module, _, cls = conn["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), cls)
        assert hook.conn_type == conn["connection-type"]


def test_airflow_lists_the_provider():
    listed = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list"], capture_output=True, text=True, env=os.environ.copy(), check=True
    )
    assert "airflow-report-provider" in listed.stdout
