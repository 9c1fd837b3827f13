"""What a command and the record's kernel import before they work: nothing slow they do not use.

``scipy.stats`` (about a second) and jsonschema's ``rfc3987_syntax`` (a lark grammar compiled
on import, over a second) were on the critical path of every ``decide``; the replacements
below give the same numbers.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import special, stats

from scaleplan.errors import ReportError
from scaleplan.metrics import replication_ci

ROOT = Path(__file__).resolve().parent.parent


def _imported_after(code: str, modules: tuple[str, ...]) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_record_kernel_and_the_commands_do_not_import_scipy_stats() -> None:
    kernel = (
        "from scaleplan.report import present, record\nfrom scaleplan.report.markup import show"
    )
    commands = "import scaleplan.cli\nfrom scaleplan.experiments import compare, pull, recovery"
    assert _imported_after(f"{kernel}\n{commands}", ("scipy.stats",)) == []


def test_the_parent_of_decide_does_not_import_the_models() -> None:
    """It only runs papermill: the spec's kinds, numpy and scipy are the kernel's to import."""
    parent = "import scaleplan.cli\nfrom scaleplan.report.decide import decide"
    heavy = ("scaleplan.kinds", "numpy", "scipy")
    assert _imported_after(parent, heavy) == []


def test_decide_imports_papermill_without_the_iri_grammar() -> None:
    code = (
        "from scaleplan.report.decide import _import_papermill\n"
        "_import_papermill()\n"
        "import jsonschema\n"
        "assert 'papermill' in sys.modules\n"
    )
    assert _imported_after(f"import sys\n{code}", ("rfc3987_syntax",)) == []


def test_the_t_quantile_is_scipy_stats_own() -> None:
    values = np.array([3.0, 5.0, 4.0, 6.5, 2.0])
    ci = replication_ci(values)
    half = float(stats.t.ppf(0.975, 4)) * (float(values.std(ddof=1)) / np.sqrt(5))
    assert ci.half_width == half  # exactly: stdtrit is what t.ppf computes
    for df in (1, 2, 9, 29, 299):
        assert special.stdtrit(df, 0.975) == stats.t.ppf(0.975, df)


@pytest.mark.parametrize("q", [0.01, 0.5, 0.9, 0.99, 0.999])
def test_the_binomial_quantile_of_the_dr_cis_is_scipy_stats_own(q: float) -> None:
    from scaleplan.experiments.dr import _binomial_quantile

    for n in [*range(1, 400), 1000, 4321, 10_000, 100_000]:
        for prob in (0.025, 0.975):
            assert _binomial_quantile(prob, n, q) == int(stats.binom.ppf(prob, n, q)), (n, prob)


def test_the_record_engine_saves_the_notebook_at_start_and_end_even_when_a_cell_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not twice per cell (each save of a record holding plotly.js takes about 0.1 s), and the
    failed notebook is still written, with its error."""
    import nbformat
    import papermill
    import papermill.engines
    from papermill.exceptions import PapermillExecutionError

    from scaleplan.report.decide import KERNEL_NAME, _record_engine, ensure_kernel

    ensure_kernel()
    saves: list[str] = []
    write = papermill.engines.write_ipynb

    def counted(nb: object, path: str) -> None:
        saves.append(path)
        write(nb, path)

    monkeypatch.setattr(papermill.engines, "write_ipynb", counted)
    cells = [nbformat.v4.new_code_cell(f"x = {index}") for index in range(5)]
    cells.append(nbformat.v4.new_code_cell("raise ValueError('the sixth cell fails')"))
    source, target = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), source)
    with pytest.raises(PapermillExecutionError, match="the sixth cell fails"):
        papermill.execute_notebook(
            str(source),
            str(target),
            kernel_name=KERNEL_NAME,
            engine_name=_record_engine(),
            progress_bar=False,
        )
    assert saves == [str(target)] * 2  # papermill's own engine: 2 + 2 × 6 saves
    kept = nbformat.read(target, as_version=4)
    assert [cell.execution_count for cell in kept.cells if cell.cell_type == "code"] == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    assert "the sixth cell fails" in json.dumps(kept.cells[-1].outputs)


def test_a_record_that_fails_before_its_first_cell_still_stops_its_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel starts before papermill reads the template; whatever fails then, it stops."""
    decide_module = importlib.import_module("scaleplan.report.decide")
    started: list[object] = []
    start = decide_module._start_kernel

    def recorded(*args: object) -> object:
        started.append(start(*args))
        return started[-1]

    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not a notebook", encoding="utf-8")
    monkeypatch.setattr(decide_module, "_start_kernel", recorded)
    monkeypatch.setattr(decide_module, "template_path", lambda: broken)
    with pytest.raises(ReportError, match="the decision record failed"):
        decide_module.decide(ROOT / "data" / "scenarios" / "online-shop.yaml", tmp_path)
    assert len(started) == 1
    assert not started[0].has_kernel  # type: ignore[attr-defined]


def test_the_record_kernel_listens_on_unix_sockets_in_its_own_folder(tmp_path: Path) -> None:
    """No TCP ports: two records started side by side (a batch) cannot race for one."""
    from jupyter_core.utils import run_sync

    decide_module = importlib.import_module("scaleplan.report.decide")
    decide_module.ensure_kernel()
    sockets = tmp_path / "s"
    sockets.mkdir()
    kernel = decide_module._start_kernel(decide_module.KERNEL_NAME, tmp_path, sockets)
    try:
        client = kernel.client()
        client.start_channels()
        run_sync(client.wait_for_ready)(timeout=60)
        client.stop_channels()
        info = kernel.get_connection_info()
        assert info["transport"] == "ipc"
        assert Path(info["ip"]).parent == sockets
        listening = sorted(path.name for path in sockets.iterdir())
        assert len(listening) == 5  # shell, iopub, stdin, control and heartbeat
    finally:
        decide_module._stop_kernel(kernel)
    assert not kernel.has_kernel


def test_a_socket_folder_too_deep_for_a_unix_socket_falls_back_to_ports(tmp_path: Path) -> None:
    decide_module = importlib.import_module("scaleplan.report.decide")
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    kernel = decide_module._start_kernel(decide_module.KERNEL_NAME, tmp_path, deep)
    try:
        assert kernel.transport == "tcp"
    finally:
        decide_module._stop_kernel(kernel)
