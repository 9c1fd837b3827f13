"""Seeded random streams: one child generator per purpose, read through a buffer.

One seed gives identical output, and every purpose (arrivals, each component's service times,
routing, dispatch, failures) has its own child generator derived from the seed and the
purpose's name, so two candidates run under the same seed see the same arrivals (common random
numbers) however differently they use their other streams. Values are drawn from numpy in
blocks and handed out one at a time: drawing them singly would cost more than the simulation.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scaleplan.spec.components import KeySpaceSpec

BLOCK = 4096


def generator(seed: int, replication: int, purpose: str) -> np.random.Generator:
    """The child generator of ``purpose`` in replication ``replication`` of ``seed``.

    Examples
    --------
    >>> a = generator(1, 0, "arrivals").random()
    >>> b = generator(1, 0, "arrivals").random()
    >>> a == b, a == generator(1, 0, "service:api").random()
    (True, False)
    """
    key = (replication, zlib.crc32(purpose.encode()))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def buffered(draw: Callable[[int], np.ndarray], block: int = BLOCK) -> Iterator[float]:
    """An endless iterator over ``draw(block)``, refilled a block at a time.

    Built of itertools so that ``next()`` runs in C; Python runs once per block (the engine
    takes a draw or two per visit)."""
    blocks = map(lambda _: draw(block).tolist(), itertools.repeat(None))
    return itertools.chain.from_iterable(blocks)


def uniforms(rng: np.random.Generator) -> Iterator[float]:
    return buffered(rng.random)


def key_sampler(keys: KeySpaceSpec, rng: np.random.Generator) -> Iterator[float]:
    """Key ids drawn from their popularity (0 is the most popular)."""
    cumulative = np.cumsum(keys.probabilities)
    cumulative[-1] = 1.0
    return buffered(lambda n: np.searchsorted(cumulative, rng.random(n), side="right"))
