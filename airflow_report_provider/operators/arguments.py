"""Which operator arguments are known when the DAG file is parsed, and which arrive only when the task runs.

A value arrives at run time when it is a Jinja template, an XComArg or TaskFlow output (anything Airflow resolves
while rendering template fields), an ``ObjectStoragePath`` whose path is a template, or a list or dict holding one.
Literal values are checked at parse time; the rest after rendering, at execute time, by the same rules.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any


def _is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def is_runtime_value(value: Any) -> bool:
    """True when ``value`` (or anything inside it) is only known once the task runs."""
    if isinstance(value, str):
        return _is_template(value)
    if isinstance(value, os.PathLike):  # ObjectStoragePath: rendered through its path
        return _is_template(str(getattr(value, "path", value)))
    if callable(getattr(value, "resolve", None)):  # XComArg, TaskFlow output, Airflow's LiteralValue
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(is_runtime_value(item) for item in value)
    if isinstance(value, Mapping):
        return any(is_runtime_value(item) for item in value.values())
    return False


def known_at_parse(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments whose values are literals (the others are left out: they are not known yet)."""
    return {name: value for name, value in arguments.items() if not is_runtime_value(value)}


def check_at_parse(check: Callable[[dict[str, Any]], Any], arguments: Mapping[str, Any]) -> None:
    """Run a protocol's argument check on the literal arguments only; raises ``ReportValidationError``."""
    known = known_at_parse(arguments)
    if known:
        check(known)


__all__ = ["check_at_parse", "is_runtime_value", "known_at_parse"]
