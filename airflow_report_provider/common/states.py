"""Report job states shared by every API, and the status values of trigger events."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class ReportState(str, Enum):
    """Where a report job stands, whatever the API calls it."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in (ReportState.SUCCEEDED, ReportState.FAILED, ReportState.EXPIRED)


class EventStatus(str, Enum):
    """The ``status`` of a trigger event's payload."""

    SUCCESS = "success"
    FAILED = "failed"
    EXPIRED = "expired"
    TIMEOUT = "timeout"
    ERROR = "error"


#: The event status a terminal report state ends in.
EVENT_STATUS_FOR_STATE = {
    ReportState.SUCCEEDED: EventStatus.SUCCESS,
    ReportState.FAILED: EventStatus.FAILED,
    ReportState.EXPIRED: EventStatus.EXPIRED,
}


@dataclass(frozen=True)
class ReportStatus:
    """A parsed status answer: the job id, the normalised state and the API's own words."""

    job_id: str
    state: ReportState
    raw_status: str
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
