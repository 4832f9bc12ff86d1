"""Write a finished report to its destination in the output format asked for: the transfers' one entry point.

* ``raw``: the bytes as served, through :func:`.streaming.copy_raw` (resume, atomic).
* ``csv`` of a CSV report: the parts joined byte for byte, the header once (:mod:`.conversion`).
* ``parquet`` / ``ndjson`` (and ``csv`` of a JSON export): record batches from pyarrow's streaming CSV reader (typed
  by the reader itself) or an incremental reader of Criteo's columnar JSON (:mod:`formats.readers`), typed
  (:mod:`formats.column_types`) and written by the format's writer (:mod:`common.formats`).

Sources (:mod:`.parts`): a Criteo export is read straight from the HTTP body through a
:class:`DownloadReader` (no spool: a cut body resumes with HTTP Range while pyarrow parses). A Walmart download is
spooled to a local temporary file first, as before, because a zip is read from its end (central directory); its
parts are then read in order. The output is one output of the transfer's :class:`Destination`: published whole, or discarded on any
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

from airflow_report_provider.common.exceptions import ReportContentError
from airflow_report_provider.common.landing.conversion import ReadAsText, copy_csv, write_batches
from airflow_report_provider.common.landing.destination import Destination
from airflow_report_provider.common.landing.download import DownloadOptions, SourceChanged
from airflow_report_provider.common.landing.formats import require_pyarrow
from airflow_report_provider.common.landing.parts import DownloadTally, ReportPart, spooled_parts, streamed_part
from airflow_report_provider.common.landing.settings import DEFAULT_ROW_GROUP_SIZE, OutputSettings, check_output_params
from airflow_report_provider.common.landing.sinks import Output
from airflow_report_provider.common.landing.sources import ByteOpener
from airflow_report_provider.common.landing.streaming import stream_to_object_storage

if TYPE_CHECKING:
    from airflow_report_provider.compat import ObjectStoragePath

__all__ = ["DEFAULT_ROW_GROUP_SIZE", "OutputSettings", "check_output_params", "write_report"]

_LOG = logging.getLogger(__name__)


def _write_parts(sources: Sequence[ReportPart], output: Output, settings: OutputSettings, api: str, source_format: str,
                 options: DownloadOptions, text_columns: set[int]) -> tuple[int, Any]:
    """Rows and columns written: CSV parts joined byte for byte, or typed batches through the format's writer."""
    if settings.output_format == "csv" and source_format == "csv":
        return copy_csv(sources, output, settings, options.chunk_size), None
    return write_batches(sources, output, settings, api, source_format, options.log, text_columns)


def _convert(
    parts: Callable[[], Sequence[ReportPart]],
    destination: Destination,
    settings: OutputSettings,
    *,
    api: str,
    source_format: str,
    options: DownloadOptions,
    tally: DownloadTally,
    checksum: str | None,
) -> dict[str, Any]:
    started = time.monotonic()
    log, description = options.log, options.description
    log.info("%s: writing %s to %s", description, settings.output_format, destination.uri)
    output: Output | None = None
    text_columns: set[int] = set()
    try:
        sources = parts()
        while True:  # one pass; another when a column must be read as text or the source changed underway
            output = destination.open_output(settings.compression, checksum)
            try:
                rows, columns = _write_parts(sources, output, settings, api, source_format, options, text_columns)
                break
            except ReadAsText as retry:  # timestamps without a zone offset: start again, that column as text
                text_columns |= {retry.column}
                log.info("%s: column #%d has timestamps without a zone offset; converting again", description, retry.column)
            except SourceChanged as changed:
                log.warning("%s", changed)
            output.discard(log)
            output = None
        output.publish()
    except BaseException:
        if output is not None:
            output.discard(log)
        raise
    seconds = time.monotonic() - started
    destination.published(output.written, seconds)
    log.info("%s: wrote %d rows, %d bytes to %s", description, rows, output.written, destination.uri)
    result: dict[str, Any] = {
        "uri": destination.uri,
        "bytes": output.written,
        "source_bytes": tally.source_bytes,
        "sha256": output.digest,
        "compression": settings.compression,
        "attempts": tally.attempts,
        "seconds": round(seconds, 3),
        "output_format": settings.output_format,
        "rows": rows,
        **tally.details,
    }
    if columns is not None and settings.typed:
        result["columns"] = columns
    return result


def write_report(
    openers: ByteOpener | Sequence[ByteOpener],
    destination: Destination | str | os.PathLike[str] | ObjectStoragePath,
    settings: OutputSettings,
    *,
    api: str,
    source_format: str = "csv",
    archived: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Land the report at ``destination`` in ``settings.output_format``; the XCom dict.

    ``openers``: one per file of the report (Walmart may list several). ``destination``: a :class:`Destination`
    (resolved once by the transfer) or a URL / path / ObjectStoragePath. ``api`` (``criteo_mpo``, ``walmart``)
    picks the default column types; ``source_format`` is ``"csv"`` or ``"json"`` (Criteo's columnar export);
    ``archived``: the files may be zip / gzip / plain (detected by magic bytes) and are spooled locally first.
    ``options``: those of :func:`.streaming.stream_to_object_storage` (``chunk_size``, ``block_size``,
    ``max_attempts``, ``progress_interval``, ``log``, ``description``, ``checksum``).
    Nothing is published unless every row was written. Returns ``uri``, ``bytes``, ``sha256``, ``rows``
    (``None`` for ``raw``), ``columns`` (parquet / ndjson) and the download figures.
    """
    block_size = options.pop("block_size", None)
    checksum = options.pop("checksum", "sha256")
    download = DownloadOptions(**{"log": _LOG, **{name: value for name, value in options.items() if value is not None}})
    openers = [openers] if callable(openers) else list(openers)
    if not openers:
        raise ReportContentError(f"{download.description}: the download answer listed no file")
    source_format = (source_format or "csv").lower()
    if settings.output_format == "raw":
        if len(openers) > 1:
            raise ReportContentError(
                f"{download.description} is split into {len(openers)} files; output_format='raw' keeps one file as "
                "served: use 'csv', 'parquet' or 'ndjson' to land every part (nothing was written)"
            )
        result = stream_to_object_storage(
            openers[0], destination, compression=settings.compression, block_size=block_size, checksum=checksum, **options
        )
        return {**result.as_xcom(), "output_format": "raw", "rows": None}
    if settings.typed or settings.column_types or source_format == "json":
        require_pyarrow(settings.output_format)
    target = Destination.resolve(destination, block_size)
    tally = DownloadTally()
    convert = dict(api=api, source_format=source_format, options=download, tally=tally, checksum=checksum)
    if not archived:
        return _convert(lambda: [streamed_part(o, download, tally) for o in openers], target, settings, **convert)
    with tempfile.TemporaryDirectory(prefix="report-spool-") as spool_dir:
        return _convert(lambda: spooled_parts(openers, spool_dir, download, tally), target, settings, **convert)
