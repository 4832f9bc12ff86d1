"""The Criteo MPO export request: a validated, normalised value and the JSON body, digest and file type it implies."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_report_provider.apis.criteo_mpo.validation import ARGUMENT_CHECKS, FILE_FORMATS, check_arguments
from airflow_report_provider.common.validation import format_utc

CONTENT_TYPES: dict[str, str] = {"csv": "text/csv", "json": "application/json"}
RESOURCE_TYPE = "RealTimeProductReportJob"

#: Operator argument -> the request field holding it, where the names differ.
_FIELD_OF_ARGUMENT = {"report_start": "start_date", "report_end": "end_date"}


def _field(argument: str) -> str:
    return _FIELD_OF_ARGUMENT.get(argument, argument)


@dataclass(frozen=True)
class CriteoReportRequest:
    """A validated MPO real-time export request.

    Construction validates and normalises every field (errors name the operator's argument); :meth:`build`
    takes the operator's argument names and raw values (lists, ISO strings, numeric strings).
    """

    advertiser_ids: tuple[str, ...]
    campaign_ids: tuple[str, ...] = ()
    seller_ids: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    file_format: str = "csv"
    lookback_window: int | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    timezone: str | None = None
    currency: str | None = None
    partner_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        values = check_arguments({argument: getattr(self, _field(argument)) for argument in ARGUMENT_CHECKS})
        for argument, value in values.items():
            object.__setattr__(self, _field(argument), value)

    @classmethod
    def build(cls, **arguments: Any) -> CriteoReportRequest:
        """Validate the operator's raw arguments, those of :data:`ARGUMENT_CHECKS` (``advertiser_ids`` required,
        ``report_start`` / ``report_end`` for an absolute window, the rest optional with the field defaults).

        Raises :class:`ReportValidationError` naming the argument, :class:`TypeError` for an unknown argument.
        """
        unknown = [argument for argument in arguments if argument not in ARGUMENT_CHECKS]
        if unknown:
            raise TypeError(f"CriteoReportRequest.build() got an unexpected keyword argument {unknown[0]!r}")
        if "advertiser_ids" not in arguments:
            raise TypeError("CriteoReportRequest.build() missing 1 required keyword-only argument: 'advertiser_ids'")
        return cls(**{_field(argument): value for argument, value in arguments.items()})

    def attributes(self) -> dict[str, Any]:
        """The ``RealTimeProductReportJob`` attributes, spelled as the spec spells them; unset fields omitted."""
        attributes: dict[str, Any] = {
            "advertiserIds": list(self.advertiser_ids),
            "campaignIds": list(self.campaign_ids),
            "sellerIds": list(self.seller_ids),
            "partnerIds": list(self.partner_ids),
            "dimensions": list(self.dimensions),
            "metrics": list(self.metrics),
            "fileFormat": FILE_FORMATS[self.file_format],
            "lookbackWindow": self.lookback_window,
            "startDate": format_utc(self.start_date) if self.start_date else None,
            "endDate": format_utc(self.end_date) if self.end_date else None,
            "timezone": self.timezone,
            "currency": self.currency,
        }
        return {key: value for key, value in attributes.items() if value not in (None, [])}

    def body(self) -> dict[str, Any]:
        """The JSON body of the create call."""
        return {"data": {"type": RESOURCE_TYPE, "attributes": self.attributes()}}

    def fingerprint(self) -> str:
        """A stable digest of the body: tells a retried task whether a stored job id is for this same request."""
        canonical = json.dumps(self.body(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def file_extension(self) -> str:
        return self.file_format

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.file_format]

    def describe(self) -> str:
        """A short description for logs, e.g. ``csv export for advertisers 123, 456 over the last 60 minutes``."""
        shown = ", ".join(self.advertiser_ids[:5])
        if len(self.advertiser_ids) > 5:
            shown += f" (+{len(self.advertiser_ids) - 5} more)"
        noun = "advertiser" if len(self.advertiser_ids) == 1 else "advertisers"
        if self.lookback_window is not None:
            window = f"over the last {self.lookback_window} minutes"
        else:
            end = format_utc(self.end_date) if self.end_date else "now"
            window = f"from {format_utc(self.start_date)} to {end}"  # type: ignore[arg-type]
        zone = f" ({self.timezone})" if self.timezone else ""
        return f"Criteo MPO {self.file_format} export for {noun} {shown} {window}{zone}"
