"""Byte sources for the streaming writer: an opener gives a body from an offset (HTTP Range when > 0)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

from airflow_report_provider.common.exceptions import TransferError

__all__ = ["DEFAULT_CHUNK_SIZE", "ByteOpener", "OpenedBody", "ReadStream", "file_opener", "iter_opener"]

DEFAULT_CHUNK_SIZE = 1024 * 1024



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


class ReadStream(io.RawIOBase):
    """A readable raw stream whose subclass implements ``read(size)``; ``readinto`` follows from it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
