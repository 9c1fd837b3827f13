"""Per-call resilience: timeout, retries with backoff, retry budget, circuit breaker, bulkhead.

A :class:`ResilientCall` wraps one call from a caller to a callee. A caller that times out stops
waiting but the callee keeps working on the abandoned request, as real servers do: that is what
lets retry storms and metastable overload appear in the model rather than be assumed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import simpy
from simpy.events import Timeout

from scaleplan.engine.protocol import FAILED, OK, REJECTED, Request, Station, StreamFactory, Visit
from scaleplan.engine.streams import uniforms
from scaleplan.spec.components import CallSpec, CircuitBreakerSpec

# A retry budget's bucket holds at most this many retries saved up, so a long quiet spell
# cannot pay for a storm (gRPC's retry throttling caps its tokens the same way).
MAX_RETRY_TOKENS = 10.0


class CircuitBreaker:
    """Closed, open or half-open, over a count-based window of the latest outcomes."""

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(self, spec: CircuitBreakerSpec):
        self.spec = spec
        self.state = self.CLOSED
        self.outcomes: deque[bool] = deque(maxlen=spec.window)
        self.failures = 0
        self.open_until = 0.0
        self.trials = 0
        self.trial_successes = 0
        self.opened = 0

    def allow(self, now: float) -> bool:
        if self.state == self.OPEN:
            if now < self.open_until:
                return False
            self.state, self.trials, self.trial_successes = self.HALF_OPEN, 0, 0
        if self.state == self.HALF_OPEN:
            if self.trials >= self.spec.half_open_calls:
                return False
            self.trials += 1
        return True

    def record(self, success: bool, now: float) -> None:
        if self.state == self.HALF_OPEN:
            if not success:
                self._open(now)
                return
            self.trial_successes += 1
            if self.trial_successes >= self.spec.half_open_calls:
                self.state = self.CLOSED
                self.outcomes.clear()
                self.failures = 0
            return
        if self.state == self.OPEN:
            return  # a late answer to a call made before the breaker opened
        if len(self.outcomes) == self.outcomes.maxlen and not self.outcomes[0]:
            self.failures -= 1
        self.outcomes.append(success)
        if not success:
            self.failures += 1
        window = len(self.outcomes)
        if window >= self.spec.min_calls and self.failures / window >= self.spec.failure_ratio:
            self._open(now)

    def _open(self, now: float) -> None:
        self.state = self.OPEN
        self.open_until = now + self.spec.open_s
        self.outcomes.clear()
        self.failures = 0
        self.opened += 1


class ResilientCall:
    """One caller's policy for calling one callee."""

    def __init__(
        self,
        env: simpy.Environment,
        label: str,
        spec: CallSpec,
        target: Station,
        streams: StreamFactory,
    ):
        self.env = env
        self.label = label.split("#")[0]
        self.target = target
        self.timeout_s = spec.timeout_ms / 1000 if spec.timeout_ms is not None else None
        self.retry = spec.retries
        self.breaker = (
            CircuitBreaker(spec.circuit_breaker) if spec.circuit_breaker is not None else None
        )
        self.bulkhead = spec.bulkhead
        self.jitter: Iterator[float] = uniforms(streams(f"jitter:{label}"))
        self.in_flight = 0
        self.tokens = MAX_RETRY_TOKENS
        self.counts = {
            "calls": 0,
            "attempts": 0,
            "retries": 0,
            "timeouts": 0,
            "short_circuited": 0,
            "bulkhead_rejected": 0,
            "budget_exhausted": 0,
        }

    def figures(self) -> dict[str, Any]:
        figures: dict[str, Any] = dict(self.counts)
        if self.breaker is not None:
            figures["breaker_opened"] = self.breaker.opened
            figures["breaker_state"] = self.breaker.state
        return figures

    def _backoff_s(self, retry: int) -> float:
        assert self.retry is not None
        base = self.retry.backoff_ms / 1000 * self.retry.multiplier ** (retry - 1)
        if self.retry.jitter == "full":
            return base * next(self.jitter)
        if self.retry.jitter == "equal":
            return base * (0.5 + 0.5 * next(self.jitter))
        return base

    def attempt(self, request: Request) -> Visit:
        env = self.env
        counts = self.counts
        if self.breaker is not None and not self.breaker.allow(env.now):
            counts["short_circuited"] += 1
            request.error(self.label, FAILED)
            return FAILED
        if self.bulkhead is not None and self.in_flight >= self.bulkhead:
            counts["bulkhead_rejected"] += 1
            request.error(self.label, REJECTED)
            return REJECTED
        counts["attempts"] += 1
        self.in_flight += 1
        if self.timeout_s is None:
            status = yield from self.target.visit(request)
        else:
            # The callee works in a process of its own, so that the caller can stop waiting;
            # it carries the same request, so what it does is still the request's.
            work = env.process(self.target.visit(request))
            outcome = yield work | Timeout(env, self.timeout_s)
            if work in outcome:
                status = outcome[work]
            else:
                counts["timeouts"] += 1
                status = FAILED  # the callee goes on with the abandoned request
                request.error(self.label, FAILED)
        self.in_flight -= 1
        if self.breaker is not None:
            self.breaker.record(status == OK, env.now)
        return status

    def call(self, request: Request) -> Visit:
        counts = self.counts
        counts["calls"] += 1
        retry = self.retry
        if retry is not None and retry.budget is not None:
            self.tokens = min(MAX_RETRY_TOKENS, self.tokens + retry.budget)
        status = yield from self.attempt(request)
        retries = 0
        while status != OK and retry is not None and retries < retry.max:
            if retry.budget is not None:
                if self.tokens < 1.0:
                    counts["budget_exhausted"] += 1
                    break
                self.tokens -= 1.0
            retries += 1
            counts["retries"] += 1
            request.attempt += 1
            yield Timeout(self.env, self._backoff_s(retries))
            status = yield from self.attempt(request)
        return status
