"""Recognise a downloaded report file (zip, gzip or plain) and stream the report inside it.

A zip's report is every ``.csv`` member (else every file), in member-name order with numbers compared as numbers
(``part_2`` before ``part_10``): a report split into several parts is read whole (directory entries, ``__MACOSX/``
and dot files are ignored). Bytes are kept exact by default: a UTF-8 byte-order mark is
only dropped with ``strip_bom=True`` (most loaders skip it themselves, and exact bytes keep checksums
comparable with the vendor's file).
"""

from __future__ import annotations

import gzip
import io
import os
import re
import struct
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Literal

from airflow_report_provider.common.exceptions import TransferError

__all__ = [
    "UTF8_BOM",
    "ReportFile",
    "detect_format",
    "inspect_report_file",
    "member_name",
    "open_report_member",
    "report_members",
    "sniff_format",
]

ArchiveFormat = Literal["zip", "gzip", "plain"]
UTF8_BOM = b"\xef\xbb\xbf"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")  # local file, empty archive, spanned archive
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_FEXTRA, _GZIP_FNAME = 0x04, 0x08


def detect_format(first_bytes: bytes) -> ArchiveFormat:
    """``"zip"``, ``"gzip"`` or ``"plain"`` from the first bytes of a file (4 are enough)."""
    if first_bytes.startswith(_ZIP_MAGICS):
        return "zip"
    if first_bytes.startswith(_GZIP_MAGIC):
        return "gzip"
    return "plain"


def sniff_format(path: str | os.PathLike[str]) -> ArchiveFormat:
    """The format of a local file, by its magic bytes."""
    with open(path, "rb") as handle:
        return detect_format(handle.read(4))


@dataclass(frozen=True)
class ReportFile:
    """What a downloaded file holds: its ``format``, the report's (first) ``member`` name, its ``size`` when
    known (all parts), and every part's name in order (``members``; one for gzip and plain files)."""

    format: ArchiveFormat
    member: str
    size: int | None
    members: tuple[str, ...] = ()


def inspect_report_file(path: str | os.PathLike[str]) -> ReportFile:
    """Describe a downloaded file without extracting it (gzip sizes are unknown: ISIZE wraps at 4 GiB)."""
    kind = sniff_format(path)
    if kind == "zip":
        with zipfile.ZipFile(path) as archive:
            infos = _report_members(archive)
        names = tuple(info.filename for info in infos)
        return ReportFile("zip", names[0], sum(info.file_size for info in infos), names)
    if kind == "gzip":
        name = _gzip_member_name(path)
        return ReportFile("gzip", name, None, (name,))
    name = os.path.basename(os.fspath(path))
    return ReportFile("plain", name, os.path.getsize(path), (name,))


def report_members(path: str | os.PathLike[str]) -> list[str]:
    """The names of the report's parts in ``path``, in order (one for gzip and plain files)."""
    return list(inspect_report_file(path).members)


def member_name(path: str | os.PathLike[str]) -> str:
    """The name of the report inside ``path`` (zip member, gzip stored name, or the file name), for logs."""
    return inspect_report_file(path).member


@contextmanager
def open_report_member(
    path: str | os.PathLike[str], *, strip_bom: bool = False, member: str | None = None
) -> Iterator[BinaryIO]:
    """A readable binary stream of the report in ``path`` (the zip part named ``member``; without it the only
    part: a split report raises), decompressed on the fly (never read whole)."""
    kind = sniff_format(path)
    with _open_raw(path, kind, member) as stream:
        yield _BomStripped(stream) if strip_bom else stream


@contextmanager
def _open_raw(path: str | os.PathLike[str], kind: ArchiveFormat, member: str | None) -> Iterator[BinaryIO]:
    if kind == "zip":
        with zipfile.ZipFile(path) as archive:
            infos = _report_members(archive)
            if member is None and len(infos) > 1:
                raise TransferError(
                    f"the zip archive holds a report in {len(infos)} parts; open each member (report_members)"
                )
            with archive.open(member or infos[0]) as stream:
                yield stream  # type: ignore[misc]
    elif kind == "gzip":
        with gzip.open(path, "rb") as stream:
            yield stream  # type: ignore[misc]
    else:
        with open(path, "rb") as stream:
            yield stream


def _report_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """Every ``.csv`` file, else every file, in natural name order."""
    files = [info for info in archive.infolist() if not info.is_dir() and not _is_junk(info.filename)]
    if not files:
        raise TransferError(f"the zip archive holds no file (entries: {len(archive.infolist())})")
    csvs = [info for info in files if info.filename.lower().endswith(".csv")]
    return sorted(csvs or files, key=lambda info: _natural_key(info.filename))


def _natural_key(name: str) -> list[tuple[int, int | str]]:
    """``part_2`` before ``part_10``: digit runs compare as numbers."""
    return [(0, int(piece)) if piece.isdigit() else (1, piece) for piece in re.split(r"(\d+)", name) if piece]


def _is_junk(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name.startswith("__MACOSX/") or base.startswith(".")


def _gzip_member_name(path: str | os.PathLike[str]) -> str:
    """The FNAME stored in the gzip header, else the file name without ``.gz``."""
    fallback = os.path.basename(os.fspath(path))
    fallback = fallback[:-3] if fallback.lower().endswith(".gz") else fallback
    with open(path, "rb") as handle:
        header = handle.read(10)
        if len(header) < 10 or not header[3] & _GZIP_FNAME:
            return fallback
        if header[3] & _GZIP_FEXTRA:
            (extra_length,) = struct.unpack("<H", handle.read(2))
            handle.seek(extra_length, io.SEEK_CUR)
        name = handle.read(1024).split(b"\x00", 1)[0]
    return name.decode("latin-1") or fallback


class _BomStripped(io.RawIOBase):
    """A stream that drops a leading UTF-8 byte-order mark and passes everything else through."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self._stream = stream
        head = stream.read(len(UTF8_BOM))
        self._pending = b"" if head == UTF8_BOM else head

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        size = -1 if size is None else size
        if not self._pending:
            return self._stream.read(size)
        if 0 <= size <= len(self._pending):
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        data, self._pending = self._pending, b""
        return data + self._stream.read(size - len(data) if size >= 0 else -1)
