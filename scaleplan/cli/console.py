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

import re
import sys

from rich.console import Console
from rich.markup import escape

# Tables stay readable when piped: rich would otherwise wrap them at 80 columns.
stdout = Console(width=None if sys.stdout.isatty() else 120, emoji=False)
stderr = Console(stderr=True, emoji=False)

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


__all__ = ["literal", "plain", "stderr", "stdout"]
