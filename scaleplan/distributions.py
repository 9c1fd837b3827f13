"""Service-time distributions: their spec (validated fields) and how to sample them.

Each distribution is one small frozen pydantic class with the same three members:
``mean_ms`` (a property where the user gave other parameters), ``scv`` (squared coefficient
of variation, what the analytic referee needs) and ``sample(rng, n)`` (an array of ``n``
values in milliseconds). Adding a distribution touches this file only: define the class and
add it to :data:`Distribution`.

The module does not own where the streams come from (the engine seeds them) nor how the
values are used.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    model_validator,
)
from scipy.special import ndtri

from scaleplan.paths import read_number_column, resolve_reference
from scaleplan.spec.base import CV, MAX_SECONDS, Milliseconds

# z of the 99th percentile of the standard normal, used to fit a lognormal to p50 and p99.
_Z99 = float(ndtri(0.99))


class _DistributionBase(BaseModel):
    # As scaleplan.spec.base.StrictModel (not imported: the spec package imports this module):
    # unknown keys, and numbers that are not finite, refused.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @property
    def mean_s(self) -> float:
        return self.mean_value_ms() / 1000.0

    def mean_value_ms(self) -> float:
        raise NotImplementedError

    @property
    def scv(self) -> float:
        """Squared coefficient of variation (variance / mean²)."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent values in milliseconds."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.dist_name()} mean {self.mean_value_ms():g} ms, cv {math.sqrt(self.scv):.2g}"

    def dist_name(self) -> str:
        return str(getattr(self, "dist", type(self).__name__))


class Exponential(_DistributionBase):
    dist: Literal["exponential"]
    mean_ms: Milliseconds

    def mean_value_ms(self) -> float:
        return self.mean_ms

    @property
    def scv(self) -> float:
        return 1.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_ms, n)


class Constant(_DistributionBase):
    dist: Literal["constant"]
    mean_ms: Milliseconds

    def mean_value_ms(self) -> float:
        return self.mean_ms

    @property
    def scv(self) -> float:
        return 0.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.mean_ms)


class Uniform(_DistributionBase):
    """Uniform on [low_ms, high_ms]; or give ``mean_ms`` and ``cv`` (cv at most 1/√3)."""

    dist: Literal["uniform"]
    low_ms: float | None = Field(default=None, ge=0, le=MAX_SECONDS * 1e3)
    high_ms: Milliseconds | None = None
    mean_ms: Milliseconds | None = None
    cv: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds_or_moments(self) -> Uniform:
        bounds = (self.low_ms, self.high_ms)
        if any(value is not None for value in bounds) and (
            self.mean_ms is not None or self.cv is not None
        ):
            raise ValueError("give either low_ms and high_ms, or mean_ms and cv, not both")
        if (self.low_ms is None) != (self.high_ms is None):
            raise ValueError("give both low_ms and high_ms")
        if self.low_ms is not None and self.high_ms is not None:
            if self.high_ms <= self.low_ms:
                raise ValueError(
                    f"high_ms must be greater than low_ms (got {self.low_ms} and {self.high_ms})"
                )
        elif self.mean_ms is not None:
            # A uniform on [0, 2m] has the largest cv a non-negative uniform can have.
            if self.cv is not None and self.cv > 1 / math.sqrt(3) + 1e-12:
                raise ValueError(f"a uniform's cv is at most 1/√3 ≈ 0.577 (got {self.cv})")
        else:
            raise ValueError("give low_ms and high_ms, or mean_ms (and cv)")
        return self

    def _bounds(self) -> tuple[float, float]:
        if self.low_ms is not None and self.high_ms is not None:
            return self.low_ms, self.high_ms
        mean = float(self.mean_ms or 0.0)
        half_width = math.sqrt(3) * (self.cv if self.cv is not None else 1 / math.sqrt(3)) * mean
        return mean - half_width, mean + half_width

    def mean_value_ms(self) -> float:
        low, high = self._bounds()
        return (low + high) / 2

    @property
    def scv(self) -> float:
        low, high = self._bounds()
        mean = (low + high) / 2
        return ((high - low) ** 2 / 12) / mean**2

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        low, high = self._bounds()
        return rng.uniform(low, high, n)


class Lognormal(_DistributionBase):
    """Lognormal given by ``mean_ms`` and ``cv``, or by the percentiles ``p50_ms``, ``p99_ms``."""

    dist: Literal["lognormal"]
    mean_ms: Milliseconds | None = None
    cv: CV | None = None
    p50_ms: Milliseconds | None = None
    p99_ms: Milliseconds | None = None

    @model_validator(mode="after")
    def _one_parameterisation(self) -> Lognormal:
        moments = (self.mean_ms, self.cv)
        percentiles = (self.p50_ms, self.p99_ms)
        by_moments = all(value is not None for value in moments)
        by_percentiles = all(value is not None for value in percentiles)
        mixed = any(value is not None for value in (*moments, *percentiles)) and not (
            (by_moments and all(value is None for value in percentiles))
            or (by_percentiles and all(value is None for value in moments))
        )
        if mixed or by_moments == by_percentiles:
            raise ValueError("give either mean_ms and cv, or p50_ms and p99_ms")
        if (
            by_percentiles
            and self.p99_ms is not None
            and self.p50_ms is not None
            and self.p99_ms <= self.p50_ms
        ):
            raise ValueError(
                f"p99_ms must be greater than p50_ms (got {self.p50_ms} and {self.p99_ms})"
            )
        return self

    def _mu_sigma(self) -> tuple[float, float]:
        if self.p50_ms is not None and self.p99_ms is not None:
            sigma = math.log(self.p99_ms / self.p50_ms) / _Z99
            return math.log(self.p50_ms), sigma
        assert self.mean_ms is not None and self.cv is not None
        sigma2 = math.log1p(self.cv**2)
        return math.log(self.mean_ms) - sigma2 / 2, math.sqrt(sigma2)

    def mean_value_ms(self) -> float:
        mu, sigma = self._mu_sigma()
        return math.exp(mu + sigma**2 / 2)

    @property
    def scv(self) -> float:
        _, sigma = self._mu_sigma()
        return math.expm1(sigma**2)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        mu, sigma = self._mu_sigma()
        return rng.lognormal(mu, sigma, n)


class Gamma(_DistributionBase):
    dist: Literal["gamma"]
    mean_ms: Milliseconds
    cv: CV

    def mean_value_ms(self) -> float:
        return self.mean_ms

    @property
    def scv(self) -> float:
        return self.cv**2

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shape = 1 / self.cv**2
        return rng.gamma(shape, self.mean_ms / shape, n)


class Empirical(_DistributionBase):
    """Resampling of observed values: inline ``samples_ms`` or a CSV ``file`` (one value a row,
    the first column; a header row is skipped). A relative ``file`` is read next to the spec,
    and it must lie in the spec's folder tree (:mod:`scaleplan.paths`)."""

    dist: Literal["empirical"]
    samples_ms: tuple[Milliseconds, ...] | None = None
    file: str | None = None
    # The values read from ``file``; kept private so that dumping and re-validating a spec
    # (sweeps, widgets) reads the file again rather than meeting both keys at once.
    _loaded: tuple[float, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _samples_or_file(self, info: ValidationInfo) -> Empirical:
        if (self.samples_ms is None) == (self.file is None):
            raise ValueError("give either samples_ms or file")
        if self.file is not None:
            base = Path((info.context or {}).get("base_dir", "."))
            self._loaded = _read_samples(resolve_reference(self.file, base))
        else:
            self._loaded = tuple(self.samples_ms or ())
        if len(self._loaded) < 2:
            raise ValueError(f"needs at least 2 samples (got {len(self._loaded)})")
        return self

    @property
    def values(self) -> tuple[float, ...]:
        """The samples (in ms), inline or as read from ``file``."""
        return self._loaded

    def _values(self) -> np.ndarray:
        return np.asarray(self._loaded, dtype=float)

    def mean_value_ms(self) -> float:
        return float(self._values().mean())

    @property
    def scv(self) -> float:
        values = self._values()
        return float(values.var() / values.mean() ** 2)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(self._values(), n)


def _read_samples(path: Path) -> tuple[float, ...]:
    if not path.is_file():
        raise ValueError(f"samples file {str(path)!r} does not exist")
    values: list[float] = []
    for line, value in read_number_column(path):
        if not value > 0:
            raise ValueError(f"{path.name} line {line}, column 1: must be > 0")
        values.append(value)
    return tuple(values)


Distribution = Annotated[
    Exponential | Constant | Uniform | Lognormal | Gamma | Empirical,
    Field(discriminator="dist"),
]
