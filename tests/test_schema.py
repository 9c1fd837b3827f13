"""``scaleplan schema KIND``: the JSON Schema of every kind of file (scaleplan/spec/schema.py;
issue 10). Each validates the bundled files of its kind, refuses what its loader refuses at
the top level, and describes every top-level key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from scaleplan.cli import app
from scaleplan.errors import SpecError
from scaleplan.spec.schema import FILE_KINDS, detect_kind, file_kind, json_schema

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {
    "architecture": "architectures",
    "scenario": "scenarios",
    "dr": "dr",
    "rollout": "rollouts",
}
BUNDLED = [
    (kind, path)
    for kind, folder in FOLDERS.items()
    for path in sorted((ROOT / "data" / folder).glob("*.yaml"))
]


def test_every_kind_of_file_has_a_folder_of_examples() -> None:
    assert set(FILE_KINDS) == set(FOLDERS)
    assert {kind for kind, _ in BUNDLED} == set(FILE_KINDS)


@pytest.fixture(scope="module")
def validators() -> dict[str, Draft202012Validator]:
    found = {}
    for kind in FILE_KINDS:
        schema = json_schema(kind)
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["title"] == f"scaleplan {kind}"
        found[kind] = Draft202012Validator(schema)
    return found


@pytest.mark.parametrize(("kind", "path"), BUNDLED, ids=lambda item: getattr(item, "name", item))
def test_each_bundled_file_validates_against_its_kind_and_is_told_as_it(
    validators: dict[str, Draft202012Validator], kind: str, path: Path
) -> None:
    data = yaml.safe_load(path.read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validators[kind].iter_errors(data)]
    assert errors == []
    assert set(data) <= set(json_schema(kind)["properties"])
    assert detect_kind(data)[0] == kind


def _described(node: dict[str, Any], definitions: dict[str, Any], seen: frozenset[str]) -> bool:
    """A description on the key, or on what it holds (a model's docstring, a list's item)."""
    if "description" in node:
        return True
    name = node.get("$ref", "").rsplit("/", 1)[-1]
    if name:
        return name not in seen and _described(definitions[name], definitions, seen | {name})
    options = [option for key in ("anyOf", "oneOf") for option in node.get(key, ())]
    inner = [
        node[key] for key in ("items", "additionalProperties") if isinstance(node.get(key), dict)
    ]
    return any(
        _described(option, definitions, seen)
        for option in [*options, *inner]
        if option != {"type": "null"}
    )


@pytest.mark.parametrize("kind", list(FILE_KINDS))
def test_every_top_level_key_is_described(kind: str) -> None:
    schema = json_schema(kind)
    definitions = schema.get("$defs", {})
    bare = [
        key
        for key, node in schema["properties"].items()
        if not _described(node, definitions, frozenset())
    ]
    assert bare == []


@pytest.mark.parametrize(
    ("kind", "document"),
    [
        (
            "scenario",
            {
                "title": "t",
                "workload": {"today": {"rate_per_s": 1}},
                "candidates": [{"path": "a.yaml"}],
                "titel": "x",
            },
        ),
        ("dr", {"title": "t", "data": {"size_gb": 1}, "strategies": []}),
        ("rollout", {"strategy": "canary", "boot": 30}),
        ("rollout", {"strategy": "big_bang"}),
        (
            "dr",
            {
                "title": "t",
                "data": {"size_gb": 1},
                "detection": "5 minutes",
                "strategies": [{"name": "a", "kind": "active_active"}],
            },
        ),
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(
    validators: dict[str, Draft202012Validator], kind: str, document: dict[str, Any], tmp_path: Path
) -> None:
    assert not validators[kind].is_valid(document)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(SpecError):
        file_kind(kind).load(path)


@pytest.mark.parametrize(
    "duration", ["30s", "5min", "2h", "1.5h", 300, {"mean": "5min", "cv": 0.5}]
)
def test_a_dr_duration_in_every_form_the_loader_reads(
    validators: dict[str, Draft202012Validator], duration: Any
) -> None:
    document = {
        "title": "t",
        "data": {"size_gb": 10},
        "detection": duration,
        "replication": {"lag": duration},
        "strategies": [{"name": "a", "kind": "active_active", "switch": duration}],
    }
    assert validators["dr"].is_valid(document)
    from scaleplan.spec.dr import parse_dr

    assert parse_dr(document).detection.mean_s > 0


def test_the_command_lists_writes_and_refuses_kinds(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["schema", "--list"])
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.output.splitlines()] == list(FILE_KINDS)
    target = tmp_path / "scenario.schema.json"
    written = runner.invoke(app, ["schema", "scenario", "-o", str(target)])
    assert written.exit_code == 0, written.output
    assert json.loads(target.read_text()) == json_schema("scenario")
    printed = runner.invoke(app, ["schema", "dr"])
    assert json.loads(printed.output)["title"] == "scaleplan dr"
    refused = runner.invoke(app, ["schema", "scenaro"])
    assert refused.exit_code == 2
    said = " ".join(refused.output.replace("│", " ").split())
    assert "unknown kind of file 'scenaro' (did you mean 'scenario'?)" in said
    assert "(expected one of architecture, scenario, dr, rollout)" in said
    with pytest.raises(SpecError, match="unknown kind of file 'drr' \\(did you mean 'dr'\\?\\)"):
        file_kind("drr")


def _profile_scenario(phase: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": "t",
        "workload": {"today": {"rate_per_s": 1}, "profile": {"phases": [phase]}},
        "candidates": [{"path": "a.yaml"}],
    }


@pytest.mark.parametrize(
    ("phase", "valid"),
    [
        ({"duration": "15min", "steady": {"factor": 2}}, True),
        ({"duration_s": 900, "steady": {"factor": 2}}, True),
        ({"steady": {"factor": 2}}, False),
        ({"duration": "15min", "duration_s": 900, "steady": {"factor": 2}}, False),
        ({"duration": "a quarter of an hour", "steady": {"factor": 2}}, False),
    ],
)
def test_a_profile_phase_takes_its_duration_in_either_spelling_but_one(
    validators: dict[str, Draft202012Validator], phase: dict[str, Any], valid: bool
) -> None:
    from scaleplan.spec.profile import PhaseSpec

    assert validators["scenario"].is_valid(_profile_scenario(phase)) is valid
    if valid:
        assert PhaseSpec.model_validate(dict(phase)).duration_s == 900
    else:
        with pytest.raises(ValueError):
            PhaseSpec.model_validate(dict(phase))


@pytest.mark.parametrize(
    ("backlog", "valid"),
    [
        ({"drain_within": "5min"}, True),
        ({"drain_within_s": 300, "max_queue": 100}, True),
        ({"max_queue": 100, "component": "q"}, True),
        ({"drain_within": "5min", "drain_within_s": 300}, False),
        ({"drain_within": "five minutes"}, False),
    ],
)
def test_a_backlog_nfr_takes_its_drain_in_either_spelling_but_not_both(
    validators: dict[str, Draft202012Validator], backlog: dict[str, Any], valid: bool
) -> None:
    from scaleplan.spec import BacklogNFR

    scenario = _profile_scenario({"duration_s": 60, "steady": {"factor": 1}})
    scenario["nfrs"] = {"backlog": backlog}
    assert validators["scenario"].is_valid(scenario) is valid
    if valid:
        BacklogNFR.model_validate(dict(backlog))
    else:
        with pytest.raises(ValueError):
            BacklogNFR.model_validate(dict(backlog))
