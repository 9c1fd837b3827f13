"""Tests for scaleplan.spec: the YAML contract, its errors, the JSON Schema and frozen specs.

The table of bad inputs is the contract of docs/architecture.md ("bad input gets a clear error
naming the file, the key path and what was found"): each row is one file under
``tests/data/bad/`` and the exact lines of ``str(SpecError)`` it must give.
"""

from __future__ import annotations

import copy
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

import scaleplan.spec as spec_module
from scaleplan.errors import Problem, ScaleplanError, SpecError
from scaleplan.graph import build_graph
from scaleplan.spec import (
    KINDS,
    ArchitectureSpec,
    WorkloadSpec,
    example_spec,
    json_schema,
    load_spec,
    parse_duration_s,
    parse_spec,
    read_yaml,
)
from scaleplan.spec.hints import models_of

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURES = ROOT / "data" / "architectures"
EXAMPLES = sorted(ARCHITECTURES.glob("*.yaml"))
BAD = Path(__file__).resolve().parent / "data" / "bad"
# Stands for the absolute path of tests/data/bad in the rows that print a full path.
BAD_DIR = "<bad>"


def minimal(**workload: Any) -> dict[str, Any]:
    """The smallest valid architecture: one exponential service at entry ``api``."""
    return {
        "name": "minimal",
        "workload": {"rate_per_s": 10, **workload},
        "entry": "api",
        "components": {
            "api": {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": 10}}
        },
    }


def error_lines(error: SpecError) -> list[str]:
    return str(error).splitlines()


# --------------------------------------------------------------------------- the bad-input table

SPEC = "spec"  # refused by load_spec
GRAPH = "graph"  # loads, then refused by build_graph

BAD_INPUTS = [
    pytest.param(
        "invalid-syntax.yaml",
        SPEC,
        ["invalid-syntax.yaml:3: invalid YAML: expected ',' or '}', but got ':'"],
        id="invalid-yaml-syntax",
    ),
    pytest.param(
        "python-object.yaml",
        SPEC,
        [
            "python-object.yaml:2: invalid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system'"
        ],
        id="python-object-tag",
    ),
    pytest.param(
        "python-apply.yaml",
        SPEC,
        [
            "python-apply.yaml:3: invalid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object/apply:builtins.exit'"
        ],
        id="python-apply-tag",
    ),
    pytest.param(
        "alias-bomb.yaml",
        SPEC,
        [
            "alias-bomb.yaml: expands to 340,460 YAML nodes through aliases; refused "
            "(at most 200,000)"
        ],
        id="alias-bomb",
    ),
    pytest.param("empty.yaml", SPEC, ["empty.yaml: is empty"], id="empty-file"),
    pytest.param(
        "top-level-list.yaml",
        SPEC,
        ["top-level-list.yaml: must be a mapping of keys (got list)"],
        id="top-level-list",
    ),
    pytest.param(
        "not-there.yaml",
        SPEC,
        [f"{BAD_DIR}/not-there.yaml: file does not exist"],
        id="missing-file",
    ),
    pytest.param(
        "unknown-key.yaml",
        SPEC,
        [
            "unknown-key.yaml:7: components.api.replica: unknown key 'replica' "
            "(did you mean 'replicas'?)"
        ],
        id="unknown-key-with-suggestion",
    ),
    pytest.param(
        "replicas-not-a-number.yaml",
        SPEC,
        [
            "replicas-not-a-number.yaml:7: components.api.replicas: input should be a valid "
            "integer, unable to parse string as an integer (got 'many')"
        ],
        id="wrong-type",
    ),
    pytest.param(
        "rate-zero.yaml",
        SPEC,
        ["rate-zero.yaml:3: workload.rate_per_s: must be greater than 0 (got 0)"],
        id="rate-zero",
    ),
    pytest.param(
        "rate-negative.yaml",
        SPEC,
        ["rate-negative.yaml:3: workload.rate_per_s: must be greater than 0 (got -5)"],
        id="rate-negative",
    ),
    pytest.param(
        "replicas-zero.yaml",
        SPEC,
        ["replicas-zero.yaml:7: components.api.replicas: must be at least 1 (got 0)"],
        id="replicas-zero",
    ),
    pytest.param(
        "probability-above-one.yaml",
        SPEC,
        [
            "probability-above-one.yaml:9: components.api.calls[0].probability: "
            "must be at most 1 (got 1.5)"
        ],
        id="probability-above-one",
    ),
    pytest.param(
        "probability-negative.yaml",
        SPEC,
        [
            "probability-negative.yaml:9: components.api.calls[0].probability: "
            "must be at least 0 (got -0.1)"
        ],
        id="probability-negative",
    ),
    pytest.param(
        "unknown-kind.yaml",
        SPEC,
        [
            "unknown-kind.yaml:5: components.api: unknown kind 'mainframe' "
            f"(expected one of {', '.join(map(repr, KINDS))})"
        ],
        id="unknown-kind",
    ),
    pytest.param(
        "unknown-dist.yaml",
        SPEC,
        [
            "unknown-dist.yaml:7: components.api.service_time: unknown dist 'weibull' "
            "(expected one of 'exponential', 'constant', 'uniform', 'lognormal', 'gamma', "
            "'empirical')"
        ],
        id="unknown-dist",
    ),
    pytest.param(
        "missing-service-time.yaml",
        SPEC,
        ["missing-service-time.yaml:5: components.api.service_time: required key is missing"],
        id="missing-service-time",
    ),
    pytest.param(
        "lognormal-mean-only.yaml",
        SPEC,
        [
            "lognormal-mean-only.yaml:7: components.api.service_time: "
            "give either mean_ms and cv, or p50_ms and p99_ms"
        ],
        id="lognormal-mean-only",
    ),
    pytest.param(
        "uniform-cv-too-high.yaml",
        SPEC,
        [
            "uniform-cv-too-high.yaml:7: components.api.service_time: "
            "a uniform's cv is at most 1/√3 ≈ 0.577 (got 0.8)"
        ],
        id="uniform-cv-too-high",
    ),
    pytest.param(
        "empirical-file-missing.yaml",
        SPEC,
        [
            "empirical-file-missing.yaml:7: components.api.service_time: "
            f"samples file '{BAD_DIR}/no-such-samples.csv' does not exist"
        ],
        id="empirical-file-missing",
    ),
    pytest.param(
        "empirical-not-a-number.yaml",
        SPEC,
        [
            "empirical-not-a-number.yaml:7: components.api.service_time: "
            "samples-not-a-number.csv line 4, column 1: not a number"
        ],
        id="empirical-csv-not-a-number",
    ),
    pytest.param(
        "call-target-misspelt.yaml",
        SPEC,
        [
            "call-target-misspelt.yaml:9: components.api.calls[0].to: no component named 'dbb' "
            "(did you mean 'db'?)"
        ],
        id="unknown-call-target-with-suggestion",
    ),
    pytest.param(
        "call-target-unknown.yaml",
        SPEC,
        ["call-target-unknown.yaml:10: components.api.calls[1].to: no component named 'search'"],
        id="unknown-call-target",
    ),
    pytest.param(
        "entry-unknown.yaml",
        SPEC,
        ["entry-unknown.yaml:3: entry: no component named 'apii' (did you mean 'api'?)"],
        id="unknown-entry",
    ),
    pytest.param(
        "entry-missing.yaml",
        SPEC,
        ["entry-missing.yaml: entry: required key is missing (where requests arrive)"],
        id="missing-entry",
    ),
    pytest.param(
        "class-entry-unknown.yaml",
        SPEC,
        [
            "class-entry-unknown.yaml:6: workload.classes[1].entry: no component named "
            "'chekout' (did you mean 'checkout'?)"
        ],
        id="unknown-class-entry",
    ),
    pytest.param(
        "lb-to-itself.yaml",
        SPEC,
        ["lb-to-itself.yaml:5: components.edge.to[0]: a component cannot call itself (got 'edge')"],
        id="load-balancer-to-itself",
    ),
    pytest.param(
        "exit-with-to.yaml",
        SPEC,
        [
            "exit-with-to.yaml:10: components.api.calls[1]: an entry is a call (`to` or "
            "`one_of`) or an "
            "exit (`exit: true`), not both (got to 'db' with exit: true)"
        ],
        id="exit-with-to",
    ),
    pytest.param(
        "exit-with-retries.yaml",
        SPEC,
        [
            "exit-with-retries.yaml:9: components.api.calls[0]: an exit makes no call, so it "
            "takes no resilience policy (got timeout_ms, retries with exit: true)"
        ],
        id="exit-with-resilience",
    ),
    pytest.param(
        "exit-in-parallel.yaml",
        SPEC,
        [
            "exit-in-parallel.yaml:5: components.api: an exit ends a sequence of calls, but "
            "parallel calls all go out at once: remove the exit (calls[1]) or set parallel: false"
        ],
        id="exit-in-parallel",
    ),
    pytest.param(
        "call-without-to.yaml",
        SPEC,
        [
            "call-without-to.yaml:9: components.api.calls[0]: a call entry needs `to` (the "
            "component called), `one_of` (targets of which one is called), or `exit: true` to "
            "end the visit there"
        ],
        id="call-without-to",
    ),
    pytest.param(
        "self-call.yaml",
        SPEC,
        [
            "self-call.yaml:9: components.api.calls[0].to: a service that holds its slot "
            "during its calls cannot call itself (got 'api'): the slot would wait on itself; "
            "set hold_during_calls: false to feed the request back to its own queue"
        ],
        id="calls-itself",
    ),
    pytest.param(
        "requests-and-duration.yaml",
        SPEC,
        ["requests-and-duration.yaml:2: workload: give requests or duration_s, not both"],
        id="requests-and-duration",
    ),
    pytest.param(
        "bursty-without-burst.yaml",
        SPEC,
        ["bursty-without-burst.yaml:2: workload: arrival 'bursty' needs the key 'burst'"],
        id="bursty-without-burst",
    ),
    pytest.param(
        "burst-with-poisson.yaml",
        SPEC,
        ["burst-with-poisson.yaml:2: workload: key 'burst' only applies to arrival 'bursty'"],
        id="burst-with-poisson",
    ),
    pytest.param(
        "warmup-fraction-too-high.yaml",
        SPEC,
        [
            "warmup-fraction-too-high.yaml:4: workload.warmup: a fraction of requests must be "
            "in [0, 1) (got 1.5)"
        ],
        id="warmup-1.5",
    ),
    pytest.param(
        "warmup-words.yaml",
        SPEC,
        [
            "warmup-words.yaml:4: workload.warmup: not a duration such as '30s' or '500ms' "
            "(got 'ten seconds')"
        ],
        id="warmup-ten-seconds",
    ),
    pytest.param(
        "duplicate-class.yaml",
        SPEC,
        [
            "duplicate-class.yaml:2: workload: request class names must be unique "
            "(got ['browse'] twice)"
        ],
        id="duplicate-class",
    ),
    pytest.param(
        "unreachable.yaml",
        GRAPH,
        ["unreachable.yaml: components.orphan: no request can reach it from the entry 'api'"],
        id="unreachable-component",
    ),
    # Several problems in one file: every one is reported, each with its own place.
    pytest.param(
        "several-problems.yaml",
        SPEC,
        [
            "several-problems.yaml:3: workload.rate_per_s: must be greater than 0 (got -1)",
            "several-problems.yaml:9: components.api.replica: unknown key 'replica' "
            "(did you mean 'replicas'?)",
            "several-problems.yaml:10: components.api.concurrency: must be at least 1 (got 0)",
            "several-problems.yaml:11: components.api.service_time.cv: required key is missing",
            "several-problems.yaml:16: components.db.calls[0].probability: must be at most 1 "
            "(got 1.5)",
        ],
        id="several-field-problems",
    ),
    pytest.param(
        "several-reference-problems.yaml",
        SPEC,
        [
            "several-reference-problems.yaml:3: entry: no component named 'front'",
            "several-reference-problems.yaml:9: components.api.calls[0].to: a service that "
            "holds its slot during its calls cannot call itself (got 'api'): the slot would "
            "wait on itself; set hold_during_calls: false to feed the request back to its own "
            "queue",
            "several-reference-problems.yaml:10: components.api.calls[1].to: no component named "
            "'dbb' (did you mean 'db'?)",
        ],
        id="several-reference-problems",
    ),
    pytest.param(
        "several-unreachable.yaml",
        GRAPH,
        [
            "several-unreachable.yaml: components.cache: no request can reach it from the entry "
            "'api'",
            "several-unreachable.yaml: components.worker: no request can reach it from the "
            "entry 'api'",
        ],
        id="several-unreachable",
    ),
]


@pytest.mark.parametrize(("file_name", "stage", "expected"), BAD_INPUTS)
def test_bad_input_names_file_key_path_and_what_was_found(
    file_name: str, stage: str, expected: list[str]
) -> None:
    path = BAD / file_name
    if stage == SPEC:
        with pytest.raises(SpecError) as caught:
            load_spec(path)
    else:
        spec = load_spec(path)
        with pytest.raises(SpecError) as caught:
            build_graph(spec)
    wanted = [line.replace(BAD_DIR, str(BAD)) for line in expected]
    # The contract is the set of lines; their order is whatever the validator meets them in.
    assert sorted(error_lines(caught.value)) == sorted(wanted)
    assert len(caught.value.problems) == len(wanted)


def test_every_bad_fixture_is_in_the_table() -> None:
    listed = {param.values[0] for param in BAD_INPUTS} | {"cycle-forever.yaml"}
    on_disk = {path.name for path in BAD.glob("*.yaml")}
    assert on_disk <= listed


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        (
            "lognormal-mean-only.yaml",
            "lognormal-mean-only.yaml:7: components.api.service_time: "
            "give either mean_ms and cv, or p50_ms and p99_ms",
        ),
        (
            "uniform-cv-too-high.yaml",
            "uniform-cv-too-high.yaml:7: components.api.service_time: "
            "a uniform's cv is at most 1/√3 ≈ 0.577 (got 0.8)",
        ),
        (
            "empirical-not-a-number.yaml",
            "empirical-not-a-number.yaml:7: components.api.service_time: "
            "samples-not-a-number.csv line 4, column 1: not a number",
        ),
        (
            "empirical-file-missing.yaml",
            "empirical-file-missing.yaml:7: components.api.service_time: "
            f"samples file '{BAD_DIR}/no-such-samples.csv' does not exist",
        ),
    ],
)
def test_distribution_problems_name_file_line_and_what_was_found(
    file_name: str, expected: str
) -> None:
    # One line each: the file and line, the key path of the distribution, and what was found.
    with pytest.raises(SpecError) as caught:
        load_spec(BAD / file_name)
    assert error_lines(caught.value) == [expected.replace(BAD_DIR, str(BAD))]


def test_alias_bomb_is_refused_without_expanding_it() -> None:
    with pytest.raises(SpecError, match="through aliases; refused") as caught:
        load_spec(BAD / "alias-bomb.yaml")
    # Expanded, the file is 9⁹ strings; counting stops soon after the limit instead, so the
    # size it reports is near the limit, not the bomb's.
    counted = int(
        re.search(r"expands to ([\d,]+) YAML nodes", str(caught.value))[1].replace(",", "")
    )
    assert spec_module.MAX_EXPANDED_NODES < counted < 2 * spec_module.MAX_EXPANDED_NODES < 9**9


def test_alias_within_the_limit_is_expanded(tmp_path: Path) -> None:
    text = (
        "name: aliased\nworkload: {rate_per_s: 10}\nentry: api\n"
        "defaults: &exp {dist: exponential, mean_ms: 10}\n"
    )
    path = tmp_path / "aliased.yaml"
    path.write_text(text)
    data, lines = read_yaml(path)
    assert data["defaults"] == {"dist": "exponential", "mean_ms": 10}
    assert lines[("defaults",)] == 4


def test_recursive_alias_does_not_hang(tmp_path: Path) -> None:
    path = tmp_path / "recursive.yaml"
    path.write_text(
        "name: &n [*n]\nworkload: {rate_per_s: 10}\nentry: api\n"
        "components:\n  api: {kind: service, service_time: {dist: exponential, mean_ms: 10}}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert error_lines(caught.value) == [
        "recursive.yaml:1: name: input should be a valid string (got a list)"
    ]


def test_directory_and_undecodable_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path)
    assert error_lines(caught.value) == [f"{tmp_path}: is not a file"]
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(SpecError) as caught:
        load_spec(binary)
    (text,) = error_lines(caught.value)
    assert text.startswith("binary.yaml: cannot be read (")
    assert "0xff" in text


@pytest.mark.parametrize(
    ("data", "found"), [(None, "nothing"), ([1, 2], "list"), ("text", "str"), (3, "int")]
)
def test_parse_spec_needs_a_mapping(data: Any, found: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source="given.yaml")
    assert error_lines(caught.value) == [f"given.yaml: must be a mapping of keys (got {found})"]


def test_problem_fields_are_kept_on_the_error() -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(BAD / "replicas-zero.yaml")
    error = caught.value
    assert isinstance(error, ScaleplanError)
    assert error.problems == (
        Problem("replicas-zero.yaml", "components.api.replicas", "must be at least 1 (got 0)", 7),
    )


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (Problem("a.yaml", "workload.rate_per_s", "bad", 3), "a.yaml:3: workload.rate_per_s: bad"),
        (Problem("a.yaml", "workload.rate_per_s", "bad"), "a.yaml: workload.rate_per_s: bad"),
        (Problem("a.yaml", "", "is empty"), "a.yaml: is empty"),
        (Problem("a.yaml", "", "invalid YAML: x", 2), "a.yaml:2: invalid YAML: x"),
    ],
)
def test_problem_text(problem: Problem, text: str) -> None:
    assert str(problem) == text


def test_spec_error_joins_its_problems_one_a_line() -> None:
    error = SpecError([Problem("a.yaml", "x", "one", 1), Problem("a.yaml", "y", "two", 2)])
    assert str(error) == "a.yaml:1: x: one\na.yaml:2: y: two"


# --------------------------------------------------------------------------- the call cycle


CYCLE_ROTATIONS = [
    f"cycle-forever.yaml: components.{first}.calls: the call cycle {first} → {second} → "
    f"{first} repeats forever on average (expected calls per pass 1, must be below 1)"
    for first, second in (("a", "b"), ("b", "a"))
]


def test_call_cycle_with_infinite_visits_is_refused_by_build_graph() -> None:
    spec = load_spec(BAD / "cycle-forever.yaml")
    with pytest.raises(SpecError) as caught:
        build_graph(spec)
    (text,) = error_lines(caught.value)
    assert text == CYCLE_ROTATIONS[0]


def test_call_cycle_message_is_the_same_in_every_process() -> None:
    script = (
        "from scaleplan.spec import load_spec\n"
        "from scaleplan.graph import build_graph\n"
        "from scaleplan.errors import SpecError\n"
        "try:\n"
        f"    build_graph(load_spec({str(BAD / 'cycle-forever.yaml')!r}))\n"
        "except SpecError as error:\n"
        "    print(error)\n"
    )
    messages = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed)},
        ).stdout.strip()
        for seed in range(6)
    }
    assert messages == {CYCLE_ROTATIONS[0]}


# --------------------------------------------------------------------------- the examples


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_examples_load_and_build(path: Path) -> None:
    spec = load_spec(path)
    assert spec.name == path.stem
    assert spec.source == path.name
    graph = build_graph(spec)
    assert set(graph) == set(spec.components)


def test_every_example_has_a_comment_header_saying_what_it_models() -> None:
    assert {"lb-cluster", "monolith", "three-tier"} <= {path.stem for path in EXAMPLES}
    for path in EXAMPLES:
        first = path.read_text().splitlines()[0]
        assert first.startswith("# "), f"{path.name} has no comment header"


def test_lb_cluster_values_and_defaults() -> None:
    spec = load_spec(ARCHITECTURES / "lb-cluster.yaml")
    api, db = spec.components["api"], spec.components["db"]
    assert api.kind == "service" and db.kind == "service"
    assert (api.replicas, api.concurrency, api.queue_limit, api.capacity) == (3, 8, 200, 24)
    assert db.queue_limit is None  # the default: unbounded
    assert db.hold_during_calls is True
    assert api.calls[0].to == "db" and api.calls[0].probability == 0.6
    lb = spec.components["lb"]
    assert lb.kind == "load_balancer"
    assert [(target.to, target.weight) for target in lb.to] == [("api", 1.0)]
    assert lb.capacity == 0  # no service_time: the balancer adds no delay
    assert spec.workload.mean_rate_per_s == 150
    assert spec.workload.requests == 100_000
    assert spec.entries() == [("default", "lb", 1.0)]


def test_three_tier_request_classes() -> None:
    spec = load_spec(ARCHITECTURES / "three-tier.yaml")
    assert spec.entries() == [("browse", "lb", 0.85), ("checkout", "checkout-lb", 0.15)]


def test_call_defaults() -> None:
    data = minimal()
    data["components"]["api"]["calls"] = [{"to": "db"}]
    data["components"]["db"] = {
        "kind": "service",
        "service_time": {"dist": "constant", "mean_ms": 1},
    }
    spec = parse_spec(data)
    api = spec.components["api"]
    assert api.calls[0].probability == 1.0
    assert (api.replicas, api.concurrency, api.parallel, api.hold_during_calls) == (
        1,
        1,
        False,
        True,
    )
    assert spec.source == "<memory>"


def test_example_spec_is_valid() -> None:
    spec = example_spec()
    assert build_graph(spec).number_of_nodes() == 1
    assert spec.workload.planned_requests() == 2000


# --------------------------------------------------------------------------- JSON Schema


def schema_validator() -> Draft202012Validator:
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_json_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "scaleplan architecture"
    assert {"name", "workload", "components"} <= set(schema["required"])


@pytest.mark.parametrize(
    "path",
    [path for path in EXAMPLES],
    ids=lambda path: path.stem,
)
def test_examples_validate_against_the_json_schema(path: Path) -> None:
    errors = list(schema_validator().iter_errors(yaml.safe_load(path.read_text())))
    assert errors == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_examples_with_long_form_targets_validate_against_the_json_schema(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    for component in data["components"].values():
        if component["kind"] == "load_balancer" and isinstance(component["to"], str):
            component["to"] = [{"to": component["to"]}]
    assert list(schema_validator().iter_errors(data)) == []
    assert parse_spec(data).name == path.stem


@pytest.mark.parametrize(
    "file_name",
    [
        "unknown-key.yaml",
        "replicas-not-a-number.yaml",
        "rate-zero.yaml",
        "replicas-zero.yaml",
        "probability-above-one.yaml",
        "unknown-kind.yaml",
        "unknown-dist.yaml",
        "missing-service-time.yaml",
    ],
)
def test_bad_files_fail_the_json_schema(file_name: str) -> None:
    data = yaml.safe_load((BAD / file_name).read_text())
    assert not schema_validator().is_valid(data)


# --------------------------------------------------------------------------- frozen specs


def test_with_changes_returns_a_new_validated_spec() -> None:
    spec = load_spec(ARCHITECTURES / "lb-cluster.yaml")
    before = spec.model_dump()
    changed = spec.with_changes(
        {"components.api.replicas": 5, "components.api.calls.0.probability": 0.3}
    )
    assert changed.components["api"].replicas == 5
    assert changed.components["api"].capacity == 40
    assert changed.components["api"].calls[0].probability == 0.3
    assert changed.source == "lb-cluster.yaml"
    # The original is untouched.
    assert spec.components["api"].replicas == 3
    assert spec.components["api"].calls[0].probability == 0.6
    assert spec.model_dump() == before


def test_with_changes_revalidates() -> None:
    spec = load_spec(ARCHITECTURES / "lb-cluster.yaml")
    with pytest.raises(SpecError) as caught:
        spec.with_changes({"components.api.replicas": 0})
    assert error_lines(caught.value) == [
        "lb-cluster.yaml: components.api.replicas: must be at least 1 (got 0)"
    ]
    with pytest.raises(SpecError) as caught:
        spec.with_changes({"components.api.calls.0.to": "dbb"})
    assert error_lines(caught.value) == [
        "lb-cluster.yaml: components.api.calls[0].to: no component named 'dbb' (did you mean 'db'?)"
    ]
    with pytest.raises(SpecError) as caught:
        spec.with_changes({"components.api.replica": 2})
    assert error_lines(caught.value) == [
        "lb-cluster.yaml: components.api.replica: unknown key 'replica' (did you mean 'replicas'?)"
    ]
    assert spec.components["api"].replicas == 3


def test_with_changes_cannot_set_under_a_value() -> None:
    spec = load_spec(ARCHITECTURES / "lb-cluster.yaml")
    with pytest.raises(SpecError) as caught:
        spec.with_changes({"workload.rate_per_s.x": 1})
    assert error_lines(caught.value) == [
        "<changes>: workload.rate_per_s.x: cannot set a value here"
    ]


def test_with_changes_reads_files_next_to_the_spec_again(tmp_path: Path) -> None:
    (tmp_path / "samples.csv").write_text("ms\n2\n4\n6\n")
    (tmp_path / "arrivals.csv").write_text("0\n1\n3\n")
    (tmp_path / "files.yaml").write_text(
        "name: files\nworkload: {arrival: trace, trace: {file: arrivals.csv}}\nentry: api\n"
        "components:\n"
        "  api: {kind: service, service_time: {dist: empirical, file: samples.csv}}\n"
    )
    spec = load_spec(tmp_path / "files.yaml")
    changed = spec.with_changes({"components.api.replicas": 2})
    assert changed.components["api"].service_time.mean_value_ms() == 4.0
    assert changed.workload.trace is not None
    assert changed.workload.trace.times_s() == (0.0, 1.0, 3.0)


@pytest.mark.parametrize(
    "assign",
    [
        lambda spec: setattr(spec, "name", "other"),
        lambda spec: setattr(spec.workload, "rate_per_s", 1.0),
        lambda spec: setattr(spec.components["api"], "replicas", 9),
        lambda spec: setattr(spec.components["api"].calls[0], "probability", 0.1),
        lambda spec: setattr(spec.components["api"].service_time, "mean_ms", 1.0),
    ],
    ids=["name", "workload", "component", "call", "distribution"],
)
def test_specs_are_frozen(assign: Any) -> None:
    spec = load_spec(ARCHITECTURES / "lb-cluster.yaml")
    with pytest.raises(ValidationError, match="frozen"):
        assign(spec)
    assert spec == load_spec(ARCHITECTURES / "lb-cluster.yaml")


def test_parse_spec_does_not_change_its_input() -> None:
    data = minimal()
    data["components"]["lb"] = {"kind": "load_balancer", "to": "api"}
    data["entry"] = "lb"
    before = copy.deepcopy(data)
    parse_spec(data)
    assert data == before


# --------------------------------------------------------------------------- workload


def workload(**fields: Any) -> WorkloadSpec:
    return WorkloadSpec.model_validate(fields)


def test_poisson_workload_rates() -> None:
    spec = workload(rate_per_s=40)
    assert spec.is_poisson
    assert spec.mean_rate_per_s == spec.peak_rate_per_s == 40
    assert not workload(arrival="constant", rate_per_s=40).is_poisson


def test_bursty_workload_rates() -> None:
    spec = workload(
        arrival="bursty",
        rate_per_s=10,
        burst={"rate_per_s": 100, "mean_duration_s": 5, "mean_gap_s": 45},
    )
    # 45 s at 10/s then 5 s at 100/s: (450 + 500) / 50.
    assert spec.mean_rate_per_s == pytest.approx(19.0)
    assert spec.peak_rate_per_s == 100
    assert spec.planned_requests() == 100_000
    assert workload(**{**spec.model_dump(), "duration_s": 60}).planned_requests() == 1140


def test_diurnal_workload_rates() -> None:
    spec = workload(arrival="diurnal", rate_per_s=10, diurnal={"profile": [1, 3], "period_s": 60})
    assert spec.diurnal is not None
    assert spec.diurnal.multipliers() == (0.5, 1.5)
    assert spec.mean_rate_per_s == 10
    assert spec.peak_rate_per_s == 15
    with pytest.raises(ValidationError, match="needs at least one slice with a rate above 0"):
        workload(arrival="diurnal", rate_per_s=10, diurnal={"profile": [0, 0]})


def test_trace_workload_reads_its_file(tmp_path: Path) -> None:
    (tmp_path / "arrivals.csv").write_text("t_s,extra\n0.0,a\n0.5,b\n\n2.0,c\n4.0,d\n")
    data = minimal()
    data["workload"] = {"arrival": "trace", "trace": {"file": "arrivals.csv"}}
    spec = parse_spec(data, base_dir=str(tmp_path))
    assert spec.workload.trace is not None
    assert spec.workload.trace.times_s() == (0.0, 0.5, 2.0, 4.0)
    assert spec.workload.mean_rate_per_s == pytest.approx(3 / 4.0)
    assert spec.workload.planned_requests() == 4
    assert spec.workload.planned_duration_s() == pytest.approx(4 / 0.75)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "trace.yaml: workload.trace.file: file does not exist (got 'arrivals.csv')"),
        (
            "t\n0\n1\nsoon\n",
            "trace.yaml: workload.trace.file: arrivals.csv line 4, column 1: not a number",
        ),
        (
            "0\n2\n1\n",
            "trace.yaml: workload.trace.file: arrivals.csv: needs at least 2 arrival times in "
            "increasing order",
        ),
        (
            "0\n",
            "trace.yaml: workload.trace.file: arrivals.csv: needs at least 2 arrival times in "
            "increasing order",
        ),
    ],
    ids=["missing", "not-a-number", "decreasing", "one-time"],
)
def test_bad_trace_file(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "arrivals.csv").write_text(content)
    data = minimal()
    data["workload"] = {"arrival": "trace", "trace": {"file": "arrivals.csv"}}
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source="trace.yaml", base_dir=str(tmp_path))
    assert error_lines(caught.value) == [message]


def test_planned_requests_and_duration() -> None:
    by_requests = workload(rate_per_s=10, requests=1000)
    assert by_requests.planned_requests() == 1000
    assert by_requests.planned_duration_s() == pytest.approx(100.0)
    by_duration = workload(rate_per_s=10, duration_s=60)
    assert by_duration.planned_requests() == 600
    assert by_duration.planned_duration_s() == 60
    neither = workload(rate_per_s=10)
    assert neither.planned_requests(default=500) == 500
    assert neither.planned_duration_s(default_requests=500) == pytest.approx(50.0)
    # A very short run still simulates at least one request.
    assert workload(rate_per_s=1, duration_s=0.1).planned_requests() == 1


@pytest.mark.parametrize(
    ("warmup", "fraction", "duration_s"),
    [
        ("auto", None, None),
        ("none", None, None),
        (0, 0.0, None),
        (0.2, 0.2, None),
        ("30s", None, 30.0),
        ("500ms", None, 0.5),
        ("2min", None, 120.0),
    ],
)
def test_warmup_forms(warmup: Any, fraction: float | None, duration_s: float | None) -> None:
    spec = workload(rate_per_s=10, warmup=warmup)
    assert spec.warmup_fraction() == fraction
    assert spec.warmup_duration_s() == duration_s


@pytest.mark.parametrize(
    ("warmup", "message"),
    [
        (1.5, "workload.warmup: a fraction of requests must be in [0, 1) (got 1.5)"),
        (1, "workload.warmup: a fraction of requests must be in [0, 1) (got 1)"),
        (-0.1, "workload.warmup: a fraction of requests must be in [0, 1) (got -0.1)"),
        (True, "workload.warmup: must be 'auto', 'none', a fraction or a duration (got True)"),
        ([5], "workload.warmup: must be 'auto', 'none', a fraction or a duration (got [5])"),
        (
            "ten seconds",
            "workload.warmup: not a duration such as '30s' or '500ms' (got 'ten seconds')",
        ),
    ],
)
def test_bad_warmup(warmup: Any, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(minimal(warmup=warmup), source="w.yaml")
    assert error_lines(caught.value) == [f"w.yaml: {message}"]


def test_rate_is_required_unless_replaying_a_trace() -> None:
    data = minimal()
    del data["workload"]["rate_per_s"]
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source="r.yaml")
    assert error_lines(caught.value) == ["r.yaml: workload: arrival 'poisson' needs rate_per_s"]


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("30s", 30.0),
        ("1.5s", 1.5),
        ("2min", 120.0),
        ("1h", 3600.0),
        (" 10 min ", 600.0),
        ("0s", 0.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert math.isclose(parse_duration_s(text), seconds)


@pytest.mark.parametrize("text", ["ten seconds", "10", "-5s", "5 m", "1e3s", "", "s"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration_s(text)
    assert str(caught.value) == f"not a duration such as '30s' or '500ms' (got {text!r})"


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda data: data.update(name="two words"),
            "n.yaml: name: string should match pattern '^[A-Za-z][A-Za-z0-9_-]*$' "
            "(got 'two words')",
        ),
        (
            lambda data: data.update(components={}),
            "n.yaml: components: dictionary should have at least 1 item after validation, not 0 "
            "(got a dict)",
        ),
    ],
    ids=["architecture-name", "no-components"],
)
def test_bad_names(change: Any, message: str) -> None:
    data = minimal()
    change(data)
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source="n.yaml")
    assert error_lines(caught.value) == [message]


def test_component_names_must_be_identifiers() -> None:
    data = minimal()
    data["components"]["1st"] = data["components"].pop("api")
    data["entry"] = "1st"
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source="n.yaml")
    assert error_lines(caught.value) == [
        "n.yaml: components.1st: not a valid component name (got '1st')"
    ]


def test_architecture_spec_is_the_type_returned() -> None:
    assert isinstance(parse_spec(minimal()), ArchitectureSpec)


# --------------------------------------------------------------------------- finite numbers


def _spec_models() -> set[type[BaseModel]]:
    """Every pydantic model reachable from the root of some input document."""
    from scaleplan.spec import CostTableSpec, DRSpec, NFRSpec, RolloutSpec, ScenarioSpec

    roots = (ArchitectureSpec, ScenarioSpec, DRSpec, RolloutSpec, NFRSpec, CostTableSpec)
    return {model for root in roots for model in models_of(root)}


def test_every_spec_model_refuses_numbers_that_are_not_finite() -> None:
    models = _spec_models()
    assert len(models) > 30  # the walk found the documents' parts, distributions included
    assert {"Exponential", "Lognormal", "DurationSpec", "SLOSpec"} <= {m.__name__ for m in models}
    allowing = sorted(
        m.__name__ for m in models if m.model_config.get("allow_inf_nan") is not False
    )
    assert allowing == []


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize(
    ("key_path", "where"),
    [
        ("workload.rate_per_s", "workload.rate_per_s"),
        ("workload.duration_s", "workload.duration_s"),
        ("components.api.service_time.mean_ms", "components.api.service_time.mean_ms"),
        ("components.api.calls.0.timeout_ms", "components.api.calls[0].timeout_ms"),
        ("components.db.read_ratio", "components.db.read_ratio"),
    ],
)
def test_an_architecture_number_that_is_not_finite_is_refused(
    key_path: str, where: str, value: float
) -> None:
    data = {
        "name": "finite",
        "workload": {"rate_per_s": 10},
        "entry": "api",
        "components": {
            "api": {
                "kind": "service",
                "service_time": {"dist": "exponential", "mean_ms": 5},
                "calls": [{"to": "db"}],
            },
            "db": {"kind": "database", "read_time": {"dist": "constant", "mean_ms": 1}},
        },
    }
    parse_spec(data)  # valid as written
    _set(data, key_path, value)
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source="finite.yaml")
    assert str(caught.value) == f"finite.yaml: {where}: must be a finite number (got {value!r})"


def _set(data: dict[str, Any], key_path: str, value: Any) -> None:
    *parents, last = key_path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[last] = value


@pytest.mark.usefixtures("allow_files_outside")  # the scenario names the bundled monolith
def test_scenario_dr_and_rollout_numbers_must_be_finite(tmp_path: Path) -> None:
    from scaleplan.spec import load_rollout, load_scenario
    from scaleplan.spec.dr import load_dr

    documents = [
        (
            load_scenario,
            "title: t\n"
            "workload: {today: {rate_per_s: .inf}}\n"
            f"candidates: [{{path: {ARCHITECTURES / 'monolith.yaml'}}}]\n",
            "scenario.yaml:2: workload.today.rate_per_s: must be a finite number (got inf)",
        ),
        (
            load_dr,
            "title: t\n"
            "data: {size_gb: .nan, writes_per_s: 10, record_kb: 1}\n"
            "backups: {interval: 6h, restore_gb_per_h: 50}\n"
            "strategies: [{name: restore, kind: backup_restore}]\n",
            "dr.yaml:2: data.size_gb: must be a finite number (got nan)",
        ),
        (
            load_rollout,
            "component: api\nboot_s: .inf\n",
            "rollout.yaml:2: boot_s: must be a finite number (got inf)",
        ),
    ]
    for load, text, expected in documents:
        path = tmp_path / expected.split(":")[0]
        path.write_text(text)
        with pytest.raises(SpecError) as caught:
            load(path)
        assert str(caught.value) == expected


@pytest.mark.parametrize("cell", ["inf", "nan", "-inf"])
def test_a_trace_time_that_is_not_finite_is_refused(tmp_path: Path, cell: str) -> None:
    (tmp_path / "arrivals.csv").write_text(f"0\n0.5\n{cell}\n")
    data = {
        "name": "trace",
        "workload": {"arrival": "trace", "trace": {"file": "arrivals.csv"}},
        "entry": "api",
        "components": {
            "api": {"kind": "service", "service_time": {"dist": "constant", "mean_ms": 1}}
        },
    }
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source="trace.yaml", base_dir=str(tmp_path))
    assert str(caught.value) == (
        "trace.yaml: workload.trace.file: arrivals.csv line 3, column 1: must be a finite number"
    )
