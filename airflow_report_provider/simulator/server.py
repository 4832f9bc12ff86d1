"""The simulator: one aiohttp application serving the Criteo and Walmart APIs and the blob store.

`async with Simulator(cfg) as sim:` runs it on the current event loop; `with run_simulator(cfg) as sim:`
runs it in a background thread with its own loop. Both give `sim.url`, `sim.stats`, fault injection and
the clock controls.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from aiohttp import web

from . import blob, criteo, walmart
from .config import SimulatorConfig
from .errors import injected_error
from .faults import ENDPOINTS, Fault, FaultRegistry
from .keys import CUT_AFTER, RECORD, SIM
from .state import Clock, CriteoJob, FixedWindowLimiter, SlidingLog, TokenStore, WalmartRequest
from .stats import RequestRecord, Stats, redact_headers, redact_query
from .streaming import cut_response

T = TypeVar("T")
TABLE_CACHE_SIZE = 8


class Simulator:
    """Loopback stand-in for both report APIs, with fault injection and a movable clock."""

    def __init__(self, config: SimulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config or SimulatorConfig()
        self.host = host
        self.port = port
        self.url = ""
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clock = Clock()
        self.tokens = TokenStore()
        self.limiter = FixedWindowLimiter()
        self.create_log = SlidingLog()
        self.stats = Stats(max_records=self.config.stats_max_records)
        self.faults = FaultRegistry()
        self.lock = threading.RLock()
        self.criteo_jobs: dict[str, CriteoJob] = {}
        self.criteo_cache: dict[str, CriteoJob] = {}
        self.walmart_requests: dict[str, WalmartRequest] = {}
        self.walmart_blobs: dict[str, str] = {}  # blob name -> request id
        self.signing_key = secrets.token_bytes(32)
        self._tables: OrderedDict[Any, Any] = OrderedDict()
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle

    def build_app(self) -> web.Application:
        """The aiohttp application (routes named after the endpoints used by stats and faults)."""
        app = web.Application(middlewares=[self._middleware], client_max_size=4 << 20)
        app[SIM] = self
        app.on_response_prepare.append(self._record_status)
        criteo.add_routes(app)
        walmart.add_routes(app)
        blob.add_routes(app)
        app.router.add_get("/", self._info, name="info", allow_head=False)
        app.router.add_get("/health", self._health, name="health", allow_head=False)
        return app

    async def start(self) -> Simulator:
        """Start serving on the running loop; sets `url` (port 0 picks a free port)."""
        self.loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(self.build_app(), handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=4096, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"
        return self

    async def stop(self) -> None:
        """Stop serving (open connections are closed)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ test controls

    def inject_fault(
        self,
        endpoint: str,
        status: int | None = None,
        times: int = 1,
        cut_after_bytes: int | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        delay: float | None = None,
    ) -> Fault:
        """Make the next `times` calls to `endpoint` answer `status` (with the API's error envelope; `body`
        replaces it, `headers` are added), or send N body bytes then cut the connection, or wait `delay` s."""
        if status is None and cut_after_bytes is None and delay is None:
            raise ValueError("give status, cut_after_bytes or delay")
        fault = Fault(status, times, cut_after_bytes, dict(headers or {}), body, delay)
        self.faults.add(endpoint, fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def advance_clock(self, seconds: float) -> None:
        """Move the simulator's clock forward (job timing, token expiry, limits, retention, URL expiry)."""
        self.clock.advance(seconds)

    def expire_tokens(self) -> None:
        """Every token issued so far is expired from now on."""
        self.tokens.expire_all(self.clock.now())

    def criteo_report_bytes(self, report_id: str) -> bytes:
        """The exact bytes the download of this export returns (small reports only)."""
        return criteo.job_table(self, self.criteo_jobs[report_id]).body.to_bytes()

    def walmart_report_csv(self, request_id: str, bom: bool = True) -> bytes:
        """The exact CSV inside this request's file (small reports only); ``bom=False`` leaves out the byte-order
        mark Walmart puts before the header (a CSV transfer drops it by default)."""
        data = blob.csv_table(self, self.walmart_requests[request_id]).body.to_bytes()
        return data if bom else data.removeprefix("\ufeff".encode())

    def walmart_file_bytes(self, request_id: str) -> bytes:
        """The exact downloaded file, zip / gzip / plain (small reports only)."""
        return blob.report_file(self, self.walmart_requests[request_id]).to_bytes()

    @property
    def job_done_times(self) -> dict[str, float]:
        """Export / request id -> simulator time at which it became Done/READY (or failed)."""
        with self.lock:
            out = {job_id: job.done_at for job_id, job in self.criteo_jobs.items()}
            out.update({rid: req.ready_at for rid, req in self.walmart_requests.items()})
        return out

    def reset(self) -> None:
        """Forget jobs, tokens, faults, limits and stats (the configuration is kept)."""
        with self.lock:
            for store in (self.criteo_jobs, self.criteo_cache, self.walmart_requests, self.walmart_blobs, self._tables):
                store.clear()
        self.tokens = TokenStore()
        self.limiter = FixedWindowLimiter()
        self.create_log = SlidingLog()
        self.faults.clear()
        self.stats.reset()

    def cached_table(self, key: Any, build: Callable[[], T]) -> T:
        """`build()` memoised for the few most recent keys (report content, files)."""
        with self.lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        value = build()
        with self.lock:
            self._tables[key] = value
            while len(self._tables) > TABLE_CACHE_SIZE:
                self._tables.popitem(last=False)
        return value

    # ------------------------------------------------------------------ plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        route = request.match_info.route
        endpoint = route.name if route.name else "unknown"
        rec = RequestRecord(
            endpoint,
            request.method,
            request.path,
            redact_query(dict(request.query)),
            redact_headers(dict(request.headers)),
            self.clock.now(),
        )
        self.stats.record(rec)
        request[RECORD] = rec
        fault = self.faults.take(endpoint) if endpoint in ENDPOINTS else None
        try:
            if fault is not None and fault.delay:
                await asyncio.sleep(fault.delay)
            if fault is not None and fault.status is not None:
                resp: web.StreamResponse = self._fault_response(endpoint, fault)
                if fault.cut_after_bytes is not None:
                    resp = await cut_response(request, resp, fault.cut_after_bytes)
            else:
                request[CUT_AFTER] = fault.cut_after_bytes if fault is not None else None
                resp = await handler(request)
                if request[CUT_AFTER] is not None and isinstance(resp, web.Response) and not resp.prepared:
                    resp = await cut_response(request, resp, request[CUT_AFTER])
        except web.HTTPException as exc:
            self.stats.answered(rec, exc.status)
            raise
        except Exception:
            self.stats.answered(rec, 500)
            raise
        self.stats.answered(rec, resp.status)
        return resp

    async def _record_status(self, request: web.Request, response: web.StreamResponse) -> None:
        """Record the status when the headers go out: a client may read the whole body before the
        middleware returns (streamed downloads)."""
        rec = request.get(RECORD)
        if rec is not None and rec.status is None:
            self.stats.answered(rec, response.status)

    def _fault_response(self, endpoint: str, fault: Fault) -> web.Response:
        status = fault.status or 500
        now = self.clock.now()
        resp = injected_error(endpoint, status, self.config.walmart_error_envelope)
        extra: dict[str, str] = {}
        if status == 429 and endpoint.startswith("criteo."):
            extra = criteo.limit_headers(self.config.criteo_rate_limit_per_minute or 40, 0, (now // 60 + 1) * 60)
        elif status == 429 and endpoint != "walmart.blob":
            extra = walmart.limit_headers(0, now + 60)
        if fault.body is not None:
            body = fault.body
            if isinstance(body, (dict, list)):
                resp = web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json")
            elif isinstance(body, str):
                resp = web.Response(status=status, text=body, content_type="text/plain")
            else:
                resp = web.Response(status=status, body=bytes(body), content_type="application/octet-stream")
        resp.headers.update(extra)
        resp.headers.update(fault.headers)
        return resp

    async def _info(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "simulator": "airflow-report-provider",
                "criteo": {
                    "token_url": "/oauth2/token",
                    "base": "/{version}/marketing-solutions/marketplace-performance-outcomes/stats",
                },
                "walmart": {"token_url": "/v3/token", "base": "/v3/reports"},
                "endpoints": list(ENDPOINTS),
            }
        )

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})


@contextmanager
def run_simulator(config: SimulatorConfig | None = None, port: int = 0, host: str = "127.0.0.1") -> Iterator[Simulator]:
    """Run a Simulator in a background thread with its own event loop for the duration of the block."""
    sim = Simulator(config, host=host, port=port)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(sim.start())
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    thread = threading.Thread(target=serve, name=f"report-simulator-{port}", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("simulator did not start within 30 s")
    if failure:
        raise failure[0]
    try:
        yield sim
    finally:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


__all__ = ["Simulator", "SimulatorConfig", "run_simulator"]
