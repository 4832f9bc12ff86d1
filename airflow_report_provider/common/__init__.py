"""API-agnostic machinery, by job: :mod:`.http` (the client side), :mod:`.landing` (the write path),
:mod:`.observability` (lineage, metrics, progress, redaction), plus report states, exceptions, the poll schedule,
validators and the data-interval -> report-window mapping.

Modules that lived directly in this package before it was split keep their old import paths
(``airflow_report_provider.common.streaming`` is :mod:`.landing.streaming`): the same module object, loaded on
first import.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

#: Old module name -> its home since the split.
MOVED_MODULES = {
    "transport": "http.transport",
    "retry": "http.retry",
    "tokens": "http.tokens",
    "ratelimit": "http.ratelimit",
    "shared_ratelimit": "http.shared_ratelimit",
    "protocol": "http.protocol",
    "http": "http.messages",
    "report_output": "landing.writer",
    "conversion": "landing.conversion",
    "report_parts": "landing.parts",
    "streaming": "landing.streaming",
    "output_settings": "landing.settings",
    "destinations": "landing.destination",
    "resumable_reader": "landing.download",
    "sinks": "landing.sinks",
    "sources": "landing.sources",
    "archives": "landing.archives",
    "formats": "landing.formats",
    "lineage": "observability.lineage",
    "metrics": "observability.metrics",
    "progress": "observability.progress",
    "redaction": "observability.redaction",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``airflow_report_provider.common.<old name>`` (and what lies below it) to the module's new home."""

    def __init__(self, moved: dict[str, str]) -> None:
        self._moved = {f"{__name__}.{old}": f"{__name__}.{new}" for old, new in moved.items() if old != new}

    def _target(self, fullname: str) -> str | None:
        for old, new in self._moved.items():
            if fullname == old or fullname.startswith(old + "."):
                return new + fullname[len(old):]
        return None

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname == f"{__name__}.http":  # the old module's name is now the subpackage's
            return None
        return importlib.machinery.ModuleSpec(fullname, self) if self._target(fullname) else None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        target = self._target(spec.name)
        assert target is not None
        return importlib.import_module(target)

    def exec_module(self, module: ModuleType) -> None:
        """The module was executed under its new name already."""


sys.meta_path.append(_MovedModuleFinder(MOVED_MODULES))
