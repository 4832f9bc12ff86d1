"""A StatsD server stand-in for tests: a UDP socket on loopback that keeps every metric line it receives."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StatsdListener:
    """Collects StatsD lines (``name:value|type``) sent to ``127.0.0.1:port``."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="statsd-listener", daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            # A StatsD packet may batch several lines.
            self.lines.extend(line for line in data.decode("utf-8", "replace").splitlines() if line)

    def metrics(self, prefix: str) -> dict[str, list[tuple[float, str]]]:
        """name -> [(value, type)] for every line whose name starts with ``prefix``."""
        found: dict[str, list[tuple[float, str]]] = {}
        for line in list(self.lines):
            name, _, rest = line.partition(":")
            if not name.startswith(prefix):
                continue
            value, _, kind = rest.partition("|")
            found.setdefault(name, []).append((float(value), kind.split("|")[0]))
        return found

    def total(self, prefix: str, name: str) -> float:
        return sum(v for v, _ in self.metrics(prefix).get(name, []))


@contextmanager
def statsd_listener() -> Iterator[StatsdListener]:
    listener = StatsdListener()
    listener._thread.start()
    try:
        yield listener
    finally:
        listener._stop.set()
        listener._thread.join(timeout=2)
        listener.sock.close()
