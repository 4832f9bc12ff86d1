"""Walmart endpoints: token, token detail, report requests (create, status, list) and download URL.

Checks raise `Rejection`; `_answering` turns it into the Walmart error, with the rate-limit headers gathered so far.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

from .blob import blob_names, signed_url
from .errors import walmart_error
from .keys import SIM
from .state import Token, WalmartRequest, iso_z, new_id
from .walmart_rules import Rejection, check_create_body, check_list_query, check_report_params

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .server import Simulator

    Handler = Callable[[web.Request], Awaitable[web.Response]]
    Checked = Callable[[web.Request, Simulator, dict[str, str]], Awaitable[web.Response]]
    ReportHandler = Callable[[web.Request, Simulator, Token, dict[str, str]], Awaitable[web.Response]]

REQUIRED_HEADERS = ("WM_SEC.ACCESS_TOKEN", "WM_QOS.CORRELATION_ID", "WM_SVC.NAME", "Accept")
SCOPES = ("reports", "item", "price", "lagtime", "feeds", "returns", "orders", "inventory", "content")


def _answering(handler: Checked) -> Handler:
    """`handler(request, sim, headers)`, a Rejection it raises answered as the Walmart error (in the configured
    envelope) with `headers`, the rate-limit headers it gathered so far."""

    @functools.wraps(handler)
    async def endpoint(request: web.Request) -> web.Response:
        sim: Simulator = request.app[SIM]
        headers: dict[str, str] = {}
        try:
            return await handler(request, sim, headers)
        except Rejection as exc:
            envelope = sim.config.walmart_error_envelope
            return walmart_error(exc.status, exc.code, exc.description, envelope, exc.field, exc.category, headers)

    return endpoint


def _report_call(
    throttle: str | None = None, required: tuple[str, ...] = REQUIRED_HEADERS
) -> Callable[[ReportHandler], Handler]:
    """`handler(request, sim, token, headers)` once the `required` headers, the token and (for a `throttle` endpoint
    name) the per-minute limit pass."""

    def wrap(handler: ReportHandler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request, sim: Simulator, headers: dict[str, str]) -> web.Response:
            _check_headers(request, required)
            tok = _token(sim, request)
            if throttle:
                _throttle(sim, tok, throttle, headers)
            return await handler(request, sim, tok, headers)

        return _answering(checked)

    return wrap


def limit_headers(count: int, replenished_at: float) -> dict[str, str]:
    """Walmart's quota headers: tokens left and the next replenishment time in epoch milliseconds."""
    return {"X-Current-Token-Count": str(count), "X-Next-Replenishment-Time": str(int(replenished_at * 1000))}


def _check_headers(request: web.Request, names: tuple[str, ...]) -> None:
    for name in names:
        value = request.headers.get(name, "").strip()
        if name == "Accept" and "application/json" not in value.lower():
            value = ""
        if not value:
            raise Rejection(400, "MISSING_REQUEST_HEADER", name, f"Required header {name} is missing or invalid")


def _token(sim: Simulator, request: web.Request) -> Token:
    verdict, tok = sim.tokens.check("walmart", request.headers.get("WM_SEC.ACCESS_TOKEN", "").strip(), sim.clock.now())
    if verdict == "ok" and tok is not None:
        return tok
    text = "Access token is expired" if verdict == "expired" else "Unauthorized token"
    raise Rejection(401, "UNAUTHORIZED", "WM_SEC.ACCESS_TOKEN", text)


def _throttle(sim: Simulator, tok: Token, endpoint: str, headers: dict[str, str]) -> None:
    """Count the call against `endpoint`'s per-minute limit (status, list, downloadReport), adding its headers."""
    limit = sim.config.walmart_status_rate_limit_per_minute
    if not limit:
        return
    allowed, remaining, reset = sim.limiter.hit(("walmart", endpoint, tok.client_id), limit, 60.0, sim.clock.now())
    headers.update(limit_headers(remaining, reset))
    if not allowed:
        raise Rejection(429, "REQUEST_THRESHOLD_VIOLATED", None, f"More than {limit} calls per minute")


def partner_id(client_id: str) -> str:
    """A stable 8-digit partner id for a client id."""
    return str(10_000_000 + int(hashlib.sha256(client_id.encode()).hexdigest()[:8], 16) % 90_000_000)


@_answering
async def token(request: web.Request, sim: Simulator, headers: dict[str, str]) -> web.Response:
    """POST /v3/token: Basic client:secret, form grant_type=client_credentials; JSON only with Accept JSON."""
    _check_headers(request, ("WM_SVC.NAME", "WM_QOS.CORRELATION_ID"))
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    client_id = secret = None
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id = None
    expected = sim.config.secret_for("walmart", client_id or "")
    if not client_id or expected is None or expected != secret:
        text = "Invalid client credentials (Basic clientId:clientSecret)"
        raise Rejection(401, "UNAUTHORIZED", "Authorization", text)
    form = await request.post() if request.content_type == "application/x-www-form-urlencoded" else {}
    grant = form.get("grant_type")
    if not grant:
        raise Rejection(400, "MISSING_REQUEST_PARAM", "grant_type", "grant_type is required (form-encoded body)")
    if grant != "client_credentials":
        raise Rejection(400, "INVALID_REQUEST_PARAM", "grant_type", f"Unsupported grant_type {grant!r}")
    value, _tok = sim.tokens.issue("walmart", client_id, sim.clock.now(), sim.config.token_lifetime_seconds)
    sim.stats.token_issued("walmart")
    lifetime = int(sim.config.token_lifetime_seconds)
    if "application/json" in request.headers.get("Accept", "").lower():
        return web.json_response({"access_token": value, "token_type": "Bearer", "expires_in": lifetime})
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><OAuthTokenDTO>'
        f"<accessToken>{value}</accessToken><tokenType>Bearer</tokenType><expiresIn>{lifetime}</expiresIn></OAuthTokenDTO>"
    )
    return web.Response(text=xml, content_type="application/xml")


@_report_call(required=REQUIRED_HEADERS[:3])  # no Accept check here
async def token_detail(request: web.Request, sim: Simulator, tok: Token, headers: dict[str, str]) -> web.Response:
    """GET /v3/token/detail."""
    return web.json_response(
        {
            "expire_at": str(int(tok.expires_at * 1000)),
            "issued_at": str(int(tok.issued_at * 1000)),
            "is_valid": True,
            "is_channel_match": True,
            "scopes": dict.fromkeys(SCOPES, "full_access"),
        }
    )


def _file_name(req: WalmartRequest) -> str:
    stem = "".join(part.capitalize() for part in req.report_type.split("_")) + "Report"
    ts = datetime.fromtimestamp(req.ready_at, UTC).strftime("%Y-%m-%dT%H%M%S")
    return f"{stem}_{req.partner_id}_{ts}_{req.request_id.replace('-', '')[:12]}"


@_report_call()
async def create(request: web.Request, sim: Simulator, tok: Token, headers: dict[str, str]) -> web.Response:
    """POST /v3/reports/reportRequests?reportType=&reportVersion= with an optional JSON body."""
    if "application/json" not in request.headers.get("Content-Type", "").lower():
        raise Rejection(400, "MISSING_REQUEST_HEADER", "Content-Type", "Content-Type: application/json is required")
    raw = await request.read()
    query = request.query
    report_type, report_version = check_report_params(query.get("reportType"), query.get("reportVersion"))
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise Rejection(400, "INVALID_REQUEST_CONTENT", "payload", "The request body is not valid JSON") from None
    payload = check_create_body(report_type, report_version, body, sim.clock.utcnow())
    cfg = sim.config
    now = sim.clock.now()
    per_hour = cfg.walmart_create_limit_per_hour
    if per_hour:
        allowed, left, nxt = sim.create_log.check_and_add((tok.client_id, report_type), per_hour, 3600.0, now)
        headers.update(limit_headers(left, nxt))
        if not allowed:
            text = f"Only {per_hour} {report_type} request(s) per hour"
            raise Rejection(429, "REQUEST_THRESHOLD_VIOLATED", None, text)
    seconds = max(0.0, cfg.walmart_job_seconds)
    req = WalmartRequest(
        request_id=new_id(),
        client_id=tok.client_id,
        partner_id=partner_id(tok.client_id),
        report_type=report_type,
        report_version=report_version,
        payload=payload,
        created_at=now,
        inprogress_at=now + seconds / 3,
        ready_at=now + seconds,
        file_format=cfg.walmart_file_format,
        bom=cfg.walmart_csv_bom,
        extra={
            "zip_parts": max(1, cfg.walmart_zip_parts) if cfg.walmart_file_format == "zip" else 1,
            "files": max(1, cfg.walmart_download_files),
            "mismatched": cfg.walmart_mismatched_part,
        },
        **cfg.job_settings("walmart"),
    )
    req.file_name = _file_name(req)
    with sim.lock:
        sim.walmart_requests[req.request_id] = req
        for name in blob_names(req):
            sim.walmart_blobs[name] = req.request_id
    answer = req.as_json(now)
    answer["requestStatus"] = "RECEIVED"
    answer.pop("reportGenerationDate", None)
    return web.json_response(answer, headers=headers)


def _visible(sim: Simulator, request_id: str | None, tok: Token) -> WalmartRequest:
    """The caller's request `request_id` within retention (404 CONTENT_NOT_FOUND otherwise)."""
    req = sim.walmart_requests.get(request_id or "")
    retention = sim.config.walmart_retention_seconds
    if req is not None and req.client_id == tok.client_id and sim.clock.now() - req.created_at <= retention:
        return req
    text = f"Request id {request_id} not found (unknown, expired or not yours)"
    raise Rejection(404, "CONTENT_NOT_FOUND", "requestId", text, "DATA")


def _reported(sim: Simulator, req: WalmartRequest, now: float) -> dict:
    """The request object as answered at `now` (the first answer showing READY or ERROR is noted)."""
    answer = req.as_json(now)
    if answer["requestStatus"] in ("READY", "ERROR") and req.first_reported_done_at is None:
        req.first_reported_done_at = sim.clock.now()
    return answer


@_report_call(throttle="status")
async def status(request: web.Request, sim: Simulator, tok: Token, headers: dict[str, str]) -> web.Response:
    """GET /v3/reports/reportRequests/{requestId}."""
    req = _visible(sim, request.match_info["requestId"], tok)
    return web.json_response(_reported(sim, req, sim.clock.now()), headers=headers)


@_report_call(throttle="list")
async def list_requests(request: web.Request, sim: Simulator, tok: Token, headers: dict[str, str]) -> web.Response:
    """GET /v3/reports/reportRequests: newest first, paged with nextCursor (the whole next query string)."""
    now = sim.clock.now()
    retention = sim.config.walmart_retention_seconds
    q = check_list_query(request.query, sim.config.walmart_list_page_size, now, retention)
    with sim.lock:
        candidates = list(sim.walmart_requests.values())
    matches = []
    for req in reversed(candidates):  # insertion order reversed = newest first
        if req.client_id != tok.client_id or now - req.created_at > retention:
            continue
        if (q.report_type and req.report_type != q.report_type) or (
            q.report_version and req.report_version != q.report_version
        ):
            continue
        if q.request_id and req.request_id != q.request_id:
            continue
        if q.start and not q.start.timestamp() <= req.created_at <= q.end.timestamp() + 0.999:
            continue
        item = req.as_json(now)
        if q.request_status and item["requestStatus"] != q.request_status:
            continue
        matches.append(item)
    matches.sort(key=lambda item: item["requestSubmissionDate"], reverse=True)  # stable: ties keep newest first
    first = (q.page - 1) * q.limit
    answer = {
        "page": q.page,
        "totalCount": len(matches),
        "limit": q.limit,
        "requests": matches[first : first + q.limit],
    }
    if first + q.limit < len(matches):
        params = [
            ("reportType", q.report_type),
            ("reportVersion", q.report_version),
            ("requestStatus", q.request_status),
            ("requestId", q.request_id),
            ("requestSubmissionStartDate", q.raw_start),
            ("requestSubmissionEndDate", q.raw_end),
            ("page", str(q.page + 1)),
            ("limit", str(q.limit)),
        ]
        answer["nextCursor"] = "&".join(f"{k}={quote(v, safe=':')}" for k, v in params if v)
    return web.json_response(answer, headers=headers)


@_report_call(throttle="download_url")
async def download_url(request: web.Request, sim: Simulator, tok: Token, headers: dict[str, str]) -> web.Response:
    """GET /v3/reports/downloadReport?requestId=: a pre-signed blob URL when READY; else the status, no URL."""
    request_id = request.query.get("requestId")
    if not request_id:
        raise Rejection(400, "MISSING_REQUEST_PARAM", "requestId", "Missing required query parameter requestId")
    req = _visible(sim, request_id, tok)
    now = sim.clock.now()
    item = _reported(sim, req, now)
    answer = {
        k: item[k] for k in ("requestId", "requestStatus", "requestSubmissionDate", "reportType", "reportVersion")
    }
    if item["requestStatus"] == "READY":
        expiry = int(now + sim.config.walmart_download_url_ttl_seconds)
        answer["reportGenerationDate"] = item["reportGenerationDate"]
        base = sim.config.public_url or f"{request.scheme}://{request.host}"
        urls = [signed_url(base.rstrip("/"), sim.signing_key, name, expiry) for name in blob_names(req)]
        answer["downloadURL"] = urls[0]
        if len(urls) > 1:  # a report split into several files: every URL, in order
            answer["downloadURLs"] = urls
        answer["downloadURLExpirationTime"] = iso_z(expiry)
    return web.json_response(answer, headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v3/token", token, name="walmart.token")
    app.router.add_get("/v3/token/detail", token_detail, name="walmart.token_detail", allow_head=False)
    app.router.add_post("/v3/reports/reportRequests", create, name="walmart.create")
    app.router.add_get("/v3/reports/reportRequests", list_requests, name="walmart.list", allow_head=False)
    app.router.add_get("/v3/reports/reportRequests/{requestId}", status, name="walmart.status", allow_head=False)
    app.router.add_get("/v3/reports/downloadReport", download_url, name="walmart.download_url", allow_head=False)
