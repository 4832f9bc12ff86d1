"""Transport-neutral HTTP request and answer values.

The protocol modules in ``apis/`` build :class:`HttpRequest` values and parse :class:`HttpResponse` values;
the sync (requests) and async (aiohttp) transports in ``common/http/transport.py`` move them over the wire.
"""

from __future__ import annotations

import json as _json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


class Headers(dict):
    """A case-insensitive, read-mostly header mapping."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        super().__init__()
        for key, value in (items or {}).items():
            self[key] = value

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key.lower(), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)


@dataclass(frozen=True)
class HttpRequest:
    """One call to an API, before authentication headers are added.

    ``endpoint`` is a short logical name (``"criteo.status"``) used in logs and for rate limiting.
    ``idempotent`` requests may be retried after 5xx answers and cut connections; a create POST is not.
    ``authenticated`` requests get the API's token headers; a pre-signed download URL does not.
    """

    method: str
    url: str
    endpoint: str
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] | None = None
    json: Any = None
    form: Mapping[str, str] | None = None
    idempotent: bool = True
    authenticated: bool = True
    rate_limited: bool = True

    def __repr__(self) -> str:
        # Form data (client secrets), headers (tokens) and query strings (URL signatures) never show.
        from airflow_report_provider.common.observability.redaction import redact_url

        return f"HttpRequest({self.method} {redact_url(self.url)} endpoint={self.endpoint!r})"

    def with_headers(self, extra: Mapping[str, str]) -> HttpRequest:
        return replace(self, headers={**self.headers, **extra})


@dataclass(frozen=True)
class HttpResponse:
    """A complete (non-streamed) answer."""

    status: int
    headers: Headers
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` when it is empty or not JSON."""
        if not self.body:
            return None
        try:
            return _json.loads(self.body)
        except ValueError:
            return None

    def text(self, limit: int = 500) -> str:
        return self.body[:limit].decode("utf-8", "replace")
