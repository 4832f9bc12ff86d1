"""Sending bodies: single `Range: bytes=` support (206/416) and cut connections for fault injection."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from aiohttp import web

from .body import Body
from .keys import CUT_AFTER, SIM

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def parse_range(header: str | None, length: int) -> tuple[int, int] | str | None:
    """(start, end_exclusive) for one satisfiable byte range, None to send everything, "unsatisfiable"."""
    if not header:
        return None
    m = _RANGE.match(header)
    if not m or (not m.group(1) and not m.group(2)):
        return None  # malformed or multi-range: ignored, as RFC 9110 allows
    first, last = m.group(1), m.group(2)
    if first:
        start = int(first)
        end = min(length, int(last) + 1) if last else length
        if last and int(last) < start:
            return None
    else:
        start, end = max(0, length - int(last)), length
    if start >= length or start >= end:
        return "unsatisfiable"
    return start, end


async def send_body(
    request: web.Request,
    body: Body,
    content_type: str,
    *,
    headers: dict[str, str] | None = None,
    range_support: bool = True,
    chunk: int = 65536,
    cut_after: int | None = None,
    unsatisfiable: Callable[[int], web.Response] | None = None,
    chunk_delay: float = 0.0,
) -> web.StreamResponse:
    """Stream `body` (200, or 206 for a satisfiable Range when `range_support`), optionally cut after N bytes,
    waiting `chunk_delay` seconds after each chunk (a slow network)."""
    span = parse_range(request.headers.get("Range"), body.length) if range_support else None
    if span == "unsatisfiable":
        refusal = unsatisfiable(body.length) if unsatisfiable is not None else web.Response(status=416)
        refusal.headers["Content-Range"] = f"bytes */{body.length}"
        return refusal
    resp = web.StreamResponse(status=200, headers=headers or {})
    resp.content_type = content_type
    start, end = 0, body.length
    if isinstance(span, tuple):
        start, end = span
        resp.set_status(206)
        resp.headers["Content-Range"] = f"bytes {start}-{end - 1}/{body.length}"
    if range_support:
        resp.headers["Accept-Ranges"] = "bytes"
    resp.content_length = end - start
    await resp.prepare(request)
    if cut_after is not None:
        end = min(end, start + cut_after)
    try:
        for piece in body.iter_range(start, end, max(1024, chunk)):
            await resp.write(piece)
            if chunk_delay:
                await asyncio.sleep(chunk_delay)
    except ConnectionError:  # the client went away mid-body: nothing more to do
        return resp
    if cut_after is not None:
        cut(request)
        return resp
    await resp.write_eof()
    return resp


async def send_download(
    request: web.Request,
    body: Body,
    content_type: str,
    headers: dict[str, str],
    unsatisfiable: Callable[[int], web.Response] | None = None,
) -> web.StreamResponse:
    """`send_body` with the simulator's download settings (Range support, chunking, pacing) and any injected cut."""
    cfg = request.app[SIM].config
    return await send_body(
        request,
        body,
        content_type,
        headers=headers,
        range_support=cfg.range_support,
        chunk=cfg.download_chunk_bytes,
        chunk_delay=cfg.download_chunk_delay_seconds,
        cut_after=request.get(CUT_AFTER),
        unsatisfiable=unsatisfiable,
    )


def cut(request: web.Request) -> None:
    """Close the connection after flushing what was written: the client sees a short body."""
    if request.transport is not None:
        request.transport.close()


async def cut_response(request: web.Request, resp: web.Response, n: int) -> web.StreamResponse:
    """Send `resp`'s status and headers with its full Content-Length, then `n` body bytes, then close."""
    body = resp.body if isinstance(resp.body, (bytes, bytearray)) else (resp.text or "").encode()
    out = web.StreamResponse(status=resp.status, reason=resp.reason, headers=resp.headers)
    out.content_length = len(body)
    await out.prepare(request)
    await out.write(bytes(body[:n]))
    cut(request)
    return out
