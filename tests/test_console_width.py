"""Terminal tables use the terminal's width (scaleplan/cli/console.py): wider than 80 columns
when the terminal is, a sensible width when piped, and folded, never cut, when narrower."""

from __future__ import annotations

import io
import os

import pytest
from rich.table import Table

from scaleplan.cli.console import PIPED_WIDTH, FittingConsole, terminal_width


def strategies() -> Table:
    """A table like ``scaleplan dr``'s, whose columns the command marks ``no_wrap``."""
    table = Table(title="strategies")
    for heading in ("strategy", "data copy", "RPO p50 / p99 / max", "cost/month (EUR)"):
        table.add_column(heading, no_wrap=True, min_width=len(heading))
    for status in ("status", "RTO"):
        table.add_column(status)
    table.add_row("backup-restore", "backups", "2.51 min / 4.96 min / 5 min", "278", "pass", "fail")
    table.add_row("warm-standby", "async replica", "1.1 s / 14 s / 1.69 min", "1,428", "pass", "ok")
    return table


def printed(width: int) -> str:
    out = io.StringIO()
    FittingConsole(file=out, width=width, color_system=None, emoji=False).print(strategies())
    return out.getvalue()


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_wide_terminal_gets_whole_rows() -> None:
    text = printed(160)
    row = next(line for line in text.splitlines() if "backup-restore" in line)
    assert len(row) > 80 and "2.51 min / 4.96 min / 5 min" in row and "fail" in row


def test_a_narrow_terminal_folds_the_table_and_loses_no_figure() -> None:
    text = printed(50)
    lines = text.splitlines()
    assert all(len(line) <= 50 for line in lines)
    assert "…" not in text
    cells = "".join(line.replace("│", "").replace(" ", "") for line in lines)
    for figure in ("1,428", "278", "fail", "ok", "4.96min", "1.69min"):
        assert figure in cells, figure  # folded onto lines, but all there


def test_the_width_follows_the_terminal_and_not_80_when_piped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "xterm")
    assert terminal_width(Tty()) is None  # rich follows the terminal as it is resized

    def no_terminal(descriptor: int = 0) -> os.terminal_size:
        raise OSError("not a terminal")

    monkeypatch.setattr(os, "get_terminal_size", no_terminal)
    monkeypatch.setenv("COLUMNS", "80")  # what test runners export for their own logs
    assert terminal_width(io.StringIO()) == PIPED_WIDTH  # piped: not rich's 80
    # Piped while the other output stream is on a terminal (``… | less``): that one's width.
    monkeypatch.setattr(os, "get_terminal_size", lambda descriptor=0: os.terminal_size((160, 40)))
    assert terminal_width(io.StringIO()) == 160
    # A terminal that calls itself dumb still has a width (rich would assume 80).
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.setattr(os, "get_terminal_size", lambda descriptor=0: os.terminal_size((132, 40)))
    assert terminal_width(Tty()) == 132
