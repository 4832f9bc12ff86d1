"""Copy a report body as served into object storage (or a local file) atomically, in bounded memory.

The source is a :data:`ByteOpener` (:mod:`.sources`) read through a :class:`ResumableDownload` (:mod:`.download`:
the resume rules every transfer shares); the bytes go to one output of a :class:`Destination` (optionally gzipped,
hashed, counted), published only when every byte arrived. Converting to another format is :mod:`.writer`'s job.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from airflow_report_provider.common.landing.destination import S3_BLOCK_SIZE, TRANSACTIONAL_PROTOCOLS, Destination
from airflow_report_provider.common.landing.download import DownloadOptions, ResumableDownload, SourceChanged
from airflow_report_provider.common.landing.sinks import COMPRESSIONS, Output, validate_compression
from airflow_report_provider.common.landing.sources import (
    DEFAULT_CHUNK_SIZE,
    ByteOpener,
    OpenedBody,
    file_opener,
    iter_opener,
)

if TYPE_CHECKING:
    from airflow_report_provider.compat import ObjectStoragePath

__all__ = [
    "COMPRESSIONS",
    "DEFAULT_CHUNK_SIZE",
    "S3_BLOCK_SIZE",
    "TRANSACTIONAL_PROTOCOLS",
    "ByteOpener",
    "OpenedBody",
    "TransferResult",
    "copy_raw",
    "file_opener",
    "iter_opener",
    "stream_to_local_file",
    "stream_to_object_storage",
]

_LOG = logging.getLogger(__name__)


@dataclass
class TransferResult:
    """What a transfer published: ``bytes`` and ``sha256`` describe the destination object (after compression)."""

    uri: str
    bytes: int
    source_bytes: int
    sha256: str | None  # None when the transfer was asked for no checksum
    compression: str | None
    attempts: int
    seconds: float

    def as_xcom(self) -> dict[str, Any]:
        """A JSON-serialisable dict for XCom."""
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data





def copy_raw(download: ResumableDownload, destination: Destination, compression: str | None, checksum: str | None) -> Output:
    """The download's bytes into one fresh output of ``destination``, published whole; discarded on any error.
    A source that changed underway (:class:`SourceChanged`) is read again from byte 0 into a new output."""
    output: Output | None = None
    chunk_size = download.options.chunk_size
    download.log.info("%s: streaming to %s", download.description, destination.uri)
    try:
        while True:
            output = destination.open_output(compression, checksum)
            try:
                for chunk in download.chunks():
                    _write(output, chunk, chunk_size)
                break
            except SourceChanged as changed:
                download.log.warning("%s", changed)
                output.discard(download.log)
                output = None
        output.publish()
    except BaseException:
        if output is not None:
            output.discard(download.log)
        raise
    return output


def _write(output: Output, chunk: bytes, chunk_size: int) -> None:
    """Hand ``chunk`` on in pieces of at most ``chunk_size`` bytes (sliced without copying)."""
    if len(chunk) <= chunk_size:
        output.write(chunk)
        return
    view = memoryview(chunk)
    for begin in range(0, len(chunk), chunk_size):
        output.write(view[begin : begin + chunk_size])


def _transfer(
    opener: ByteOpener, destination: Destination, compression: str | None, checksum: str | None, options: DownloadOptions
) -> TransferResult:
    started = time.monotonic()
    download = options.download(opener)
    output = copy_raw(download, destination, compression, checksum)
    return TransferResult(
        uri=destination.uri,
        bytes=output.written,
        source_bytes=download.offset,
        sha256=output.digest,
        compression=compression,
        attempts=download.attempts,
        seconds=time.monotonic() - started,
    )


def stream_to_object_storage(
    opener: ByteOpener,
    destination: Destination | str | os.PathLike[str] | ObjectStoragePath,
    *,
    compression: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    block_size: int | None = None,
    max_attempts: int = 3,
    progress_interval: float = 5.0,
    log: logging.Logger | None = None,
    description: str = "report",
    checksum: str | None = "sha256",
) -> TransferResult:
    """Stream the opener's body to ``destination`` atomically; resume cut bodies; return what was published.

    ``destination``: ``s3://conn_id@bucket/key``, ``file:///abs/path``, ``/abs/path``, an ObjectStoragePath or a
    :class:`Destination`. ``compression``: None or ``"gzip"`` (deterministic). ``chunk_size``: largest piece handed
    to the compressor/destination at once (bigger source chunks are sliced without copying). ``block_size``: fsspec
    write block, i.e. the S3 multipart part size (default 8 MiB on S3, fsspec's default elsewhere).
    ``max_attempts``: opens in total. ``checksum``: ``"sha256"`` (default) or None (no digest: less CPU).
    Raises :class:`TransferError` (or :class:`IncompleteDownloadError`) with nothing published.
    """
    compression = validate_compression(compression)
    target = Destination.resolve(destination, block_size)
    options = DownloadOptions(chunk_size, max_attempts, progress_interval, log or _LOG, description)
    result = _transfer(opener, target, compression, checksum, options)
    target.published(result.bytes, result.seconds)
    return result


def stream_to_local_file(
    opener: ByteOpener,
    path: str | os.PathLike[str],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_attempts: int = 3,
    progress_interval: float = 5.0,
    log: logging.Logger | None = None,
    description: str = "report",
) -> TransferResult:
    """Like :func:`stream_to_object_storage`, into a local file (e.g. a spool for a zip), without compression,
    metrics or lineage."""
    options = DownloadOptions(chunk_size, max_attempts, progress_interval, log or _LOG, description)
    return _transfer(opener, Destination.resolve(os.path.abspath(os.fspath(path))), None, None, options)
