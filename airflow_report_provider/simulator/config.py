"""Simulator configuration: one dataclass, every field defaulted and tweakable at runtime.

Job timing, sizes and outcomes are captured when a job is created, so changing a field affects the jobs
created afterwards; limits, TTLs, credentials and response shapes apply to the next request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SimulatorConfig:
    """Behaviour of the loopback Criteo MPO and Walmart report APIs."""

    # Credentials (client id -> secret). extra_credentials are accepted by both APIs.
    criteo_client_id: str = "sim-criteo-client"
    criteo_client_secret: str = "sim-criteo-secret"
    walmart_client_id: str = "sim-walmart-client"
    walmart_client_secret: str = "sim-walmart-secret"
    extra_credentials: dict[str, str] = field(default_factory=dict)
    token_lifetime_seconds: float = 900

    # Criteo MPO real-time export
    criteo_job_seconds: float = 2.0
    criteo_job_outcome: str = "Done"  # "Done" | "Failure" | "Expired"
    criteo_rows: int = 50
    criteo_report_bytes: int | None = None  # approximate body size; wins over criteo_rows
    criteo_rate_limit_per_minute: int | None = None  # real API: 40/min per application (reporting)
    criteo_export_ttl_seconds: float = 3600 * 24

    # Walmart on-request reports
    walmart_job_seconds: float = 3.0
    walmart_job_outcome: str = "READY"  # "READY" | "ERROR"
    walmart_file_format: str = "zip"  # "zip" | "gzip" | "plain"
    walmart_rows: int = 50
    walmart_report_bytes: int | None = None  # approximate CSV size; wins over walmart_rows
    walmart_csv_bom: bool = True
    walmart_zip_parts: int = 1  # CSV parts in each zip (rows split evenly, each part with the header)
    walmart_download_files: int = 1  # files the download answer lists (downloadURL + downloadURLs)
    walmart_mismatched_part: bool = False  # the last part's header differs (a broken split report)
    walmart_create_limit_per_hour: int | None = 1  # per report type per client id; 0/None = off
    walmart_status_rate_limit_per_minute: int | None = None  # status, list, downloadReport; per client
    walmart_download_url_ttl_seconds: float = 300
    walmart_retention_seconds: float = 30 * 86400
    walmart_list_page_size: int = 10
    walmart_error_envelope: str = "errors"  # "errors" | "error" | "errors.error"

    # Downloads
    range_support: bool = True
    download_chunk_bytes: int = 64 * 1024
    download_chunk_delay_seconds: float = 0.0  # wait between body chunks of a download (a slow network)

    # Content
    seed: int = 0

    # Base URL written into Walmart download URLs; None = scheme://Host of the downloadReport call
    public_url: str | None = None

    # Bookkeeping
    stats_max_records: int = 200_000  # request records kept in Stats.requests (oldest dropped)

    def secret_for(self, api: str, client_id: str) -> str | None:
        """The secret of `client_id` for `api` ("criteo" or "walmart"), or None if unknown."""
        if api == "criteo" and client_id == self.criteo_client_id:
            return self.criteo_client_secret
        if api == "walmart" and client_id == self.walmart_client_id:
            return self.walmart_client_secret
        return self.extra_credentials.get(client_id)

    def job_settings(self, api: str) -> dict[str, Any]:
        """What a new job of `api` captures: outcome, size (`{api}_rows` / `{api}_report_bytes`) and seed."""
        return {
            "outcome": getattr(self, f"{api}_job_outcome"),
            "rows": getattr(self, f"{api}_rows"),
            "report_bytes": getattr(self, f"{api}_report_bytes"),
            "seed": self.seed,
        }
