"""The scenario's NFRs as monitoring objectives: what each SLI counts and its error budget.

An objective is a ratio of *bad* requests to all requests over a window, and its error budget
is the share of bad requests the NFR allows (the SRE workbook's definition):

======================  ==========================================  ==============
NFR                     bad request                                 error budget
======================  ==========================================  ==============
``errors<=0.1%``        any request that ended in an error          0.001
``p99<=400ms``          a request slower than 400 ms                0.01 (1 − 0.99)
``p95<=1s``             a request slower than 1 s                   0.05
``availability>=99.9%`` a request answered with a server error      0.001
======================  ==========================================  ==============

A latency percentile objective becomes "at most 1% of requests slower than 400 ms", which a
histogram measures exactly when 400 ms is one of its bucket edges (:mod:`.instruments` makes
it one). A ``mean`` objective has no budget (it is not a share of requests): it is watched by
a threshold alert. Throughput objectives are capacity requirements, watched by the capacity
alerts (:mod:`.capacity`), not by a burn rate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from scaleplan.spec import NFRSpec, SLOSpec

__all__ = ["PERCENTILES", "Objective", "objectives", "unwatched"]

#: The share of requests a percentile objective lets be slower than its bound.
PERCENTILES = {"p50": 0.50, "p90": 0.10, "p95": 0.05, "p99": 0.01, "p999": 0.001}

ObjectiveKind = Literal["latency", "errors", "availability", "mean"]


@dataclass(frozen=True)
class Objective:
    """One watched objective.

    ``budget`` is the allowed share of bad requests (NaN for a ``mean`` objective);
    ``threshold_s`` the latency bound in seconds (latency and mean objectives);
    ``request_class`` limits it to one request class (its route).
    """

    text: str
    kind: ObjectiveKind
    budget: float
    threshold_s: float = math.nan
    request_class: str | None = None

    @property
    def ident(self) -> str:
        """A name usable in alert names: ``CheckoutLatencyP99`` for ``checkout.p99<=800ms``."""
        words = [self.request_class or "", self.kind]
        if self.kind == "latency":
            words.append(self.text.split("<=")[0].split(".")[-1])
        return "".join(
            w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", " ".join(words)) if w
        )

    @property
    def target(self) -> float:
        """The share of good requests the objective promises (``1 − budget``)."""
        return 1.0 - self.budget

    def bad_request(self) -> str:
        """What makes a request count against the budget, in words (after "requests")."""
        if self.kind == "latency":
            return f"slower than {self.threshold_s * 1000:g} ms"
        if self.kind == "errors":
            return "that ended in an error (error.type set)"
        if self.kind == "availability":
            return "answered with a server error (HTTP 5xx)"
        return f"(none: the mean latency must stay under {self.threshold_s * 1000:g} ms)"


def _of_slo(slo: SLOSpec) -> Objective | None:
    if slo.metric in PERCENTILES:
        return Objective(
            text=slo.text,
            kind="latency",
            budget=PERCENTILES[slo.metric],
            threshold_s=slo.bound / 1000.0,
            request_class=slo.request_class,
        )
    if slo.metric == "mean":
        return Objective(
            text=slo.text,
            kind="mean",
            budget=math.nan,
            threshold_s=slo.bound / 1000.0,
            request_class=slo.request_class,
        )
    if slo.metric == "errors":
        return Objective(text=slo.text, kind="errors", budget=slo.bound)
    return None  # throughput: a capacity requirement


def objectives(nfrs: NFRSpec) -> tuple[Objective, ...]:
    """The watched objectives of ``nfrs``: its latency and error SLOs and its availability.

    An ``errors<=0%`` objective has no budget to burn; it is kept with a budget of 0, and the
    rules alert on any error instead of a burn rate.

    Examples
    --------
    >>> nfrs = NFRSpec.model_validate(
    ...     {"slos": ["p99<=400ms", "errors<=0.1%"], "availability": {"min_percent": 99.9}})
    >>> [(o.kind, round(o.budget, 6), o.threshold_s) for o in objectives(nfrs)][:2]
    [('latency', 0.01, 0.4), ('errors', 0.001, nan)]
    >>> round(objectives(nfrs)[2].budget, 6)
    0.001
    """
    found = [objective for slo in nfrs.slos if (objective := _of_slo(slo)) is not None]
    if nfrs.availability is not None:
        percent = nfrs.availability.min_percent
        found.append(
            Objective(
                text=f"availability>={percent:g}%",
                kind="availability",
                budget=(100.0 - percent) / 100.0,
            )
        )
    return tuple(found)


def unwatched(nfrs: NFRSpec) -> tuple[str, ...]:
    """The SLOs no burn-rate alert watches (throughput), for the page to say so."""
    return tuple(slo.text for slo in nfrs.slos if _of_slo(slo) is None)
