"""Experiments: where a simulation becomes a decision.

One module per experiment, one public verb each; every result is a frozen dataclass with
``to_dict()`` (JSON-safe, NaN as ``null``) and ``records()`` (flat rows for a DataFrame):

- :func:`check` (``nfr``) — a verdict per NFR: pass, fail, inconclusive or not evaluated;
- :func:`pull` and :func:`ramp` (``pull``) — the tractor pull and a stepped load test;
- :func:`sweep` (``sweep``) — what-if grids over any key path, on local processes or Dask;
- :func:`compare` (``compare``) — candidates under common random numbers, NFR gates, a
  weighted decision matrix, the cost–p99 Pareto frontier and a recommendation;
- :func:`runway` (``growth``) — months of growth until the first SLO breaks;
- :func:`cost` (``cost``) — cost per month, per million requests, per SLO-meeting request;
- :func:`failures` (``availability``) — time- and request-based availability with CIs,
  downtime per month, error-budget burn, the analytic series/parallel/k-of-n referee;
- :func:`recovery` (``dr``) — RPO and RTO distributions per DR strategy over many disasters;
- :func:`deploy` (``rollout``) — rolling, blue-green, canary and all-at-once releases.

Experiments call the engine and the analytic module; they draw nothing (``views``) and print
nothing (``cli``).
"""

from scaleplan.experiments.availability import FailuresResult, failures
from scaleplan.experiments.compare import (
    CandidateResult,
    CompareSettings,
    ComparisonResult,
    PairedDifference,
    compare,
)
from scaleplan.experiments.cost import ComponentCost, CostResult, cost
from scaleplan.experiments.dr import RecoveryResult, recovery
from scaleplan.experiments.growth import RunwayResult, runway, runway_months
from scaleplan.experiments.nfr import Verdict, check, verdict_records
from scaleplan.experiments.pull import PullResult, PullStep, RampResult, pull, ramp
from scaleplan.experiments.rollout import RolloutResult, deploy
from scaleplan.experiments.sweep import SweepResult, parse_grid_values, sweep

__all__ = [
    "CandidateResult",
    "CompareSettings",
    "ComparisonResult",
    "ComponentCost",
    "CostResult",
    "FailuresResult",
    "PairedDifference",
    "PullResult",
    "PullStep",
    "RampResult",
    "RecoveryResult",
    "RolloutResult",
    "RunwayResult",
    "SweepResult",
    "Verdict",
    "check",
    "compare",
    "cost",
    "deploy",
    "failures",
    "parse_grid_values",
    "pull",
    "ramp",
    "recovery",
    "runway",
    "runway_months",
    "sweep",
    "verdict_records",
]
