"""The polling trigger every API shares.

A trigger carries only the job id, the connection id, the poll settings and an absolute deadline (epoch
seconds), so a triggerer restart rebuilds it from :meth:`serialize` and keeps the same deadline. It polls through
the API's async hook (shared token, shared session, rate limiter), on an adaptive schedule, and emits exactly one
event: ``success``, ``failed``, ``expired``, ``timeout`` or ``error``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from airflow_report_provider.compat import BaseTrigger, TriggerEvent

from airflow_report_provider.common.observability import metrics
from airflow_report_provider.common.exceptions import (
    ApiError,
    RateLimitedError,
    ReportExpiredError,
    ReportNotFoundError,
    ReportProviderError,
    TransportError,
)
from airflow_report_provider.common.polling import PollSchedule
from airflow_report_provider.common.states import EVENT_STATUS_FOR_STATE, EventStatus, ReportStatus
from airflow_report_provider.common.http.transport import SESSIONS
from airflow_report_provider.hooks.base import ReportApiAsyncHook
from airflow_report_provider.operators.report_api import ReportApi

#: Default wait before a trigger gives up, when neither ``timeout`` nor ``deadline`` is given.
DEFAULT_TIMEOUT_SECONDS = 3 * 3600


class ReportJobTrigger(BaseTrigger):
    """Polls one report job until it is terminal or the deadline passes.

    Subclasses set ``api`` (the names and poll guidance the operators and sensors use too) and ``hook_class``,
    and take the job id and connection id under the API's own argument names.

    :param poll_interval: first (and, without ``max_poll_interval``, every) wait between polls, in seconds.
    :param max_poll_interval: cap of the back-off, in seconds.
    :param deadline: epoch seconds after which the trigger emits a ``timeout`` event.
    :param timeout: seconds from now, used when no ``deadline`` is given.
    """

    #: The API: its field names and poll guidance, copied into the class attributes below.
    api: ClassVar[ReportApi]
    #: The API's async hook (its first argument is the connection id).
    hook_class: ClassVar[type[ReportApiAsyncHook]]

    #: Name of the job id in the kwargs and in the event payload ("report_id", "request_id").
    job_id_field: ClassVar[str]
    #: Name of the connection id argument ("criteo_mpo_conn_id", "walmart_conn_id").
    conn_id_field: ClassVar[str]
    #: The API's guidance: first poll interval and the cap of the back-off (seconds).
    api_min_poll_interval: ClassVar[float]
    api_max_poll_interval: ClassVar[float]
    #: Wait before a ``timeout`` event when neither ``timeout`` nor ``deadline`` is given.
    default_timeout_seconds: ClassVar[float] = DEFAULT_TIMEOUT_SECONDS

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        api = cls.__dict__.get("api")
        if api is not None:
            cls.job_id_field, cls.conn_id_field = api.job_id_field, api.conn_id_field
            cls.api_min_poll_interval, cls.api_max_poll_interval = api.min_poll_interval, api.max_poll_interval
            cls.default_timeout_seconds = api.default_timeout

    def __init__(
        self,
        *,
        job_id: str,
        conn_id: str,
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        deadline: float | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.conn_id = conn_id
        # Also under the API's own names ("report_id", "criteo_mpo_conn_id").
        setattr(self, self.job_id_field, job_id)
        setattr(self, self.conn_id_field, conn_id)
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        if deadline is None:
            deadline = time.time() + (self.default_timeout_seconds if timeout is None else float(timeout))
        self.deadline = float(deadline)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                self.job_id_field: self.job_id,
                self.conn_id_field: self.conn_id,
                "poll_interval": self.poll_interval,
                "max_poll_interval": self.max_poll_interval,
                "deadline": self.deadline,
            },
        )

    @property
    def schedule(self) -> PollSchedule:
        return PollSchedule.for_api(
            api_minimum=self.api_min_poll_interval,
            api_maximum=self.api_max_poll_interval,
            poll_interval=self.poll_interval,
            max_poll_interval=self.max_poll_interval,
        )

    def make_hook(self) -> ReportApiAsyncHook:
        """The API's async hook for ``self.conn_id``."""
        return self.hook_class(self.conn_id)

    async def fetch_status(self, hook: ReportApiAsyncHook) -> ReportStatus:
        """One status call through the async hook."""
        return await hook.get_job_status(self.job_id)

    def _event(self, status: EventStatus, message: str, **extra: Any) -> TriggerEvent:
        return TriggerEvent({"status": status.value, "message": message, self.job_id_field: self.job_id, **extra})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until one event; an unexpected failure (a missing connection, a bug) ends in an ``error`` event
        with a readable message instead of crashing the trigger.

        The polling is a coroutine, finished (its HTTP session let go) before the event is yielded: whoever stops
        iterating after the first event (the triggerer, ``dag.test()``) leaves no generator with work to undo.
        """
        try:
            event = await self._poll()
        except Exception as exc:  # CancelledError is a BaseException: it passes through
            self.log.exception("%s %s: the trigger failed", self.job_id_field, self.job_id)
            event = self._event(EventStatus.ERROR, unexpected_error_message(self.job_id_field, self.job_id, exc))
        yield event

    async def _wait(self, seconds: float) -> None:
        """Sleep between polls (one place, so tests can observe the waits)."""
        await asyncio.sleep(seconds)

    def _remaining(self) -> float:
        return self.deadline - time.time()

    async def _poll(self) -> TriggerEvent:
        """The job's one event: terminal status, gone, error or timeout."""
        hook = self.make_hook()
        schedule = self.schedule
        polls = waits = 0
        started = time.monotonic()
        async with SESSIONS.use():
            # The operator has just created or checked the job: the first poll waits the schedule's first delay.
            # The connection is looked up meanwhile: in a triggerer that round trip to the supervisor queues
            # behind its other work when hundreds of triggers start together.
            connection = asyncio.ensure_future(hook.get_transport())
            try:
                await self._wait(max(0.0, min(schedule.delay(waits), self._remaining())))
                await connection
            finally:
                if not connection.done():
                    connection.cancel()  # the trigger was cancelled during its first wait
                elif not connection.cancelled():
                    connection.exception()  # a failure is raised above, or dropped with the trigger: never "unretrieved"
            waits += 1
            while True:
                asked_wait = 0.0  # what a throttled API asked for beyond the transport's own waiting
                try:
                    status = await self.fetch_status(hook)
                except (TransportError, ApiError) as exc:
                    if isinstance(exc, ApiError) and not exc.retryable or _is_gone(exc):
                        expired = isinstance(exc, ReportExpiredError)
                        return self._event(
                            EventStatus.EXPIRED if expired else EventStatus.ERROR,
                            str(exc),
                            code=getattr(exc, "code", None),
                            retryable=exc.retryable,
                        )
                    if isinstance(exc, RateLimitedError) and exc.retry_after:
                        asked_wait = exc.retry_after
                    self.log.warning("%s %s: status check failed (%s); will poll again", self.job_id_field, self.job_id, exc)
                except ReportProviderError as exc:
                    return self._event(EventStatus.ERROR, str(exc))
                else:
                    polls += 1
                    if status.state.is_terminal:
                        event_status = EVENT_STATUS_FOR_STATE[status.state]
                        metrics.job_waited(hook.protocol.api_name, event_status.value, time.monotonic() - started)
                        message = f"{self.job_id_field} {self.job_id} is {status.raw_status}"
                        if status.message:
                            message += f": {status.message}"
                        return self._event(event_status, message, raw_status=status.raw_status, polls=polls)
                    self.log.info("%s %s is %s; polling again", self.job_id_field, self.job_id, status.raw_status)
                remaining = self._remaining()
                if remaining <= 0:
                    return self._event(
                        EventStatus.TIMEOUT,
                        f"{self.job_id_field} {self.job_id} was not ready before the deadline "
                        f"({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(self.deadline))})",
                    )
                delay = max(schedule.delay(waits), asked_wait)
                waits += 1
                await self._wait(min(delay, remaining))


def unexpected_error_message(job_id_field: str, job_id: str, exc: BaseException, limit: int = 300) -> str:
    """A one-line account of an unexpected failure: what was being waited for, the error's type and text."""
    text = " ".join(str(exc).split())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"waiting for {job_id_field} {job_id} failed: {type(exc).__name__}" + (f": {text}" if text else "")


def _is_gone(exc: BaseException) -> bool:
    return isinstance(exc, (ReportNotFoundError, ReportExpiredError))
