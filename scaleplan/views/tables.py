"""Tables as HTML tables, and the page ``compare --html`` writes.

A plotly ``go.Table`` is a picture of a table: its height is fixed, so the row that matters
(the chosen option's, often the last) was clipped, and it cannot be copied or read by a screen
reader. A table here is an HTML ``<table>``: every cell escaped, styled by the record's CSS
(class ``scaleplan-table``; the record's template and :func:`comparison_page` carry the same
rules), the chosen row marked ``class="chosen"`` and ★.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from scaleplan.experiments.compare import ComparisonResult

__all__ = ["TABLE_CSS", "Html", "comparison_page", "decision_matrix_table", "html_table"]

#: The tables' style, shared by the record's template (templates/scaleplan/index.html.j2). A
#: table sits in a ``div.scaleplan-tables`` so that these rules outweigh JupyterLab's own
#: (``:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td`` aligns every cell right).
TABLE_CSS = """
.scaleplan-tables table.scaleplan-table {
  border-collapse: collapse; margin: 0.5em 0 1em 0; font-size: 0.92em; }
.scaleplan-tables table.scaleplan-table caption {
  text-align: left; font-weight: 600; padding: 0.3em 0; }
.scaleplan-tables table.scaleplan-table th, .scaleplan-tables table.scaleplan-table td {
  border: 1px solid #d0d7de; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
.scaleplan-tables table.scaleplan-table th { background: #dbe9f6; }
.scaleplan-tables table.scaleplan-table td.number { text-align: right; white-space: nowrap; }
.scaleplan-tables table.scaleplan-table tr.chosen td { background: #e5f5e0; font-weight: 600; }
.scaleplan-tables table.scaleplan-table tr.excluded td { color: #666; background: #f6f6f6; }
"""


class Html(str):
    """A string known to be HTML (shown as such by ``report.markup.show``, written as a page
    by :func:`scaleplan.views.write_html`)."""

    __slots__ = ()


def html_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    caption: str = "",
    row_classes: Sequence[str] = (),
    numeric: Sequence[int] = (),
) -> Html:
    """An HTML table of plain-text cells (every one escaped here); ``row_classes[i]`` is the
    class of row ``i`` (``chosen``, ``excluded``), ``numeric`` the columns aligned right.

    Examples
    --------
    >>> print(html_table(["a", "b"], [["<x>", "1"]], row_classes=["chosen"], numeric=[1]))
    <div class="scaleplan-tables"><table class="scaleplan-table">
    <thead><tr><th>a</th><th>b</th></tr></thead>
    <tbody>
    <tr class="chosen"><td>&lt;x&gt;</td><td class="number">1</td></tr>
    </tbody>
    </table></div>
    """
    lines = ['<div class="scaleplan-tables"><table class="scaleplan-table">']
    if caption:
        lines.append(f"<caption>{html.escape(caption)}</caption>")
    lines.append(
        "<thead><tr>"
        + "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
        + "</tr></thead>"
    )
    lines.append("<tbody>")
    for index, row in enumerate(rows):
        kind = row_classes[index] if index < len(row_classes) else ""
        opening = f'<tr class="{html.escape(kind)}">' if kind else "<tr>"
        cells = "".join(
            f'<td class="number">{html.escape(str(cell))}</td>'
            if column in numeric
            else f"<td>{html.escape(str(cell))}</td>"
            for column, cell in enumerate(row)
        )
        lines.append(opening + cells + "</tr>")
    lines += ["</tbody>", "</table></div>"]
    return Html("\n".join(lines))


def decision_matrix_table(result: ComparisonResult, *, caption: str = "") -> Html:
    """The weighted decision matrix: value (score) per criterion, total, gates; the
    recommended option's row highlighted and starred, excluded options greyed.

    Examples
    --------
    >>> from scaleplan.experiments import CompareSettings, compare
    >>> from scaleplan.spec import example_spec
    >>> spec = example_spec()
    >>> settings = CompareSettings(replications=2, requests=1000, pull_replications=0)
    >>> table = decision_matrix_table(compare({"a": spec, "b": spec}, settings))
    >>> table.count('<tr class="chosen">')
    1
    """
    criteria = list(result.weights)
    header = ["option"] + [f"{c} (w {result.weights[c]:.0%})" for c in criteria]
    header += ["score", "gates"]
    rows: list[list[str]] = []
    kinds: list[str] = []
    for candidate in result.candidates:
        chosen = candidate.name == result.recommended
        row = [("★ " if chosen else "") + candidate.name]
        for criterion in criteria:
            value = candidate.values.get(criterion, math.nan)
            shown = format_value(value, criterion)
            if criterion.startswith("cost") and shown not in ("—", "∞"):
                shown += f" {result.currency}"
            row.append(f"{shown} · {candidate.scores.get(criterion, 0):.2f}")
        row.append(f"{candidate.score:.2f}")
        row.append("; ".join(candidate.gate_reasons) or "pass")
        rows.append(row)
        kinds.append("chosen" if chosen else ("excluded" if candidate.gated else ""))
    return html_table(
        header,
        rows,
        caption=caption,
        row_classes=kinds,
        numeric=range(1, len(criteria) + 2),
    )


def format_value(value: float, criterion: str) -> str:
    """A criterion's value for a table: a dash when unknown, ∞ for an unbounded one."""
    if not math.isfinite(value):
        return "∞" if value == math.inf else "—"
    if criterion in ("headroom", "error_rate"):
        return f"{100 * value:.1f}%"
    if criterion.endswith("_ms"):
        return f"{value:.1f} ms"
    if criterion == "runway_months":
        return f"{value:.1f} mo"
    return f"{value:,.0f}"


def comparison_page(result: ComparisonResult) -> Html:
    """The page ``compare --html`` writes: the decision matrix as a table, then p99 per
    option against the SLO and cost against p99 (plotly.js embedded once; opens offline)."""
    from scaleplan.views.axes import log_safe, note
    from scaleplan.views.experiments import figure_comparison, figure_pareto

    title = html.escape(result.title)
    parts = [decision_matrix_table(result, caption=f"decision matrix: {result.title}")]
    first = True
    for figure in (figure_comparison(result, "p99_ms"), figure_pareto(result)):
        reason = note(figure)
        if reason is not None:
            parts.append(Html(f"<p><em>{html.escape(reason)}</em></p>"))
            continue
        parts.append(
            log_safe(figure).to_html(include_plotlyjs=first, include_mathjax=False, full_html=False)
        )
        first = False
    return Html(
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{title}</title><style>body {{ font-family: sans-serif; margin: 1em 2em; }}"
        f"{TABLE_CSS}</style></head>\n<body>\n<h1>{title}</h1>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )
