"""Shared machinery without a network: retry decisions, token cache, rate limiter, poll schedule."""

from __future__ import annotations

import asyncio
import threading
import time
from email.utils import formatdate

import pytest

from airflow_report_provider.apis.criteo_mpo import CriteoMpoProtocol
from airflow_report_provider.apis.walmart import WalmartProtocol
from airflow_report_provider.common.exceptions import (
    InvalidRequestError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from airflow_report_provider.common.http.messages import Headers, HttpRequest, HttpResponse
from airflow_report_provider.common.polling import PollSchedule, wait_for_terminal
from airflow_report_provider.common.http.protocol import AccessToken
from airflow_report_provider.common.http.ratelimit import DEFAULT_HEADROOM, RateLimiter, RateLimiterRegistry
from airflow_report_provider.common.http.retry import CallPolicy, RetryPolicy, retry_after_from_headers
from airflow_report_provider.common.states import ReportState, ReportStatus
from airflow_report_provider.common.http.tokens import TokenCache
from airflow_report_provider.common.http.transport import LOOP_TURNS

CRITEO = CriteoMpoProtocol(host="https://api.example")
GET = HttpRequest("GET", "https://api.example/x", endpoint="criteo.status")
CREATE = HttpRequest("POST", "https://api.example/x", endpoint="criteo.create", idempotent=False)
POLICY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=10)


def answer(status: int, headers: dict | None = None, body: bytes = b"") -> HttpResponse:
    return HttpResponse(status, Headers(headers or {}), body)


# -- retry decisions -----------------------------------------------------------------------------------------
def test_success_returns():
    assert CallPolicy(CRITEO, GET, POLICY).on_response(answer(200)).action == "return"


def test_401_refreshes_once_then_raises():
    policy = CallPolicy(CRITEO, GET, POLICY)
    assert policy.on_response(answer(401)).action == "refresh"
    assert policy.on_response(answer(401)).action == "raise"


def test_unauthenticated_401_is_not_refreshed():
    token_call = HttpRequest("POST", "https://api.example/oauth2/token", endpoint="criteo.token", authenticated=False)
    assert CallPolicy(CRITEO, token_call, POLICY).on_response(answer(401)).action == "raise"


def test_429_waits_what_the_api_asks_even_for_a_create():
    reset = time.time() + 3
    decision = CallPolicy(CRITEO, CREATE, POLICY).on_response(answer(429, {"x-ratelimit-reset": str(reset)}))
    assert decision.action == "retry" and 2.5 <= decision.delay <= 3.5
    assert decision.throttled_for is not None


def test_429_asking_for_an_hour_is_raised_with_retry_after():
    walmart = WalmartProtocol(host="https://api.example")
    replenish = (time.time() + 3600) * 1000
    decision = CallPolicy(walmart, CREATE, POLICY).on_response(answer(429, {"X-Next-Replenishment-Time": str(int(replenish))}))
    assert decision.action == "raise" and isinstance(decision.error, RateLimitedError)
    assert decision.error.retry_after > 3000


@pytest.mark.parametrize("status", [500, 503, 504])
def test_5xx_is_retried_for_idempotent_calls_only(status):
    policy = CallPolicy(CRITEO, GET, POLICY)
    assert [policy.on_response(answer(status)).action for _ in range(3)] == ["retry", "retry", "raise"]
    create = CallPolicy(CRITEO, CREATE, POLICY).on_response(answer(status))
    assert create.action == "raise" and isinstance(create.error, ServerError)


def test_connection_errors_are_retried_for_idempotent_calls_only():
    assert CallPolicy(CRITEO, GET, POLICY).on_connection_error(ConnectionError()).action == "retry"
    decision = CallPolicy(CRITEO, CREATE, POLICY).on_connection_error(ConnectionError())
    assert decision.action == "raise" and isinstance(decision.error, TransportError)


def test_other_4xx_raise_the_typed_error():
    body = b'{"errors": [{"code": "invalid-query", "title": "Invalid query", "type": "validation"}]}'
    decision = CallPolicy(CRITEO, GET, POLICY).on_response(answer(400, {}, body))
    assert decision.action == "raise" and isinstance(decision.error, InvalidRequestError)
    assert decision.error.code == "invalid-query"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"x-ratelimit-reset": "1800000010"}, 10.0),  # Unix seconds
        ({"X-Next-Replenishment-Time": "1800000020000"}, 20.0),  # epoch milliseconds
        ({"Retry-After": formatdate(1_800_000_010, usegmt=True)}, 10.0),  # HTTP date
        ({"x-ratelimit-reset": "1799999990"}, 0.0),  # already past
        ({}, None),
    ],
)
def test_retry_after_headers(headers, expected):
    assert retry_after_from_headers(Headers(headers), now=1_800_000_000.0) == expected


def test_backoff_grows_and_is_capped():
    policy = RetryPolicy(base_delay=1, max_delay=8, jitter=0)
    assert [policy.backoff(n) for n in range(1, 6)] == [1, 2, 4, 8, 8]


# -- token cache -----------------------------------------------------------------------------------------------
def test_one_refresh_in_flight_for_threads():
    cache = TokenCache()
    fetched = []

    def fetch() -> AccessToken:
        fetched.append(1)
        time.sleep(0.05)
        return AccessToken("t", time.time() + 900)

    threads = [threading.Thread(target=cache.get, args=("k", fetch)) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fetched) == 1


async def test_one_refresh_in_flight_for_coroutines():
    cache = TokenCache()
    fetched = []

    async def fetch() -> AccessToken:
        fetched.append(1)
        await asyncio.sleep(0.05)
        return AccessToken("t", time.time() + 900)

    tokens = await asyncio.gather(*(cache.aget("k", fetch) for _ in range(50)))
    assert set(tokens) == {"t"} and len(fetched) == 1


def test_tokens_renew_a_minute_before_expiry_and_after_invalidation():
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    issued = iter(["a", "b", "c"])
    fetch = lambda: AccessToken(next(issued), now[0] + 900)  # noqa: E731
    assert cache.get("k", fetch) == "a"
    now[0] += 830
    assert cache.get("k", fetch) == "a"
    now[0] += 15  # 55 s before expiry
    assert cache.get("k", fetch) == "b"
    cache.invalidate("k", rejected="stale")  # another caller's old token: keep ours
    assert cache.get("k", fetch) == "b"
    cache.invalidate("k", rejected="b")
    assert cache.get("k", fetch) == "c"


# -- rate limiter and poll schedule -------------------------------------------------------------------------
def test_limiter_spaces_calls_and_honours_429_feedback():
    now = [0.0]
    limiter = RateLimiter(calls_per_minute=60, clock=lambda: now[0])
    waits = [limiter.reserve() for _ in range(4)]
    assert waits == [0.0, 1.0, 2.0, 3.0]
    limiter.block_for(30)
    assert limiter.reserve() >= 30


def test_zero_rate_means_no_limit():
    limiter = RateLimiter(calls_per_minute=0)
    assert [limiter.reserve() for _ in range(100)] == [0.0] * 100


def test_poll_schedule_backs_off_to_the_cap_and_respects_the_deadline():
    schedule = PollSchedule(initial=5, maximum=60, factor=2, jitter=0)
    assert [schedule.delay(n) for n in range(6)] == [5, 10, 20, 40, 60, 60]
    assert schedule.delay(5, remaining=3) == 3


def test_explicit_poll_interval_wins():
    assert PollSchedule.for_api(api_minimum=60, api_maximum=300, poll_interval=2).maximum == 2
    default = PollSchedule.for_api(api_minimum=5, api_maximum=60)
    assert (default.initial, default.maximum) == (5, 60)


def test_wait_for_terminal_stops_at_done_or_deadline():
    states = iter([ReportState.PENDING, ReportState.RUNNING, ReportState.SUCCEEDED])
    status = wait_for_terminal(
        lambda: ReportStatus("j", next(states), "x"), PollSchedule(1, 1), deadline=time.time() + 60, sleep=lambda s: None
    )
    assert status is not None and status.state is ReportState.SUCCEEDED
    never = wait_for_terminal(
        lambda: ReportStatus("j", ReportState.PENDING, "Pending"), PollSchedule(1, 1), deadline=time.time() - 1, sleep=lambda s: None
    )
    assert never is None


def test_registry_keeps_one_limiter_per_credential_with_headroom_and_429_blocks():
    registry = RateLimiterRegistry()
    limiter = registry.get("k", 60)
    assert limiter.interval == pytest.approx(60 / 60 * (1 + DEFAULT_HEADROOM))
    limiter.block_for(300)
    rerated = registry.get("k", 30)
    assert rerated is limiter and rerated.interval == pytest.approx(2 * (1 + DEFAULT_HEADROOM))
    assert rerated.reserve() >= 299


async def test_loop_turns_hand_on_once_per_iteration():
    iterations = [0]

    async def ticker():
        while True:
            iterations[0] += 1
            await asyncio.sleep(0)

    tick = asyncio.create_task(ticker())
    seen: list[int] = []

    async def holder():
        async with LOOP_TURNS.turn():
            seen.append(iterations[0])

    await asyncio.gather(*(holder() for _ in range(5)))
    tick.cancel()
    assert len(seen) == 5 and len(set(seen)) == 5  # each holder got its turn in another loop iteration
