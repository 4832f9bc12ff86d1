"""OpenLineage for the transfers: the report at the API as input, the written file as output.

The transfers call :func:`remember` with their XCom dict (``uri``, ``bytes``, ``rows``, ``columns``, ...) while
they run, and their ``get_openlineage_facets_on_complete`` delegates to :func:`criteo_transfer_lineage` or
:func:`walmart_transfer_lineage` (OpenLineage calls it after the task, in a fork of the task process: everything
needed is kept on the operator). Datasets are named as OpenLineage names them: object storage by
:func:`storage_dataset` (``s3://bucket`` + key, ``gs://bucket`` + path, ``file`` + absolute path); the report by
the API's ``scheme://host`` and a name built from the request (advertisers and window for Criteo, report type and
version for Walmart). No name or namespace carries a user, a password, a query string or a token.

Nothing here imports OpenLineage at module level: without ``apache-airflow-providers-openlineage`` the facets
method is never called, and the provider works unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

#: Attribute of the operator holding what lineage needs after the task: the XCom dict and the API host.
STATE_ATTRIBUTE = "_report_lineage"
#: fsspec protocol -> the scheme OpenLineage uses in a namespace.
_SCHEMES = {"s3a": "s3", "s3n": "s3", "gcs": "gs"}


# --------------------------------------------------------------------------------------------- naming


def public_url(url: str) -> str:
    """``scheme://host[:port]`` of a URL: no user, password, path, query or fragment."""
    parts = urlsplit(url.strip())
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}" if parts.scheme and host else ""


def storage_dataset(uri: str) -> tuple[str, str]:
    """(namespace, name) of an object-storage URL in OpenLineage's naming.

    ``s3://conn_id@bucket/key`` -> (``s3://bucket``, ``key``); ``gs://bucket/p`` -> (``gs://bucket``, ``p``);
    ``file:///data/a.csv`` -> (``file``, ``/data/a.csv``); a connection id or credentials never reach either.
    """
    parts = urlsplit(uri.strip())
    scheme = _SCHEMES.get(parts.scheme.lower(), parts.scheme.lower()) or "file"
    host = parts.netloc.rpartition("@")[2]
    if scheme in ("file", "local"):
        return ("file" if not host or host == "localhost" else f"file://{host}"), parts.path or "/"
    return f"{scheme}://{host}", parts.path.lstrip("/")


def storage_uri(path: Any) -> str:
    """The URI an ObjectStoragePath (or URL) is known by in lineage: ``s3://bucket/key``, ``file:///path``."""
    namespace, name = storage_dataset(str(path))
    return f"file://{name}" if namespace == "file" else f"{namespace}/{name}"


def _iso(moment: Any) -> str:
    if isinstance(moment, datetime):
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(moment)


def _ids(values: Any) -> str:
    if values is None:
        return ""
    if isinstance(values, (str, int)):
        values = str(values).split(",")
    return ",".join(sorted(str(v).strip() for v in values if str(v).strip()))


def criteo_report_name(advertiser_ids: Any, window: tuple[Any, Any] | None, lookback_minutes: Any = None, report_id: Any = None) -> str:
    """``marketplace-performance-outcomes/advertisers=1,2/window=<start>--<end>`` (or ``lookback=<n>m``)."""
    base = "marketplace-performance-outcomes"
    advertisers = _ids(advertiser_ids)
    if not advertisers:
        return f"{base}/exports/{report_id}" if report_id else base
    name = f"{base}/advertisers={advertisers}"
    if window is not None and window[0] is not None:
        return f"{name}/window={_iso(window[0])}--{_iso(window[1]) if window[1] is not None else 'now'}"
    if lookback_minutes:
        return f"{name}/lookback={lookback_minutes}m"
    return name


def walmart_report_name(report_type: Any, report_version: Any, request_id: Any = None) -> str:
    """``reports/<TYPE>/<version>`` (``reports/requests/<id>`` when only a request id is known)."""
    if report_type:
        return f"reports/{str(report_type).upper()}/{report_version or 'latest'}"
    return f"reports/requests/{request_id}" if request_id else "reports"


# --------------------------------------------------------------------------------------------- state


def remember(operator: Any, result: dict[str, Any]) -> dict[str, Any]:
    """Keep the transfer's XCom dict and its API host on the operator for lineage; return ``result`` unchanged."""
    api_url = ""
    try:
        api_url = public_url(operator.hook.protocol.host)
    except Exception:  # lineage is best effort; the host is also absent when the hook never connected
        log.debug("no API host for lineage", exc_info=True)
    setattr(operator, STATE_ATTRIBUTE, {"result": dict(result), "api_url": api_url})
    return result


def _state(operator: Any) -> dict[str, Any]:
    return getattr(operator, STATE_ATTRIBUTE, None) or {}


def _context(task_instance: Any) -> Mapping[str, Any]:
    try:
        return task_instance.get_template_context()
    except Exception:
        return {}


# --------------------------------------------------------------------------------------------- facets


def _schema_fields(columns: Any) -> list[tuple[str, str | None]]:
    """Columns as (name, type): from a list of names, of {"name", "type"} dicts, or a name -> type mapping."""
    if isinstance(columns, Mapping):
        return [(str(k), None if v is None else str(v)) for k, v in columns.items()]
    fields: list[tuple[str, str | None]] = []
    for column in columns if isinstance(columns, Iterable) and not isinstance(columns, str) else []:
        if isinstance(column, Mapping) and column.get("name"):
            fields.append((str(column["name"]), None if column.get("type") is None else str(column["type"])))
        elif isinstance(column, (list, tuple)) and column:
            fields.append((str(column[0]), str(column[1]) if len(column) > 1 and column[1] is not None else None))
        elif isinstance(column, str):
            fields.append((column, None))
    return fields


def build_lineage(input_namespace: str, input_name: str, result: Mapping[str, Any]) -> Any:
    """The OperatorLineage of one transfer (None when OpenLineage is not installed or nothing was written)."""
    try:
        from airflow.providers.common.compat.openlineage.facet import (
            Dataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
            SchemaDatasetFacet,
            SchemaDatasetFacetFields,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    inputs = [Dataset(namespace=input_namespace, name=input_name)] if input_namespace else []
    outputs = []
    if result.get("uri"):
        namespace, name = storage_dataset(str(result["uri"]))
        facets: dict[str, Any] = {}
        fields = _schema_fields(result.get("columns") or [])
        if fields:
            facets["schema"] = SchemaDatasetFacet(fields=[SchemaDatasetFacetFields(name=n, type=t) for n, t in fields])
        rows = result.get("rows")
        statistics = OutputStatisticsOutputDatasetFacet(
            rowCount=int(rows) if rows is not None else None, size=int(result.get("bytes") or 0)
        )
        outputs.append(OutputDataset(namespace=namespace, name=name, facets=facets, outputFacets={"outputStatistics": statistics}))
    return OperatorLineage(inputs=inputs, outputs=outputs)


def criteo_transfer_lineage(operator: Any, task_instance: Any) -> Any:
    """Lineage of a Criteo MPO transfer: the export's advertisers and window in, the written file out."""
    state = _state(operator)
    result = state.get("result") or {}
    window = None
    if getattr(operator, "advertiser_ids", None) and not getattr(operator, "report_id", None):
        window = _criteo_window(operator, task_instance)
    name = criteo_report_name(
        getattr(operator, "advertiser_ids", None),
        window,
        getattr(operator, "lookback_window", None),
        result.get("report_id") or getattr(operator, "report_id", None),
    )
    return build_lineage(state.get("api_url", ""), name, result)


def _criteo_window(operator: Any, task_instance: Any) -> tuple[Any, Any] | None:
    """The window the operator asked for: its own ``report_window`` rule, with the run's context."""
    try:
        window = operator.report_window(_context(task_instance))
    except Exception:
        log.debug("no report window for lineage", exc_info=True)
        return None
    return None if window is None else (getattr(window, "start", None), getattr(window, "end", None))


def walmart_transfer_lineage(operator: Any, task_instance: Any) -> Any:
    """Lineage of a Walmart transfer: the report type and version in, the written file out."""
    state = _state(operator)
    result = state.get("result") or {}
    name = walmart_report_name(
        getattr(operator, "report_type", None),
        getattr(operator, "report_version", None),
        result.get("request_id") or getattr(operator, "request_id", None),
    )
    return build_lineage(state.get("api_url", ""), name, result)


# --------------------------------------------------------------------------------------------- hook level

#: Asset URI schemes of the reports hooks read: ``<api>+<the API's own scheme>``, e.g.
#: ``criteo-mpo+https://api.criteo.com/marketplace-performance-outcomes/exports/<id>``. The provider registers
#: :func:`asset_to_openlineage` for them, so OpenLineage names the input as the operators do.
API_ASSET_SCHEMES = {"criteo_mpo": "criteo-mpo", "walmart": "walmart-reports"}
ASSET_SCHEMES = [f"{api}+{http}" for api in API_ASSET_SCHEMES.values() for http in ("https", "http")]


def report_asset_uri(api: str, api_url: str, name: str) -> str:
    """The asset URI of a report at an API (no user, password or query: only scheme, host and the name)."""
    parts = urlsplit(public_url(api_url))
    return f"{API_ASSET_SCHEMES[api]}+{parts.scheme}://{parts.netloc}/{name}"


def asset_to_openlineage(asset: Any, lineage_context: Any = None) -> Any:
    """OpenLineage dataset of a report asset: namespace ``https://host``, name the report's name."""
    from airflow.providers.common.compat.openlineage.facet import Dataset

    parts = urlsplit(asset.uri)
    return Dataset(namespace=f"{parts.scheme.rpartition('+')[2]}://{parts.netloc}", name=parts.path.lstrip("/"))


def record_hook_input(hook: Any, name: str) -> None:
    """Tell Airflow's hook lineage collector that ``hook`` reads the report ``name`` (best effort)."""
    try:
        from airflow_report_provider.compat import get_hook_lineage_collector

        protocol = hook.protocol
        get_hook_lineage_collector().add_input_asset(context=hook, uri=report_asset_uri(protocol.api_name, protocol.host, name))
    except Exception:
        log.debug("could not record hook lineage", exc_info=True)
