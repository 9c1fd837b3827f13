"""The one exception family of scaleplan.

Every error a user can cause derives from :class:`ScaleplanError`; the CLI prints its message
and exits 2 without a traceback. Messages say where (file, key path), which rule, and what
was found, e.g. ``lb-cluster.yaml: components.api.replicas: must be at least 1 (got 0)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ScaleplanError(Exception):
    """Base class of the errors a user can cause and fix."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file."""

    file: str
    key_path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.key_path}: {self.message}"
            if self.key_path
            else f"{where}: {self.message}"
        )


class SpecError(ScaleplanError):
    """An input file that cannot be used: one or more problems, each with its place."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class SimulationError(ScaleplanError):
    """A simulation that cannot be run as asked (e.g. a certainly unstable configuration)."""


class ReportError(ScaleplanError):
    """A report, notebook or batch run that failed."""
