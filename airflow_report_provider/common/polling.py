"""When to poll next: start near the API's minimum, back off with jitter to a cap, never past the deadline."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from airflow_report_provider.common.states import ReportStatus


@dataclass(frozen=True)
class PollSchedule:
    """An adaptive poll schedule shared by triggers and sensors.

    ``initial`` is the first wait, each next wait is ``factor`` times longer up to ``maximum``; ``jitter`` spreads
    waits by a fraction so that hundreds of triggers started together do not poll in lockstep.
    """

    initial: float
    maximum: float
    factor: float = 1.5
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.initial <= 0:
            raise ValueError("poll_interval must be positive")
        if self.maximum < self.initial:
            object.__setattr__(self, "maximum", self.initial)

    @classmethod
    def for_api(
        cls, *, api_minimum: float, api_maximum: float, poll_interval: float | None = None, max_poll_interval: float | None = None
    ) -> PollSchedule:
        """The API's default schedule, overridden by the user's explicit interval(s).

        An explicit ``poll_interval`` wins: without ``max_poll_interval`` it is a fixed interval.
        """
        if poll_interval is None:
            return cls(api_minimum, max_poll_interval or api_maximum)
        return cls(float(poll_interval), float(max_poll_interval or poll_interval))

    def delay(self, attempt: int, remaining: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before poll number ``attempt + 1`` (``attempt`` counts polls already made)."""
        base = min(self.maximum, self.initial * (self.factor ** max(0, attempt)))
        spread = base * self.jitter
        wait = max(self.initial * (1 - self.jitter), base + (rng or random).uniform(-spread, spread))
        wait = min(wait, self.maximum * (1 + self.jitter))
        if remaining is not None:
            wait = max(0.0, min(wait, remaining))
        return wait


def wait_for_terminal(
    get_status: Callable[[], ReportStatus],
    schedule: PollSchedule,
    deadline: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    on_poll: Callable[[ReportStatus], None] | None = None,
) -> ReportStatus | None:
    """Poll (blocking) until the job is terminal; ``None`` when the deadline passes first."""
    polls = 0
    while True:
        status = get_status()
        polls += 1
        if on_poll is not None:
            on_poll(status)
        if status.state.is_terminal:
            return status
        remaining = deadline - clock()
        if remaining <= 0:
            return None
        sleep(schedule.delay(polls - 1, remaining))
