"""Destinations: an object-storage URL or path as an ObjectStoragePath, its public URI, its sink factory."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from airflow_report_provider.common.exceptions import ReportValidationError
from airflow_report_provider.common.landing.sinks import LocalSink, RenameSink, Sink, TransactionalSink

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from airflow_report_provider.compat import ObjectStoragePath

__all__ = ["S3_BLOCK_SIZE", "TRANSACTIONAL_PROTOCOLS", "as_storage_path", "public_uri", "record_lineage", "sink_factory"]

#: Multipart part size for S3 destinations: memory per transfer is about one part plus one chunk.
S3_BLOCK_SIZE = 8 * 1024 * 1024
_S3_MIN_BLOCK_SIZE = 5 * 1024 * 1024
#: Protocols whose fsspec files implement commit()/discard() for ``autocommit=False`` writes.
TRANSACTIONAL_PROTOCOLS = frozenset({"s3", "s3a", "s3n", "gs", "gcs"})
_LOCAL_PROTOCOLS = frozenset({"file", "local"})
_S3_PROTOCOLS = frozenset({"s3", "s3a", "s3n"})

_LOG = logging.getLogger(__name__)




def as_storage_path(destination: str | os.PathLike[str] | ObjectStoragePath) -> ObjectStoragePath:
    from airflow_report_provider.compat import ObjectStoragePath

    if isinstance(destination, ObjectStoragePath):
        if destination.protocol:
            return destination
        destination = destination.path
    text = os.fspath(destination)
    if "://" not in text:
        text = "file://" + os.path.abspath(text)
    return ObjectStoragePath(text)


def public_uri(path: ObjectStoragePath) -> str:
    """The destination URL as ObjectStoragePath prints it (``s3://conn_id@bucket/key``), never with a secret."""
    from airflow_report_provider.compat import storage_conn_id

    text = str(path)
    conn_id = storage_conn_id(path)
    if conn_id and ":" in conn_id:  # a "user:password@" typed into the URL, not a connection id
        text = text.replace(f"{conn_id}@", "", 1)
    return text


def _protocols(fs: AbstractFileSystem) -> set[str]:
    proto = fs.protocol
    return {proto} if isinstance(proto, str) else set(proto)


def sink_factory(path: ObjectStoragePath, block_size: int | None) -> Callable[[], Sink]:
    if path.protocol in _LOCAL_PROTOCOLS:
        local = path.path
        return lambda: LocalSink(local)
    fs = path.fs
    key = path.path
    protocols = _protocols(fs) | {path.protocol}
    if protocols & _S3_PROTOCOLS and block_size is None:
        block_size = S3_BLOCK_SIZE
    if protocols & TRANSACTIONAL_PROTOCOLS:
        return lambda: TransactionalSink(fs, key, block_size)
    return lambda: RenameSink(fs, key, block_size)


def validate_settings(chunk_size: int, max_attempts: int, block_size: int | None, protocol: str = "") -> None:
    if chunk_size <= 0:
        raise ReportValidationError("chunk_size", "must be a positive number of bytes", chunk_size)
    if max_attempts < 1:
        raise ReportValidationError("max_attempts", "must be at least 1", max_attempts)
    if block_size is not None:
        minimum = _S3_MIN_BLOCK_SIZE if protocol in _S3_PROTOCOLS else 1
        if block_size < minimum:
            raise ReportValidationError("block_size", f"must be at least {minimum} bytes for {protocol or 'this'} storage", block_size)


def record_lineage(path: ObjectStoragePath) -> None:
    """Tell Airflow's hook lineage collector about the written asset, as ObjectStoragePath.open would."""
    try:
        from airflow_report_provider.compat import get_hook_lineage_collector

        from airflow_report_provider.common.observability.lineage import storage_uri

        get_hook_lineage_collector().add_output_asset(context=path, uri=storage_uri(path))  # no conn id, no credentials
    except Exception:  # lineage is best effort
        _LOG.debug("Could not record lineage for %s", path, exc_info=True)

