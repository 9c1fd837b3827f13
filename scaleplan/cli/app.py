"""The Typer application object that every command module registers on."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from scaleplan import __version__
from scaleplan.paths import ALLOW_OUTSIDE_ENV

app = typer.Typer(
    name="scaleplan",
    help="Decide how a product should scale, with evidence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scaleplan {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    allow_files_outside: Annotated[
        bool,
        typer.Option(
            "--allow-files-outside",
            help=(
                "Let documents name data files outside their folder tree (by default a spec's "
                "files stay in its folder, a scenario's in its project). Same as "
                f"{ALLOW_OUTSIDE_ENV}=1."
            ),
        ),
    ] = False,
) -> None:
    """Decide how a product should scale, with evidence."""
    if allow_files_outside:
        # Through the environment so that the record's kernel and batch workers inherit it.
        os.environ[ALLOW_OUTSIDE_ENV] = "1"
