"""The streaming writer against a real S3 protocol (moto server) through an Airflow connection."""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from airflow_report_provider.common.exceptions import TransferError, TransportError
from airflow_report_provider.common.landing.streaming import OpenedBody, stream_to_object_storage

MIB = 1024 * 1024
PAYLOAD = os.urandom(20 * MIB + 12345)  # several 8 MiB multipart parts


class FlakyServer:
    """An opener whose first ``cuts`` bodies are cut after ``cut_after`` bytes; honours Range."""

    def __init__(self, data: bytes, *, cuts: int = 0, cut_after: int = 9 * MIB) -> None:
        self.data = data
        self.cuts = cuts
        self.cut_after = cut_after
        self.offsets: list[int] = []

    @contextmanager
    def __call__(self, offset: int) -> Iterator[OpenedBody]:
        self.offsets.append(offset)
        cut = len(self.offsets) <= self.cuts
        yield OpenedBody(self._body(offset, cut), offset, len(self.data))

    def _body(self, start: int, cut: bool) -> Iterator[bytes]:
        stop = min(start + self.cut_after, len(self.data)) if cut else len(self.data)
        for begin in range(start, stop, MIB):
            yield self.data[begin : min(begin + MIB, stop)]
        if cut:
            raise TransportError("connection reset by peer")


def test_multipart_upload_is_byte_exact(s3_bucket):
    result = stream_to_object_storage(FlakyServer(PAYLOAD), s3_bucket.url("mpo/2024-01-01/report.csv"))

    assert s3_bucket.read("mpo/2024-01-01/report.csv") == PAYLOAD
    assert result.uri == s3_bucket.url("mpo/2024-01-01/report.csv")
    assert result.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert (result.bytes, result.attempts) == (len(PAYLOAD), 1)
    assert s3_bucket.pending_uploads() == []


def test_object_storage_path_destination_and_gzip(s3_bucket):
    from airflow.sdk import ObjectStoragePath

    small = PAYLOAD[: 3 * MIB]
    destination = ObjectStoragePath(s3_bucket.url("r.csv.gz"))
    result = stream_to_object_storage(FlakyServer(small), destination, compression="gzip")

    written = s3_bucket.read("r.csv.gz")
    assert gzip.decompress(written) == small
    assert result.sha256 == hashlib.sha256(written).hexdigest() and result.bytes == len(written)


def test_cut_on_every_attempt_leaves_no_object(s3_bucket):
    server = FlakyServer(PAYLOAD, cuts=99)

    with pytest.raises(TransferError):
        stream_to_object_storage(server, s3_bucket.url("report.csv"), max_attempts=2)

    assert len(server.offsets) == 2
    assert s3_bucket.keys() == []
    assert s3_bucket.pending_uploads() == []  # the multipart upload (one 8 MiB part per attempt) was aborted


def test_no_file_is_left_on_the_cached_filesystem_transaction(s3_bucket):
    """fsspec queues autocommit=False files on fs.transaction; the writer takes its own back off."""
    from airflow.sdk import ObjectStoragePath

    stream_to_object_storage(FlakyServer(PAYLOAD[:MIB]), s3_bucket.url("a.csv"))
    with pytest.raises(TransferError):
        stream_to_object_storage(FlakyServer(PAYLOAD, cuts=9), s3_bucket.url("b.csv"), max_attempts=1)

    assert list(ObjectStoragePath(s3_bucket.url("a.csv")).fs.transaction.files) == []


def test_cut_resumes_with_range(s3_bucket):
    server = FlakyServer(PAYLOAD, cuts=1)

    result = stream_to_object_storage(server, s3_bucket.url("report.csv"))

    assert server.offsets == [0, 9 * MIB]
    assert result.attempts == 2
    assert s3_bucket.read("report.csv") == PAYLOAD
    assert s3_bucket.pending_uploads() == []


def test_failed_overwrite_keeps_the_old_object(s3_bucket):
    s3_bucket.put("report.csv", b"yesterday's report")

    with pytest.raises(TransferError):
        stream_to_object_storage(FlakyServer(PAYLOAD, cuts=99), s3_bucket.url("report.csv"), max_attempts=2)

    assert s3_bucket.read("report.csv") == b"yesterday's report"
    assert s3_bucket.pending_uploads() == []

    stream_to_object_storage(FlakyServer(PAYLOAD[:MIB]), s3_bucket.url("report.csv"))  # a re-run replaces it
    assert s3_bucket.read("report.csv") == PAYLOAD[:MIB]


def test_empty_body(s3_bucket):
    stream_to_object_storage(FlakyServer(b""), s3_bucket.url("empty.csv"))
    assert s3_bucket.read("empty.csv") == b""
    assert s3_bucket.pending_uploads() == []


def test_missing_bucket_names_the_destination(s3_bucket):
    url = s3_bucket.url("r.csv").replace(s3_bucket.name, s3_bucket.name + "-missing")
    with pytest.raises(TransferError, match="-missing/r.csv"):
        stream_to_object_storage(FlakyServer(PAYLOAD[:MIB]), url)
