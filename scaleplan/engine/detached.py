"""Run a generator as a SimPy process that nobody waits for, for two events fewer.

``env.process(generator)`` costs two events besides the ones the generator yields: an
``Initialize`` event that starts it and the process itself, triggered when the generator
returns, so that others may wait for it. A request's life is waited for by nobody:
:class:`Detached` starts the generator at once, in the caller's step, resumes it when each event
it yields is processed, exactly as ``simpy.events.Process`` does (failed events are thrown into
it), and calls ``done(subject, value)`` with its return value instead of triggering an event
(``subject`` saves the caller a closure per request).

Started at once rather than by an urgent ``Initialize`` event at the same instant, a request
reaches its first station in its arrival's step: only the order of what happens at one instant
can change, never a time (the golden run of tests/test_result.py is unchanged).

Not a ``Process``: it cannot be interrupted or yielded. ``env.active_process`` is not set
while it runs (nothing in the engine reads it).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from simpy.events import Event

__all__ = ["Detached"]


class Detached:
    """``generator`` run as a process; ``resume(None)`` starts it."""

    __slots__ = ("done", "generator", "resume", "subject")

    def __init__(
        self,
        generator: Generator[Event, Any, Any],
        done: Callable[[Any, Any], None] | None,
        subject: Any,
    ) -> None:
        self.generator = generator
        self.done = done
        self.subject = subject
        # Bound once: it is registered on every event it waits for (deleted once it is done).
        self.resume = self._resume

    def _resume(self, event: Event | None) -> None:
        generator = self.generator
        try:
            while True:
                if event is None:
                    event = generator.send(None)
                elif event._ok:
                    event = generator.send(event._value)
                else:
                    # As Process does: the generator handles the failure (or fails itself),
                    # with a copy of the exception of its own.
                    event._defused = True
                    failure = event._value
                    copy = type(failure)(*failure.args)
                    copy.__cause__ = failure
                    event = generator.throw(copy)
                callbacks = event.callbacks
                if callbacks is not None:  # not processed yet: go on when it is
                    callbacks.append(self.resume)
                    return
                # Already processed: its value is there, go on at once (as Process does).
        except StopIteration as stop:
            # Its bound resume refers back to it: dropped, the driver is freed now by its
            # reference count rather than by a later garbage collection (one per request
            # otherwise, and the cyclic collector's passes grow with what waits for it).
            del self.resume
            if self.done is not None:
                self.done(self.subject, stop.value)
