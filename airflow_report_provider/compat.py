"""Everything that differs between the supported Airflow versions (2.11, 3.0, 3.1, 3.2, 3.3), in one place.

Every other module of the provider imports Airflow's names from here. Where the official shims of
``apache-airflow-providers-common-compat`` cover a name, this module hands theirs out; the rest (the async connection
lookup before 3.1, the secret masker's private registry, an ObjectStoragePath's connection id in 2.11, the date-time
trigger's home, the task state store of 3.3) is bridged below. Names are resolved when first used, so importing an
operator at DAG parse loads nothing it does not need.

What an older Airflow cannot offer degrades as the README's version table says:

- ``task_state_store`` (3.3): before 3.3 a retried task finds its job through the APIs themselves (Criteo answers an
  identical request with its cached export, Walmart lists its recent requests) instead of the task's own record.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import airflow
from airflow.providers.common.compat.sdk import BaseHook, BaseOperator, BaseSensorOperator, conf
from packaging.version import Version

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context, ObjectStoragePath  # noqa: F401

#: The running Airflow's version, without pre-release or local parts.
AIRFLOW_VERSION = Version(Version(airflow.__version__).base_version)
AIRFLOW_V_3_0_PLUS = AIRFLOW_VERSION >= Version("3.0.0")
AIRFLOW_V_3_1_PLUS = AIRFLOW_VERSION >= Version("3.1.0")
AIRFLOW_V_3_3_PLUS = AIRFLOW_VERSION >= Version("3.3.0")

_SDK = "airflow.providers.common.compat.sdk"

#: Names resolved on first use: (module, attribute).
_LAZY: dict[str, tuple[str, str]] = {
    "ObjectStoragePath": (_SDK, "ObjectStoragePath"),
    "AirflowException": (_SDK, "AirflowException"),
    "AirflowFailException": (_SDK, "AirflowFailException"),
    "AirflowSensorTimeout": (_SDK, "AirflowSensorTimeout"),
    "AirflowSkipException": (_SDK, "AirflowSkipException"),
    "Stats": (_SDK, "Stats"),
    "mask_secret": (_SDK, "mask_secret"),
    "get_hook_lineage_collector": ("airflow.providers.common.compat.lineage.hook", "get_hook_lineage_collector"),
    "BaseTrigger": ("airflow.triggers.base", "BaseTrigger"),
    "TriggerEvent": ("airflow.triggers.base", "TriggerEvent"),
    "DateTimeTrigger": (
        "airflow.providers.standard.triggers.temporal" if AIRFLOW_V_3_0_PLUS else "airflow.triggers.temporal",
        "DateTimeTrigger",
    ),
}

#: Where the secret masker keeps its patterns, newest layout first.
_MASKER_MODULES = (
    "airflow.sdk._shared.secrets_masker",
    "airflow.sdk.execution_time.secrets_masker",
    "airflow.utils.log.secrets_masker",
)


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def task_state_store(context: Any) -> Any:
    """The task instance's state store (Airflow 3.3+), kept across its tries; ``None`` before 3.3."""
    return context.get("task_state_store")


async def aget_connection(hook: Any, conn_id: str) -> Any:
    """Look a connection up without blocking the event loop (3.1+: the SDK's own; before: in a thread)."""
    if hasattr(hook, "aget_connection"):
        return await hook.aget_connection(conn_id)
    from asgiref.sync import sync_to_async

    return await sync_to_async(hook.get_connection)(conn_id)


def secrets_masker() -> Any:
    """The process's secret masker (private to Airflow: its module moved between versions), or ``None``."""
    for name in _MASKER_MODULES:
        try:
            return importlib.import_module(name)._secrets_masker()
        except Exception:  # noqa: S112 - not this layout
            continue
    return None


def storage_conn_id(path: Any) -> str | None:
    """The connection id of an ObjectStoragePath (an attribute from 3.0 on, a storage option in 2.11)."""
    return getattr(path, "conn_id", None) or getattr(path, "storage_options", {}).get("conn_id")


__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "aget_connection",
    "conf",
    "secrets_masker",
    "storage_conn_id",
    "task_state_store",
    *_LAZY,
]
