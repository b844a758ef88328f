"""Whether the Visdom server answers, and when to ask it again.

A server that stops answering is not asked again at once: attempts are spaced out (0.5 s
doubling to 30 s), so that a dead server costs the sender thread almost nothing and a
restarting one is not hammered.  Deadlines are plain ``time.monotonic()`` values (None: no
limit); the helpers here turn them into request timeouts.
"""

from __future__ import annotations

import time

RETRY_FIRST = 0.5
RETRY_MAX = 30.0


def expired(deadline: float | None, margin: float = 0.0) -> bool:
    """Whether ``deadline`` has passed, or comes within ``margin`` seconds."""
    return deadline is not None and time.monotonic() + margin >= deadline


def within(seconds: float, deadline: float | None, least: float = 0.05) -> float:
    """``seconds``, shortened so as to end by ``deadline`` (but at least ``least``)."""
    if deadline is None:
        return seconds
    return max(least, min(seconds, deadline - time.monotonic()))


class Connection:
    """The state of the link to one server: up, or down since when and until when."""

    def __init__(self) -> None:
        self.connected = False
        self.down_since: float | None = None
        self.outages = 0
        self._retry_at = 0.0
        self._backoff = RETRY_FIRST

    def may_try(self, force: bool = False) -> bool:
        """Whether an attempt to reconnect is due (``force``: regardless of the back-off)."""
        return self.connected or force or time.monotonic() >= self._retry_at

    def up(self) -> float | None:
        """The server answered; returns how long it was down (None if it was not)."""
        down_for = None if self.down_since is None else time.monotonic() - self.down_since
        self.connected = True
        self.down_since = None
        self._backoff = RETRY_FIRST
        return down_for

    def down(self) -> bool:
        """The server did not answer; returns True when this starts a new outage."""
        now = time.monotonic()
        self.connected = False
        started = self.down_since is None
        if started:
            self.down_since = now
            self._backoff = RETRY_FIRST
            self.outages += 1
        else:
            self._backoff = min(self._backoff * 2, RETRY_MAX)
        self._retry_at = now + self._backoff
        return started


__all__ = ["Connection", "RETRY_FIRST", "RETRY_MAX", "expired", "within"]
