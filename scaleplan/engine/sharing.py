"""Processor sharing: the processors of one replica shared equally by the requests in service.

A replica of a ``discipline: ps`` service has ``concurrency`` processors; with ``n`` requests
doing their own work on it, each progresses at rate ``min(1, concurrency / n)`` (the
multi-server processor sharing of Kelly's symmetric queues; with one processor, Kleinrock's
M/G/1-PS). Which requests are admitted to share (``admission_limit``) is the replica's slot
counter in :mod:`scaleplan.engine.protocol`; this module only does the sharing.

One SimPy event per request would need rescheduling every time the rate changes, so a
:class:`SharedProcessor` keeps the remaining work of the requests it holds and one timer, for
the soonest finisher: on every arrival or departure it ages the remaining work by
elapsed × rate and starts a new timer. A superseded timer still fires, but carries an old
token and is ignored.

Utilisation stays what it means for every other discipline, busy processors / processors:
the processors are taken to serve the oldest ``concurrency`` requests present, so a request
"holds a processor" from the time it became one of those (it stays one until it leaves: a
request never moves back in that order) to the end of its work; a short request that
finishes before it became one held none. Those intervals overlap min(n, ``concurrency``)
times at any instant, so their sum is exactly the busy processor-time. The time before it is
the request's wait: by Little's law its mean is E[(N − c)⁺]/λ, which for the symmetric queue
(N distributed as in M/M/c whatever the service distribution; Kelly 1979, §3.3) is Erlang C's
mean wait, and the mean held time is E[min(N, c)]/λ = E[S].
"""

from __future__ import annotations

import simpy
from simpy.events import Event, Timeout

__all__ = ["SharedProcessor"]

# Work (s) below which a request counts as finished when its timer fires: the ageing of
# floating-point remaining work leaves rounding residue of about 1e-16 × the work done.
_DONE_S = 1e-12


class _Job:
    __slots__ = ("done", "promoted", "remaining")

    def __init__(self, done: Event, remaining: float, promoted: float | None):
        self.done = done
        self.remaining = remaining
        self.promoted = promoted  # when it took one of the processors (None: not yet)


class SharedProcessor:
    """``processors`` processors shared equally by the jobs present (processor sharing).

    :meth:`serve` returns the event a request waits for: it succeeds with the time the job
    took a processor (see the module docstring) once its work is done, or at once with the
    current time when the replica crashes (:meth:`crash`; the request then sees the replica's
    new epoch and fails).
    """

    __slots__ = ("env", "jobs", "last", "processors", "token")

    def __init__(self, env: simpy.Environment, processors: int):
        self.env = env
        self.processors = processors
        self.jobs: list[_Job] = []  # in the order they arrived
        self.last = 0.0  # when the remaining work was last aged
        self.token = 0  # the live timer's; older timers are stale

    @property
    def busy(self) -> int:
        """Processors in use now: min(jobs, processors)."""
        return min(len(self.jobs), self.processors)

    def serve(self, work_s: float) -> Event:
        """Start a job of ``work_s`` seconds of work (at full speed)."""
        self._age()
        now = self.env.now
        done = Event(self.env)
        self.jobs.append(_Job(done, work_s, now if len(self.jobs) < self.processors else None))
        self._schedule()
        return done

    def crash(self) -> None:
        """The replica crashed: every job ends now (its request fails on the epoch check)."""
        now = self.env.now
        jobs, self.jobs = self.jobs, []
        self.token += 1
        for job in jobs:
            job.done.succeed(now)

    def _age(self) -> None:
        now = self.env.now
        elapsed = now - self.last
        self.last = now
        if elapsed > 0 and self.jobs:
            progress = elapsed * min(1.0, self.processors / len(self.jobs))
            for job in self.jobs:
                job.remaining -= progress

    def _schedule(self) -> None:
        self.token += 1
        if not self.jobs:
            return
        soonest = min(job.remaining for job in self.jobs)
        rate = min(1.0, self.processors / len(self.jobs))
        timer = Timeout(self.env, max(soonest, 0.0) / rate, value=self.token)
        callbacks = timer.callbacks
        assert callbacks is not None  # a new event's callbacks are a list until it is processed
        callbacks.append(self._fire)

    def _fire(self, timer: Event) -> None:
        if timer.value != self.token:  # superseded by a later arrival or departure
            return
        self._age()
        now = self.env.now
        jobs = self.jobs
        finished = [job for job in jobs if job.remaining <= _DONE_S]
        if not finished:  # rounding left the soonest a hair short: finish it anyway
            finished = [min(jobs, key=lambda job: job.remaining)]
        for job in finished:
            jobs.remove(job)
        # The oldest `processors` jobs hold the processors: promote those that just joined.
        for job in jobs[: self.processors]:
            if job.promoted is None:
                job.promoted = now
        for job in finished:
            job.done.succeed(now if job.promoted is None else job.promoted)
        self._schedule()
