"""One download, resumed: the rules every transfer follows when a body is cut, raw copies and conversions alike.

* A cut body (:class:`TransportError`, :class:`IncompleteDownloadError`, or an open that fails with one) is opened
  again at the byte reached (HTTP Range), up to ``max_attempts`` opens in all.
* The server ignores the Range and answers from byte 0 (or from before the offset asked for): the download
  restarts from that byte and the bytes already received are skipped, never written twice.
* The size of the resource changed between opens: the bytes received belong to another version. The download
  starts over from byte 0 and raises :class:`SourceChanged`; the consumer discards what it wrote and reads again.
* More bytes than announced, or an answer from past the offset asked for: :class:`TransferError`, not retried.

:class:`ResumableDownload` applies the rules and yields the body's chunks; :class:`DownloadReader` is the same
download as a readable stream for the conversions (pyarrow reads it as a file).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_report_provider.common.exceptions import (
    IncompleteDownloadError,
    ReportValidationError,
    TransferError,
    TransportError,
)
from airflow_report_provider.common.landing.sources import DEFAULT_CHUNK_SIZE, ByteOpener, OpenedBody, ReadStream
from airflow_report_provider.common.observability.progress import ProgressReporter
from airflow_report_provider.common.observability.redaction import scrub

__all__ = ["DownloadOptions", "DownloadReader", "ResumableDownload", "SourceChanged"]

_LOG = logging.getLogger(__name__)


class SourceChanged(TransportError):
    """The resource's size changed between opens: what was received is void; the download starts over at byte 0."""


@dataclass(frozen=True)
class DownloadOptions:
    """How a transfer reads its source: chunk size, opens in all, progress lines, and how it names the report."""

    chunk_size: int = DEFAULT_CHUNK_SIZE
    max_attempts: int = 3
    progress_interval: float = 5.0
    log: logging.Logger = _LOG
    description: str = "report"

    def __post_init__(self) -> None:
        if self.chunk_size <= 0:
            raise ReportValidationError("chunk_size", "must be a positive number of bytes", self.chunk_size)
        if self.max_attempts < 1:
            raise ReportValidationError("max_attempts", "must be at least 1", self.max_attempts)

    def download(self, opener: ByteOpener, description: str | None = None) -> ResumableDownload:
        return ResumableDownload(opener, self, description)


class ResumableDownload:
    """The chunks of one source across as many opens as it takes (see the module's rules)."""

    def __init__(self, opener: ByteOpener, options: DownloadOptions, description: str | None = None) -> None:
        self.opener = opener
        self.options = options
        self.description = description or options.description
        self.log = options.log
        self.offset = 0  # bytes received (and handed on) so far
        self.total: int | None = None
        self.attempts = 0
        self.last_error: Exception | None = None
        #: The last pass ended in :class:`SourceChanged`: the next :meth:`chunks` reads the new version from 0.
        self.changed = False
        self.progress = ProgressReporter(self.log, self.description, interval=options.progress_interval)

    def chunks(self) -> Iterator[bytes]:
        """The body from :attr:`offset` to its end; raises :class:`SourceChanged` (call again to read from 0), or
        :class:`TransferError` / :class:`IncompleteDownloadError` once the opens are spent."""
        self.changed = False
        while True:
            if self.attempts >= self.options.max_attempts:
                raise self._exhausted()
            self.attempts += 1
            try:
                with self.opener(self.offset) as body:
                    yield from self._body(body)
                self.progress.finish(self.offset)
                return
            except SourceChanged as exc:
                self.last_error, self.changed = exc, True
                raise
            except (TransportError, IncompleteDownloadError) as exc:
                self.last_error = exc
                self._log_cut(exc)

    def _body(self, body: OpenedBody) -> Iterator[bytes]:
        skip = self._position(body)
        for chunk in body.chunks:
            if skip:
                dropped = min(skip, len(chunk))
                chunk, skip = chunk[dropped:], skip - dropped
            if not chunk:
                continue
            self.offset += len(chunk)
            self.progress.advance(len(chunk))
            if self.total is not None and self.offset > self.total:
                raise TransferError(f"{self.description}: received {self.offset} bytes, more than the announced {self.total}")
            yield chunk
        if self.total is not None and self.offset < self.total:
            raise IncompleteDownloadError(
                f"{self.description}: body ended early: expected {self.total} bytes, received {self.offset}"
            )

    def _position(self, body: OpenedBody) -> int:
        """Reconcile the new body with what was received; how many of its leading bytes to skip."""
        size = body.total_size
        if size is not None:
            if self.total is not None and size != self.total and self.offset > 0:
                previous, self.offset, self.total = self.total, 0, None
                raise SourceChanged(f"{self.description}: size changed from {previous} to {size} bytes; starting over")
            self.total = self.progress.total = size
        if body.start > self.offset:
            raise TransferError(f"{self.description}: the server answered from byte {body.start}, asked for {self.offset}")
        if body.start < self.offset:
            self.log.warning(
                "%s: the server answered from byte %d instead of %d; restarting there and skipping the %d bytes "
                "already received",
                self.description, body.start, self.offset, self.offset - body.start,
            )
        self.progress.seek(self.offset)
        return self.offset - body.start

    def _log_cut(self, exc: Exception) -> None:
        remaining = self.options.max_attempts - self.attempts
        self.log.warning(
            "%s: attempt %d/%d stopped after %d bytes (%s: %s)%s",
            self.description, self.attempts, self.options.max_attempts, self.offset, type(exc).__name__,
            scrub(str(exc)), f"; resuming at byte {self.offset}" if remaining else "",
        )

    def _exhausted(self) -> TransferError:
        last_error = self.last_error
        received = f"{self.offset} bytes received" + (f" of {self.total} expected" if self.total is not None else "")
        cause = f": {type(last_error).__name__}: {scrub(str(last_error))}" if last_error else ""
        message = f"{self.description}: transfer failed after {self.attempts} attempt(s), {received}{cause}"
        error_type = IncompleteDownloadError if isinstance(last_error, IncompleteDownloadError) else TransferError
        error = error_type(message)
        error.attempts, error.received, error.expected = self.attempts, self.offset, self.total  # type: ignore[attr-defined]
        error.__cause__ = last_error
        return error


class DownloadReader(ReadStream):
    """A :class:`ResumableDownload` as a readable binary stream; holds nothing beyond the chunk being read."""

    def __init__(self, download: ResumableDownload) -> None:
        super().__init__()
        self.download = download
        self._chunks: Iterator[bytes] | None = download.chunks()
        self._pending = memoryview(b"")

    def readinto(self, buffer: Any) -> int:
        """Copy the next bytes straight into ``buffer`` (one copy: what a buffered reader above us uses)."""
        self._fill()
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        self._fill()
        data, self._pending = self._pending[:size], self._pending[size:]
        return bytes(data)

    def close(self) -> None:
        chunks, self._chunks = self._chunks, None
        if chunks is not None:
            chunks.close()  # type: ignore[attr-defined]  # a generator: closes the open body
        super().close()

    def _fill(self) -> None:
        while not self._pending and self._chunks is not None:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._chunks = None
            else:
                self._pending = memoryview(chunk)

