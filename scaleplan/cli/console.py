"""The consoles of the command line, and the one place that makes user text safe to print.

Everything a user wrote — file names, keys, titles, and the error messages that quote them —
reaches the terminal exactly as written. Rich reads ``[...]`` as markup (``[/x]`` raises, a
``[link=…]`` disappears) and ``:name:`` as an emoji code (``ticketing.yaml:100:`` would print
💯), and a terminal obeys the control sequences inside a string (a colour, a screen clear, a
hyperlink, a carriage return that overwrites the line). So:

- the consoles never replace emoji codes (``emoji=False``);
- :func:`literal` is how every command puts user text into a markup string;
- :func:`plain` is the same text where no markup is read (a :class:`rich.text.Text`, a progress
  description, JSON is untouched).
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

#: The width of output that reaches no terminal at all (a file, CI's log).
PIPED_WIDTH = 120
#: A column never narrows below its longest word up to this many characters, so that a
#: number or a status ("1,428", "pass") is folded onto lines, not cut to "1,…".
MAX_WORD = 16


def terminal_width(stream: TextIO) -> int | None:
    """The width to print ``stream``'s tables at; ``None`` lets rich follow the terminal.

    A terminal: its own width, as it is resized (rich reads it at each print), even when it
    calls itself ``dumb`` (rich would then assume 80). Output piped or redirected: the width
    of the terminal the other output stream goes to (``scaleplan … | less`` leaves stderr on
    it), else :data:`PIPED_WIDTH`, not rich's 80.
    """
    dumb = os.environ.get("TERM", "").lower() in ("dumb", "unknown")
    if _isatty(stream) and not dumb:
        return None
    # COLUMNS is not read for piped output: test runners and CI export COLUMNS=80 for their
    # own logs (pytest's children see it), which would cut the tables they capture.
    # The other output stream only (stdin is a terminal in tests and scripts whose output is
    # captured: their tables keep the piped width there).
    for descriptor in (_fileno(stream), 1 if _fileno(stream) == 2 else 2):
        try:
            width = os.get_terminal_size(descriptor).columns
        except (OSError, ValueError):
            continue
        if width > 0:
            return width
    return PIPED_WIDTH


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _fileno(stream: TextIO) -> int:
    try:
        return stream.fileno()
    except (AttributeError, ValueError, OSError):
        return -1


def fit(table: Table) -> Table:
    """Let ``table`` fold to a narrow terminal without losing figures: a column wraps its
    cells at spaces and folds what is left, and never narrows below its longest word (up to
    :data:`MAX_WORD` characters). Columns the command made ``no_wrap`` keep that."""
    for column in table.columns:
        texts = [column.header, *column._cells]  # rich keeps a column's cells there
        words = [
            len(word)
            for cell in texts
            if isinstance(cell, str | Text)
            for word in (cell.plain if isinstance(cell, Text) else Text.from_markup(cell).plain)
            .replace("\n", " ")
            .split(" ")
        ]
        longest = min(max(words, default=1), MAX_WORD)
        if column.overflow == "ellipsis":
            column.overflow = "fold"
        column.min_width = max(column.min_width or 0, longest)
    return table


class FittingConsole(Console):
    """A console whose tables fold to its width instead of cutting figures short."""

    def print(self, *objects: Any, **options: Any) -> None:
        for item in objects:
            if isinstance(item, Table):
                fit(item)
                wide = self.options.update_width(10 * self.width)  # unclamped measure
                if Measurement.get(self, wide, item).minimum > self.width:
                    # Whole words do not fit side by side: fold inside words rather than cut
                    # the columns on the right off.
                    for column in item.columns:
                        column.no_wrap, column.min_width = False, None
        super().print(*objects, **options)


stdout = FittingConsole(width=terminal_width(sys.stdout), emoji=False)
stderr = FittingConsole(stderr=True, width=terminal_width(sys.stderr), emoji=False)

# Terminal control: ECMA-48 control sequences (CSI: ESC [ … final byte), operating-system
# commands (OSC: ESC ] … ended by BEL or ESC \, or by the end of the text), any other escape
# (ESC and one byte), then every other C0 control but tab and newline, DEL, and C1 controls.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def plain(value: object) -> str:
    """``str(value)`` without terminal control sequences or control characters.

    Examples
    --------
    >>> plain("api\\x1b[31m red\\x07\\r")
    'api red'
    >>> plain("tab\\tand\\nnewline stay")
    'tab\\tand\\nnewline stay'
    """
    return _CONTROL.sub("", str(value))


def literal(value: object) -> str:
    """``value`` for a markup string: printed exactly as written, controls removed.

    Examples
    --------
    >>> literal("ticketing.yaml:100: [/x]")
    'ticketing.yaml:100: \\\\[/x]'
    >>> stdout.render_str(f"[bold]{literal('[link=http://x]a[/link]')}[/bold]").plain
    '[link=http://x]a[/link]'
    """
    return escape(plain(value))


__all__ = ["FittingConsole", "fit", "literal", "plain", "stderr", "stdout", "terminal_width"]
