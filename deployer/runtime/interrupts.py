"""What an interrupt (Ctrl-C, or SIGTERM / SIGHUP when the CLI maps them to one) does during an apply.

Before any change it unwinds as usual (KeyboardInterrupt: nothing was changed). Once changes
start, an exception would cut short what must not be cut short: waiting for the bots under way,
the summary, the record, the history entry and the release of the lock; and a KeyboardInterrupt
can land anywhere in the main thread, even between a thread's start and its bookkeeping. From
then on (`defer(callback)`) every interrupt, the second and the tenth too, calls `callback`
instead of raising, and the run ends in its own time with a report of what was and was not done.
The apply flow holds one from the lock to its release; the applier holds one around its actions
(for callers without the flow). Nested, the outer one wins: the inner finds no default handler.

Only signals that would raise KeyboardInterrupt are taken over (their handler is Python's
default_int_handler: SIGINT; SIGTERM and SIGHUP once the CLI maps them), and only in the main thread, where
signal handlers run; elsewhere, or for an ignored signal, nothing changes.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

# Ctrl-C; CI cancelling a job; the terminal or SSH session closed (a hang-up abandons nothing either)
INTERRUPTS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Interrupts:
    """A with-block during which interrupts raise KeyboardInterrupt until `defer` is called."""

    def __init__(self, callback: Callable[[], None] | None = None) -> None:
        self._callback = callback
        self._previous: dict[int, Any] = {}

    def defer(self, callback: Callable[[], None]) -> None:
        """From now on an interrupt calls `callback` (in the main thread, between two bytecodes of
        whatever it was doing: keep it short, take no lock the main thread may hold)."""
        self._callback = callback

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in INTERRUPTS:
            if signal.getsignal(signum) is signal.default_int_handler:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        callback = self._callback
        if callback is None:
            raise KeyboardInterrupt
        callback()
