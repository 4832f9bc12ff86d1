"""State kept per asyncio event loop, shared by every async hook and trigger running on that loop.

A triggerer runs one loop; tests and ``dag.test()`` start and stop many. Whatever belongs to one loop (its
asyncio locks, its pending connection lookups) is kept in a :class:`PerLoop`, made on first use and dropped with
the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """One value per event loop, made by ``factory`` on first use in that loop (any thread may ask)."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._values: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()
        self._guard = threading.Lock()

    def get(self) -> T:
        """The running loop's value."""
        loop = asyncio.get_running_loop()
        with self._guard:
            if loop not in self._values:
                self._values[loop] = self._factory()
            return self._values[loop]

    def clear(self) -> None:
        """Drop every loop's value: the next :meth:`get` of each loop makes a new one."""
        with self._guard:
            self._values.clear()


class _LoopTurns:
    """Per event loop, one holder at a time, handed on at most once per loop iteration.

    For short blocking steps that arrive in bursts: a triggerer starting hundreds of triggers looks up their
    connections and registers their tokens together, and each new secret recompiles Airflow's masker (a regular
    expression of every secret so far: milliseconds each with a few hundred). Taking turns spreads the burst
    over loop iterations so the loop keeps serving timers and sockets in between. (Airflow's masker is not
    thread-safe, so moving the work to threads is not an option.)
    """

    def __init__(self) -> None:
        self._locks: PerLoop[asyncio.Lock] = PerLoop(asyncio.Lock)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._locks.get():
            yield
            await asyncio.sleep(0)  # hold the turn over one iteration: the next holder runs in a later one


LOOP_TURNS = _LoopTurns()
