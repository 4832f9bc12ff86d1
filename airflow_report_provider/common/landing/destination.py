"""The destination of one transfer, resolved once per try: its path, how it publishes atomically, its public URI,
and the lineage and metrics of what was written there.

Sinks by protocol (:mod:`.sinks`): S3 / GCS write with ``autocommit=False`` (commit publishes, discard aborts the
multipart upload); local files through a hidden sibling and ``os.replace``; any other fsspec filesystem through a
hidden sibling object and ``fs.mv``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from airflow_report_provider.common.exceptions import ReportValidationError, TransferError
from airflow_report_provider.common.landing.sinks import LocalSink, Output, RenameSink, Sink, TransactionalSink
from airflow_report_provider.common.observability import lineage, metrics
from airflow_report_provider.common.observability.redaction import scrub

if TYPE_CHECKING:
    from airflow_report_provider.compat import ObjectStoragePath

__all__ = ["S3_BLOCK_SIZE", "TRANSACTIONAL_PROTOCOLS", "Destination", "as_storage_path", "public_uri"]

#: Multipart part size for S3 destinations: memory per transfer is about one part plus one chunk.
S3_BLOCK_SIZE = 8 * 1024 * 1024
_S3_MIN_BLOCK_SIZE = 5 * 1024 * 1024
#: Protocols whose fsspec files implement commit()/discard() for ``autocommit=False`` writes.
TRANSACTIONAL_PROTOCOLS = frozenset({"s3", "s3a", "s3n", "gs", "gcs"})
_LOCAL_PROTOCOLS = frozenset({"file", "local"})
_S3_PROTOCOLS = frozenset({"s3", "s3a", "s3n"})

_LOG = logging.getLogger(__name__)


def as_storage_path(destination: str | os.PathLike[str] | ObjectStoragePath) -> ObjectStoragePath:
    """An ObjectStoragePath for a URL, an absolute or relative local path, or an ObjectStoragePath."""
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


@dataclass(frozen=True)
class Destination:
    """Where one transfer writes. ``block_size``: the fsspec write block (the S3 multipart part size; 8 MiB by
    default on S3, fsspec's default elsewhere)."""

    path: ObjectStoragePath
    block_size: int | None = None

    @classmethod
    def resolve(
        cls, destination: Destination | str | os.PathLike[str] | ObjectStoragePath, block_size: int | None = None
    ) -> Destination:
        """The destination of a URL, path or ObjectStoragePath (a :class:`Destination` as it is); checks
        ``block_size`` against the protocol's minimum."""
        if isinstance(destination, Destination):
            return destination
        path = as_storage_path(destination)
        if block_size is not None:
            minimum = _S3_MIN_BLOCK_SIZE if path.protocol in _S3_PROTOCOLS else 1
            if block_size < minimum:
                raise ReportValidationError(
                    "block_size", f"must be at least {minimum} bytes for {path.protocol or 'this'} storage", block_size
                )
        return cls(path, block_size)

    @property
    def protocol(self) -> str:
        return self.path.protocol

    @cached_property
    def uri(self) -> str:
        """The URL to show and return (a connection id, never credentials)."""
        return public_uri(self.path)

    @cached_property
    def lineage_uri(self) -> str:
        """The URI lineage knows the written object by: ``s3://bucket/key``, ``file:///path``."""
        return lineage.storage_uri(self.path)

    def open_output(self, compression: str | None, checksum: str | None) -> Output:
        """A fresh output for one attempt: published whole by :meth:`Output.publish` or discarded."""
        try:
            return Output(self._new_sink(), compression, self.uri, checksum)
        except Exception as exc:
            raise TransferError(f"opening {self.uri} failed: {type(exc).__name__}: {scrub(str(exc))}") from exc

    def published(self, written: int, seconds: float) -> None:
        """Record a published object: the metrics, and the written asset for Airflow's hook lineage."""
        metrics.report_written(self.protocol, written, seconds)
        lineage.record_output(self.path, self.lineage_uri)

    def _new_sink(self) -> Sink:
        if self.protocol in _LOCAL_PROTOCOLS:
            return LocalSink(self.path.path)
        fs = self.path.fs
        protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
        protocols.add(self.protocol)
        block_size = self.block_size
        if protocols & _S3_PROTOCOLS and block_size is None:
            block_size = S3_BLOCK_SIZE
        if protocols & TRANSACTIONAL_PROTOCOLS:
            return TransactionalSink(fs, self.path.path, block_size)
        return RenameSink(fs, self.path.path, block_size)
