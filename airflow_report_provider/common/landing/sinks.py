"""Where one transfer attempt's bytes go: sinks that publish whole or discard, and the gzip/sha256 output.

* S3 / GCS: ``fs.open(path, "wb", autocommit=False)``; ``commit()`` completes the multipart upload,
  ``discard()`` aborts it. A re-run overwrites the key atomically.
* Local files: a hidden temporary sibling, fsynced, then ``os.replace``. (fsspec's own ``autocommit=False`` for
  local files writes into the system temp dir and commits with ``shutil.move``: a copy across devices.)
* Any other fsspec filesystem: a hidden temporary sibling object, then ``fs.mv``; removed on failure.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import uuid
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from airflow_report_provider.common.exceptions import ReportValidationError, TransferError
from airflow_report_provider.common.observability.redaction import scrub

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["CHECKSUMS", "COMPRESSIONS", "GzipEncoder", "LocalSink", "Output", "RenameSink", "Sink", "TransactionalSink", "scrub"]

COMPRESSIONS = ("gzip",)
#: Digests of the written object a transfer can compute while it streams (``None``: none).
CHECKSUMS = ("sha256",)


class GzipEncoder:
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


def validate_checksum(checksum: str | None) -> str | None:
    if checksum is not None and checksum not in CHECKSUMS:
        raise ReportValidationError("checksum", f"must be None or one of {', '.join(CHECKSUMS)}", checksum)
    return checksum


def validate_compression(compression: str | None) -> str | None:
    if compression is None:
        return None
    normalised = compression.lower() if isinstance(compression, str) else compression
    if normalised not in COMPRESSIONS:
        raise ReportValidationError("compression", f"must be None or one of {', '.join(COMPRESSIONS)}", compression)
    return normalised


class Sink(Protocol):
    """One attempt's output: written in order, then published whole or discarded."""

    def write(self, data: bytes | memoryview) -> None: ...

    def publish(self) -> None: ...

    def discard(self) -> None: ...


class LocalSink:
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


class TransactionalSink:
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


class RenameSink:
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


class Output:
    """Bytes on their way into one sink: optional gzip, a running sha256 (unless ``checksum`` is None), a count."""

    def __init__(self, sink: Sink, compression: str | None, uri: str, checksum: str | None = "sha256") -> None:
        self.sink = sink
        self.uri = uri
        self.sha256 = hashlib.sha256() if checksum else None
        self.written = 0
        self._encoder = GzipEncoder() if compression == "gzip" else None
        if self._encoder:
            self._emit(self._encoder.header)

    def write(self, data: bytes | memoryview) -> None:
        self._emit(self._encoder.compress(data) if self._encoder else data)

    @property
    def digest(self) -> str | None:
        """The hex sha256 of what was written, or None when no checksum was asked for."""
        return self.sha256.hexdigest() if self.sha256 else None

    def publish(self) -> None:
        if self._encoder:
            self._emit(self._encoder.flush())
        self._guard(self.sink.publish)

    def discard(self, log: logging.Logger) -> None:
        try:
            self.sink.discard()
        except Exception as exc:  # never hide the error that made us discard
            log.warning("Could not clean up the partial output for %s: %s", self.uri, scrub(str(exc)))

    def _emit(self, data: bytes | memoryview) -> None:
        if data:
            if self.sha256:
                self.sha256.update(data)
            self.written += len(data)
            self._guard(self.sink.write, data)

    def _guard(self, action: Callable[..., None], *args: Any) -> None:
        """Destination failures become a TransferError naming the destination, never retried as a cut."""
        try:
            action(*args)
        except Exception as exc:
            raise TransferError(f"writing {self.uri} failed: {type(exc).__name__}: {scrub(str(exc))}") from exc

