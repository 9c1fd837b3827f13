"""Tables as HTML tables (scaleplan/views/tables.py): escaped cells, the chosen row marked, the
record's CSS and the page ``compare --html`` writes; and ``markup.show`` putting a table as
HTML and a figure with nothing to draw as words."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from scaleplan.experiments import CompareSettings, ComparisonResult, compare
from scaleplan.report import markup
from scaleplan.spec import example_spec
from scaleplan.views import (
    Html,
    comparison_page,
    decision_matrix_table,
    figure_pareto,
    html_table,
    write_html,
)
from scaleplan.views.axes import note_figure
from scaleplan.views.tables import TABLE_CSS

TEMPLATE = (
    Path(__file__).resolve().parent.parent
    / "scaleplan"
    / "report"
    / "templates"
    / "scaleplan"
    / "index.html.j2"
)


class Rows(HTMLParser):
    """Each row of a table: its class and its cells' text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append((dict(attrs).get("class") or "", []))
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def rows(page: str) -> list[tuple[str, list[str]]]:
    parser = Rows()
    parser.feed(page)
    return parser.rows


@pytest.fixture(scope="module")
def comparison() -> ComparisonResult:
    spec = example_spec()
    settings = CompareSettings(nfrs=["p99<=100ms"], replications=2, requests=1000)
    return compare(
        {"<b>one</b>": spec, "two": spec.with_changes({"components.api.replicas": 2})},
        dataclasses.replace(settings, pull_replications=0),
    )


def test_every_cell_is_escaped_and_classes_mark_the_rows() -> None:
    table = html_table(
        ["<th>", "n"],
        [["<script>alert(1)</script>", "1"], ["plain", "2"]],
        caption="<i>c</i>",
        row_classes=["chosen", "excluded"],
        numeric=[1],
    )
    assert isinstance(table, Html)
    assert "<script>" not in table and "<i>c</i>" not in table and "<th><th>" not in table
    assert rows(table) == [
        ("", ["<th>", "n"]),
        ("chosen", ["<script>alert(1)</script>", "1"]),
        ("excluded", ["plain", "2"]),
    ]
    assert '<td class="number">1</td>' in table


def test_the_decision_matrix_is_a_table_with_the_chosen_row_highlighted(
    comparison: ComparisonResult,
) -> None:
    chosen = comparison.recommended
    assert chosen is not None
    table = decision_matrix_table(comparison)
    found = rows(table)
    header, body = found[0][1], found[1:]
    assert header[0] == "option" and header[-2:] == ["score", "gates"]
    # Every option has its row, in the comparison's order; the chosen one is marked and starred.
    assert [cells[0].removeprefix("★ ") for _, cells in body] == [
        c.name for c in comparison.candidates
    ]
    marked = [cells[0] for kind, cells in body if kind == "chosen"]
    assert marked == [f"★ {chosen}"]
    assert "<b>one</b>" not in table  # a name is text, not markup


def test_the_record_css_is_the_tables_css() -> None:
    def rules(text: str) -> list[str]:
        return re.findall(r"\.scaleplan-tables [^{]*\{[^}]*\}", re.sub(r"\s+", " ", text))

    template = TEMPLATE.read_text(encoding="utf-8")
    assert rules(TABLE_CSS) and rules(TABLE_CSS) == rules(template)
    assert "tr.chosen" in TABLE_CSS


def test_compare_html_is_a_page_of_a_table_and_figures(
    comparison: ComparisonResult, tmp_path: Path
) -> None:
    page = comparison_page(comparison)
    path = write_html(page, tmp_path / "compare.html")
    written = path.read_text(encoding="utf-8")
    assert written == page and written.startswith("<!DOCTYPE html>")
    assert written.count('<table class="scaleplan-table">') == 1
    assert written.count('<tr class="chosen">') == 1
    assert written.count("Plotly.newPlot(") == 2  # p99 per option, cost against p99
    assert re.findall(r"<script[^>]*src=", written) == []  # plotly.js embedded, no CDN


def test_show_puts_a_table_as_html_and_an_empty_figure_as_words(
    comparison: ComparisonResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    import IPython.display

    shown: list[Any] = []
    monkeypatch.setattr(IPython.display, "display", lambda item: shown.append(item))
    markup.show(
        decision_matrix_table(comparison),
        note_figure("Nothing to draw: no <option> was pulled."),
        figure_pareto(comparison),
    )
    table, words, figure = shown
    assert type(table).__name__ == "HTML" and '<tr class="chosen">' in table.data
    assert type(words).__name__ == "Markdown"
    assert "no &lt;option&gt; was pulled" in words.data and "js-plotly" not in words.data
    assert type(figure).__name__ == "HTML" and "Plotly.newPlot(" in figure.data
