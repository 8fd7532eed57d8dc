"""Following an action to its end: the state Actions.watch/wait and their async twins share.

The watch stream is tried first; when it breaks (or ends early) the caller polls GetAction
every `poll_interval` seconds, through a server restart too. Only status changes are
reported, once each.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc

from pixpress._errors import InvalidOptionsError, PixpressError, WaitTimeoutError
from pixpress._models import Action
from pixpress._validation import check_id, check_timeout

__all__ = ["DEFAULT_POLL_INTERVAL", "Follower", "last_action"]

DEFAULT_POLL_INTERVAL = 1.0

# A watch failing with one of these is worth retrying by polling; any other status (NOT_FOUND,
# UNAUTHENTICATED, ...) would fail GetAction the same way, so it is raised at once.
_STREAM_BROKEN = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.DEADLINE_EXCEEDED,  # the client's default per-call deadline
    }
)
# A poll failing with this is a server restarting (or a network outage): once the action
# was seen the server existed, so poll on until the timeout. Before that, raise at once (a
# wrong address fails fast).
_POLL_AGAIN = frozenset({grpc.StatusCode.UNAVAILABLE})


class Follower:
    """Deadline and last status of one watch; validates its arguments (InvalidOptionsError)."""

    def __init__(
        self,
        action_id: str,
        timeout: float | None,
        poll_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.action_id = check_id("action_id", action_id)
        self._timeout = check_timeout("timeout", timeout)
        interval = check_timeout("poll_interval", poll_interval, allow_none=False)
        if not interval:
            raise InvalidOptionsError(
                f"Expected positive number for poll_interval but received {interval}"
            )
        self._poll_interval = interval
        self._clock = clock
        self._deadline = None if self._timeout is None else clock() + self._timeout
        self.last: Action | None = None

    def remaining(self) -> float | None:
        """Seconds left (never negative), None without a timeout: the next call's deadline."""
        return None if self._deadline is None else max(0.0, self._deadline - self._clock())

    @property
    def done(self) -> bool:
        return self.last is not None and self.last.status.is_terminal

    def changed(self, action: Action) -> bool:
        """Record `action`; True if its status differs from the last one seen (report it)."""
        previous, self.last = self.last, action
        return previous is None or previous.status != action.status

    def watch_failed(self, error: PixpressError) -> None:
        """The watch stream failed: return to poll instead, or raise (the timeout, or an
        error polling would not cure)."""
        if self.remaining() == 0.0:
            raise self.timeout_error() from error
        if error.code not in _STREAM_BROKEN:
            raise error

    def poll_failed(self, error: PixpressError) -> None:
        """A poll failed: raise the timeout if it was ours; return (poll again) while the
        server is unreachable after the action was seen, as during a restart; else raise
        the error itself."""
        if self.remaining() == 0.0:
            raise self.timeout_error() from error
        if error.code not in _POLL_AGAIN or self.last is None:
            raise error

    def next_poll_delay(self) -> float:
        """Seconds to sleep before the next poll; raises WaitTimeoutError once time is up."""
        remaining = self.remaining()
        if remaining == 0.0:
            raise self.timeout_error()
        return self._poll_interval if remaining is None else min(self._poll_interval, remaining)

    def timeout_error(self) -> WaitTimeoutError:
        status = self.last.status.value if self.last is not None else "unknown"
        return WaitTimeoutError(
            f"action {self.action_id} did not finish within {self._timeout or 0:g} s "
            f"(last status: {status})",
            action_id=self.action_id,
            last_action=self.last,
        )


def last_action(action: Action | None, action_id: str) -> Action:
    """The action a finished watch ended on: watch only ends after a terminal status."""
    if action is None or not action.status.is_terminal:  # pragma: no cover - a bug if reached
        raise RuntimeError(f"watch of {action_id} ended before a terminal status")
    return action
