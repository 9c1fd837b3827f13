"""Preemptive-resume priority on a station's replicas (a service with ``preemptive: true``).

A request of strictly better (smaller) priority that arrives at a replica whose slots are all
busy takes the slot of a worse-priority request in service — the worst priority, and among
those the one that started last (it has the least work done to set aside). The preempted
request goes back to the FRONT of its priority level in the replica's waiting line
(:meth:`scaleplan.engine.waiting.PriorityLine.appendleft`) with the work it has left, and
resumes where it stopped when a slot is handed to it again: nothing is lost or repeated
(preemptive-resume, as in Kleinrock 1976, Vol. 2 §3.7; Harchol-Balter 2013, ch. 32).

Work is counted in seconds of an unslowed replica: a stretch of service that starts when the
replica runs ``slowdown`` times slower lasts ``slowdown`` times its work, as a whole service
does without preemption. Only a request's own work is interruptible (a slot held while the
request waits on its calls is not taken), and only while its replica's epoch is the one it
started in (a crash fails what the replica holds, preempted requests included: their turn in
the line fails as every waiting request's does, :func:`scaleplan.engine.protocol.crash`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy
from simpy.events import Event, Timeout

from scaleplan.engine.protocol import Replica, acquire
from scaleplan.engine.waiting import prioritised

__all__ = ["Preemption", "take_slot"]


class _Stretch:
    """One uninterrupted stretch of a request's service on a replica."""

    __slots__ = ("done", "epoch", "preempted", "priority", "running", "slowdown", "started")

    def __init__(
        self,
        env: simpy.Environment,
        replica: Replica,
        priority: int,
        running: list[_Stretch],
    ) -> None:
        self.priority = priority
        self.started = env.now
        self.slowdown = replica.slowdown
        self.epoch = replica.epoch
        self.running = running
        self.preempted = False
        # Succeeds with None when the stretch ends with the work done, or with the event of
        # the request's next turn in the line when it is preempted.
        self.done = Event(env)

    def finish(self, _timeout: Event) -> None:
        if not self.preempted:  # the timer of a preempted stretch is stale: ignore it
            self.running.remove(self)
            self.done.succeed(None)


class Preemption:
    """The requests in service on each replica of one station, ready to be preempted."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.running: dict[Replica, list[_Stretch]] = {}
        self.preemptions = 0

    def acquire(self, replica: Replica, priority: int) -> Event | None:
        """:func:`~scaleplan.engine.protocol.acquire`, but a request that finds every slot busy
        takes the slot of a strictly worse-priority request in service, if there is one
        (``None``: it has a slot now)."""
        if replica.busy >= replica.concurrency:
            victim = self._victim(replica, priority)
            if victim is not None:
                self._preempt(replica, victim)
                return None  # the victim's slot changes hands: busy stays as it is
        return acquire(replica, self.env, priority)

    def _victim(self, replica: Replica, priority: int) -> _Stretch | None:
        worst: _Stretch | None = None
        for stretch in self.running.get(replica, ()):
            if stretch.epoch != replica.epoch or stretch.priority <= priority:
                continue  # from before a crash (its slot is gone), or not worse
            if worst is None or (stretch.priority, stretch.started) >= (
                worst.priority,
                worst.started,
            ):
                worst = stretch
        return worst

    def _preempt(self, replica: Replica, victim: _Stretch) -> None:
        victim.preempted = True
        victim.running.remove(victim)
        turn = Event(self.env)
        line = prioritised(replica)
        # It resumes before the others of its level: the front of the line, or under lifo
        # (which takes the newest) its back.
        (line.append if replica.lifo else line.appendleft)(turn, victim.priority)
        self.preemptions += 1
        victim.done.succeed(turn)

    def serve(
        self, replica: Replica, priority: int, work_s: float
    ) -> Generator[Event, Any, float | None]:
        """Hold the slot for ``work_s`` seconds of work, giving it up to better arrivals and
        resuming when it is handed back; returns the seconds spent preempted (waiting, not
        served), or ``None`` when the replica crashed while the request waited to resume."""
        env = self.env
        running = self.running.setdefault(replica, [])
        paused = 0.0
        while True:
            stretch = _Stretch(env, replica, priority, running)
            running.append(stretch)
            timer = Timeout(env, work_s * stretch.slowdown)
            timer.callbacks.append(stretch.finish)
            turn = yield stretch.done
            if turn is None:
                return paused
            # Work done so far is kept (resume): a same-instant preemption leaves none to do.
            work_s = max(0.0, work_s - (env.now - stretch.started) / stretch.slowdown)
            stopped = env.now
            if not (yield turn):  # the replica crashed while the request waited
                return None
            paused += env.now - stopped


def take_slot(
    preemption: Preemption | None, replica: Replica, env: simpy.Environment, priority: int
) -> Event | None:
    """A slot for a request of ``priority``, by preemption where the station has it."""
    if preemption is None:
        return acquire(replica, env, priority)
    return preemption.acquire(replica, priority)
