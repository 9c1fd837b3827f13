"""Safe Markdown for notebooks and records, and the one way to show it (and figures).

Everything a scenario file supplies — titles, context, requirement texts, owners — goes
through :func:`text` before it reaches a Markdown cell output, so a scenario titled
``<script>alert(1)</script>`` shows as text in JupyterLab and in the exported HTML.
:func:`show` displays Markdown and plotly figures; the first figure of a kernel carries
plotly.js (embedded, not from a CDN), the later ones only their data, so an exported record
holds the library once and opens offline. Tables that need more than Markdown (a highlighted
row) are HTML tables made by :mod:`scaleplan.views.tables`, styled by the record's template.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scaleplan.formatting import number as format_number

#: Characters that Markdown would read as syntax (``:`` too, so that no renderer turns an
#: address into a link); ``& < >`` are HTML-escaped instead.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+\-.!|~:])")

_state = {"plotly_js_embedded": False}


class Markdown(str):
    """A string known to be Markdown (shown as such by :func:`show`)."""

    __slots__ = ()


def text(value: object) -> str:
    """``value`` as literal Markdown text: HTML escaped, Markdown syntax neutralised.

    Examples
    --------
    >>> text("<script>alert(1)</script>")
    '&lt;script&gt;alert\\\\(1\\\\)&lt;/script&gt;'
    >>> text("p99 *fast* | cheap")
    'p99 \\\\*fast\\\\* \\\\| cheap'
    """
    escaped = html.escape(str(value), quote=False)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", escaped)


def paragraphs(value: str) -> str:
    """Multi-line text from a scenario as Markdown paragraphs (blank lines kept)."""
    blocks = [
        " ".join(line.strip() for line in block.splitlines()) for block in value.split("\n\n")
    ]
    return "\n\n".join(text(block) for block in blocks if block.strip())


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table; cells are given already as Markdown (use :func:`text` for data)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        cells = [str(cell).replace("\n", " ") for cell in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def records_table(
    rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str] | Sequence[str]
) -> str:
    """Flat records (as ``records()`` gives them) as a Markdown table of chosen columns.

    ``columns`` maps a record key to its heading (or lists keys). Numbers get four significant
    digits, booleans a mark, text is escaped, anything missing a dash.

    Examples
    --------
    >>> rows = [{"a": 1.23456, "b": True, "c": "x|y"}]
    >>> print(records_table(rows, {"a": "A", "b": "B", "c": "C"}))
    | A | B | C |
    |---|---|---|
    | 1.235 | ✓ | x\\|y |
    """
    headings = dict(columns) if isinstance(columns, Mapping) else {key: key for key in columns}
    return table(
        [text(heading) for heading in headings.values()],
        [[_cell(row.get(key)) for key in headings] for row in rows],
    )


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if math.isfinite(value) else "—"
    return text(value)


def number(value: float | None, spec: str = ".1f", unit: str = "") -> str:
    """A number for a table, or a dash when it is not known (:func:`scaleplan.formatting.number`
    with the record's default of one decimal)."""
    return format_number(value, spec, unit)


def show(*items: Any) -> None:
    """Display Markdown strings, HTML tables (:class:`scaleplan.views.Html`), plotly figures
    or anything IPython can display, in order.

    A figure with nothing to draw (:func:`scaleplan.views.note`) shows its reason in words. A
    plotly figure becomes HTML: the first one in this kernel embeds plotly.js (about
    4.8 MB, once), later ones reference it. Nothing is loaded from the network.
    """
    from IPython.display import HTML, display
    from IPython.display import Markdown as IPythonMarkdown

    from scaleplan.views import Html, note

    for item in items:
        if isinstance(item, Html):  # a table, escaped where it was built
            display(HTML(str(item)))
        elif isinstance(item, str):
            display(IPythonMarkdown(str(item)))
        elif _is_figure(item) and note(item) is not None:
            # Nothing to draw: the reason in words, not an empty chart.
            display(IPythonMarkdown(f"_{text(note(item))}_"))
        elif _is_figure(item):
            display(HTML(figure_html(item)))
        elif isinstance(item, list | tuple):
            show(*item)
        else:
            display(item)


def figure_html(figure: Any) -> str:
    """A figure as an HTML fragment; plotly.js embedded with the first one of the process."""
    from scaleplan.views.axes import log_safe

    first = not _state["plotly_js_embedded"]
    _state["plotly_js_embedded"] = True
    fragment: str = log_safe(figure).to_html(
        include_plotlyjs=first,
        include_mathjax=False,
        full_html=False,
        config={"displaylogo": False, "responsive": True},
    )
    return fragment


def _is_figure(item: Any) -> bool:
    return type(item).__name__ == "Figure" and hasattr(item, "to_html")
