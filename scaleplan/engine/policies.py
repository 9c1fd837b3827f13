"""Load-balancing policies: how a caller picks one of several endpoints.

Each policy is one small class with ``choose() -> index``; it reads the current load of each
endpoint through a callable so it stays ignorant of what an endpoint is. Adding a policy touches
this file only: write the class and add it to :data:`POLICIES`; a policy with a parameter (``d``)
takes it as a keyword, and :func:`make_policy` hands it over.

What the load-aware policies count, in this model: ``load(i)`` is the requests in service plus
those waiting at endpoint i (its queue in the textbook sense, Haight 1958, Winston 1977).
``least_connections`` compares ``load(i) / weight(i)`` and breaks ties in turn (a rotating
start), as nginx and Envoy do; ``join_shortest_queue`` is the textbook rule: ``load(i)``
itself, weights ignored, ties broken uniformly at random. With equal weights the two count the
same thing and differ only in how they break ties; over identical exponential replicas the
tie-break does not change the distribution of the queue lengths, so they have the same mean.
``power_of_d`` samples ``d`` distinct endpoints (by weight) and joins the least loaded per unit
weight (Mitzenmacher 2001; Vvedenskaya, Dobrushin & Karpelevich 1996); ``power_of_two`` is its
``d = 2`` case, kept as its own class so its random-number use never changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from scaleplan.engine.streams import uniforms


class Policy:
    """Picks an endpoint index; ``load(i)`` is endpoint i's requests in service or waiting."""

    def __init__(
        self,
        weights: Sequence[float],
        load: Callable[[int], int],
        rng: np.random.Generator,
    ):
        self.load = load
        self.uniform: Iterator[float] = uniforms(rng)
        self.resize(weights)

    def resize(self, weights: Sequence[float]) -> None:
        """The endpoints changed (autoscaling): take their new weights."""
        total = float(sum(weights))
        self.weights = [weight / total for weight in weights]
        self.count = len(weights)
        self.cumulative = np.cumsum(self.weights).tolist()
        self.cumulative[-1] = 1.0

    def choose(self) -> int:
        raise NotImplementedError

    def _weighted_random(self) -> int:
        u = next(self.uniform)
        for index, edge in enumerate(self.cumulative):
            if u < edge:
                return index
        return self.count - 1


class RoundRobin(Policy):
    """Smooth weighted round robin (as nginx): equal weights give a plain rotation."""

    def __init__(
        self, weights: Sequence[float], load: Callable[[int], int], rng: np.random.Generator
    ):
        self.next_index = 0
        super().__init__(weights, load, rng)

    def resize(self, weights: Sequence[float]) -> None:
        super().resize(weights)
        self.current = [0.0] * self.count
        self.next_index %= self.count
        self.equal = len(set(self.weights)) == 1

    def choose(self) -> int:
        if self.equal:
            index = self.next_index
            self.next_index = (index + 1) % self.count
            return index
        current = self.current
        for index, weight in enumerate(self.weights):
            current[index] += weight
        best = max(range(self.count), key=current.__getitem__)
        current[best] -= 1.0
        return best


class Random(Policy):
    """Each request to an endpoint drawn at random in proportion to the weights."""

    def choose(self) -> int:
        return self._weighted_random()


class LeastConnections(Policy):
    """The endpoint with the fewest requests per unit weight; ties go round in turn."""

    def __init__(
        self, weights: Sequence[float], load: Callable[[int], int], rng: np.random.Generator
    ):
        self.start = 0
        super().__init__(weights, load, rng)

    def resize(self, weights: Sequence[float]) -> None:
        super().resize(weights)
        self.start %= self.count

    def choose(self) -> int:
        count, load, weights = self.count, self.load, self.weights
        start = self.start
        self.start = (start + 1) % count
        best, best_score = start, load(start) / weights[start]
        for offset in range(1, count):
            index = (start + offset) % count
            score = load(index) / weights[index]
            if score < best_score:
                best, best_score = index, score
        return best


class PowerOfTwo(Policy):
    """Two endpoints drawn at random; the less loaded one wins (Mitzenmacher's two choices).

    The ``d = 2`` case of :class:`PowerOfD` in distribution; it keeps its own draws (rejection
    of a repeated endpoint) so that results recorded with it never change.
    """

    def choose(self) -> int:
        first = self._weighted_random()
        if self.count == 1:
            return first
        second = self._weighted_random()
        while second == first:
            second = self._weighted_random()
        load, weights = self.load, self.weights
        return first if load(first) / weights[first] <= load(second) / weights[second] else second


class PowerOfD(Policy):
    """``d`` distinct endpoints sampled by weight; the least loaded per unit weight wins.

    The sample is drawn without replacement, each pick in proportion to the weights of the
    endpoints not yet picked (exactly ``min(d, n)`` uniforms; with equal weights a partial
    Fisher–Yates shuffle, so a uniformly random ordered sample). A tie goes to the endpoint
    sampled first, which is uniformly random among the tied ones when the weights are equal.
    When ``d`` is at least the endpoints in rotation (autoscaling or crashes can shrink them)
    every endpoint is compared: join the shortest queue per unit weight.

    References: M. Mitzenmacher, "The power of two choices in randomized load balancing", IEEE
    TPDS 12(10), 2001; N. D. Vvedenskaya, R. L. Dobrushin, F. I. Karpelevich, "Queueing system
    with selection of the shortest of two queues: an asymptotic approach", Problems of
    Information Transmission 32(1), 1996.
    """

    def __init__(
        self,
        weights: Sequence[float],
        load: Callable[[int], int],
        rng: np.random.Generator,
        *,
        d: int = 2,
    ):
        if d < 1:
            raise ValueError(f"d must be at least 1 (got {d})")
        self.d = d
        super().__init__(weights, load, rng)

    def resize(self, weights: Sequence[float]) -> None:
        super().resize(weights)
        self.equal = len(set(self.weights)) == 1
        self.order = list(range(self.count))  # reshuffled in place, partially, per choice

    def sample(self) -> list[int]:
        """``min(d, n)`` distinct endpoints, in the order they were drawn."""
        count = self.count
        picks = min(self.d, count)
        uniform = self.uniform
        if self.equal:
            order = self.order
            for position in range(picks):
                other = position + int(next(uniform) * (count - position))
                order[position], order[other] = order[other], order[position]
            return order[:picks]
        weights = self.weights
        chosen: list[int] = []
        remaining = 1.0
        for _ in range(picks):
            target = next(uniform) * remaining
            pick = -1
            for index in range(count):
                if index in chosen:
                    continue
                pick = index
                target -= weights[index]
                if target < 0:
                    break
            chosen.append(pick)
            remaining -= weights[pick]
        return chosen

    def choose(self) -> int:
        if self.count == 1:
            return 0
        load, weights = self.load, self.weights
        best, best_score = -1, math.inf
        for index in self.sample():
            score = load(index) / weights[index]
            if score < best_score:
                best, best_score = index, score
        return best


class JoinShortestQueue(Policy):
    """The textbook join-the-shortest-queue: the endpoint with the fewest requests in service
    or waiting, weights ignored, ties broken uniformly at random.

    It differs from :class:`LeastConnections` only in ignoring the weights (least connections
    divides by them) and in breaking ties at random (least connections takes them in turn):
    with equal weights the two count the same thing.

    References: F. A. Haight, "Two queues in parallel", Biometrika 45, 1958; W. Winston,
    "Optimality of the shortest line discipline", J. Appl. Prob. 14(1), 1977.
    """

    def choose(self) -> int:
        load = self.load
        best = load(0)
        tied = [0]
        for index in range(1, self.count):
            value = load(index)
            if value < best:
                best, tied = value, [index]
            elif value == best:
                tied.append(index)
        if len(tied) == 1:
            return tied[0]
        return tied[min(int(next(self.uniform) * len(tied)), len(tied) - 1)]


POLICIES: dict[str, type[Policy]] = {
    "round_robin": RoundRobin,
    "random": Random,
    "least_connections": LeastConnections,
    "power_of_two": PowerOfTwo,
    "power_of_d": PowerOfD,
    "join_shortest_queue": JoinShortestQueue,
}
#: The policies that take ``d``.
SAMPLING = ("power_of_d",)


def make_policy(
    name: str,
    weights: Sequence[float],
    load: Callable[[int], int],
    rng: np.random.Generator,
    d: int = 2,
) -> Policy:
    """The policy called ``name``; ``d`` goes to the policies that sample (``power_of_d``)."""
    if name in SAMPLING:
        return PowerOfD(weights, load, rng, d=d)
    return POLICIES[name](weights, load, rng)
