"""Criteo endpoints: OAuth token, MPO real-time export create / status / download."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .content import Table, criteo_table
from .criteo_rules import ExportRejected, parse_export
from .errors import criteo_error, criteo_problem
from .keys import SIM
from .state import CriteoJob, Token, new_id
from .streaming import send_download

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .server import Simulator

    Answer = web.StreamResponse
    Handler = Callable[[web.Request], Awaitable[Answer]]

BASE = "/{version:preview|experimental|[0-9]{4}-[0-9]{2}}/marketing-solutions/marketplace-performance-outcomes/stats"
JOB_TYPE = "RealTimeProductReportJob"
CONTENT_TYPES = {"csv": "text/csv", "json": "application/json"}


def _fail(
    request: web.Request,
    status: int,
    code: str,
    title: str,
    detail: str,
    type_: str = "validation",
    headers: dict[str, str] | None = None,
) -> web.Response:
    """One Criteo problem as an error answer."""
    return criteo_error(status, [criteo_problem(code, title, detail, type_, request.path)], headers=headers)


async def token(request: web.Request) -> web.Response:
    """POST /oauth2/token (form: grant_type=client_credentials, client_id, client_secret)."""
    sim: Simulator = request.app[SIM]
    form = await request.post() if request.content_type == "application/x-www-form-urlencoded" else {}
    grant, client_id, secret = form.get("grant_type"), form.get("client_id"), form.get("client_secret")
    if grant != "client_credentials":
        return _fail(
            request,
            400,
            "unsupported-grant-type",
            "Unsupported grant type",
            "Form field grant_type must be client_credentials (form-encoded body)",
            "authentication",
        )
    expected = sim.config.secret_for("criteo", str(client_id or ""))
    if not client_id or expected is None or expected != secret:
        return _fail(
            request,
            401,
            "invalid-client",
            "Invalid client",
            "Unknown client_id or wrong client_secret",
            "authentication",
        )
    value, _ = sim.tokens.issue("criteo", str(client_id), sim.clock.now(), sim.config.token_lifetime_seconds)
    sim.stats.token_issued("criteo")
    return web.json_response(
        {"access_token": value, "token_type": "Bearer", "expires_in": int(sim.config.token_lifetime_seconds)},
        headers={"Cache-Control": "no-store"},
    )


def _auth(request: web.Request, sim: Simulator) -> Token | web.Response:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    verdict, tok = sim.tokens.check("criteo", value.strip() if scheme.lower() == "bearer" else None, sim.clock.now())
    if verdict == "ok" and tok is not None:
        return tok
    code = "authorization-token-expired" if verdict == "expired" else "authorization-token-invalid"
    title = "The authorization token has expired" if verdict == "expired" else "The authorization token is invalid"
    return _fail(
        request, 401, code, title, title, "authentication", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    )


def limit_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    """Criteo's rate-limit headers (`reset`: Unix time of the window end)."""
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(int(reset)),
    }


def _throttle(request: web.Request, sim: Simulator, tok: Token) -> tuple[dict[str, str], web.Response | None]:
    """Rate-limit headers for this call, and a 429 answer when over the per-minute limit."""
    limit = sim.config.criteo_rate_limit_per_minute
    if not limit:
        return {}, None
    allowed, remaining, reset = sim.limiter.hit(("criteo", tok.client_id), limit, 60.0, sim.clock.now())
    headers = limit_headers(limit, remaining, reset)
    if allowed:
        return headers, None
    refusal = _fail(
        request,
        429,
        "too-many-requests",
        "Throttling limit reached",
        f"More than {limit} calls per minute",
        "quota",
        headers,
    )
    return headers, refusal


def _authorized(handler: Callable[[web.Request, Simulator, Token, dict[str, str]], Awaitable[Answer]]) -> Handler:
    """`handler(request, sim, token, headers)` once the bearer token and the rate limit pass (their refusals are
    answered here); `headers` are the rate-limit headers every answer carries."""

    @functools.wraps(handler)
    async def endpoint(request: web.Request) -> Answer:
        sim: Simulator = request.app[SIM]
        tok = _auth(request, sim)
        if isinstance(tok, web.Response):
            return tok
        headers, refusal = _throttle(request, sim, tok)
        return refusal if refusal is not None else await handler(request, sim, tok, headers)

    return endpoint


def _own_job(handler: Callable[[web.Request, Simulator, CriteoJob, dict[str, str]], Awaitable[Answer]]) -> Handler:
    """`handler(request, sim, job, headers)` for the caller's export `{reportId}` (else 403 export-not-found)."""

    @_authorized
    @functools.wraps(handler)
    async def endpoint(request: web.Request, sim: Simulator, tok: Token, headers: dict[str, str]) -> Answer:
        job = sim.criteo_jobs.get(request.match_info["reportId"])
        if job is None or job.client_id != tok.client_id:
            detail = "The requested export does not exist or is not visible"
            return _fail(request, 403, "export-not-found", "Export job not found", detail, "access-control", headers)
        return await handler(request, sim, job, headers)

    return endpoint


def job_table(sim: Simulator, job: CriteoJob) -> Table:
    """The export content of `job` (cached for a few recent jobs)."""
    table = sim.cached_table(
        ("criteo", job.export_id),
        lambda: criteo_table(
            job.attributes,
            job.window,
            job.client_id,
            job.seed,
            job.rows,
            job.report_bytes,
        ),
    )
    job.rows_count = table.rows
    return table


def _envelope(sim: Simulator, job: CriteoJob, status: str) -> dict[str, Any]:
    message = None
    if status == "Done":
        rows = job.rows_count if job.rows_count is not None else (job.rows if job.report_bytes is None else None)
        if rows is None:
            rows = job_table(sim, job).rows
        message = f"rows_count={rows}"
    elif status == "Failure":
        message = "The export failed (simulated)"
    elif status == "Expired":
        message = "The export has expired"
    return {
        "data": {"type": JOB_TYPE, "attributes": {"exportId": job.export_id, "status": status, "message": message}},
        "warnings": [],
        "errors": [],
    }


@_authorized
async def create(request: web.Request, sim: Simulator, tok: Token, headers: dict[str, str]) -> web.Response:
    """POST .../realtime-reports/export."""
    raw = await request.read()
    try:
        body = json.loads(raw)
    except ValueError:
        return _fail(
            request,
            400,
            "json-serialization-error",
            "Invalid JSON",
            "The request body is not valid JSON",
            "validation",
            headers=headers,
        )
    now = sim.clock.now()
    try:
        export = parse_export(body, sim.clock.utcnow())
    except ExportRejected as exc:
        problems = [
            criteo_problem(p.code, p.title, p.detail, "validation", request.path, p.field) for p in exc.problems
        ]
        return criteo_error(400, problems, headers=headers)
    cfg = sim.config
    key = export.cache_key(tok.client_id) if export.cacheable else None
    with sim.lock:
        job = sim.criteo_cache.get(key) if key else None
        if job is not None and (job.outcome == "Failure" or now >= job.done_at + job.ttl):
            job = None
        if job is None:
            job = CriteoJob(
                export_id=new_id(),
                client_id=tok.client_id,
                attributes=export.attributes,
                window=export.window,
                created_at=now,
                done_at=now + max(0.0, cfg.criteo_job_seconds),
                ttl=cfg.criteo_export_ttl_seconds,
                cache_key=key,
                **cfg.job_settings("criteo"),
            )
            sim.criteo_jobs[job.export_id] = job
            if key:
                sim.criteo_cache[key] = job
    return web.json_response(_envelope(sim, job, job.status(now)), headers=headers)


@_own_job
async def status(request: web.Request, sim: Simulator, job: CriteoJob, headers: dict[str, str]) -> web.Response:
    """GET .../report-jobs/{reportId}."""
    now = sim.clock.now()
    state = job.status(now)
    if state != "Pending" and job.first_reported_done_at is None:
        job.first_reported_done_at = now
    return web.json_response(_envelope(sim, job, state), headers=headers)


@_own_job
async def download(request: web.Request, sim: Simulator, job: CriteoJob, headers: dict[str, str]) -> Answer:
    """GET .../realtime-reports/{reportId}: raw bytes only when Done."""
    state = job.status(sim.clock.now())
    if state == "Expired":
        return _fail(
            request,
            400,
            "export-alreadyexpired",
            "Export already expired",
            "The export output has been permanently deleted",
            "validation",
            headers=headers,
        )
    if state != "Done":
        code = "export-failed" if state == "Failure" else "export-not-ready"
        return _fail(
            request,
            409,
            code,
            "Export not downloadable",
            f"The export status is {state}; download is possible only when Done",
            "validation",
            headers=headers,
        )
    table = job_table(sim, job)
    fmt = job.file_format
    headers = dict(headers)
    headers["Content-Disposition"] = f'attachment; filename="{job.export_id}.{fmt}"'
    return await send_download(request, table.body, CONTENT_TYPES[fmt], headers)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/oauth2/token", token, name="criteo.token")
    app.router.add_post(BASE + "/realtime-reports/export", create, name="criteo.create")
    app.router.add_get(BASE + "/report-jobs/{reportId}", status, name="criteo.status", allow_head=False)
    app.router.add_get(BASE + "/realtime-reports/{reportId}", download, name="criteo.download", allow_head=False)
