"""``scaleplan verify``: a load test's measurement against the model's prediction (issue 12).

Readers turn Locust's CSV output (:mod:`~scaleplan.verify.locust_results`) and k6's JSON
(:mod:`~scaleplan.verify.k6_results`) into measured figures per time window;
:mod:`~scaleplan.verify.judge` lines each step of the plan ``scaleplan loadtest`` wrote
(:mod:`scaleplan.loadtest.plan`) up with them and says *confirmed* or *refuted*, and why;
:mod:`~scaleplan.verify.chart` draws predicted against measured latency.
"""

from scaleplan.verify.files import default_plan, read_results
from scaleplan.verify.judge import (
    FigureCheck,
    StepCheck,
    Tolerances,
    Verification,
    judge,
    verify,
)
from scaleplan.verify.measured import ALL, Figures, Results

__all__ = [
    "ALL",
    "FigureCheck",
    "Figures",
    "Results",
    "StepCheck",
    "Tolerances",
    "Verification",
    "default_plan",
    "judge",
    "read_results",
    "verify",
]
