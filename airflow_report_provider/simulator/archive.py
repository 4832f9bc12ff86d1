"""Walmart report files: the CSV as plain, gzip or zip, either built in memory (small reports, real
DEFLATE compression) or streamed with stored (uncompressed) blocks whose layout is known up front."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
from datetime import datetime

from .body import Body, BytesBody, ConcatBody, StoredDeflate

MATERIALIZE_LIMIT = 8 << 20  # CSVs up to this size are compressed in memory
ZIP32_LIMIT = 0xFFFFFFFF - (1 << 16)

CONTENT_TYPES = {"zip": "application/zip", "gzip": "application/gzip", "plain": "text/csv"}
EXTENSIONS = {"zip": "zip", "gzip": "csv.gz", "plain": "csv"}


def _dos_time(dt: datetime) -> tuple[int, int]:
    dt = max(dt, datetime(1980, 1, 1, tzinfo=dt.tzinfo))
    return (dt.hour << 11) | (dt.minute << 5) | (dt.second // 2), ((dt.year - 1980) << 9) | (dt.month << 5) | dt.day


def zip_bytes(csv: bytes, inner_name: str, when: datetime) -> bytes:
    """A deflated zip holding one CSV, deterministic for the same inputs."""
    return zip_members({inner_name: csv}, when)


def zip_members(members: dict[str, bytes], when: datetime) -> bytes:
    """A deflated zip holding each member in order, deterministic for the same inputs."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for inner_name, data in members.items():
            info = zipfile.ZipInfo(
                inner_name, date_time=(max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            zf.writestr(info, data)
    return buf.getvalue()


def split_csv(csv: bytes, pieces: int, mismatched_last: bool = False) -> list[bytes]:
    """``csv`` as ``pieces`` CSVs of consecutive rows, each with the header (small reports: rows hold no
    newline); with ``mismatched_last`` the last piece's header names one more column (a broken split)."""
    header, _, body = csv.partition(b"\n")
    rows = body.splitlines(keepends=True)
    size, extra = divmod(len(rows), pieces)
    out, start = [], 0
    for index in range(pieces):
        end = start + size + (1 if index < extra else 0)
        head = header + b",Extra Column" if mismatched_last and index == pieces - 1 and pieces > 1 else header
        out.append(head + b"\n" + b"".join(rows[start:end]))
        start = end
    return out


def zip_stored_body(csv: Body, crc: int, inner_name: str, when: datetime) -> Body:
    """A zip (one STORED entry) around a streamed CSV body; needs the CSV's CRC-32 up front."""
    if csv.length > ZIP32_LIMIT:
        raise ValueError("streamed zip files are limited to 4 GiB (no zip64)")
    name = inner_name.encode()
    t, d = _dos_time(when)
    size = csv.length
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 10, 0, 0, t, d, crc, size, size, len(name), 0) + name
    central = (
        struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 10, 10, 0, 0, t, d, crc, size, size, len(name), 0, 0, 0, 0, 0, 0)
        + name
    )
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + size, 0)
    return ConcatBody([BytesBody(local), csv, BytesBody(central + eocd)])


def gzip_stored_body(csv: Body, crc: int) -> Body:
    """A gzip member of stored DEFLATE blocks around a streamed CSV body (mtime 0)."""
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", crc & 0xFFFFFFFF, csv.length & 0xFFFFFFFF)
    return ConcatBody([BytesBody(header), StoredDeflate(csv), BytesBody(trailer)])


def file_body(fmt: str, csv: Body, inner_name: str, when: datetime, crc: int | None) -> Body:
    """The downloadable file in `fmt`; `crc` is required when the CSV is above MATERIALIZE_LIMIT."""
    if fmt == "plain":
        return csv
    if csv.length <= MATERIALIZE_LIMIT:
        data = csv.to_bytes()
        if fmt == "gzip":
            return BytesBody(gzip.compress(data, mtime=0))
        return BytesBody(zip_bytes(data, inner_name, when))
    if crc is None:
        raise ValueError("crc needed for a streamed archive")
    if fmt == "gzip":
        return gzip_stored_body(csv, crc)
    return zip_stored_body(csv, crc, inner_name, when)


def needs_crc(fmt: str, csv_length: int) -> bool:
    """Whether building the file needs a CRC pass over the CSV first."""
    return fmt != "plain" and csv_length > MATERIALIZE_LIMIT
