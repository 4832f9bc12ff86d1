"""Secrets: client secrets, access tokens and pre-signed URL signatures never show in logs, XCom, trigger kwargs
or error messages; tokens and secrets are registered with Airflow's masker; TLS verification stays on by default.

The DAG runs use distinctive client secrets; the access tokens are read from the simulator's token store after
the runs (every token it issued). Everything the runs produced is scanned: the output Airflow prints (task and
trigger logs, tracebacks included), every record reaching the root logger, log files, every XCom of the runs,
every serialized trigger, and the message of every provider error raised.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from aiohttp import web

from airflow_report_provider.common.exceptions import ReportProviderError, TransportError
from airflow_report_provider.common.http.tokens import TOKEN_CACHE
from airflow_report_provider.hooks.criteo_mpo import CriteoMpoAsyncHook, CriteoMpoHook
from airflow_report_provider.hooks.walmart import WalmartMarketplaceAsyncHook, WalmartMarketplaceHook
from airflow_report_provider.triggers.base import ReportJobTrigger
from tests.dags import reliability_dags as dags
from tests.reliability.conftest import files_under, reconnect, run, task_facts, xcom_values
from tests.support.airflow_env import FAST_EXTRA, connection_env

SIGNATURE = "sig="


@pytest.fixture
def secrets(sim: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Distinctive client secrets for both APIs (the connections are pointed at the simulator again)."""
    sim.config.criteo_client_secret = f"criteo-secret-{uuid.uuid4().hex}"
    sim.config.walmart_client_secret = f"walmart-secret-{uuid.uuid4().hex}"
    reconnect(sim, monkeypatch)
    return {"criteo": sim.config.criteo_client_secret, "walmart": sim.config.walmart_client_secret}


def wrong_connection(monkeypatch: pytest.MonkeyPatch, sim: Any, api: str) -> tuple[str, str]:
    """A connection with the right client id and a distinctive wrong secret: (conn id, that secret)."""
    secret = f"{api}-wrong-secret-{uuid.uuid4().hex}"
    conn_type, login = ("criteo_mpo", sim.config.criteo_client_id) if api == "criteo" else ("walmart_marketplace", sim.config.walmart_client_id)
    name, value = connection_env(f"{api}_wrong", conn_type, sim.url, login, secret, {**FAST_EXTRA, "max_calls_per_minute": 0})
    monkeypatch.setenv(name, value)
    return f"{api}_wrong", secret


def record_errors(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Every provider error constructed from now on (their messages are scanned)."""
    seen: list[BaseException] = []
    original = ReportProviderError.__init__

    def init(self: BaseException, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        seen.append(self)

    monkeypatch.setattr(ReportProviderError, "__init__", init)
    return seen


def issued_tokens(sim: Any) -> list[str]:
    """Every access token the simulator issued."""
    return list(sim.tokens._tokens)


def log_files() -> list[str]:
    folder = Path(os.environ.get("AIRFLOW__LOGGING__BASE_LOG_FOLDER", os.environ["AIRFLOW_HOME"]))
    return [path.read_text(errors="replace") for path in files_under(folder)]


def assert_nothing_secret(texts: dict[str, str], forbidden: list[str]) -> None:
    assert all(len(secret) >= 20 for secret in forbidden)
    for where, text in texts.items():
        for secret in forbidden:
            assert secret not in text, f"a secret ({secret[:8]}...) shows in {where}"
        assert SIGNATURE not in text, f"a pre-signed URL signature shows in {where}"


def scanned(logs: Any, runs: list[Any], serialize: Any, errors: list[BaseException]) -> dict[str, str]:
    texts = {"logs": logs.text(), "log files": "\n".join(log_files())}
    texts.update({f"XCom of {r.dag_id}": json.dumps(xcom_values(r), default=str) for r in runs})
    texts["serialized triggers"] = json.dumps(serialize.spy_return_list, default=str)
    texts["error messages"] = "\n".join(f"{e!s} {e!r}" for e in errors)
    return texts


def test_criteo_runs_leak_no_secret(secrets, sim, airflow_db, tmp_path, logs, mocker, monkeypatch):
    serialize = mocker.spy(ReportJobTrigger, "serialize")
    errors = record_errors(monkeypatch)
    target = tmp_path / "report.csv"
    ok = run(dags.rel_criteo_secrets, destination=f"file://{target}")
    assert set(task_facts(ok).values()) == {("success", 1)} and target.exists()
    conn_id, wrong_secret = wrong_connection(monkeypatch, sim, "criteo")
    refused = run(dags.rel_criteo_deferrable, destination=f"file://{tmp_path}/never.csv", conn_id=conn_id)
    assert task_facts(refused)["transfer"].state == "failed"

    assert serialize.call_count == 1 and errors  # a trigger was serialized and errors were raised: both scanned
    tokens = issued_tokens(sim)
    assert tokens
    assert_nothing_secret(scanned(logs, [ok, refused], serialize, errors), [secrets["criteo"], wrong_secret, *tokens])


def test_walmart_runs_leak_no_secret_nor_url_signature(secrets, sim, airflow_db, tmp_path, logs, mocker, monkeypatch):
    serialize = mocker.spy(ReportJobTrigger, "serialize")
    errors = record_errors(monkeypatch)
    target = tmp_path / "report.csv"
    ok = run(dags.rel_walmart_secrets, destination=f"file://{target}")
    assert task_facts(ok)["transfer"] == ("success", 1) and target.exists()
    # The blob store refuses the pre-signed URL, and the renewed one too: the error must not quote the URL's query.
    sim.reset()
    sim.inject_fault("walmart.blob", status=403, times=2)
    refused_url = run(dags.rel_walmart_deferrable, destination=f"file://{tmp_path}/never.csv")
    assert task_facts(refused_url)["transfer"].state == "failed" and sim.stats.calls["walmart.download_url"] == 2
    conn_id, wrong_secret = wrong_connection(monkeypatch, sim, "walmart")
    refused = run(dags.rel_walmart_deferrable, destination=f"file://{tmp_path}/never.csv", conn_id=conn_id)
    assert task_facts(refused)["transfer"].state == "failed"

    assert serialize.call_count == 2 and errors
    tokens = issued_tokens(sim)
    assert tokens
    texts = scanned(logs, [ok, refused_url, refused], serialize, errors)
    assert "/blob/" in texts["logs"]  # the download URL was logged, without its query
    assert_nothing_secret(texts, [secrets["walmart"], wrong_secret, *tokens])


def test_secrets_and_tokens_are_registered_with_airflows_masker(secrets, sim, airflow_db):
    """Tasks that open the connections and fetch tokens: the secrets and tokens are then masked by the processor
    Airflow runs over every task log line (``mask_logs``; dag.test prints task logs without it, a deployment's
    supervisor applies it), so even a line quoting them verbatim shows ``***``."""
    from airflow.sdk.log import mask_logs

    dag_run = run(dags.rel_mask_check, logical_date=None)
    assert set(task_facts(dag_run).values()) == {("success", 1)}
    assert sim.stats.tokens_issued["criteo"] == 1 and sim.stats.tokens_issued["walmart"] == 1
    (criteo_token, walmart_token) = issued_tokens(sim)
    line = f"criteo {secrets['criteo']} {criteo_token} walmart {secrets['walmart']} {walmart_token}"
    assert mask_logs(None, "info", {"event": line})["event"] == "criteo *** *** walmart *** ***"


# -- TLS verification ---------------------------------------------------------------------------------------------
def self_signed_context(tmp_path: Path) -> ssl.SSLContext:
    """A server TLS context for 127.0.0.1 with a throw-away self-signed certificate (no CA trusts it)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture
def tls_url(sim: Any, tmp_path: Path) -> Iterator[str]:
    """The simulator's application served over HTTPS too, with a self-signed certificate."""
    context = self_signed_context(tmp_path)
    site = web.TCPSite(sim._runner, "127.0.0.1", 0, ssl_context=context)
    asyncio.run_coroutine_threadsafe(site.start(), sim.loop).result(10)
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(site.stop(), sim.loop).result(10)


def https_connections(monkeypatch: pytest.MonkeyPatch, sim: Any, url: str, **extra: Any) -> None:
    """``criteo_tls`` / ``walmart_tls``: the simulator over HTTPS, no retries (a refused handshake fails at once)."""
    cfg = sim.config
    for conn_id, conn_type, login, password in (
        ("criteo_tls", "criteo_mpo", cfg.criteo_client_id, cfg.criteo_client_secret),
        ("walmart_tls", "walmart_marketplace", cfg.walmart_client_id, cfg.walmart_client_secret),
    ):
        name, value = connection_env(conn_id, conn_type, url, login, password, {"max_retries": 0, "max_calls_per_minute": 0, **extra})
        monkeypatch.setenv(name, value)


SYNC_HOOKS = {"criteo": lambda: CriteoMpoHook("criteo_tls"), "walmart": lambda: WalmartMarketplaceHook("walmart_tls")}
ASYNC_HOOKS = {"criteo": lambda: CriteoMpoAsyncHook("criteo_tls"), "walmart": lambda: WalmartMarketplaceAsyncHook("walmart_tls")}


@pytest.mark.parametrize("api", ["criteo", "walmart"])
def test_tls_is_verified_by_default_in_both_transports(sim, tls_url, monkeypatch, mocker, api):
    https_connections(monkeypatch, sim, tls_url)
    sync_request = mocker.spy(requests.Session, "request")
    async_request = mocker.spy(aiohttp.ClientSession, "_request")
    with pytest.raises(TransportError, match="SSLError"):
        SYNC_HOOKS[api]().get_conn().token()
    assert sync_request.call_args.kwargs["verify"] is True

    async def async_token() -> str:
        return await (await ASYNC_HOOKS[api]().get_transport()).token()

    with pytest.raises(TransportError, match="Certificate|SSL"):
        asyncio.run(async_token())
    assert async_request.call_args.kwargs["ssl"] in (True, None)  # aiohttp: None and True both verify
    assert sim.stats.tokens_issued[api] == 0  # the self-signed server was never trusted


@pytest.mark.parametrize("api", ["criteo", "walmart"])
def test_tls_verification_is_off_only_when_the_connection_says_so(sim, tls_url, monkeypatch, mocker, api):
    https_connections(monkeypatch, sim, tls_url, verify_ssl=False)
    sync_request = mocker.spy(requests.Session, "request")
    async_request = mocker.spy(aiohttp.ClientSession, "_request")
    assert SYNC_HOOKS[api]().get_conn().token()
    assert sync_request.call_args.kwargs["verify"] is False

    async def async_token() -> str:
        TOKEN_CACHE.clear()
        return await (await ASYNC_HOOKS[api]().get_transport()).token()

    assert asyncio.run(async_token())
    assert async_request.call_args.kwargs["ssl"] is False
    assert sim.stats.tokens_issued[api] == 2
