"""The files of a finished report as parts to read in order: a Criteo export streamed from its HTTP body (resumable),
or each member of every Walmart download spooled to a local temporary file first (a zip is read from its end)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from airflow_report_provider.common.landing.archives import inspect_report_file, open_report_member
from airflow_report_provider.common.landing.download import DownloadOptions, DownloadReader, ResumableDownload
from airflow_report_provider.common.landing.sources import ByteOpener
from airflow_report_provider.common.landing.streaming import stream_to_local_file

__all__ = ["DownloadTally", "ReportPart", "spooled_parts", "streamed_part"]


@dataclass(frozen=True)
class ReportPart:
    """One file of the report: ``name`` for errors, ``open()`` for its bytes."""

    name: str
    open: Callable[[], AbstractContextManager[BinaryIO]]


@dataclass
class DownloadTally:
    """What the downloads of one report took: bytes read from the API, opens, and what the files held."""

    downloads: list[ResumableDownload] = field(default_factory=list)
    spooled_bytes: int = 0
    spooled_attempts: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def source_bytes(self) -> int:
        return self.spooled_bytes + sum(download.offset for download in self.downloads)

    @property
    def attempts(self) -> int:
        return self.spooled_attempts + sum(download.attempts for download in self.downloads)


def streamed_part(opener: ByteOpener, options: DownloadOptions, tally: DownloadTally) -> ReportPart:
    """The export read straight from its HTTP body. Each open is a new pass with its own opens, except the pass
    after a :class:`SourceChanged`: it continues the download that found the change (one budget of opens)."""
    downloads: list[ResumableDownload] = []

    @contextmanager
    def open_body() -> Iterator[BinaryIO]:
        if not downloads or not downloads[-1].changed:
            downloads.append(options.download(opener))
            tally.downloads.append(downloads[-1])
        with closing(DownloadReader(downloads[-1])) as reader:
            yield reader  # type: ignore[misc]

    return ReportPart("export", open_body)


def spooled_parts(openers: Sequence[ByteOpener], spool_dir: str, options: DownloadOptions, tally: DownloadTally) -> list[ReportPart]:
    """Download every file to the spool (resumable), then list each one's parts in order."""
    parts: list[ReportPart] = []
    formats, members = [], []
    log = options.log
    for index, opener in enumerate(openers):
        path = os.path.join(spool_dir, f"download-{index}")
        label = options.description if len(openers) == 1 else f"{options.description} (file {index + 1}/{len(openers)})"
        result = stream_to_local_file(
            opener, path, chunk_size=options.chunk_size, max_attempts=options.max_attempts,
            progress_interval=options.progress_interval, log=log, description=f"{label} (download)",
        )
        tally.spooled_bytes += result.source_bytes
        tally.spooled_attempts += result.attempts
        found = inspect_report_file(path)
        log.info("%s: a %s file holding %s", label, found.format, ", ".join(found.members))
        formats.append(found.format)
        for member in found.members:
            name = member if len(openers) == 1 else f"file {index + 1} member {member}"
            chosen = member if found.format == "zip" else None
            parts.append(ReportPart(name, lambda path=path, chosen=chosen: open_report_member(path, member=chosen)))
            members.append(member)
    tally.details = {"format": formats[0] if len(set(formats)) == 1 else formats, "member": members[0], "members": members}
    return parts
