"""The files of a finished report as parts to read in order: a Criteo export streamed from its HTTP body (resumable),
or each member of every Walmart download spooled to a local temporary file first (a zip is read from its end)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from airflow_report_provider.common.landing.archives import inspect_report_file, open_report_member
from airflow_report_provider.common.landing.resumable_reader import ResumableReader
from airflow_report_provider.common.landing.sources import ByteOpener
from airflow_report_provider.common.landing.streaming import stream_to_local_file

__all__ = ["DownloadState", "ReportPart", "spooled_parts", "streamed_part"]


@dataclass(frozen=True)
class ReportPart:
    """One file of the report: ``name`` for errors, ``open()`` for its bytes."""

    name: str
    open: Callable[[], AbstractContextManager[BinaryIO]]


@dataclass
class DownloadState:
    chunk_size: int
    max_attempts: int
    progress_interval: float
    log: logging.Logger
    description: str
    source_bytes: int = 0
    attempts: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def streamed_part(opener: ByteOpener, t: DownloadState) -> ReportPart:
    @contextmanager
    def open_body() -> Iterator[BinaryIO]:
        reader = ResumableReader(
            opener, max_attempts=t.max_attempts, description=t.description, log=t.log, progress_interval=t.progress_interval
        )
        with closing(reader):
            yield reader  # type: ignore[misc]
        t.source_bytes += reader.offset
        t.attempts += reader.attempts

    return ReportPart("export", open_body)


def spooled_parts(openers: Sequence[ByteOpener], spool_dir: str, t: DownloadState) -> list[ReportPart]:
    """Download every file to the spool (resumable), then list each one's parts in order."""
    parts: list[ReportPart] = []
    formats, members = [], []
    for index, opener in enumerate(openers):
        path = os.path.join(spool_dir, f"download-{index}")
        label = t.description if len(openers) == 1 else f"{t.description} (file {index + 1}/{len(openers)})"
        result = stream_to_local_file(
            opener, path, chunk_size=t.chunk_size, max_attempts=t.max_attempts,
            progress_interval=t.progress_interval, log=t.log, description=f"{label} (download)",
        )
        t.source_bytes += result.source_bytes
        t.attempts += result.attempts
        found = inspect_report_file(path)
        t.log.info("%s: a %s file holding %s", label, found.format, ", ".join(found.members))
        formats.append(found.format)
        for member in found.members:
            name = member if len(openers) == 1 else f"file {index + 1} member {member}"
            chosen = member if found.format == "zip" else None
            parts.append(ReportPart(name, lambda path=path, chosen=chosen: open_report_member(path, member=chosen)))
            members.append(member)
    t.details = {"format": formats[0] if len(set(formats)) == 1 else formats, "member": members[0], "members": members}
    return parts
