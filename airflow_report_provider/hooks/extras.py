"""Connection extras every hook reads, parsed and validated in one place.

Each extra is declared once here and in ``conn-fields`` of :mod:`airflow_report_provider.get_provider_info`
(a test keeps the two in step); a bad value raises :class:`ReportValidationError` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from airflow_report_provider.common.exceptions import ReportValidationError

Parser = Callable[[str, Any], Any]


def _fail(field: str, rule: str, value: Any) -> ReportValidationError:
    return ReportValidationError(field, rule, value)


def number(minimum: float = 0.0) -> Parser:
    """A number (int, float or numeric string) of at least ``minimum``."""

    def parse(field: str, value: Any) -> float:
        try:
            parsed = float(value)
        except (TypeError, ValueError):
            raise _fail(field, "must be a number", value) from None
        if isinstance(value, bool) or parsed != parsed or parsed < minimum:
            raise _fail(field, f"must be a number >= {minimum:g}", value)
        return parsed

    return parse


def whole(minimum: int = 0) -> Parser:
    """A whole number of at least ``minimum``."""

    def parse(field: str, value: Any) -> int:
        parsed = number(minimum)(field, value)
        if parsed != int(parsed):
            raise _fail(field, "must be a whole number", value)
        return int(parsed)

    return parse


def boolean(field: str, value: Any) -> bool:
    """true/false, yes/no, on/off, 1/0 (strings or JSON booleans)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise _fail(field, "must be true or false", value)


def text(field: str, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise _fail(field, "must be a non-empty string", value)
    return value.strip()


def url(*schemes: str) -> Parser:
    """A URL with one of ``schemes`` and a host (``memory://`` needs none)."""

    def parse(field: str, value: Any) -> str:
        raw = text(field, value)
        parts = urlsplit(raw)
        if parts.scheme not in schemes or (not parts.hostname and parts.scheme != "memory"):
            # Shown without its credentials: a storage or proxy URL may carry a password.
            shown = f"{parts.scheme}://{parts.hostname or ''}" if parts.scheme else "<not a URL>"
            raise _fail(field, f"must be a URL starting with one of {', '.join(s + '://' for s in schemes)}", shown)
        return raw

    return parse


def one_of(*choices: str) -> Parser:
    def parse(field: str, value: Any) -> str:
        raw = text(field, value).lower()
        if raw not in choices:
            raise _fail(field, f"must be one of {', '.join(choices)}", value)
        return raw

    return parse


#: Extras both connection types accept.
COMMON_EXTRAS: dict[str, Parser] = {
    "max_calls_per_minute": number(0),
    "verify_ssl": boolean,
    "max_retries": whole(0),
    "retry_base_delay": number(0),
    "retry_max_delay": number(0),
    "proxy": url("http", "https", "socks5"),
    "rate_limit_storage": url("redis", "rediss", "redis+sentinel", "redis+cluster", "memcached", "memory", "mongodb"),
}


def parse_extras(extra: Mapping[str, Any], declared: Mapping[str, Parser], conn_id: str) -> dict[str, Any]:
    """The declared extras that are set (not ``None`` / empty), parsed; every error names the field."""
    parsed: dict[str, Any] = {}
    for name, parse in declared.items():
        value = extra.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            parsed[name] = parse(name, value)
        except ReportValidationError as exc:
            raise ReportValidationError(f"connection {conn_id!r} extra {name}", exc.rule, exc.value) from None
    return parsed
