"""Every problem of a scenario and of every file it names, in one pass (issue 10).

Regression: a scenario with a bad key of its own stopped there, so its candidates' and its
resilience files' problems came one run at a time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scaleplan.errors import SpecError
from scaleplan.spec import load_scenario

ROOT = Path(__file__).resolve().parent.parent


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The online shop with one mistake in the scenario, in two of its candidates, in its DR
    file and in its rollout plan; the third candidate is in-line and broken too."""
    folder = tmp_path_factory.mktemp("broken")
    for part in ("architectures", "scenarios", "dr", "rollouts"):
        shutil.copytree(ROOT / "data" / part, folder / part)
    _edit(folder / "scenarios/online-shop.yaml", "  peak_factor: 2.5", "  peak_facter: 2.5")
    _edit(folder / "architectures/monolith.yaml", "    concurrency: 16", "    concurency: 16")
    _edit(folder / "architectures/monolith.yaml", "{to: db,", "{to: dbb,")  # beside the typo
    _edit(folder / "architectures/lb-cluster.yaml", "replicas: 3", "replicas: 0")
    _edit(folder / "dr/online-shop-dr.yaml", "  size_gb: 400", "  size: 400")
    _edit(folder / "rollouts/canary.yaml", "boot_s: 30", "boot: 30")
    _edit(
        folder / "scenarios/online-shop.yaml",
        "  - path: ../architectures/three-tier.yaml\n",
        "  - architecture:\n"
        "      {name: inline, workload: {rate_per_s: 1}, entry: a,\n"
        "       components: {b: {kind: service, service_time: {dist: exponential, mean_ms: 1}}}}\n",
    )
    return folder / "scenarios/online-shop.yaml"


def test_one_error_holds_every_problem_of_every_file(broken: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_scenario(broken)
    found = {(problem.file, problem.key_path): problem for problem in caught.value.problems}
    expected = {
        ("online-shop.yaml", "workload.peak_facter"): "(did you mean 'peak_factor'?)",
        ("monolith.yaml", "components.db.concurency"): "(did you mean 'concurrency'?)",
        ("monolith.yaml", "components.app.calls[0].to"): "no component named 'dbb'",
        ("lb-cluster.yaml", "components.api.replicas"): "must be at least 1 (got 0)",
        ("online-shop-dr.yaml", "data.size"): "(did you mean 'size_gb'?)",
        ("canary.yaml", "boot"): "(did you mean 'boot_s'?)",
        ("online-shop.yaml", "candidates[2].architecture.entry"): "no component named 'a'",
    }
    for place, message in expected.items():
        assert place in found, (place, sorted(found))
        assert message in found[place].message
        assert found[place].line is not None, place  # each names its own line
    # The file's lines are its own: line 11 of canary.yaml holds boot.
    assert found[("canary.yaml", "boot")].line == 11


def test_compare_reports_them_all_at_once_and_exits_2(broken: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scaleplan", "compare", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    for file in ("online-shop.yaml:", "monolith.yaml:", "lb-cluster.yaml:", "canary.yaml:11:"):
        assert file in done.stderr, file
    assert "online-shop-dr.yaml:" in done.stderr
