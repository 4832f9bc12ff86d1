"""Random-access byte bodies of known length, so downloads stream in bounded memory with Range support.

A report body is `header + rows + trailer`. Rows come from a template block of up to 1,024 rows rendered
once; block `b` of the body is the template with a 6-byte placeholder replaced by `b` (one C-speed
`bytes.replace` per block), so a 1 GiB body costs a few thousand replaces, not millions of row formats,
and every row stays distinct. Lengths are known up front (Content-Length) and any offset can be read.
"""

from __future__ import annotations

import bisect
import struct
import zlib
from collections.abc import Iterator, Sequence

PLACEHOLDER = b"\x00" * 6
PLACEHOLDER_STR = PLACEHOLDER.decode("ascii")


class Body:
    """Bytes of a known `length`, readable at any offset."""

    length: int

    def read(self, offset: int, size: int) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def iter_range(self, start: int = 0, end: int | None = None, chunk: int = 65536) -> Iterator[bytes]:
        """Yield bytes [start, end) in pieces of at most `chunk` bytes."""
        end = self.length if end is None else min(end, self.length)
        pos = start
        while pos < end:
            piece = self.read(pos, min(chunk, end - pos))
            if not piece:
                raise RuntimeError(f"body returned no bytes at offset {pos} of {self.length}")
            pos += len(piece)
            yield piece

    def to_bytes(self) -> bytes:
        """The whole body (only for small bodies)."""
        return b"".join(self.iter_range(0, None, 1 << 20))


class BytesBody(Body):
    """A body held in memory."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.length = len(data)

    def read(self, offset: int, size: int) -> bytes:
        return self.data[offset : offset + size]


class ConcatBody(Body):
    """Several bodies one after the other."""

    def __init__(self, parts: Sequence[Body]) -> None:
        self.parts = [p for p in parts if p.length]
        self.starts: list[int] = []
        pos = 0
        for part in self.parts:
            self.starts.append(pos)
            pos += part.length
        self.length = pos

    def read(self, offset: int, size: int) -> bytes:
        if offset >= self.length or size <= 0:
            return b""
        i = bisect.bisect_right(self.starts, offset) - 1
        out: list[bytes] = []
        while size > 0 and i < len(self.parts):
            part, start = self.parts[i], self.starts[i]
            piece = part.read(offset - start, size)
            out.append(piece)
            offset += len(piece)
            size -= len(piece)
            i += 1
        return b"".join(out)


class RowBlocks(Body):
    """`n_rows` rows cycling through a template block; block `b` has PLACEHOLDER replaced by `b`.

    `row_ends[i]` is the end offset of template row i inside `template`. `first_patch` overwrites the
    first bytes of the body (e.g. a JSON row separator turned into a space for the first row).
    """

    def __init__(self, template: bytes, row_ends: Sequence[int], n_rows: int, first_patch: bytes = b"") -> None:
        if n_rows and not row_ends:
            raise ValueError("template has no rows")
        self.template = template
        self.row_ends = list(row_ends)
        self.n_rows = n_rows
        self.first_patch = first_patch
        self.has_placeholder = PLACEHOLDER in template
        per_block = len(self.row_ends)
        self.block_len = self.row_ends[-1] if self.row_ends else 0
        full, tail = divmod(n_rows, per_block) if per_block else (0, 0)
        self.length = full * self.block_len + (self.row_ends[tail - 1] if tail else 0)
        self._cached: tuple[int, bytes] | None = None

    def block(self, index: int) -> bytes:
        """Rendered block `index` (the last one is cut by `read`)."""
        cached = self._cached
        if cached is not None and cached[0] == index:
            return cached[1]
        data = self.template
        if self.has_placeholder:
            data = data.replace(PLACEHOLDER, b"%06d" % (index % 1_000_000))
        if index == 0 and self.first_patch:
            data = self.first_patch + data[len(self.first_patch) :]
        self._cached = (index, data)
        return data

    def read(self, offset: int, size: int) -> bytes:
        end = min(self.length, offset + size)
        out: list[bytes] = []
        while offset < end:
            index, within = divmod(offset, self.block_len)
            take = min(self.block_len - within, end - offset)
            out.append(self.block(index)[within : within + take])
            offset += take
        return b"".join(out)


class StoredDeflate(Body):
    """A raw DEFLATE stream of stored (uncompressed) blocks around `inner`: size known up front."""

    PIECE = 65535

    def __init__(self, inner: Body) -> None:
        self.inner = inner
        n = inner.length
        self.n_pieces = max(1, -(-n // self.PIECE))
        self.length = n + 5 * self.n_pieces

    def _header(self, k: int) -> bytes:
        size = min(self.PIECE, self.inner.length - k * self.PIECE)
        final = 1 if k == self.n_pieces - 1 else 0
        return struct.pack("<BHH", final, size, size ^ 0xFFFF)

    def read(self, offset: int, size: int) -> bytes:
        end = min(self.length, offset + size)
        out: list[bytes] = []
        stride = self.PIECE + 5
        while offset < end:
            k, within = divmod(offset, stride)
            if within < 5:
                head = self._header(k)[within : min(5, within + end - offset)]
                out.append(head)
                offset += len(head)
                continue
            data_off = k * self.PIECE + within - 5
            piece_end = min((k + 1) * self.PIECE, self.inner.length)
            take = min(piece_end - data_off, end - offset)
            out.append(self.inner.read(data_off, take))
            offset += take
        return b"".join(out)


def crc32_of(body: Body) -> int:
    """CRC-32 of a whole body, read in 1 MiB pieces."""
    crc = 0
    for piece in body.iter_range(0, None, 1 << 20):
        crc = zlib.crc32(piece, crc)
    return crc
