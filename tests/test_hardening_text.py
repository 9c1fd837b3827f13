"""User text reaches the terminal literally and plotly's HTML as text (issue 15).

Rich reads ``[...]`` as markup and a terminal obeys escape sequences; plotly renders a subset
of HTML in titles, annotations, legends, table cells and hover text. Every place user text
goes is checked with text that would crash rich, make a link, retitle the terminal or become
a live ``<a href>`` / ``<img>`` in a chart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKUP = "[/x] [link=http://e]x[/link]"
ESCAPES = "\x1b]0;pwned\x07\x1b[2J"
LINK = '<a href="http://evil">x</a>'
IMAGE = "<img src=x onerror=alert(1)>"


def scaleplan(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scaleplan", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=300,
        env=dict(os.environ),
    )


def architecture(name: str, concurrency: int, description: str) -> str:
    return (
        f"    architecture:\n      name: {name}\n      description: {description!r}\n"
        "      workload: {rate_per_s: 20}\n      entry: api\n      components:\n"
        f"        api: {{kind: service, concurrency: {concurrency}, "
        "service_time: {dist: exponential, mean_ms: 10}}\n"
    )


def hostile_scenario(folder: Path, text: str) -> Path:
    """A small scenario whose title, context, drivers, SLO-free texts and candidate
    descriptions all carry ``text``."""
    path = folder / "hostile.yaml"
    quoted = text.replace("\\", "\\\\").replace('"', '\\"').replace("\x1b", "\\e")
    quoted = quoted.replace("\x07", "\\a")
    path.write_text(
        f'title: "Shop {quoted}"\n'
        f'context: "ctx {quoted}"\n'
        f'drivers: ["driver {quoted}"]\n'
        "workload:\n  today: {arrival: poisson, rate_per_s: 20}\n"
        'nfrs: {slos: ["p99<=500ms"]}\n'
        "candidates:\n"
        f'  - name: one\n    description: "{quoted}"\n'
        + architecture("one", 4, "a")
        + f'  - name: two\n    description: "{quoted}"\n'
        + architecture("two", 8, "b")
        + "run: {replications: 2, requests: 1000, pull_replications: 2, pull_requests: 1000,\n"
        "      precision: 0.2}\n"
    )
    return path


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from strings(value)


# --------------------------------------------------------------------------- plotly


def test_no_figure_of_a_comparison_holds_live_html(tmp_path: Path) -> None:
    from scaleplan.experiments import compare
    from scaleplan.spec import load_scenario
    from scaleplan.views import (
        decision_matrix_table,
        figure_comparison,
        figure_pareto,
        figure_runway,
    )

    scenario = load_scenario(hostile_scenario(tmp_path, f"{LINK} {IMAGE}"))
    result = compare(scenario)
    table = decision_matrix_table(result, caption=result.title)
    assert "&lt;a href=&quot;http://evil&quot;&gt;" in table
    assert "<a " not in table and "<img" not in table
    figures = [
        figure_comparison(result, "p99_ms"),
        figure_pareto(result),
        figure_runway(result),
    ]
    texts = [text for figure in figures for text in strings(figure.to_plotly_json())]
    for text in texts:
        assert "<a " not in text and "<img" not in text, text


def test_compare_html_holds_no_live_link(tmp_path: Path) -> None:
    scenario = hostile_scenario(tmp_path, f"{LINK} {IMAGE}")
    page = tmp_path / "matrix.html"
    done = scaleplan("compare", str(scenario), "--html", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    body = html[html.index("<body") :]
    # The figure's JSON keeps "<" as "\u003c"; the user's text must arrive escaped there.
    assert "evil" in body  # plotly's JSON writes "/" as "\\/"
    for live in (
        '<a href=\\"http:\\/\\/evil',
        '\\u003ca href=\\"http:\\/\\/evil',
        "<img src=x onerror",
        "\\u003cimg src=x onerror",
    ):
        assert live not in body, live


# --------------------------------------------------------------------------- console


def assert_literal(done: subprocess.CompletedProcess[str]) -> None:
    out = done.stdout + done.stderr
    assert "Traceback" not in out and "MarkupError" not in out, out
    assert not set(out) & {"\x1b", "\x07"}, out


def test_compare_prints_a_hostile_title_literally(tmp_path: Path) -> None:
    scenario = hostile_scenario(tmp_path, f"{MARKUP}{ESCAPES}")
    done = scaleplan("compare", str(scenario))
    assert done.returncode == 0, done.stderr
    assert_literal(done)
    assert f"Shop {MARKUP}" in done.stdout


@pytest.mark.parametrize("command", ["validate", "estimate", "simulate"])
def test_spec_commands_print_a_hostile_description_and_error_literally(
    tmp_path: Path, command: str
) -> None:
    spec = tmp_path / "spec.yaml"
    quoted = f"{MARKUP}\\e]0;pwned\\a\\e[2J"
    spec.write_text(
        f'name: s\ndescription: "{quoted}"\nworkload: {{rate_per_s: 10, requests: 500}}\n'
        "entry: api\ncomponents:\n"
        "  api: {kind: service, service_time: {dist: exponential, mean_ms: 10}}\n"
    )
    done = scaleplan(command, str(spec))
    assert done.returncode == 0, done.stderr
    assert_literal(done)
    # An error quoting the user's text is printed literally too.
    spec.write_text(spec.read_text() + f'  "{quoted}": {{kind: service}}\n')
    broken = scaleplan(command, str(spec))
    assert broken.returncode == 2, broken.stdout + broken.stderr
    assert_literal(broken)
    assert "[/x]" in broken.stderr


def test_a_sweep_over_text_values_holds_no_live_html() -> None:
    """A swept value can be text a user typed: plotly reads category tick labels as HTML."""
    from scaleplan.experiments import sweep
    from scaleplan.spec import example_spec
    from scaleplan.views import figure_sweep

    values = [f"{LINK}", "plain"]
    result = sweep(example_spec(), {"description": values}, requests=500, workers=1)
    texts = list(strings(figure_sweep(result).to_plotly_json()))
    assert any("&lt;a href=&quot;http://evil&quot;&gt;" in text for text in texts)
    for text in texts:
        assert "<a " not in text, text
