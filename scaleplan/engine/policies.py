"""Load-balancing policies: how a caller picks one of several endpoints.

Each policy is one small class with ``choose() -> index``; it reads the current load of each
endpoint through a callable so it stays ignorant of what an endpoint is. Adding a policy touches
this file only: write the class and add it to :data:`POLICIES`.
"""

from __future__ import annotations

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
    """Two endpoints drawn at random; the less loaded one wins (Mitzenmacher's two choices)."""

    def choose(self) -> int:
        first = self._weighted_random()
        if self.count == 1:
            return first
        second = self._weighted_random()
        while second == first:
            second = self._weighted_random()
        load, weights = self.load, self.weights
        return first if load(first) / weights[first] <= load(second) / weights[second] else second


POLICIES: dict[str, type[Policy]] = {
    "round_robin": RoundRobin,
    "random": Random,
    "least_connections": LeastConnections,
    "power_of_two": PowerOfTwo,
}
