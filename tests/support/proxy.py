"""A tiny loopback HTTP forward proxy (and request recorder) for the network tests.

A request in absolute form (``GET http://127.0.0.1:8080/path``, what clients send to a proxy) is forwarded to
its target with ``Connection: close`` and the answer piped back; every request's target is recorded. A request
in origin form (``GET /path``: a client that followed a redirect here) is only recorded and answered ``200 {}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]


@dataclass
class LoopbackProxy:
    port: int = 0
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            headers = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
            body = await reader.readexactly(length) if length else b""
            self.seen.append(Seen(method, target, headers))
            if not target.startswith("http://"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
                await writer.drain()
                return
            await self._forward(method, target, version, headers, body, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _forward(
        self, method: str, target: str, version: str, headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter
    ) -> None:
        parts = urlsplit(target)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        kept = {k: v for k, v in headers.items() if k.lower() not in ("connection", "proxy-connection", "keep-alive")}
        upstream_reader, upstream_writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        request = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in kept.items())
        upstream_writer.write(request.encode("latin-1") + b"Connection: close\r\n\r\n" + body)
        await upstream_writer.drain()
        while chunk := await upstream_reader.read(65536):
            writer.write(chunk)
            await writer.drain()
        upstream_writer.close()

    def targets(self) -> list[str]:
        return [s.target for s in self.seen]


@contextlib.contextmanager
def run_proxy() -> Iterator[LoopbackProxy]:
    """A :class:`LoopbackProxy` serving on a free loopback port in a thread of its own."""
    proxy = LoopbackProxy()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, asyncio.AbstractServer] = {}

    async def start() -> None:
        server = await asyncio.start_server(proxy._handle, "127.0.0.1", 0)
        proxy.port = server.sockets[0].getsockname()[1]
        holder["server"] = server
        started.set()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, name="loopback-proxy", daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield proxy
    finally:

        async def stop() -> None:
            holder["server"].close()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
