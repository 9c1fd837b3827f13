"""Headless Chromium (Debian's, through Playwright): the explorer in a real JupyterLab, and a
decision record opened with every network request blocked.

In CI (``CI=true``) a missing Chromium fails these tests; elsewhere they skip with the reason.
Screenshots are written beside the test's temporary files, and into ``docs/`` when
``SCALEPLAN_UPDATE_SCREENSHOTS=1`` (that is how the README's pictures are made).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _records import CHROMIUM_ARGS, ROOT, bundled_record, chromium_or_skip, xss_record

pytestmark = pytest.mark.browser

DOCS = ROOT / "docs"
MAX_SCREENSHOT_BYTES = 300_000


@dataclass
class Watch:
    """What a page did: requests it tried beyond loopback, console errors, dialogs."""

    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def _local(url: str) -> bool:
    return url.startswith(("file://", "data:", "blob:", "about:")) or bool(
        re.match(r"^(https?|wss?)://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/", url)
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _open_page(browser: Any, watch: Watch, width: int = 1280, height: int = 900) -> Any:
    page = browser.new_page(viewport={"width": width, "height": height})

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if _local(url):
            request_route.continue_()
        else:
            watch.blocked.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: watch.errors.append(f"page error: {error}"))

    def dialog(opened: Any) -> None:
        watch.dialogs.append(opened.message)
        opened.dismiss()

    page.on("dialog", dialog)
    return page


def _screenshot(target: Any, name: str, folder: Path) -> Path:
    path = folder / name
    target.screenshot(path=str(path))
    assert path.stat().st_size < MAX_SCREENSHOT_BYTES, f"{name}: {path.stat().st_size} bytes"
    if os.environ.get("SCALEPLAN_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copy(path, DOCS / name)
    return path


# --------------------------------------------------------------------------- decision record


def _wait_for_charts(page: Any, expected: int) -> None:
    page.wait_for_function(
        """(expected) => {
            const plots = [...document.querySelectorAll('.js-plotly-plot')];
            return plots.length === expected && plots.every(p => p.querySelector('svg.main-svg'));
        }""",
        arg=expected,
        timeout=60_000,
    )


def test_a_decision_record_renders_every_chart_offline(browser: Any, tmp_path: Path) -> None:
    record = bundled_record()
    page_text = record.html.read_text(encoding="utf-8")
    expected = page_text.count("Plotly.newPlot(")
    assert expected >= 6
    watch = Watch()
    page = _open_page(browser, watch, height=1000)
    page.goto(record.html.resolve().as_uri())
    _wait_for_charts(page, expected)
    page.wait_for_timeout(500)  # let late scripts complain, if any would
    assert watch.blocked == [], watch.blocked
    assert watch.errors == [], watch.errors
    assert watch.dialogs == []
    rendered = page.evaluate(
        "[...document.querySelectorAll('.js-plotly-plot')]"
        ".filter(p => p.querySelector('svg.main-svg .plot') || p.querySelector('svg.main-svg'))"
        ".length"
    )
    assert rendered == expected
    # Every axis spans its data: none runs to 10^100 for a label placed in the wrong units.
    spans = page.evaluate(
        """[...document.querySelectorAll('.js-plotly-plot')].flatMap(p =>
            Object.keys(p._fullLayout).filter(k => /^[xy]axis\\d*$/.test(k))
                .map(k => p._fullLayout[k]).filter(a => a.type === 'log')
                .map(a => a.range[1] - a.range[0]))"""
    )
    assert spans and all(0 < span < 8 for span in spans), spans  # decades on a log axis
    # The decision matrix is an HTML table, its chosen row highlighted over JupyterLab's style.
    chosen = page.locator("table.scaleplan-table tr.chosen td").first
    assert chosen.inner_text().startswith("★ ")
    style = chosen.evaluate(
        "c => [getComputedStyle(c).backgroundColor, getComputedStyle(c).textAlign]"
    )
    assert style == ["rgb(229, 245, 224)", "left"], style
    headings = page.locator("h2").all_inner_texts()
    assert [h.replace("¶", "").strip() for h in headings][:4] == [
        "Context and Problem Statement",
        "Decision Drivers",
        "Considered Options",
        "Decision Outcome",
    ]
    _screenshot(page, "decision-record.png", tmp_path)
    page.locator("h2", has_text="Decision Outcome").scroll_into_view_if_needed()
    _screenshot(page, "decision-record-outcome.png", tmp_path)
    page.close()


def test_a_hostile_scenario_shows_as_text_and_runs_nothing(browser: Any) -> None:
    record = xss_record()
    watch = Watch()
    page = _open_page(browser, watch)
    page.goto(record.html.resolve().as_uri())
    _wait_for_charts(page, record.html.read_text().count("Plotly.newPlot("))
    page.wait_for_timeout(500)
    assert watch.dialogs == []  # no alert() ran
    assert watch.blocked == [] and watch.errors == []
    assert page.title() == "<script>alert(1)</script>"
    assert page.locator("h1").first.inner_text().replace("¶", "").strip() == (
        "<script>alert(1)</script>"
    )
    body = page.locator("body").inner_text()
    for shown in ('<img src=x onerror="alert(2)">', "<svg onload=alert(4)>", "**not bold**"):
        assert shown in body
    assert page.locator("iframe, img, main svg[onload]").count() == 0
    page.close()


# --------------------------------------------------------------------------- JupyterLab


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    root: Path
    log: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on loopback with a token, over a copy of the notebooks and data."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    shutil.copytree(ROOT / "data", root / "data")
    home = root / ".jupyter-home"
    env = {
        **os.environ,
        # Settings, workspaces and runtime files in the test's folder, not the user's.
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    # No "would you like news?" prompt over the page (and no news fetched from the web).
    notification = home / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    token = secrets.token_hex(16)
    port = _free_port()
    log = root / "lab.log"
    command = [
        str(Path(sys.executable).with_name("jupyter")),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.extension_manager=readonly",
        "--LabApp.news_url=",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    with log.open("w") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "JupyterLab did not start:\n" + log.read_text()
                time.sleep(0.3)
        yield Lab(url, token, root, log)
    finally:
        server.send_signal(signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _utilization(page: Any) -> list[float]:
    return list(
        page.evaluate(
            """() => {
                const plot = document.querySelector('.scaleplan-chart-utilization .js-plotly-plot');
                return plot && plot.data ? [...plot.data[0].y] : [];
            }"""
        )
    )


def test_the_explorer_resimulates_when_a_slider_moves_in_jupyterlab(
    browser: Any, lab: Lab, tmp_path: Path
) -> None:
    watch = Watch()
    page = _open_page(browser, watch, width=1300, height=2000)
    page.goto(f"{lab.url}/lab/tree/notebooks/02-explore.ipynb?token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel", timeout=90_000)
    # Wait for the kernel, then run every cell as "Run → Run All Cells" does.
    page.wait_for_function(
        """() => {
            const app = window.jupyterapp;
            const panel = app && app.shell.currentWidget;
            const kernel = panel && panel.sessionContext && panel.sessionContext.session
                && panel.sessionContext.session.kernel;
            return kernel && kernel.status === 'idle';
        }""",
        timeout=90_000,
    )
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    p99 = page.locator(".scaleplan-summary .scaleplan-p99")
    page.wait_for_function(
        """() => {
            const cell = document.querySelector('.scaleplan-summary .scaleplan-p99');
            const plot = document.querySelector('.scaleplan-chart-utilization .js-plotly-plot');
            const status = document.querySelector('.scaleplan-status');
            return cell && /\\d ms/.test(cell.textContent) && plot && plot.data
                && status && status.textContent.startsWith('simulated');
        }""",
        timeout=120_000,
    )
    assert page.locator(".scaleplan-error").inner_text().strip() == ""
    before_p99 = p99.inner_text()
    before_chart = _utilization(page)
    assert before_chart and all(0 <= value <= 1 for value in before_chart)
    explorer = page.locator(".scaleplan-explorer")
    _screenshot(explorer, "explorer.png", tmp_path)

    # Drag the slider of the share of api requests that call the database to its left end
    # (0) and release it: one change, and every request skips the database.
    knob = ".scaleplan-knob-components-api-calls-0-probability"
    handle = page.locator(f"{knob} .noUi-handle").bounding_box()
    track = page.locator(f"{knob} .noUi-target").bounding_box()
    assert handle is not None and track is not None
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] - 20, handle["y"] + handle["height"] / 2, steps=8)
    page.mouse.up()
    assert float(page.locator(f"{knob} .widget-readout").inner_text()) == 0
    page.wait_for_function(
        """(before) => {
            const cell = document.querySelector('.scaleplan-summary .scaleplan-p99');
            const status = document.querySelector('.scaleplan-status');
            return cell && cell.textContent !== before && status
                && status.textContent.startsWith('simulated');
        }""",
        arg=before_p99,
        timeout=60_000,
    )
    after_p99 = p99.inner_text()
    page.wait_for_function(
        """(before) => {
            const plot = document.querySelector('.scaleplan-chart-utilization .js-plotly-plot');
            const now = plot && plot.data ? [...plot.data[0].y] : before;
            return now.some((value, index) => value !== before[index]);
        }""",
        arg=before_chart,
        timeout=30_000,
    )
    after_chart = _utilization(page)
    assert after_p99 != before_p99 and re.search(r"\d ms", after_p99)
    # No request calls the database any more: its utilisation falls to 0, the api's does not.
    assert after_chart[1] == 0 < before_chart[1]
    assert after_chart[0] > 0
    assert page.locator(".scaleplan-error").inner_text().strip() == ""
    assert watch.blocked == [], watch.blocked
    _screenshot(explorer, "explorer-after.png", tmp_path)
    page.close()
