"""Walmart endpoints: token, token detail, report requests (create, status, list) and download URL."""

from __future__ import annotations

import base64
import binascii
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
    from .server import Simulator

REQUIRED_HEADERS = ("WM_SEC.ACCESS_TOKEN", "WM_QOS.CORRELATION_ID", "WM_SVC.NAME", "Accept")


def _sim(request: web.Request) -> Simulator:
    return request.app[SIM]


def _error(
    sim: Simulator,
    status: int,
    code: str,
    description: str,
    field: str | None = None,
    category: str = "REQUEST",
    headers: dict[str, str] | None = None,
) -> web.Response:
    return walmart_error(status, code, description, sim.config.walmart_error_envelope, field, category, headers)


def _missing_header(sim: Simulator, request: web.Request, names: tuple[str, ...]) -> web.Response | None:
    for name in names:
        value = request.headers.get(name, "").strip()
        if name == "Accept" and "application/json" not in value.lower():
            value = ""
        if not value:
            return _error(sim, 400, "MISSING_REQUEST_HEADER", f"Required header {name} is missing or invalid", name)
    return None


def partner_id(client_id: str) -> str:
    """A stable 8-digit partner id for a client id."""
    return str(10_000_000 + int(hashlib.sha256(client_id.encode()).hexdigest()[:8], 16) % 90_000_000)


async def token(request: web.Request) -> web.Response:
    """POST /v3/token: Basic client:secret, form grant_type=client_credentials; JSON only with Accept JSON."""
    sim = _sim(request)
    refusal = _missing_header(sim, request, ("WM_SVC.NAME", "WM_QOS.CORRELATION_ID"))
    if refusal is not None:
        return refusal
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    client_id = secret = None
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id = None
    expected = sim.config.secret_for("walmart", client_id or "")
    if not client_id or expected is None or expected != secret:
        return _error(
            sim, 401, "UNAUTHORIZED", "Invalid client credentials (Basic clientId:clientSecret)", "Authorization"
        )
    form = await request.post() if request.content_type == "application/x-www-form-urlencoded" else {}
    grant = form.get("grant_type")
    if not grant:
        return _error(sim, 400, "MISSING_REQUEST_PARAM", "grant_type is required (form-encoded body)", "grant_type")
    if grant != "client_credentials":
        return _error(sim, 400, "INVALID_REQUEST_PARAM", f"Unsupported grant_type {grant!r}", "grant_type")
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


def _auth(sim: Simulator, request: web.Request, headers: tuple[str, ...] = REQUIRED_HEADERS) -> Token | web.Response:
    refusal = _missing_header(sim, request, headers)
    if refusal is not None:
        return refusal
    verdict, tok = sim.tokens.check("walmart", request.headers.get("WM_SEC.ACCESS_TOKEN", "").strip(), sim.clock.now())
    if verdict == "ok" and tok is not None:
        return tok
    text = "Access token is expired" if verdict == "expired" else "Unauthorized token"
    return _error(sim, 401, "UNAUTHORIZED", text, "WM_SEC.ACCESS_TOKEN")


def _throttle(sim: Simulator, tok: Token, endpoint: str) -> tuple[dict[str, str], web.Response | None]:
    limit = sim.config.walmart_status_rate_limit_per_minute
    if not limit:
        return {}, None
    allowed, remaining, reset = sim.limiter.hit(("walmart", endpoint, tok.client_id), limit, 60.0, sim.clock.now())
    headers = {"X-Current-Token-Count": str(remaining), "X-Next-Replenishment-Time": str(int(reset * 1000))}
    if allowed:
        return headers, None
    return headers, _error(
        sim, 429, "REQUEST_THRESHOLD_VIOLATED", f"More than {limit} calls per minute", headers=headers
    )


async def token_detail(request: web.Request) -> web.Response:
    """GET /v3/token/detail."""
    sim = _sim(request)
    tok = _auth(sim, request, ("WM_SEC.ACCESS_TOKEN", "WM_QOS.CORRELATION_ID", "WM_SVC.NAME"))
    if isinstance(tok, web.Response):
        return tok
    scopes = dict.fromkeys(
        ("reports", "item", "price", "lagtime", "feeds", "returns", "orders", "inventory", "content"), "full_access"
    )
    return web.json_response(
        {
            "expire_at": str(int(tok.expires_at * 1000)),
            "issued_at": str(int(tok.issued_at * 1000)),
            "is_valid": True,
            "is_channel_match": True,
            "scopes": scopes,
        }
    )


def _file_name(req: WalmartRequest) -> str:
    stem = "".join(part.capitalize() for part in req.report_type.split("_")) + "Report"
    ts = datetime.fromtimestamp(req.ready_at, UTC).strftime("%Y-%m-%dT%H%M%S")
    return f"{stem}_{req.partner_id}_{ts}_{req.request_id.replace('-', '')[:12]}"


async def create(request: web.Request) -> web.Response:
    """POST /v3/reports/reportRequests?reportType=&reportVersion= with an optional JSON body."""
    sim = _sim(request)
    tok = _auth(sim, request)
    if isinstance(tok, web.Response):
        return tok
    if "application/json" not in request.headers.get("Content-Type", "").lower():
        return _error(sim, 400, "MISSING_REQUEST_HEADER", "Content-Type: application/json is required", "Content-Type")
    raw = await request.read()
    try:
        report_type, report_version = check_report_params(
            request.query.get("reportType"), request.query.get("reportVersion")
        )
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            raise Rejection(400, "INVALID_REQUEST_CONTENT", "payload", "The request body is not valid JSON") from None
        payload = check_create_body(report_type, report_version, body, sim.clock.utcnow())
    except Rejection as exc:
        return _error(sim, exc.status, exc.code, exc.description, exc.field)
    cfg = sim.config
    now = sim.clock.now()
    headers: dict[str, str] = {}
    if cfg.walmart_create_limit_per_hour:
        allowed, left, nxt = sim.create_log.check_and_add(
            (tok.client_id, report_type), cfg.walmart_create_limit_per_hour, 3600.0, now
        )
        headers = {"X-Current-Token-Count": str(left), "X-Next-Replenishment-Time": str(int(nxt * 1000))}
        if not allowed:
            return _error(
                sim,
                429,
                "REQUEST_THRESHOLD_VIOLATED",
                f"Only {cfg.walmart_create_limit_per_hour} {report_type} request(s) per hour",
                headers=headers,
            )
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
        outcome=cfg.walmart_job_outcome,
        file_format=cfg.walmart_file_format,
        rows=cfg.walmart_rows,
        report_bytes=cfg.walmart_report_bytes,
        bom=cfg.walmart_csv_bom,
        seed=cfg.seed,
        extra={
            "zip_parts": max(1, cfg.walmart_zip_parts) if cfg.walmart_file_format == "zip" else 1,
            "files": max(1, cfg.walmart_download_files),
            "mismatched": cfg.walmart_mismatched_part,
        },
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


def _visible(sim: Simulator, request_id: str | None, tok: Token) -> WalmartRequest | None:
    req = sim.walmart_requests.get(request_id or "")
    if req is None or req.client_id != tok.client_id:
        return None
    if sim.clock.now() - req.created_at > sim.config.walmart_retention_seconds:
        return None
    return req


def _not_found(sim: Simulator, request_id: str | None, headers: dict[str, str]) -> web.Response:
    return _error(
        sim,
        404,
        "CONTENT_NOT_FOUND",
        f"Request id {request_id} not found (unknown, expired or not yours)",
        "requestId",
        "DATA",
        headers,
    )


def _note_terminal(sim: Simulator, req: WalmartRequest, state: str) -> None:
    if state in ("READY", "ERROR") and req.first_reported_done_at is None:
        req.first_reported_done_at = sim.clock.now()


async def status(request: web.Request) -> web.Response:
    """GET /v3/reports/reportRequests/{requestId}."""
    sim = _sim(request)
    tok = _auth(sim, request)
    if isinstance(tok, web.Response):
        return tok
    headers, refusal = _throttle(sim, tok, "status")
    if refusal is not None:
        return refusal
    req = _visible(sim, request.match_info["requestId"], tok)
    if req is None:
        return _not_found(sim, request.match_info["requestId"], headers)
    answer = req.as_json(sim.clock.now())
    _note_terminal(sim, req, answer["requestStatus"])
    return web.json_response(answer, headers=headers)


async def list_requests(request: web.Request) -> web.Response:
    """GET /v3/reports/reportRequests: newest first, paged with nextCursor (the whole next query string)."""
    sim = _sim(request)
    tok = _auth(sim, request)
    if isinstance(tok, web.Response):
        return tok
    headers, refusal = _throttle(sim, tok, "list")
    if refusal is not None:
        return refusal
    now = sim.clock.now()
    try:
        q = check_list_query(
            request.query, sim.config.walmart_list_page_size, now, sim.config.walmart_retention_seconds
        )
    except Rejection as exc:
        return _error(sim, exc.status, exc.code, exc.description, exc.field, headers=headers)
    retention = sim.config.walmart_retention_seconds
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


async def download_url(request: web.Request) -> web.Response:
    """GET /v3/reports/downloadReport?requestId=: a pre-signed blob URL when READY; else the status, no URL."""
    sim = _sim(request)
    tok = _auth(sim, request)
    if isinstance(tok, web.Response):
        return tok
    headers, refusal = _throttle(sim, tok, "download_url")
    if refusal is not None:
        return refusal
    request_id = request.query.get("requestId")
    if not request_id:
        return _error(
            sim,
            400,
            "MISSING_REQUEST_PARAM",
            "Missing required query parameter requestId",
            "requestId",
            headers=headers,
        )
    req = _visible(sim, request_id, tok)
    if req is None:
        return _not_found(sim, request_id, headers)
    now = sim.clock.now()
    item = req.as_json(now)
    _note_terminal(sim, req, item["requestStatus"])
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
