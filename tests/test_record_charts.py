"""Every figure the decision record embeds draws something or says why not in words (no empty
chart), and its tables are HTML tables (scaleplan/report/record.py through the views)."""

from __future__ import annotations

from typing import Any

import pytest
from _records import overloaded_evidence, tiny_shop_evidence

from scaleplan.report import record
from scaleplan.views import Html, note


@pytest.mark.parametrize("made", [tiny_shop_evidence, overloaded_evidence], ids=["chosen", "none"])
def test_no_figure_of_the_record_is_empty(made: Any) -> None:
    evidence = made()
    items = record.sections(evidence)
    figures = [item for item in items if not isinstance(item, str)]
    assert figures
    for figure in figures:
        drawn = any(
            len(trace.x or ()) or len(getattr(trace, "y", None) or ()) for trace in figure.data
        )
        assert drawn or note(figure), figure.layout.title.text
        assert not any(trace.type == "table" for trace in figure.data)  # tables are HTML
    tables = [item for item in items if isinstance(item, Html)]
    assert len(tables) == 1 and "<th>option</th>" in tables[0]  # the matrix, as a table
    chosen = evidence.comparison.recommended
    assert tables[0].count('<tr class="chosen">') == (1 if chosen else 0)
