"""The Typer application object that every command module registers on."""

from __future__ import annotations

from typing import Annotated

import typer

from scaleplan import __version__

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
) -> None:
    """Decide how a product should scale, with evidence."""
