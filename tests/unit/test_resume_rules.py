"""One resume rule set for every download: a raw copy and a conversion meet the same cut, the same ignored Range, the
same changed size, and come out the same way (common/landing/download.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from airflow_report_provider.common.exceptions import TransferError, TransportError
from airflow_report_provider.common.landing.settings import OutputSettings
from airflow_report_provider.common.landing.sources import OpenedBody
from airflow_report_provider.common.landing.writer import write_report

DATA = b"Clicks\n" + b"".join(b"%d\n" % i for i in range(40_000))
CUT = 10_000
# "raw": the bytes as served (streaming.copy_raw); "csv": the CSV read back as a stream (conversion.copy_csv).
OUTPUTS = ["raw", "csv"]


class Server:
    """Answers opens from a script: each entry is (data served, honours Range, cut after n bytes or None)."""

    def __init__(self, *answers: tuple[bytes, bool, int | None]) -> None:
        self.answers = list(answers)
        self.offsets: list[int] = []

    @contextmanager
    def __call__(self, offset: int) -> Iterator[OpenedBody]:
        data, honours_range, cut = self.answers[min(len(self.offsets), len(self.answers) - 1)]
        self.offsets.append(offset)
        start = offset if honours_range else 0

        def chunks() -> Iterator[bytes]:
            body = data[start:]
            stop = len(body) if cut is None else cut
            for begin in range(0, stop, 4096):
                yield body[begin : min(begin + 4096, stop)]
            if cut is not None:
                raise TransportError("connection reset")

        yield OpenedBody(chunks(), start, len(data))


def land(server: Server, tmp_path, output_format: str, **kwargs):
    target = tmp_path / "out" / "report.csv"
    result = write_report(server, f"file://{target}", OutputSettings(output_format), api="criteo", **kwargs)
    return result, target


@pytest.mark.parametrize("output_format", OUTPUTS)
def test_a_cut_body_resumes_with_range(tmp_path, output_format):
    server = Server((DATA, True, CUT), (DATA, True, None))
    result, target = land(server, tmp_path, output_format)
    assert target.read_bytes() == DATA
    assert server.offsets == [0, CUT]
    assert (result["attempts"], result["source_bytes"]) == (2, len(DATA))


@pytest.mark.parametrize("output_format", OUTPUTS)
def test_an_ignored_range_skips_the_bytes_already_received(tmp_path, output_format, caplog):
    server = Server((DATA, False, CUT), (DATA, False, None))
    with caplog.at_level(logging.WARNING):
        result, target = land(server, tmp_path, output_format)
    assert target.read_bytes() == DATA
    assert server.offsets == [0, CUT]
    assert (result["attempts"], result["source_bytes"]) == (2, len(DATA))
    assert f"answered from byte 0 instead of {CUT}" in caplog.text


@pytest.mark.parametrize("output_format", OUTPUTS)
def test_a_changed_size_starts_over_with_the_new_version(tmp_path, output_format, caplog):
    old, new = DATA[: len(DATA) // 2].rsplit(b"\n", 1)[0] + b"\n", DATA
    server = Server((old, True, CUT), (new, True, None), (new, True, None))
    with caplog.at_level(logging.WARNING):
        result, target = land(server, tmp_path, output_format)
    assert target.read_bytes() == new
    assert server.offsets == [0, CUT, 0]
    assert result["attempts"] == 3
    assert "size changed" in caplog.text


@pytest.mark.parametrize("output_format", OUTPUTS)
def test_a_changed_size_counts_against_the_attempts(tmp_path, output_format):
    server = Server((DATA[:20_000], True, CUT), (DATA, True, None))
    with pytest.raises(TransferError, match="after 2 attempt.*size changed"):
        land(server, tmp_path, output_format, max_attempts=2)
    assert server.offsets == [0, CUT]
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("output_format", OUTPUTS)
def test_an_answer_past_the_offset_fails_without_a_retry(tmp_path, output_format):
    @contextmanager
    def ahead(offset: int) -> Iterator[OpenedBody]:
        yield OpenedBody(iter([DATA[10:]]), offset + 10, len(DATA))

    with pytest.raises(TransferError, match="answered from byte 10, asked for 0"):
        land(ahead, tmp_path, output_format)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("output_format", OUTPUTS)
def test_more_bytes_than_announced_fail(tmp_path, output_format):
    @contextmanager
    def longer(offset: int) -> Iterator[OpenedBody]:
        yield OpenedBody(iter([DATA]), 0, 100)

    with pytest.raises(TransferError, match="more than the announced 100"):
        land(longer, tmp_path, output_format)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
