"""The ``scaleplan`` command line (Typer): a thin layer over the public verbs.

Commands live in one module per family and register themselves on :data:`app` when imported:
``core`` (validate, simulate, estimate, graph, schema), ``experiments`` (pull, ramp, sweep,
compare), ``downtime`` (failures, dr, rollout), ``loadtest`` (the load-test plan and scripts),
``verify`` (the model against a load test's results) and ``report`` (decide, batch, runs). A
:class:`~scaleplan.errors.ScaleplanError` is printed as its message and exits 2, never as a
traceback; like all user text, it is printed literally (:mod:`scaleplan.cli.console`).
"""

from __future__ import annotations

import sys

from scaleplan.cli import (
    apm,
    calibrate,
    core,
    downtime,
    experiments,
    loadtest,
    report,
    transient,
    verify,
)
from scaleplan.cli.app import app
from scaleplan.cli.console import literal, stderr
from scaleplan.errors import ScaleplanError
from scaleplan.paths import output_problem

EXIT_BAD_INPUT = 2
__all__ = [
    "apm",
    "app",
    "calibrate",
    "core",
    "downtime",
    "experiments",
    "loadtest",
    "main",
    "report",
    "transient",
    "verify",
]


def main() -> None:
    """Console entry point: user errors exit 2 with their message and no traceback.

    Typer in standalone mode already turns usage errors into exit 2 and ^C into 130; what is
    left to catch are scaleplan's own errors.
    """
    try:
        app()
    except ScaleplanError as error:
        stderr.print(
            f"[bold red]error:[/bold red] {literal(error)}", highlight=False, soft_wrap=True
        )
        sys.exit(EXIT_BAD_INPUT)
    except OSError as error:
        # A file that cannot be read or written and that no command foresaw: the file and
        # the reason, not a traceback.
        problem = output_problem(error.filename or "?", error, verb="use")
        stderr.print(
            f"[bold red]error:[/bold red] {literal(problem)}",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(EXIT_BAD_INPUT)


if __name__ == "__main__":
    main()
