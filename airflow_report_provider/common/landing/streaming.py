"""Stream a report body into object storage (or a local file) atomically, in bounded memory.

The source is a :data:`ByteOpener` (:mod:`common.sources`): ``opener(offset)`` opens the body from ``offset``
(an HTTP Range request when ``offset > 0``) and yields an :class:`OpenedBody`. The writer iterates its chunks
(never joining them), optionally gzips them, hashes what it writes, and publishes the destination only when every
byte arrived (sinks: :mod:`common.sinks`; destinations: :mod:`common.destinations`).

A cut body (:class:`TransportError`, :class:`IncompleteDownloadError`) is re-opened at the byte reached; when
the server ignores the Range (answers from 0) the partial output is discarded and the transfer starts over.
Converting to another format (parquet, ndjson, ...) is :mod:`common.report_output`'s job.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from airflow_report_provider.common.landing.destination import (
    S3_BLOCK_SIZE,
    TRANSACTIONAL_PROTOCOLS,
    as_storage_path,
    public_uri,
    record_lineage,
    sink_factory,
    validate_settings,
)
from airflow_report_provider.common.observability import metrics
from airflow_report_provider.common.exceptions import IncompleteDownloadError, TransferError, TransportError
from airflow_report_provider.common.observability.progress import ProgressReporter
from airflow_report_provider.common.landing.sinks import COMPRESSIONS, LocalSink, Output, Sink, scrub, validate_compression
from airflow_report_provider.common.landing.sources import (
    DEFAULT_CHUNK_SIZE,
    ByteOpener,
    OpenedBody,
    file_opener,
    iter_opener,
)

if TYPE_CHECKING:
    from airflow_report_provider.compat import ObjectStoragePath

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_CHUNK_SIZE",
    "S3_BLOCK_SIZE",
    "TRANSACTIONAL_PROTOCOLS",
    "ByteOpener",
    "OpenedBody",
    "TransferResult",
    "file_opener",
    "iter_opener",
    "stream_to_local_file",
    "stream_to_object_storage",
]

_LOG = logging.getLogger(__name__)




@dataclass
class TransferResult:
    """What a transfer published: ``bytes`` and ``sha256`` describe the destination object (after compression)."""

    uri: str
    bytes: int
    source_bytes: int
    sha256: str | None  # None when the transfer was asked for no checksum
    compression: str | None
    attempts: int
    seconds: float

    def as_xcom(self) -> dict[str, Any]:
        """A JSON-serialisable dict for XCom."""
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data





@dataclass
class _Settings:
    uri: str
    compression: str | None
    chunk_size: int
    max_attempts: int
    description: str
    log: logging.Logger
    progress_interval: float
    checksum: str | None = "sha256"


class _Transfer:
    """The resume loop: open, position, stream, verify; publish once, or discard."""

    def __init__(self, opener: ByteOpener, new_sink: Callable[[], Sink], settings: _Settings) -> None:
        self.opener = opener
        self.new_sink = new_sink
        self.s = settings
        self.output: Output | None = None
        self.offset = 0
        self.total: int | None = None
        self.attempts = 0
        self.progress = ProgressReporter(settings.log, settings.description, interval=settings.progress_interval)

    def run(self) -> TransferResult:
        started = time.monotonic()
        self.s.log.info("%s: streaming to %s", self.s.description, self.s.uri)
        try:
            self._receive_all()
            assert self.output is not None
            self.output.publish()
        except BaseException:
            if self.output is not None:
                self.output.discard(self.s.log)
            raise
        self.progress.finish(self.output.written)
        return TransferResult(
            uri=self.s.uri,
            bytes=self.output.written,
            source_bytes=self.offset,
            sha256=self.output.digest,
            compression=self.s.compression,
            attempts=self.attempts,
            seconds=time.monotonic() - started,
        )

    def _receive_all(self) -> None:
        last_error: TransferError | TransportError | None = None
        while self.attempts < self.s.max_attempts:
            self.attempts += 1
            try:
                with self.opener(self.offset) as body:
                    self._receive(body)
                return
            except (TransportError, IncompleteDownloadError) as exc:
                last_error = exc
                self._log_cut(exc)
        raise self._exhausted(last_error)

    def _receive(self, body: OpenedBody) -> None:
        skip = self._position(body)
        for chunk in body.chunks:
            if skip:
                chunk, skip = chunk[skip:], max(skip - len(chunk), 0)
                if not chunk:
                    continue
            self._write(chunk)
        if self.total is not None and self.offset < self.total:
            raise IncompleteDownloadError(
                f"{self.s.description}: body ended early: expected {self.total} bytes, received {self.offset}"
            )

    def _position(self, body: OpenedBody) -> int:
        """Reconcile the new body with what we hold; return how many leading bytes to drop."""
        self._check_total(body)
        if self.output is None or (body.start == 0 and self.offset > 0):
            if self.output is not None:
                self.s.log.warning(
                    "%s: the server answered from byte 0 instead of %d; restarting the transfer",
                    self.s.description,
                    self.offset,
                )
            self._restart()
        if body.start > self.offset:
            raise TransferError(
                f"{self.s.description}: the server answered from byte {body.start}, asked for {self.offset}"
            )
        self.progress.seek(self.offset)
        return self.offset - body.start

    def _check_total(self, body: OpenedBody) -> None:
        size = body.total_size
        if size is None:
            return
        if self.total is not None and size != self.total and body.start > 0:
            # The resource changed between attempts: the bytes held belong to another version.
            self._drop_output()
            raise TransportError(f"{self.s.description}: size changed from {self.total} to {size} bytes")
        self.total = self.progress.total = size

    def _restart(self) -> None:
        self._drop_output()
        try:
            sink = self.new_sink()
        except Exception as exc:
            raise TransferError(f"opening {self.s.uri} failed: {type(exc).__name__}: {scrub(str(exc))}") from exc
        self.output = Output(sink, self.s.compression, self.s.uri, self.s.checksum)

    def _drop_output(self) -> None:
        if self.output is not None:
            self.output.discard(self.s.log)
        self.output = None
        self.offset = 0

    def _write(self, chunk: bytes) -> None:
        assert self.output is not None
        size = len(chunk)
        if size <= self.s.chunk_size:
            self.output.write(chunk)
        else:
            view = memoryview(chunk)
            for begin in range(0, size, self.s.chunk_size):
                self.output.write(view[begin : begin + self.s.chunk_size])
        self.offset += size
        self.progress.advance(size)
        if self.total is not None and self.offset > self.total:
            raise TransferError(
                f"{self.s.description}: received {self.offset} bytes, more than the announced {self.total}"
            )

    def _log_cut(self, exc: Exception) -> None:
        remaining = self.s.max_attempts - self.attempts
        self.s.log.warning(
            "%s: attempt %d/%d stopped after %d bytes (%s: %s)%s",
            self.s.description,
            self.attempts,
            self.s.max_attempts,
            self.offset,
            type(exc).__name__,
            scrub(str(exc)),
            f"; resuming at byte {self.offset}" if remaining else "",
        )

    def _exhausted(self, last_error: Exception | None) -> TransferError:
        received = f"{self.offset} bytes received" + (f" of {self.total} expected" if self.total is not None else "")
        cause = f": {type(last_error).__name__}: {scrub(str(last_error))}" if last_error else ""
        message = f"{self.s.description}: transfer failed after {self.attempts} attempt(s), {received}{cause}"
        error_type = IncompleteDownloadError if isinstance(last_error, IncompleteDownloadError) else TransferError
        error = error_type(message)
        error.attempts, error.received, error.expected = self.attempts, self.offset, self.total  # type: ignore[attr-defined]
        error.__cause__ = last_error
        return error





def stream_to_object_storage(
    opener: ByteOpener,
    destination: str | os.PathLike[str] | ObjectStoragePath,
    *,
    compression: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    block_size: int | None = None,
    max_attempts: int = 3,
    progress_interval: float = 5.0,
    log: logging.Logger | None = None,
    description: str = "report",
    checksum: str | None = "sha256",
) -> TransferResult:
    """Stream the opener's body to ``destination`` atomically; resume cut bodies; return what was published.

    ``destination``: ``s3://conn_id@bucket/key``, ``file:///abs/path``, ``/abs/path`` or an ObjectStoragePath.
    ``compression``: None or ``"gzip"`` (deterministic). ``chunk_size``: largest piece handed to the
    compressor/destination at once (bigger source chunks are sliced without copying). ``block_size``: fsspec
    write block, i.e. the S3 multipart part size (default 8 MiB on S3, fsspec's default elsewhere).
    ``max_attempts``: opens in total. ``checksum``: ``"sha256"`` (default) or None (no digest: less CPU).
    Raises :class:`TransferError` (or :class:`IncompleteDownloadError`) with
    nothing published.
    """
    compression = validate_compression(compression)
    path = as_storage_path(destination)
    validate_settings(chunk_size, max_attempts, block_size, path.protocol)
    uri = public_uri(path)
    settings = _Settings(uri, compression, chunk_size, max_attempts, description, log or _LOG, progress_interval, checksum)
    result = _Transfer(opener, sink_factory(path, block_size), settings).run()
    metrics.report_written(path.protocol, result.bytes, result.seconds)
    record_lineage(path)
    return result


def stream_to_local_file(
    opener: ByteOpener,
    path: str | os.PathLike[str],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_attempts: int = 3,
    progress_interval: float = 5.0,
    log: logging.Logger | None = None,
    description: str = "report",
) -> TransferResult:
    """Like :func:`stream_to_object_storage`, into a local file (e.g. a spool for a zip), without compression."""
    validate_settings(chunk_size, max_attempts, None)
    local = os.path.abspath(os.fspath(path))
    settings = _Settings(
        "file://" + local, None, chunk_size, max_attempts, description, log or _LOG, progress_interval
    )
    return _Transfer(opener, lambda: LocalSink(local), settings).run()

