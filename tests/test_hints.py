"""Hints for mistyped keys (scaleplan/spec/hints.py): compared only with the keys valid where
the mistake is, close or an abbreviation, and nothing when nothing is close (issue 10).

Regressions: a scenario's ``notes`` was "did you mean 'loadtest'?", a DR file's ``name`` "a
key of: backup_restore", ``title`` in an architecture "did you mean 'file'?".
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from scaleplan.errors import SpecError
from scaleplan.spec import ArchitectureSpec, ScenarioSpec, load_dr, load_scenario, load_spec
from scaleplan.spec.dr import DRSpec
from scaleplan.spec.hints import key_owners, keys_at, models_at, suggest
from scaleplan.spec.rollout import load_rollout

ROOT = Path(__file__).resolve().parent.parent
FILES = {
    "architecture": ("architectures/monolith.yaml", load_spec),
    "scenario": ("scenarios/online-shop.yaml", load_scenario),
    "dr": ("dr/online-shop-dr.yaml", load_dr),
    "rollout": ("rollouts/canary.yaml", load_rollout),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundled files: the scenario's relative paths still resolve."""
    folder = tmp_path_factory.mktemp("data")
    for part in ("architectures", "scenarios", "dr", "rollouts"):
        shutil.copytree(ROOT / "data" / part, folder / part)
    return folder


def problems_of(data: Path, kind: str, path: tuple[str | int, ...], key: str) -> str:
    """The problems of the bundled ``kind`` file with ``key: 1`` added at ``path``."""
    name, load = FILES[kind]
    document = yaml.safe_load((data / name).read_text())
    node: Any = document
    for part in path:
        node = node[part]
    node[key] = 1
    written = (data / name).with_name(f"typo-{kind}.yaml")
    written.write_text(yaml.safe_dump(document, sort_keys=False))
    loader: Callable[[Path], Any] = load
    with pytest.raises(SpecError) as caught:
        loader(written)
    return str(caught.value)


@pytest.mark.parametrize(
    ("kind", "path", "key", "expected"),
    [
        # No hint where nothing valid here is close (each suggested a key of elsewhere before).
        ("architecture", (), "title", "title: unknown key 'title'"),  # was 'file'
        ("architecture", (), "context", "context: unknown key 'context'"),  # was 'count'
        ("scenario", (), "notes", "notes: unknown key 'notes'"),  # was 'loadtest'
        ("scenario", (), "decision", "decision: unknown key 'decision'"),  # was 'precision'
        ("scenario", ("costs",), "region", "costs.region: unknown key 'region'"),
        ("scenario", ("nfrs", "availability"), "target", "unknown key 'target'"),  # was 'text'
        ("scenario", ("nfrs", "retention"), "size_gb", "unknown key 'size_gb'"),
        ("rollout", (), "replicas", "replicas: unknown key 'replicas'"),  # was 'release'
        ("rollout", (), "rate", "rate: unknown key 'rate'"),  # was 'strategy'
        # The close key valid at that very place.
        ("scenario", ("workload",), "peak_facter", "(did you mean 'peak_factor'?)"),
        ("scenario", ("candidates", 0), "desc", "(did you mean 'description'?)"),
        ("scenario", ("run",), "seeds", "run.seeds: unknown key 'seeds' (did you mean 'seed'?)"),
        ("dr", ("strategies", 0), "cost", "(did you mean 'cost_per_month'?)"),  # was 'costs'
        ("dr", ("backups",), "intervall", "(did you mean 'interval'?)"),  # was 'interval_s'
        ("dr", ("backups", "duration"), "means", "(did you mean 'mean'?)"),
        ("dr", ("backups",), "retention", "(did you mean 'retention_days'?)"),
        ("rollout", ("canary",), "bake", "canary.bake: unknown key 'bake' (did you mean 'bake_s'"),
        ("rollout", ("rollback",), "window", "(did you mean 'window_s'?)"),
        # A valid key in the wrong place: where it is a key, by key path.
        ("dr", (), "name", "'name' is not a key of the top level; it is a key of: strategies[]"),
        (
            "dr",
            ("strategies", 0),
            "rto",
            "strategies[0].rto: 'rto' is not a key of strategies[0]; it is a key of: nfrs",
        ),
        (
            "scenario",
            (),
            "owner",
            "'owner' is not a key of the top level; it is a key of: nfrs.qualitative[]",
        ),
        ("scenario", ("candidates", 0), "title", "it is a key of: the top level"),
        ("rollout", (), "window_s", "it is a key of: rollback"),
        (
            "architecture",
            ("components", "app"),
            "users",
            "'users' is not a key of a service; it is a key of: workload, workload.classes[]",
        ),
    ],
)
def test_hints_come_from_the_keys_valid_at_that_place(
    data: Path, kind: str, path: tuple[str | int, ...], key: str, expected: str
) -> None:
    text = problems_of(data, kind, path, key)
    assert expected in text
    line = next(line for line in text.splitlines() if f"'{key}'" in line)
    if "did you mean" not in expected:
        assert "did you mean" not in line, line


def test_suggest_needs_a_close_word_or_an_abbreviation() -> None:
    assert suggest("replica", ["replicas", "release"]) == " (did you mean 'replicas'?)"
    assert suggest("dbb", ["db", "api"]) == " (did you mean 'db'?)"
    assert suggest("maximum", ["max", "base_ms"]) == " (did you mean 'max'?)"
    assert suggest("title", ["file", "name"]) == ""
    assert suggest("context", ["count"]) == ""
    assert suggest("db", ["dbx-primary"]) == ""  # two letters abbreviate nothing
    assert suggest("failures", ["failures"]) == ""  # never the refused word itself


def test_the_places_follow_tags_items_and_mappings() -> None:
    loc = ("components", "api", "service", "calls", 0)
    assert [model.__name__ for model in models_at(ArchitectureSpec, loc)] == ["CallSpec"]
    assert {"to", "probability", "retries"} <= keys_at(ArchitectureSpec, loc)
    assert "title" in keys_at(ScenarioSpec, ())
    detection = keys_at(DRSpec, ("detection",))
    assert "mean" in detection and "mean_s" not in detection  # as files write it
    assert "service" in key_owners(ArchitectureSpec, "failures")
