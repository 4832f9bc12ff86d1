"""The streaming writer against file:// destinations: atomicity, resume, verification, gzip, memory."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from airflow_report_provider.common.exceptions import (
    IncompleteDownloadError,
    ReportValidationError,
    TransferError,
    TransportError,
)
from airflow_report_provider.common.landing.streaming import (
    OpenedBody,
    TransferResult,
    file_opener,
    iter_opener,
    stream_to_local_file,
    stream_to_object_storage,
)

PAYLOAD = os.urandom(3 * 1024 * 1024 + 123)
CHUNK = 64 * 1024


def chunks_of(data: bytes, size: int = CHUNK) -> Iterator[bytes]:
    for begin in range(0, len(data), size):
        yield data[begin : begin + size]


class FlakyServer:
    """An opener over ``data`` whose first bodies are cut after ``cut_after`` bytes each.

    ``honour_range``: answer Range requests from the offset (else always from 0). ``announce``: send total size.
    """

    def __init__(
        self, data: bytes, *, cuts: int = 0, cut_after: int = 1024 * 1024, honour_range: bool = True, announce: bool = True
    ) -> None:
        self.data = data
        self.cuts = cuts
        self.cut_after = cut_after
        self.honour_range = honour_range
        self.announce = announce
        self.offsets: list[int] = []

    @contextmanager
    def __call__(self, offset: int) -> Iterator[OpenedBody]:
        self.offsets.append(offset)
        start = offset if self.honour_range else 0
        cut = len(self.offsets) <= self.cuts
        yield OpenedBody(self._body(start, cut), start, len(self.data) if self.announce else None)

    def _body(self, start: int, cut: bool) -> Iterator[bytes]:
        stop = min(start + self.cut_after, len(self.data)) if cut else len(self.data)
        yield from chunks_of(self.data[start:stop])
        if cut:
            raise TransportError("connection reset by peer")


def leftovers(directory) -> list[str]:
    return sorted(os.listdir(directory))


def test_plain_copy_is_byte_exact(tmp_path):
    target = tmp_path / "out" / "report.csv"  # parent created on demand
    result = stream_to_object_storage(FlakyServer(PAYLOAD), f"file://{target}")

    assert target.read_bytes() == PAYLOAD
    assert result.uri == f"file://{target}"
    assert (result.bytes, result.source_bytes, result.attempts) == (len(PAYLOAD), len(PAYLOAD), 1)
    assert result.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert result.compression is None
    assert leftovers(target.parent) == ["report.csv"]


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_no_checksum_lands_the_same_bytes_without_a_digest(tmp_path, compression, mocker):
    hashed = mocker.spy(hashlib, "sha256")
    with_digest = stream_to_object_storage(FlakyServer(PAYLOAD), f"file://{tmp_path / 'a'}", compression=compression)
    without = stream_to_object_storage(FlakyServer(PAYLOAD), f"file://{tmp_path / 'b'}", compression=compression, checksum=None)

    assert (tmp_path / "b").read_bytes() == (tmp_path / "a").read_bytes()
    assert without.sha256 is None and with_digest.sha256 == hashlib.sha256((tmp_path / "a").read_bytes()).hexdigest()
    assert hashed.call_count == 2  # the first transfer's digest and the check above: none for the second
    assert without.bytes == with_digest.bytes and without.source_bytes == len(PAYLOAD)


def test_plain_path_and_xcom_dict(tmp_path):
    result = stream_to_object_storage(FlakyServer(b"a,b\n1,2\n"), str(tmp_path / "r.csv"))

    xcom = result.as_xcom()
    assert json.loads(json.dumps(xcom)) == xcom
    assert {"uri", "bytes", "sha256", "source_bytes", "compression", "attempts"} <= xcom.keys()
    assert xcom["uri"] == f"file://{tmp_path / 'r.csv'}"


def test_cut_on_every_attempt_publishes_nothing(tmp_path):
    server = FlakyServer(PAYLOAD, cuts=99)
    target = tmp_path / "report.csv"

    with pytest.raises(TransferError) as failure:
        stream_to_object_storage(server, target, max_attempts=3)

    assert len(server.offsets) == 3
    assert "3 attempt(s)" in str(failure.value) and f"of {len(PAYLOAD)} expected" in str(failure.value)
    assert failure.value.attempts == 3
    assert leftovers(tmp_path) == []


def test_failure_keeps_the_previous_file(tmp_path):
    target = tmp_path / "report.csv"
    target.write_bytes(b"yesterday")

    with pytest.raises(TransferError):
        stream_to_object_storage(FlakyServer(PAYLOAD, cuts=99), target)

    assert target.read_bytes() == b"yesterday"
    assert leftovers(tmp_path) == ["report.csv"]


def test_cut_resumes_with_range(tmp_path):
    server = FlakyServer(PAYLOAD, cuts=1, cut_after=1024 * 1024)
    target = tmp_path / "report.csv"

    result = stream_to_object_storage(server, target)

    assert target.read_bytes() == PAYLOAD
    assert result.attempts == 2
    assert server.offsets == [0, 1024 * 1024]
    assert result.sha256 == hashlib.sha256(PAYLOAD).hexdigest()


def test_ignored_range_restarts_from_scratch(tmp_path, caplog):
    server = FlakyServer(PAYLOAD, cuts=1, honour_range=False)
    target = tmp_path / "report.csv"

    with caplog.at_level(logging.WARNING):
        result = stream_to_object_storage(server, target)

    assert target.read_bytes() == PAYLOAD
    assert (result.attempts, result.source_bytes) == (2, len(PAYLOAD))
    assert result.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert "restarting" in caplog.text
    assert leftovers(tmp_path) == ["report.csv"]


def test_ignored_range_restart_with_gzip_is_consistent(tmp_path):
    server = FlakyServer(PAYLOAD, cuts=2, honour_range=False)
    result = stream_to_object_storage(server, tmp_path / "r.csv.gz", compression="gzip")

    written = (tmp_path / "r.csv.gz").read_bytes()
    assert gzip.decompress(written) == PAYLOAD
    assert result.sha256 == hashlib.sha256(written).hexdigest()
    assert result.bytes == len(written)


def test_overlapping_answer_drops_bytes_already_held(tmp_path):
    """A server answering from before the asked offset (but not 0): the overlap is skipped."""
    calls: list[int] = []

    @contextmanager
    def opener(offset: int) -> Iterator[OpenedBody]:
        calls.append(offset)
        if offset == 0:
            def cut() -> Iterator[bytes]:
                yield PAYLOAD[:1000]
                raise TransportError("cut")
            yield OpenedBody(cut(), 0, len(PAYLOAD))
        else:
            yield OpenedBody(chunks_of(PAYLOAD[500:]), 500, len(PAYLOAD))

    stream_to_object_storage(opener, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_bytes() == PAYLOAD
    assert calls == [0, 1000]


def test_short_body_is_detected(tmp_path):
    short = FlakyServer(PAYLOAD[:1000])

    @contextmanager
    def opener(offset: int) -> Iterator[OpenedBody]:
        with short(offset) as body:
            yield OpenedBody(body.chunks, body.start, len(PAYLOAD))  # announces more than it sends

    with pytest.raises(IncompleteDownloadError) as failure:
        stream_to_object_storage(opener, tmp_path / "r.csv", max_attempts=2)

    message = str(failure.value)
    assert f"expected {len(PAYLOAD)}" in message and "received 1000" in message
    assert leftovers(tmp_path) == []


def test_longer_body_than_announced_fails(tmp_path):
    opener = iter_opener(lambda: chunks_of(PAYLOAD), total_size=100)
    with pytest.raises(TransferError, match="more than the announced 100"):
        stream_to_object_storage(opener, tmp_path / "r.csv")
    assert leftovers(tmp_path) == []


def test_unknown_size_accepts_whatever_arrives(tmp_path):
    result = stream_to_object_storage(FlakyServer(PAYLOAD, announce=False), tmp_path / "r.csv")
    assert result.source_bytes == len(PAYLOAD)


def test_changed_size_on_resume_restarts(tmp_path):
    versions = [PAYLOAD[:2_000_000], PAYLOAD, PAYLOAD]
    calls: list[int] = []

    @contextmanager
    def opener(offset: int) -> Iterator[OpenedBody]:
        data = versions[len(calls)]
        calls.append(offset)
        if len(calls) == 1:
            def cut() -> Iterator[bytes]:
                yield data[:1000]
                raise TransportError("cut")
            yield OpenedBody(cut(), 0, len(data))
        else:
            yield OpenedBody(chunks_of(data[offset:]), offset, len(data))

    result = stream_to_object_storage(opener, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_bytes() == PAYLOAD
    assert calls == [0, 1000, 0]
    assert result.attempts == 3


def test_open_failure_counts_as_attempt(tmp_path):
    calls: list[int] = []
    good = FlakyServer(PAYLOAD)

    @contextmanager
    def opener(offset: int) -> Iterator[OpenedBody]:
        calls.append(offset)
        if len(calls) == 1:
            raise TransportError("connection refused")
        with good(offset) as body:
            yield body

    result = stream_to_object_storage(opener, tmp_path / "r.csv")
    assert result.attempts == 2 and (tmp_path / "r.csv").read_bytes() == PAYLOAD


def test_other_errors_are_not_retried(tmp_path):
    calls: list[int] = []

    @contextmanager
    def opener(offset: int) -> Iterator[OpenedBody]:
        calls.append(offset)
        def body() -> Iterator[bytes]:
            yield b"x" * 10
            raise RuntimeError("boom")
        yield OpenedBody(body(), 0, None)

    with pytest.raises(RuntimeError):
        stream_to_object_storage(opener, tmp_path / "r.csv")
    assert calls == [0] and leftovers(tmp_path) == []


def test_error_message_has_no_query_string(tmp_path):
    @contextmanager
    def opener(offset: int) -> Iterator[OpenedBody]:
        raise TransportError("GET https://files.example.com/r.zip?X-Amz-Signature=SECRET failed")
        yield  # pragma: no cover

    with pytest.raises(TransferError) as failure:
        stream_to_object_storage(opener, tmp_path / "r.csv", max_attempts=1)
    assert "SECRET" not in str(failure.value) and "files.example.com/r.zip" in str(failure.value)


def test_gzip_round_trips_and_is_deterministic(tmp_path):
    first = stream_to_object_storage(
        iter_opener(lambda: chunks_of(PAYLOAD, 1000)), tmp_path / "a.gz", compression="gzip"
    )
    second = stream_to_object_storage(
        iter_opener(lambda: chunks_of(PAYLOAD, 77_777)), tmp_path / "b.gz", compression="GZIP"
    )

    a, b = (tmp_path / "a.gz").read_bytes(), (tmp_path / "b.gz").read_bytes()
    assert gzip.decompress(a) == PAYLOAD
    assert a == b and first.sha256 == second.sha256 == hashlib.sha256(a).hexdigest()
    assert first.bytes == len(a) and first.source_bytes == len(PAYLOAD)
    assert first.compression == "gzip"
    with gzip.open(tmp_path / "a.gz") as handle:  # no stored name, mtime 0
        handle.read(1)
        assert handle.mtime == 0
    assert not a[3] & 0x08


def test_gzip_resume_with_range(tmp_path):
    server = FlakyServer(PAYLOAD, cuts=2, cut_after=700_000)
    result = stream_to_object_storage(server, tmp_path / "r.gz", compression="gzip")
    assert gzip.decompress((tmp_path / "r.gz").read_bytes()) == PAYLOAD
    assert result.attempts == 3


def test_empty_body(tmp_path):
    result = stream_to_object_storage(iter_opener(lambda: [], total_size=0), tmp_path / "e.csv")
    assert (tmp_path / "e.csv").read_bytes() == b""
    assert result.sha256 == hashlib.sha256(b"").hexdigest()
    stream_to_object_storage(iter_opener(lambda: []), tmp_path / "e.gz", compression="gzip")
    assert gzip.decompress((tmp_path / "e.gz").read_bytes()) == b""


def test_invalid_compression_raises_before_opening(tmp_path, mocker):
    opener = mocker.Mock()
    with pytest.raises(ReportValidationError) as failure:
        stream_to_object_storage(opener, tmp_path / "r.csv", compression="zstd")
    assert failure.value.field == "compression"
    opener.assert_not_called()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("argument", "value"), [("chunk_size", 0), ("max_attempts", 0), ("block_size", 0)])
def test_invalid_sizes_raise_before_opening(tmp_path, mocker, argument, value):
    opener = mocker.Mock()
    with pytest.raises(ReportValidationError) as failure:
        stream_to_object_storage(opener, tmp_path / "r.csv", **{argument: value})
    assert failure.value.field == argument
    opener.assert_not_called()


def test_large_chunks_are_sliced(tmp_path, mocker):
    written: list[int] = []
    real_open = open

    def spy_open(*args, **kwargs):
        handle = real_open(*args, **kwargs)
        if "wb" in args[1:2]:
            original = handle.write
            handle.write = lambda data: written.append(len(data)) or original(data)  # type: ignore[method-assign]
        return handle

    mocker.patch("builtins.open", spy_open)
    stream_to_object_storage(iter_opener(lambda: [PAYLOAD]), tmp_path / "r.csv", chunk_size=1024 * 1024)
    mocker.stopall()
    assert max(written) == 1024 * 1024 and sum(written) == len(PAYLOAD)
    assert (tmp_path / "r.csv").read_bytes() == PAYLOAD


def test_progress_lines(tmp_path, caplog):
    log = logging.getLogger("test.progress")
    with caplog.at_level(logging.INFO, logger="test.progress"):
        stream_to_object_storage(
            FlakyServer(PAYLOAD), tmp_path / "r.csv", progress_interval=0.0, log=log, description="criteo 42"
        )
    lines = [record.getMessage() for record in caplog.records if record.name == "test.progress"]
    assert any("%)" in line and "MiB/s" in line for line in lines)
    assert lines[-1].startswith("criteo 42: done, 3.0 MiB of 3.0 MiB (100.0%)")
    # one line per chunk at most, not per byte; and none at all with a long interval
    assert len(lines) <= len(PAYLOAD) // CHUNK + 3
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="test.progress"):
        stream_to_object_storage(FlakyServer(PAYLOAD), tmp_path / "s.csv", progress_interval=3600, log=log)
    assert len([r for r in caplog.records if r.name == "test.progress"]) == 2  # start + final


def test_local_file_spool_resumes(tmp_path):
    server = FlakyServer(PAYLOAD, cuts=1)
    result = stream_to_local_file(server, tmp_path / "spool" / "report.zip")
    assert (tmp_path / "spool" / "report.zip").read_bytes() == PAYLOAD
    assert result.attempts == 2 and result.uri.startswith("file://")


def test_local_file_spool_failure_leaves_nothing(tmp_path):
    with pytest.raises(TransferError):
        stream_to_local_file(FlakyServer(PAYLOAD, cuts=9), tmp_path / "report.zip", max_attempts=2)
    assert leftovers(tmp_path) == []


def test_file_opener_path_and_stream(tmp_path):
    source = tmp_path / "source.csv"
    source.write_bytes(PAYLOAD)
    result = stream_to_object_storage(file_opener(source, 100_000), tmp_path / "copy.csv")
    assert (tmp_path / "copy.csv").read_bytes() == PAYLOAD and result.source_bytes == len(PAYLOAD)

    with file_opener(source)(1000) as body:
        assert (body.start, body.total_size) == (1000, len(PAYLOAD))
        assert b"".join(body.chunks) == PAYLOAD[1000:]

    stream = io.BytesIO(PAYLOAD)
    with file_opener(stream, 4096)(10) as body:
        assert (body.start, body.total_size) == (10, None)
        assert next(body.chunks) == PAYLOAD[10:4106]
    assert not stream.closed  # the owner closes it


def test_iter_opener_range(tmp_path):
    with iter_opener(lambda: chunks_of(PAYLOAD, 1000))(2500) as body:
        assert body.start == 2500 and b"".join(body.chunks) == PAYLOAD[2500:]
    with iter_opener(lambda: chunks_of(PAYLOAD, 1000), honour_range=False)(2500) as body:
        assert body.start == 0


def test_result_type():
    result = TransferResult("file:///x", 1, 1, "0" * 64, None, 1, 0.12345)
    assert result.as_xcom()["seconds"] == 0.123


def _repeat(block: bytes, count: int) -> Iterator[bytes]:
    for _ in range(count):
        yield block


@pytest.mark.slow
@pytest.mark.parametrize("compression", [None, "gzip"])
def test_memory_is_bounded(tmp_path, compression):
    block = os.urandom(1024 * 1024) if compression is None else b"2024-01-01,123,456.78\n" * 47662
    count = 200 if compression is None else 50
    opener = iter_opener(lambda: _repeat(block, count), total_size=len(block) * count)
    stream_to_object_storage(iter_opener(lambda: [block]), tmp_path / "warm-up")  # imports happen outside the trace

    tracemalloc.start()
    try:
        result = stream_to_object_storage(opener, tmp_path / "big", compression=compression, progress_interval=0.5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.source_bytes == len(block) * count
    assert peak < 32 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


@pytest.fixture
def memory_store():
    """A filesystem without commit/discard: the writer falls back to a temporary sibling + mv."""
    from fsspec.implementations.memory import MemoryFileSystem

    from airflow.sdk.io import attach
    from airflow.sdk.io.store import _STORE_CACHE

    fs = MemoryFileSystem()
    fs.store.clear()
    attach(protocol="memory", fs=fs)
    yield fs
    _STORE_CACHE.pop("memory", None)
    fs.store.clear()


def test_fallback_temp_and_move(memory_store):
    result = stream_to_object_storage(FlakyServer(PAYLOAD, cuts=1), "memory://bucket/r.csv")
    assert memory_store.cat("/bucket/r.csv") == PAYLOAD
    assert memory_store.ls("/bucket", detail=False) == ["/bucket/r.csv"]
    assert result.attempts == 2


def test_fallback_failure_leaves_old_object(memory_store):
    memory_store.pipe("/bucket/r.csv", b"old")
    with pytest.raises(TransferError):
        stream_to_object_storage(FlakyServer(PAYLOAD, cuts=9), "memory://bucket/r.csv")
    assert memory_store.cat("/bucket/r.csv") == b"old"
    assert memory_store.ls("/bucket", detail=False) == ["/bucket/r.csv"]
