"""The blob store behind Walmart's pre-signed download URLs (Azure-like: SAS query, XML errors)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

from .archive import CONTENT_TYPES, EXTENSIONS, MATERIALIZE_LIMIT, file_body, needs_crc, split_csv, zip_members
from .body import Body, BytesBody, crc32_of
from .content import Table, walmart_table
from .errors import blob_error
from .keys import SIM
from .state import WalmartRequest
from .streaming import send_download

if TYPE_CHECKING:
    from .server import Simulator

SAS_VERSION = "2021-08-06"


def sign(key: bytes, name: str, expiry: int) -> str:
    """Base64 HMAC-SHA256 over the blob name and expiry (it contains +, / and =, as Azure's do)."""
    mac = hmac.new(key, f"r\n{name}\n{expiry}\n{SAS_VERSION}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def signed_url(base: str, key: bytes, name: str, expiry: int) -> str:
    """`{base}/blob/{name}?sv=..&sr=b&sp=r&se={expiry}&sig={percent-encoded signature}`."""
    sig = quote(sign(key, name, expiry), safe="")
    return f"{base}/blob/{quote(name)}?sv={SAS_VERSION}&sr=b&sp=r&se={expiry}&sig={sig}"


def _build_table(req: WalmartRequest) -> Table:
    """The request's report CSV, generated from its parameters (deterministic)."""
    return walmart_table(
        req.report_type,
        req.payload or {},
        req.partner_id,
        datetime.fromtimestamp(req.created_at, UTC),
        req.seed,
        req.rows,
        req.report_bytes,
        req.bom,
    )


def csv_table(sim: Simulator, req: WalmartRequest) -> Table:
    """The report CSV of a request (cached for a few recent requests)."""
    return sim.cached_table(("walmart", req.request_id), lambda: _build_table(req))


def blob_names(req: WalmartRequest) -> list[str]:
    """The blob name of each file of the request's report (several when the report is split into files)."""
    ext = EXTENSIONS[req.file_format]
    files = req.extra.get("files", 1)
    if files == 1:
        return [f"{req.file_name}.{ext}"]
    return [f"{req.file_name}_{index + 1}.{ext}" for index in range(files)]


def _is_split(req: WalmartRequest) -> bool:
    return req.extra.get("files", 1) > 1 or req.extra.get("zip_parts", 1) > 1


def _split_file(sim: Simulator, req: WalmartRequest, index: int) -> Body:
    """File ``index`` of a split report: its share of the rows, as ``zip_parts`` members of a zip (or one
    gzip / plain CSV). Split reports are built in memory (up to 8 MiB of CSV)."""
    csv = csv_table(sim, req).body
    if csv.length > MATERIALIZE_LIMIT:
        raise ValueError("split reports are limited to 8 MiB of CSV in the simulator")
    files, zip_parts = req.extra.get("files", 1), req.extra.get("zip_parts", 1)
    pieces = split_csv(csv.to_bytes(), files * zip_parts, req.extra.get("mismatched", False))
    mine = pieces[index * zip_parts : (index + 1) * zip_parts]
    when = datetime.fromtimestamp(req.ready_at, UTC)
    if req.file_format == "zip":
        stem = req.file_name if files == 1 else f"{req.file_name}_{index + 1}"
        names = [f"{stem}.csv"] if zip_parts == 1 else [f"{stem}_part{n + 1}.csv" for n in range(zip_parts)]
        return BytesBody(zip_members(dict(zip(names, mine)), when))
    return file_body(req.file_format, BytesBody(mine[0]), f"{req.file_name}.csv", when, None)


def report_file(sim: Simulator, req: WalmartRequest, index: int = 0) -> Body:
    """The downloadable file (zip / gzip / plain; file ``index`` of a split report); computes the CSV's CRC
    first when it streams (blocking)."""
    if _is_split(req):
        return sim.cached_table(("file", req.request_id, index), lambda: _split_file(sim, req, index))
    csv = csv_table(sim, req).body
    if needs_crc(req.file_format, csv.length) and req.csv_crc is None:
        req.csv_crc = crc32_of(csv_table_fresh(req))
    when = datetime.fromtimestamp(req.ready_at, UTC)
    return sim.cached_table(
        ("file", req.request_id), lambda: file_body(req.file_format, csv, f"{req.file_name}.csv", when, req.csv_crc)
    )


def csv_table_fresh(req: WalmartRequest) -> Body:
    """An uncached copy of the CSV body, for use from another thread."""
    return _build_table(req).body


async def serve(request: web.Request) -> web.StreamResponse:
    """GET /blob/{name}?se=&sig=: refuses Walmart/Authorization headers, expired or tampered URLs."""
    sim: Simulator = request.app[SIM]
    leaked = [h for h in request.headers if h.upper().startswith("WM_SEC.") or h.lower() == "authorization"]
    if leaked:
        return blob_error(
            403,
            "AuthenticationFailed",
            "Server failed to authenticate the request.",
            f"Unexpected credential header(s) on a pre-signed URL: {', '.join(leaked)}",
        )
    name = request.match_info["name"]
    se, sig = request.query.get("se", ""), request.query.get("sig", "")
    if not se.isdigit() or not sig:
        return blob_error(
            403, "AuthenticationFailed", "Server failed to authenticate the request.", "Missing se or sig"
        )
    if not hmac.compare_digest(sign(sim.signing_key, name, int(se)), sig):
        return blob_error(
            403, "AuthenticationFailed", "Server failed to authenticate the request.", "Signature did not match."
        )
    if sim.clock.now() >= int(se):
        return blob_error(
            403,
            "AuthenticationFailed",
            "Server failed to authenticate the request.",
            "Signed expiry time has passed (the URL has expired).",
        )
    req = sim.walmart_requests.get(sim.walmart_blobs.get(name, ""))
    if req is None or sim.clock.now() - req.created_at > sim.config.walmart_retention_seconds:
        return blob_error(404, "BlobNotFound", "The specified blob does not exist.")
    loop = asyncio.get_running_loop()
    index = blob_names(req).index(name) if name in blob_names(req) else 0
    csv = csv_table(sim, req).body
    if needs_crc(req.file_format, csv.length) and req.csv_crc is None and not _is_split(req):
        req.csv_crc = await loop.run_in_executor(None, crc32_of, csv_table_fresh(req))
    if req.file_format != "plain" and csv.length > (1 << 20):  # compression or archive layout: off the loop
        body = await loop.run_in_executor(None, report_file, sim, req, index)
    else:
        body = report_file(sim, req, index)
    etag = hashlib.md5(f"{req.request_id}:{body.length}".encode(), usedforsecurity=False).hexdigest()
    headers = {
        "ETag": f'"0x{etag[:16].upper()}"',
        "Last-Modified": format_datetime(datetime.fromtimestamp(req.ready_at, UTC), usegmt=True),
        "x-ms-blob-type": "BlockBlob",
        "x-ms-version": SAS_VERSION,
        "Content-Disposition": f'attachment; filename="{name}"',
    }
    invalid = "The range specified is invalid for the current size of the resource."
    return await send_download(
        request, body, CONTENT_TYPES[req.file_format], headers, lambda n: blob_error(416, "InvalidRange", invalid)
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/blob/{name}", serve, name="walmart.blob", allow_head=False)
