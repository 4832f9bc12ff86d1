"""OpenLineage for the transfers: the report at the API as input, the written file as output.

The transfers keep a :class:`TransferRecord` of what they wrote (their XCom dict: ``uri``, ``bytes``, ``rows``,
``columns``, ...), and their ``get_openlineage_facets_on_complete`` returns its :meth:`~TransferRecord.operator_lineage`
(OpenLineage calls it after the task, in a fork of the task process: everything needed is kept on the operator). Datasets are named
as OpenLineage names them: object storage by :func:`storage_dataset` (``s3://bucket`` + key, ``gs://bucket`` +
path, ``file`` + absolute path); a report by the API's ``scheme://host`` and :func:`report_name`, the job the API
served it from, the one name the hooks (hook-level lineage) and the operators (OpenLineage facets) both use. No
name or namespace carries a user, a password, a query string or a token.

Nothing here imports OpenLineage at module level: without ``apache-airflow-providers-openlineage`` the facets
method is never called, and the provider works unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

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


#: The name of a report at its API, by the API's protocol name: the job the report was served from.
REPORT_NAMES = {
    "criteo_mpo": "marketplace-performance-outcomes/exports/{job_id}",
    "walmart": "reports/requests/{job_id}",
}


def report_name(api: str, job_id: Any) -> str:
    """The dataset name of the report of job ``job_id`` at ``api`` (``criteo_mpo``, ``walmart``)."""
    return REPORT_NAMES[api].format(job_id=job_id)


# --------------------------------------------------------------------------------------------- state


@dataclass(frozen=True)
class TransferRecord:
    """What a transfer's lineage needs after the task: the API's ``scheme://host``, the report's name, and the
    XCom dict of what was written (OpenLineage asks in a fork of the task process, so the operator keeps this)."""

    api_url: str
    input_name: str
    result: Mapping[str, Any]

    @classmethod
    def of(cls, client: Any, job_id: str, result: Mapping[str, Any]) -> TransferRecord:
        """The record of a transfer that downloaded job ``job_id`` through ``client`` (a hook: its ``protocol``
        has ``api_name`` and ``host``)."""
        protocol = client.protocol
        api_url = ""
        try:
            api_url = public_url(protocol.host)
        except Exception:  # lineage is best effort; the host is also absent when the hook never connected
            log.debug("no API host for lineage", exc_info=True)
        return cls(api_url, report_name(protocol.api_name, job_id), dict(result))

    def operator_lineage(self) -> Any:
        """The OperatorLineage of the transfer (None without OpenLineage)."""
        return build_lineage(self.api_url, self.input_name, self.result)


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


def record_hook_input(hook: Any, job_id: str) -> None:
    """Tell Airflow's hook lineage collector that ``hook`` reads the report of job ``job_id`` (best effort)."""
    try:
        from airflow_report_provider.compat import get_hook_lineage_collector

        protocol = hook.protocol
        uri = report_asset_uri(protocol.api_name, protocol.host, report_name(protocol.api_name, job_id))
        get_hook_lineage_collector().add_input_asset(context=hook, uri=uri)
    except Exception:
        log.debug("could not record hook lineage", exc_info=True)


def record_output(path: Any, uri: str) -> None:
    """Tell Airflow's hook lineage collector about a written object, as ObjectStoragePath.open would (best effort;
    ``uri`` as :func:`storage_uri` names it: no connection id, no credentials)."""
    try:
        from airflow_report_provider.compat import get_hook_lineage_collector

        get_hook_lineage_collector().add_output_asset(context=path, uri=uri)
    except Exception:
        log.debug("could not record lineage for %s", uri, exc_info=True)
