"""Connection lookups of the async hooks, shared by the triggers of one event loop.

In a real triggerer each ``aget_connection`` is a round trip to its supervisor, and hundreds of triggers start
together (a triggerer restart, a wide mapped task deferring). One lookup per connection id per ``ttl`` seconds
serves every trigger of the loop that starts meanwhile: 500 triggers on 5 connections make 5 lookups, not 500,
and no trigger waits behind another connection's lookup. A trigger starts its lookup when it starts, while it
waits for its first poll (:meth:`ReportJobTrigger._poll`), so the round trip is hidden behind that wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from airflow_report_provider.common.http.loops import PerLoop

#: How long a looked-up connection serves new triggers (edits to a connection reach triggers started later).
CONNECTION_TTL_SECONDS = 10.0


class ConnectionLookups:
    """Per event loop: the latest lookup of each connection id, in flight or done, for ``ttl`` seconds."""

    def __init__(self, ttl: float = CONNECTION_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._entries: PerLoop[dict[str, tuple[float, asyncio.Future[Any]]]] = PerLoop(dict)

    async def get(self, conn_id: str, lookup: Callable[[str], Awaitable[Any]]) -> Any:
        """The connection, from a lookup made (or under way) in the last ``ttl`` seconds, else from ``lookup``."""
        entries = self._entries.get()
        entry = entries.get(conn_id)
        if entry is not None and time.monotonic() - entry[0] <= self.ttl:
            try:
                return await asyncio.shield(entry[1])
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not entry[1].cancelled() or (current is not None and current.cancelling()):
                    raise
                return await self.get(conn_id, lookup)  # the trigger that was looking it up was cancelled: look again
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entries[conn_id] = (time.monotonic(), future)
        try:
            conn = await lookup(conn_id)
        except asyncio.CancelledError:
            entries.pop(conn_id, None)
            future.cancel()  # the triggers waiting on it look the connection up themselves
            raise
        except BaseException as exc:
            entries.pop(conn_id, None)  # a failed lookup is not kept: the next trigger asks again
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else was waiting
            raise
        future.set_result(conn)
        return conn

    def clear(self) -> None:
        self._entries.clear()


CONNECTION_LOOKUPS = ConnectionLookups()
