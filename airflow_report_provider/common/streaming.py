"""Stream a report body into object storage (or a local file) atomically, in bounded memory.

The source is a :data:`ByteOpener`: ``opener(offset)`` opens the body from ``offset`` (an HTTP Range request
when ``offset > 0``) and yields an :class:`OpenedBody`. The writer iterates its chunks (never joining them),
optionally gzips them, hashes what it writes, and publishes the destination only when every byte arrived:

* S3 / GCS: ``fs.open(path, "wb", autocommit=False)``; ``commit()`` completes the multipart upload,
  ``discard()`` aborts it. A re-run overwrites the key atomically.
* Local files: a hidden temporary sibling, fsynced, then ``os.replace``. (fsspec's own ``autocommit=False`` for
  local files writes into the system temp dir and commits with ``shutil.move``: a copy across devices.)
* Any other fsspec filesystem: a hidden temporary sibling object, then ``fs.mv``; removed on failure.

A cut body (:class:`TransportError`, :class:`IncompleteDownloadError`) is re-opened at the byte reached; when
the server ignores the Range (answers from 0) the partial output is discarded and the transfer starts over.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from airflow_report_provider.common.exceptions import (
    IncompleteDownloadError,
    ReportValidationError,
    TransferError,
    TransportError,
)
from airflow_report_provider.common import lineage, metrics
from airflow_report_provider.common.progress import ProgressReporter
from airflow_report_provider.common.redaction import redact_url

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from airflow.sdk import ObjectStoragePath

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_CHUNK_SIZE",
    "S3_BLOCK_SIZE",
    "ByteOpener",
    "OpenedBody",
    "TransferResult",
    "file_opener",
    "iter_opener",
    "stream_to_local_file",
    "stream_to_object_storage",
]

DEFAULT_CHUNK_SIZE = 1024 * 1024
#: Multipart part size for S3 destinations: memory per transfer is about one part plus one chunk.
S3_BLOCK_SIZE = 8 * 1024 * 1024
_S3_MIN_BLOCK_SIZE = 5 * 1024 * 1024
COMPRESSIONS = ("gzip",)
#: Protocols whose fsspec files implement commit()/discard() for ``autocommit=False`` writes.
TRANSACTIONAL_PROTOCOLS = frozenset({"s3", "s3a", "s3n", "gs", "gcs"})
_LOCAL_PROTOCOLS = frozenset({"file", "local"})
_S3_PROTOCOLS = frozenset({"s3", "s3a", "s3n"})

_LOG = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------- sources


@dataclass
class OpenedBody:
    """An opened response body.

    ``chunks`` raises :class:`TransportError` when the connection is cut mid-body; ``start`` is the offset of
    the first chunk (0 when the server ignored the Range request); ``total_size`` is the size of the whole
    resource when known.
    """

    chunks: Iterator[bytes]
    start: int = 0
    total_size: int | None = None


ByteOpener = Callable[[int], AbstractContextManager[OpenedBody]]


def file_opener(
    source: str | os.PathLike[str] | BinaryIO, chunk_size: int = DEFAULT_CHUNK_SIZE, *, size: int | None = None
) -> ByteOpener:
    """An opener over a local file path or a readable binary stream (e.g. an extracted CSV).

    A path is opened on every call and its size is announced; a stream is left open for its owner, sought to
    the offset when seekable, and announces ``size`` only when given (a zip/gzip member's stream cannot tell).
    """

    @contextmanager
    def open_at(offset: int) -> Iterator[OpenedBody]:
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as handle:
                yield _file_body(handle, offset, chunk_size, os.fstat(handle.fileno()).st_size)
        else:
            yield _file_body(source, offset, chunk_size, size)

    return open_at


def _file_body(handle: BinaryIO, offset: int, chunk_size: int, size: int | None) -> OpenedBody:
    if handle.seekable():
        handle.seek(offset)
    elif offset:
        raise TransferError(f"cannot resume a non-seekable stream at byte {offset}")
    return OpenedBody(iter(lambda: handle.read(chunk_size), b""), offset, size)


def iter_opener(
    chunks_factory: Callable[[], Iterable[bytes]], *, total_size: int | None = None, honour_range: bool = True
) -> ByteOpener:
    """An opener over a fresh iterable per call (tests, benchmarks).

    With ``honour_range`` the first ``offset`` bytes are skipped and ``start == offset`` (a server honouring
    Range); without, every open answers from byte 0.
    """

    @contextmanager
    def open_at(offset: int) -> Iterator[OpenedBody]:
        chunks = iter(chunks_factory())
        if offset and honour_range:
            yield OpenedBody(_skip_bytes(chunks, offset), offset, total_size)
        else:
            yield OpenedBody(chunks, 0, total_size)

    return open_at


def _skip_bytes(chunks: Iterator[bytes], count: int) -> Iterator[bytes]:
    """Drop the first ``count`` bytes of a chunk stream."""
    for chunk in chunks:
        if count >= len(chunk):
            count -= len(chunk)
            continue
        yield chunk[count:] if count else chunk
        count = 0


# --------------------------------------------------------------------------------------------- result


@dataclass
class TransferResult:
    """What a transfer published: ``bytes`` and ``sha256`` describe the destination object (after compression)."""

    uri: str
    bytes: int
    source_bytes: int
    sha256: str
    compression: str | None
    attempts: int
    seconds: float

    def as_xcom(self) -> dict[str, Any]:
        """A JSON-serialisable dict for XCom."""
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


# --------------------------------------------------------------------------------------------- compression


class _GzipEncoder:
    """Streaming gzip with a fixed header (mtime 0, no file name, OS 255): same input, same bytes."""

    def __init__(self, level: int = 6) -> None:
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._crc = 0
        self._size = 0
        xfl = 2 if level == 9 else 4 if level == 1 else 0
        self.header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + bytes((xfl, 255))

    def compress(self, data: bytes | memoryview) -> bytes:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        return self._deflate.compress(data)

    def flush(self) -> bytes:
        return self._deflate.flush() + struct.pack("<II", self._crc, self._size & 0xFFFFFFFF)


def _validate_compression(compression: str | None) -> str | None:
    if compression is None:
        return None
    normalised = compression.lower() if isinstance(compression, str) else compression
    if normalised not in COMPRESSIONS:
        raise ReportValidationError("compression", f"must be None or one of {', '.join(COMPRESSIONS)}", compression)
    return normalised


# --------------------------------------------------------------------------------------------- sinks


class _Sink(Protocol):
    """One attempt's output: written in order, then published whole or discarded."""

    def write(self, data: bytes | memoryview) -> None: ...

    def publish(self) -> None: ...

    def discard(self) -> None: ...


class _LocalSink:
    """A hidden temporary sibling file, fsynced and renamed over the destination on publish."""

    def __init__(self, path: str) -> None:
        self.path = path
        directory, name = os.path.split(path)
        os.makedirs(directory or ".", exist_ok=True)
        self.temp = os.path.join(directory, f".{name}.{uuid.uuid4().hex[:12]}.part")
        self._file = open(self.temp, "wb")  # noqa: SIM115 - closed by publish/discard

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)

    def publish(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.temp, self.path)

    def discard(self) -> None:
        self._file.close()
        try:
            os.unlink(self.temp)
        except FileNotFoundError:
            pass


class _TransactionalSink:
    """An fsspec file opened with ``autocommit=False``: commit publishes, discard aborts (S3 multipart)."""

    def __init__(self, fs: AbstractFileSystem, path: str, block_size: int | None) -> None:
        self.fs = fs
        self._file = fs.open(path, "wb", autocommit=False, block_size=block_size)

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)

    def publish(self) -> None:
        self._file.close()  # uploads the last part; autocommit=False keeps it invisible
        self._file.commit()  # completes the multipart upload
        self._forget()

    def discard(self) -> None:
        try:
            self._file.discard()  # aborts the multipart upload
        finally:
            # close() after discard() would flush again and could start a new upload: mark it closed instead.
            self._file.closed = True
            self._forget()

    def _forget(self) -> None:
        """fsspec queues autocommit=False files on the (cached, long-lived) fs.transaction: drop ours."""
        try:
            self.fs.transaction.files.remove(self._file)
        except (AttributeError, ValueError):
            pass


class _RenameSink:
    """A hidden temporary sibling object, moved over the destination on publish and removed on discard."""

    def __init__(self, fs: AbstractFileSystem, path: str, block_size: int | None) -> None:
        self.fs = fs
        self.path = path
        parent, _, name = path.rstrip("/").rpartition("/")
        self.temp = f"{parent}/.{name}.{uuid.uuid4().hex[:12]}.part" if parent else f".{name}.{uuid.uuid4().hex[:12]}.part"
        self._file = fs.open(self.temp, "wb", block_size=block_size)

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)

    def publish(self) -> None:
        self._file.close()
        self.fs.mv(self.temp, self.path)

    def discard(self) -> None:
        try:
            self._file.close()
        finally:
            try:
                self.fs.rm(self.temp)
            except FileNotFoundError:
                pass


class _Output:
    """Bytes on their way into one sink: optional gzip, running sha256 and count."""

    def __init__(self, sink: _Sink, compression: str | None, uri: str) -> None:
        self.sink = sink
        self.uri = uri
        self.sha256 = hashlib.sha256()
        self.written = 0
        self._encoder = _GzipEncoder() if compression == "gzip" else None
        if self._encoder:
            self._emit(self._encoder.header)

    def write(self, data: bytes | memoryview) -> None:
        self._emit(self._encoder.compress(data) if self._encoder else data)

    def publish(self) -> None:
        if self._encoder:
            self._emit(self._encoder.flush())
        self._guard(self.sink.publish)

    def discard(self, log: logging.Logger) -> None:
        try:
            self.sink.discard()
        except Exception as exc:  # never hide the error that made us discard
            log.warning("Could not clean up the partial output for %s: %s", self.uri, _scrub(str(exc)))

    def _emit(self, data: bytes | memoryview) -> None:
        if data:
            self.sha256.update(data)
            self.written += len(data)
            self._guard(self.sink.write, data)

    def _guard(self, action: Callable[..., None], *args: Any) -> None:
        """Destination failures become a TransferError naming the destination, never retried as a cut."""
        try:
            action(*args)
        except Exception as exc:
            raise TransferError(f"writing {self.uri} failed: {type(exc).__name__}: {_scrub(str(exc))}") from exc


# --------------------------------------------------------------------------------------------- engine


@dataclass
class _Settings:
    uri: str
    compression: str | None
    chunk_size: int
    max_attempts: int
    description: str
    log: logging.Logger
    progress_interval: float


class _Transfer:
    """The resume loop: open, position, stream, verify; publish once, or discard."""

    def __init__(self, opener: ByteOpener, new_sink: Callable[[], _Sink], settings: _Settings) -> None:
        self.opener = opener
        self.new_sink = new_sink
        self.s = settings
        self.output: _Output | None = None
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
            sha256=self.output.sha256.hexdigest(),
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
            raise TransferError(f"opening {self.s.uri} failed: {type(exc).__name__}: {_scrub(str(exc))}") from exc
        self.output = _Output(sink, self.s.compression, self.s.uri)

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
            _scrub(str(exc)),
            f"; resuming at byte {self.offset}" if remaining else "",
        )

    def _exhausted(self, last_error: Exception | None) -> TransferError:
        received = f"{self.offset} bytes received" + (f" of {self.total} expected" if self.total is not None else "")
        cause = f": {type(last_error).__name__}: {_scrub(str(last_error))}" if last_error else ""
        message = f"{self.s.description}: transfer failed after {self.attempts} attempt(s), {received}{cause}"
        error_type = IncompleteDownloadError if isinstance(last_error, IncompleteDownloadError) else TransferError
        error = error_type(message)
        error.attempts, error.received, error.expected = self.attempts, self.offset, self.total  # type: ignore[attr-defined]
        error.__cause__ = last_error
        return error


_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def _scrub(text: str) -> str:
    """Drop query strings and credentials of any URL in an error text (pre-signed signatures live there)."""
    return _URL.sub(lambda m: redact_url(m.group(0)) if ("?" in m.group(0) or "@" in m.group(0)) else m.group(0), text)


# --------------------------------------------------------------------------------------------- destinations


def _as_storage_path(destination: str | os.PathLike[str] | ObjectStoragePath) -> ObjectStoragePath:
    from airflow.sdk import ObjectStoragePath

    if isinstance(destination, ObjectStoragePath):
        if destination.protocol:
            return destination
        destination = destination.path
    text = os.fspath(destination)
    if "://" not in text:
        text = "file://" + os.path.abspath(text)
    return ObjectStoragePath(text)


def _public_uri(path: ObjectStoragePath) -> str:
    """The destination URL as ObjectStoragePath prints it (``s3://conn_id@bucket/key``), never with a secret."""
    text = str(path)
    if path.conn_id and ":" in path.conn_id:  # a "user:password@" typed into the URL, not a connection id
        text = text.replace(f"{path.conn_id}@", "", 1)
    return text


def _protocols(fs: AbstractFileSystem) -> set[str]:
    proto = fs.protocol
    return {proto} if isinstance(proto, str) else set(proto)


def _sink_factory(path: ObjectStoragePath, block_size: int | None) -> Callable[[], _Sink]:
    if path.protocol in _LOCAL_PROTOCOLS:
        local = path.path
        return lambda: _LocalSink(local)
    fs = path.fs
    key = path.path
    protocols = _protocols(fs) | {path.protocol}
    if protocols & _S3_PROTOCOLS and block_size is None:
        block_size = S3_BLOCK_SIZE
    if protocols & TRANSACTIONAL_PROTOCOLS:
        return lambda: _TransactionalSink(fs, key, block_size)
    return lambda: _RenameSink(fs, key, block_size)


def _validate(chunk_size: int, max_attempts: int, block_size: int | None, protocol: str = "") -> None:
    if chunk_size <= 0:
        raise ReportValidationError("chunk_size", "must be a positive number of bytes", chunk_size)
    if max_attempts < 1:
        raise ReportValidationError("max_attempts", "must be at least 1", max_attempts)
    if block_size is not None:
        minimum = _S3_MIN_BLOCK_SIZE if protocol in _S3_PROTOCOLS else 1
        if block_size < minimum:
            raise ReportValidationError("block_size", f"must be at least {minimum} bytes for {protocol or 'this'} storage", block_size)


def _record_lineage(path: ObjectStoragePath) -> None:
    """Tell Airflow's hook lineage collector about the written asset, as ObjectStoragePath.open would."""
    try:
        from airflow.sdk.lineage import get_hook_lineage_collector

        get_hook_lineage_collector().add_output_asset(context=path, uri=lineage.storage_uri(path))  # no conn id, no credentials
    except Exception:  # lineage is best effort
        _LOG.debug("Could not record lineage for %s", path, exc_info=True)


# --------------------------------------------------------------------------------------------- public API


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
) -> TransferResult:
    """Stream the opener's body to ``destination`` atomically; resume cut bodies; return what was published.

    ``destination``: ``s3://conn_id@bucket/key``, ``file:///abs/path``, ``/abs/path`` or an ObjectStoragePath.
    ``compression``: None or ``"gzip"`` (deterministic). ``chunk_size``: largest piece handed to the
    compressor/destination at once (bigger source chunks are sliced without copying). ``block_size``: fsspec
    write block, i.e. the S3 multipart part size (default 8 MiB on S3, fsspec's default elsewhere).
    ``max_attempts``: opens in total. Raises :class:`TransferError` (or :class:`IncompleteDownloadError`) with
    nothing published.
    """
    compression = _validate_compression(compression)
    path = _as_storage_path(destination)
    _validate(chunk_size, max_attempts, block_size, path.protocol)
    uri = _public_uri(path)
    settings = _Settings(uri, compression, chunk_size, max_attempts, description, log or _LOG, progress_interval)
    result = _Transfer(opener, _sink_factory(path, block_size), settings).run()
    metrics.report_written(path.protocol, result.bytes, result.seconds)
    _record_lineage(path)
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
    _validate(chunk_size, max_attempts, None)
    local = os.path.abspath(os.fspath(path))
    settings = _Settings(
        "file://" + local, None, chunk_size, max_attempts, description, log or _LOG, progress_interval
    )
    return _Transfer(opener, lambda: _LocalSink(local), settings).run()
