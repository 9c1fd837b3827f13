"""Load tests from the model (issue 12): the plan file shared by ``loadtest`` and ``verify``."""

from scaleplan.loadtest.plan import (
    FIGURES,
    FORMAT,
    Band,
    ClassRequest,
    LoadTestPlan,
    PlannedCase,
    Step,
    read_plan,
    write_plan,
)

__all__ = [
    "FIGURES",
    "FORMAT",
    "Band",
    "ClassRequest",
    "LoadTestPlan",
    "PlannedCase",
    "Step",
    "read_plan",
    "write_plan",
]
