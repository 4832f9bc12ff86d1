"""Typed keys for the aiohttp application and request storage."""

from __future__ import annotations

from typing import Any

from aiohttp import web

SIM: Any = web.AppKey("report_simulator", object)
CUT_AFTER: Any = web.RequestKey("report_simulator_cut_after", object) if hasattr(web, "RequestKey") else "cut_after"
RECORD: Any = web.RequestKey("report_simulator_record", object) if hasattr(web, "RequestKey") else "record"
