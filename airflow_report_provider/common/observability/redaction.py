"""Keep secrets out of logs, XCom and errors."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """The URL without its query string and credentials: pre-signed URLs carry their signature there."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    query = "<redacted>" if parts.query else ""
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def scrub(text: str) -> str:
    """Drop query strings and credentials of any URL in an error text (pre-signed signatures live there)."""
    return _URL.sub(lambda m: redact_url(m.group(0)) if ("?" in m.group(0) or "@" in m.group(0)) else m.group(0), text)


def mask_secret(value: str | None) -> None:
    """Register a secret with Airflow's masker so it never shows in task logs (no-op outside Airflow)."""
    if not value:
        return
    try:
        from airflow_report_provider.compat import mask_secret as _mask
    except Exception:  # pragma: no cover - Airflow missing
        return
    _mask(value)
