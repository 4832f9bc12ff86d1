"""Write a finished report to its destination in the output format asked for: the transfers' one entry point.

* ``raw``: the bytes as served, through :func:`common.streaming.stream_to_object_storage` (resume, atomic).
* ``csv`` of a CSV report: the parts joined byte for byte, the header once (:mod:`common.conversion`).
* ``parquet`` / ``ndjson`` (and ``csv`` of a JSON export): record batches from pyarrow's streaming CSV reader (typed
  by the reader itself) or an incremental reader of Criteo's columnar JSON (:mod:`formats.readers`), typed
  (:mod:`formats.column_types`) and written by the format's writer (:mod:`common.formats`).

Sources (:mod:`common.report_parts`): a Criteo export is read straight from the HTTP body through a
:class:`ResumableReader` (no spool: a cut body resumes with HTTP Range while pyarrow parses). A Walmart download is
spooled to a local temporary file first, as before, because a zip is read from its end (central directory); its
parts are then read in order. The output is one :class:`common.sinks.Output`: published whole, or discarded on any
error (a bad value, parts whose headers differ, a cut download that does not resume), so the destination never
holds a partial file.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow_report_provider.common.observability import metrics
from airflow_report_provider.common.landing.conversion import ReadAsText, copy_csv, write_batches
from airflow_report_provider.common.landing.destination import (
    as_storage_path,
    public_uri,
    record_lineage,
    sink_factory,
    validate_settings,
)
from airflow_report_provider.common.exceptions import ReportContentError, TransferError
from airflow_report_provider.common.landing.formats import require_pyarrow
from airflow_report_provider.common.landing.settings import DEFAULT_ROW_GROUP_SIZE, OutputSettings, check_output_params
from airflow_report_provider.common.landing.parts import DownloadState, ReportPart, spooled_parts, streamed_part
from airflow_report_provider.common.landing.sinks import Output, scrub
from airflow_report_provider.common.landing.sources import DEFAULT_CHUNK_SIZE, ByteOpener
from airflow_report_provider.common.landing.streaming import stream_to_object_storage

if TYPE_CHECKING:
    from airflow_report_provider.compat import ObjectStoragePath

__all__ = ["DEFAULT_ROW_GROUP_SIZE", "OutputSettings", "check_output_params", "write_report"]

_LOG = logging.getLogger(__name__)


def _open_output(
    path: ObjectStoragePath, block_size: int | None, settings: OutputSettings, uri: str, checksum: str | None
) -> Output:
    try:
        return Output(sink_factory(path, block_size)(), settings.compression, uri, checksum)
    except Exception as exc:
        raise TransferError(f"opening {uri} failed: {type(exc).__name__}: {scrub(str(exc))}") from exc


def _convert(
    parts: Callable[[], Sequence[ReportPart]],
    path: ObjectStoragePath,
    settings: OutputSettings,
    *,
    api: str,
    source_format: str,
    block_size: int | None,
    t: DownloadState,
    checksum: str | None,
) -> dict[str, Any]:
    uri = public_uri(path)
    started = time.monotonic()
    t.log.info("%s: writing %s to %s", t.description, settings.output_format, uri)
    output: Output | None = None
    text_columns: set[int] = set()
    try:
        sources = parts()
        while True:
            output = _open_output(path, block_size, settings, uri, checksum)
            if settings.output_format == "csv" and source_format == "csv":
                rows, columns = copy_csv(sources, output, settings, t.chunk_size), None
                break
            try:
                rows, columns = write_batches(sources, output, settings, api, source_format, t.log, text_columns)
                break
            except ReadAsText as retry:  # timestamps without a zone offset: start again, that column as text
                output.discard(t.log)
                output = None
                text_columns |= {retry.column}
                t.log.info("%s: column #%d has timestamps without a zone offset; converting again", t.description, retry.column)
        output.publish()
    except BaseException:
        if output is not None:
            output.discard(t.log)
        raise
    metrics.report_written(path.protocol, output.written, time.monotonic() - started)
    record_lineage(path)
    t.log.info("%s: wrote %d rows, %d bytes to %s", t.description, rows, output.written, uri)
    result: dict[str, Any] = {
        "uri": uri,
        "bytes": output.written,
        "source_bytes": t.source_bytes,
        "sha256": output.digest,
        "compression": settings.compression,
        "attempts": t.attempts,
        "seconds": round(time.monotonic() - started, 3),
        "output_format": settings.output_format,
        "rows": rows,
        **t.details,
    }
    if columns is not None and settings.typed:
        result["columns"] = columns
    return result


def write_report(
    openers: ByteOpener | Sequence[ByteOpener],
    destination: str | os.PathLike[str] | ObjectStoragePath,
    settings: OutputSettings,
    *,
    api: str,
    source_format: str = "csv",
    archived: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    block_size: int | None = None,
    max_attempts: int = 3,
    progress_interval: float = 5.0,
    log: logging.Logger | None = None,
    description: str = "report",
    checksum: str | None = "sha256",
) -> dict[str, Any]:
    """Land the report at ``destination`` in ``settings.output_format``; the XCom dict.

    ``openers``: one per file of the report (Walmart may list several). ``api`` (``"criteo"``/``"walmart"``)
    picks the default column types; ``source_format`` is ``"csv"`` or ``"json"`` (Criteo's columnar export);
    ``archived``: the files may be zip / gzip / plain (detected by magic bytes) and are spooled locally first.
    Nothing is published unless every row was written. Returns ``uri``, ``bytes``, ``sha256``, ``rows``
    (``None`` for ``raw``), ``columns`` (parquet / ndjson) and the download figures.
    """
    log = log or _LOG
    openers = [openers] if callable(openers) else list(openers)
    if not openers:
        raise ReportContentError(f"{description}: the download answer listed no file")
    source_format = (source_format or "csv").lower()
    if settings.output_format == "raw":
        if len(openers) > 1:
            raise ReportContentError(
                f"{description} is split into {len(openers)} files; output_format='raw' keeps one file as served: "
                "use 'csv', 'parquet' or 'ndjson' to land every part (nothing was written)"
            )
        result = stream_to_object_storage(
            openers[0], destination, compression=settings.compression, chunk_size=chunk_size, block_size=block_size,
            max_attempts=max_attempts, progress_interval=progress_interval, log=log, description=description,
            checksum=checksum,
        )
        return {**result.as_xcom(), "output_format": "raw", "rows": None}
    if settings.typed or settings.column_types or source_format == "json":
        require_pyarrow(settings.output_format)
    path = as_storage_path(destination)
    validate_settings(chunk_size, max_attempts, block_size, path.protocol)
    t = DownloadState(chunk_size, max_attempts, progress_interval, log, description)
    if not archived:
        return _convert(lambda: [streamed_part(o, t) for o in openers], path, settings, api=api,
                        source_format=source_format, block_size=block_size, t=t, checksum=checksum)
    with tempfile.TemporaryDirectory(prefix="report-spool-") as spool_dir:
        return _convert(lambda: spooled_parts(openers, spool_dir, t), path, settings, api=api,
                        source_format=source_format, block_size=block_size, t=t, checksum=checksum)
