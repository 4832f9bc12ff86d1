"""The HTTP client side every API shares: request and answer values, the sync and async transports, retry
decisions, access tokens and rate limits (per process and per deployment)."""

from typing import Any

#: Names of the module ``common.http`` held before it became this package (now :mod:`.messages`).
_MESSAGE_NAMES = frozenset({"Headers", "HttpRequest", "HttpResponse"})


def __getattr__(name: str) -> Any:
    if name in _MESSAGE_NAMES:
        from airflow_report_provider.common.http import messages

        return getattr(messages, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
