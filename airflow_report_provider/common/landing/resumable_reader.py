"""A readable binary stream over a :data:`ByteOpener` that resumes a cut body where it stopped.

Conversions (CSV or JSON to Parquet / NDJSON) read the download as a file; a cut connection is re-opened at the
byte reached (HTTP Range), and when the server answers from byte 0 instead the bytes already read are skipped.
Nothing is held beyond the chunk being read.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import Any

from airflow_report_provider.common.exceptions import IncompleteDownloadError, TransferError, TransportError
from airflow_report_provider.common.observability.progress import ProgressReporter
from airflow_report_provider.common.landing.sinks import scrub
from airflow_report_provider.common.landing.sources import ByteOpener, ReadStream

__all__ = ["ResumableReader"]


class ResumableReader(ReadStream):
    """``read(n)`` over the opener's body; at most ``max_attempts`` opens in total."""

    def __init__(
        self,
        opener: ByteOpener,
        *,
        max_attempts: int = 3,
        description: str = "report",
        log: logging.Logger | None = None,
        progress_interval: float = 5.0,
    ) -> None:
        super().__init__()
        self._opener = opener
        self._max_attempts = max_attempts
        self._description = description
        self._log = log or logging.getLogger(__name__)
        self._progress = ProgressReporter(self._log, description, interval=progress_interval)
        self._stack: ExitStack | None = None
        self._chunks: Any = None
        self._pending = memoryview(b"")
        self._skip = 0
        self._done = False
        self.offset = 0  # bytes received from the source
        self.total: int | None = None
        self.attempts = 0

    def readinto(self, buffer: Any) -> int:
        """Copy the next bytes straight into ``buffer`` (one copy: what a buffered reader above us uses)."""
        while not self._pending and not self._done:
            self._receive()
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        while not self._pending and not self._done:
            self._receive()
        data, self._pending = self._pending[:size], self._pending[size:]
        return bytes(data)

    def close(self) -> None:
        self._close_body()
        super().close()

    # -------------------------------------------------------------------------------------------- internals
    def _receive(self) -> None:
        if self._chunks is None:
            self._open()
        try:
            chunk = next(self._chunks)
        except StopIteration:
            if self.total is not None and self.offset < self.total:
                self._cut(IncompleteDownloadError(f"body ended early: expected {self.total} bytes, received {self.offset}"))
                return
            self._close_body()
            self._done = True
            self._progress.finish(self.offset)
            return
        except (TransportError, IncompleteDownloadError) as exc:
            self._cut(exc)
            return
        if self._skip:
            dropped = min(self._skip, len(chunk))
            chunk, self._skip = chunk[dropped:], self._skip - dropped
        if not chunk:
            return
        self.offset += len(chunk)
        self._progress.advance(len(chunk))
        if self.total is not None and self.offset > self.total:
            raise TransferError(f"{self._description}: received {self.offset} bytes, more than the announced {self.total}")
        self._pending = memoryview(chunk)

    def _open(self) -> None:
        self.attempts += 1
        self._stack = ExitStack()
        body = self._stack.enter_context(self._opener(self.offset))
        if body.total_size is not None:
            if self.total is not None and body.total_size != self.total:
                raise TransferError(f"{self._description}: size changed from {self.total} to {body.total_size} bytes")
            self.total = self._progress.total = body.total_size
        if body.start > self.offset:
            raise TransferError(f"{self._description}: the server answered from byte {body.start}, asked for {self.offset}")
        if body.start < self.offset:
            self._log.warning("%s: the server answered from byte %d instead of %d; skipping", self._description, body.start, self.offset)
        self._skip = self.offset - body.start
        self._chunks = iter(body.chunks)

    def _cut(self, exc: Exception) -> None:
        self._close_body()
        if self.attempts >= self._max_attempts:
            received = f"{self.offset} bytes received" + (f" of {self.total} expected" if self.total is not None else "")
            error_type = IncompleteDownloadError if isinstance(exc, IncompleteDownloadError) else TransferError
            raise error_type(
                f"{self._description}: download failed after {self.attempts} attempt(s), {received}: "
                f"{type(exc).__name__}: {scrub(str(exc))}"
            ) from exc
        self._log.warning(
            "%s: attempt %d/%d stopped after %d bytes (%s: %s); resuming at byte %d",
            self._description, self.attempts, self._max_attempts, self.offset, type(exc).__name__, scrub(str(exc)), self.offset,
        )

    def _close_body(self) -> None:
        stack, self._stack, self._chunks = self._stack, None, None
        if stack is not None:
            stack.close()
