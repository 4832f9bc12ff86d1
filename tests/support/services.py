"""The machine's Postgres (127.0.0.1:5432) and Redis (127.0.0.1:6379) for the tests that need them.

A missing service skips those tests with a message naming it; with ``CI=true`` it fails them instead.
"""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


def missing(what: str) -> None:
    """Skip (or, under CI=true, fail) naming the missing service."""
    message = f"{what} is not available"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: the service is required)", pytrace=False)
    pytest.skip(message)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_redis(db: int = 0) -> str:
    """The Redis URL of database ``db``, after a PING; skips or fails when Redis is missing."""
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    try:
        import redis
    except ImportError:
        missing("the 'redis' Python package")
    if not _listening(REDIS_HOST, REDIS_PORT):
        missing(f"Redis on {REDIS_HOST}:{REDIS_PORT}")
    try:
        redis.Redis.from_url(url, socket_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        missing(f"Redis on {REDIS_HOST}:{REDIS_PORT} ({type(exc).__name__})")
    return url


def require_postgres() -> str:
    """The server URL (no database) of the machine's Postgres; skips or fails when it is missing."""
    try:
        import psycopg2
    except ImportError:
        missing("the 'psycopg2' Python package (psycopg2-binary)")
    if not _listening(POSTGRES_HOST, POSTGRES_PORT):
        missing(f"Postgres on {POSTGRES_HOST}:{POSTGRES_PORT}")
    try:
        psycopg2.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user="postgres", dbname="postgres", connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        missing(f"Postgres on {POSTGRES_HOST}:{POSTGRES_PORT} as user postgres ({type(exc).__name__})")
    return f"postgresql+psycopg2://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}"


def create_database(name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def drop_database(name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()
