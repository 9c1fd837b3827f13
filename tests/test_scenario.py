"""Scenario files: loading, the workload applied to every candidate, and key-path errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scaleplan.errors import SpecError
from scaleplan.spec import ScenarioSpec, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parent.parent
SHOP = ROOT / "data/scenarios/online-shop.yaml"
ARCHITECTURES = ROOT / "data/architectures"
# The scenarios written here sit in a temporary folder and name the repository's files.
pytestmark = pytest.mark.usefixtures("allow_files_outside")

MINIMAL = f"""\
title: Minimal
workload:
  today: {{rate_per_s: 40}}
candidates:
  - path: {ARCHITECTURES / "monolith.yaml"}
"""


def write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path: Path) -> str:
    with pytest.raises(SpecError) as caught:
        load_scenario(path)
    return str(caught.value)


def test_the_online_shop_loads_with_its_workload_applied():
    scenario = load_scenario(SHOP)
    assert isinstance(scenario, ScenarioSpec)
    assert scenario.names == ["monolith", "lb-cluster", "three-tier"]
    assert [candidate.name for candidate in scenario.candidates] == scenario.names
    assert scenario.today_rate_per_s == 90 and scenario.peak_rate_per_s == 225
    assert scenario.growth_per_month == pytest.approx(0.08)
    assert scenario.baseline == "monolith"
    assert sum(scenario.weights().values()) == pytest.approx(1.0)
    specs = scenario.architectures()
    for name, spec in specs.items():
        assert spec.workload.rate_per_s == 90, name
        assert spec.workload.requests == scenario.run.requests
        assert spec is scenario.candidates[scenario.names.index(name)].spec
    # Keys the scenario does not give stay as the candidate has them: request classes.
    assert [c.name for c in specs["three-tier"].workload.classes] == ["browse", "checkout"]
    assert specs["monolith"].workload.classes == ()
    assert scenario.candidates[0].original.workload.rate_per_s == 150
    assert {item.area for item in scenario.nfrs.qualitative} >= {"compliance", "privacy"}
    assert [slo.text for slo in scenario.nfrs.slos] == ["p99<=400ms", "errors<=0.1%"]


def test_candidates_in_line_and_renamed(tmp_path: Path):
    path = write(
        tmp_path,
        f"""\
        title: In-line
        workload:
          today: {{rate_per_s: 40}}
          peak_factor: 2
        candidates:
          - name: big
            path: {ARCHITECTURES / "monolith.yaml"}
          - name: tiny
            architecture:
              name: tiny
              workload: {{rate_per_s: 1}}
              entry: api
              components:
                api: {{kind: service, service_time: {{dist: exponential, mean_ms: 5}}}}
        run: {{requests: 1234, baseline: tiny}}
        """,
    )
    scenario = load_scenario(path)
    assert scenario.names == ["big", "tiny"]
    assert scenario.peak_rate_per_s == 80
    assert scenario.architectures()["tiny"].workload.rate_per_s == 40
    assert scenario.architectures()["big"].workload.requests == 1234
    assert scenario.baseline == "tiny"


def test_the_workload_may_change_the_arrival_process(tmp_path: Path):
    path = write(
        tmp_path,
        f"""\
        title: Daily cycle
        workload:
          today:
            arrival: diurnal
            rate_per_s: 50
            diurnal: {{profile: [1, 3], period_s: 60}}
        candidates:
          - path: {ARCHITECTURES / "monolith.yaml"}
        """,
    )
    scenario = load_scenario(path)
    assert scenario.peak_rate_per_s == pytest.approx(75.0)  # from the profile: 1.5 × mean
    assert scenario.architectures()["monolith"].workload.arrival == "diurnal"


def test_a_bursty_load_peaks_at_its_mean_without_a_peak_factor(tmp_path: Path):
    """``peak_factor`` defaults to the diurnal profile's busiest slice, else 1: bursts last
    seconds and each run at peak replays them. The peak was the burst's rate (200/s here),
    and a run at it scaled the whole process, bursts too (to 650/s)."""
    path = write(
        tmp_path,
        f"""\
        title: Bursts
        workload:
          today:
            arrival: bursty
            rate_per_s: 50
            burst: {{rate_per_s: 200, mean_duration_s: 5, mean_gap_s: 60}}
        candidates:
          - path: {ARCHITECTURES / "monolith.yaml"}
        """,
    )
    scenario = load_scenario(path)
    mean = scenario.today_rate_per_s
    assert 50 < mean < 200
    assert scenario.peak_rate_per_s == pytest.approx(mean)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            MINIMAL.replace("title: Minimal", "titel: Minimal"),
            ["scenario.yaml:1: titel: unknown key 'titel' (did you mean 'title'?)"],
        ),
        (
            MINIMAL + "nfrs: {slos: ['p99 fast']}\n",
            ["scenario.yaml:6: nfrs.slos[0]: not an SLO (got 'p99 fast')"],
        ),
        (
            MINIMAL.replace(str(ARCHITECTURES / "monolith.yaml"), "missing.yaml"),
            ["scenario.yaml:5: candidates[0].path: file does not exist (got 'missing.yaml'"],
        ),
        (
            MINIMAL + "resilience: {dr: missing-dr.yaml}\n",
            [
                "scenario.yaml:6: resilience.dr: file does not exist (got 'missing-dr.yaml'; "
                "paths are relative to the scenario file)"
            ],
        ),
        (
            MINIMAL + "resilience:\n  rollout: nowhere/canary.yaml\n",
            ["scenario.yaml:7: resilience.rollout: file does not exist (got 'nowhere/canary.yaml'"],
        ),
        (
            MINIMAL + "resilience: {backup: x.yaml}\n",
            ["resilience.backup: unknown key 'backup'"],
        ),
        (
            MINIMAL + "criteria: {speed: 1}\n",
            ["scenario.yaml:6: criteria.speed: unknown criterion 'speed'"],
        ),
        (
            MINIMAL + "costs: {candidates: {monolit: {app: {per_replica_hour: 1}}}}\n",
            ["costs.candidates.monolit: no candidate named 'monolit' (did you mean 'monolith'?)"],
        ),
        (
            MINIMAL + "costs: {candidates: {monolith: {ap: {per_replica_hour: 1}}}}\n",
            ["costs.candidates.monolith.ap: candidate 'monolith' has no component 'ap'"],
        ),
        (
            MINIMAL + "costs: {defaults: {servise: {per_replica_hour: 1}}}\n",
            ["costs.defaults.servise: not a component kind (got 'servise'"],
        ),
        (
            MINIMAL + "run: {baseline: other}\n",
            ["scenario.yaml:6: run.baseline: no candidate named 'other'"],
        ),
        (
            MINIMAL + "run: {replications: 1}\n",
            ["run.replications: must be at least 2 (got 1)"],
        ),
        (
            MINIMAL + "nfrs: {slos: ['checkout.p99<=1s']}\n",
            ["nfrs.slos[0]: no candidate has a request class 'checkout'"],
        ),
        (
            MINIMAL.replace("{rate_per_s: 40}", "{rate_per_s: -4}"),
            ["scenario.yaml:3: workload.today.rate_per_s: must be greater than 0 (got -4)"],
        ),
        (
            MINIMAL.replace(
                "{rate_per_s: 40}",
                "{rate_per_s: 40, classes: [{name: x, entry: nowhere}]}",
            ),
            [
                "workload.today: cannot be applied to candidate 'monolith': "
                "workload.classes[0].entry: no component named 'nowhere'"
            ],
        ),
        (
            MINIMAL + f"  - path: {ARCHITECTURES / 'monolith.yaml'}\n",
            ["candidates[1]: two candidates are called 'monolith'"],
        ),
        (
            MINIMAL + "  - {path: a.yaml, architecture: {}}\n",
            ["candidates[1]: give either 'path' (an architecture file) or 'architecture'"],
        ),
    ],
)
def test_errors_name_the_file_line_key_path_and_what_was_found(
    tmp_path: Path, text: str, expected: list[str]
):
    message = problems(write(tmp_path, text))
    for part in expected:
        assert part in message


def test_errors_inside_an_inline_architecture_keep_its_key_path(tmp_path: Path):
    path = write(
        tmp_path,
        """\
        title: Broken
        workload:
          today: {rate_per_s: 40}
        candidates:
          - architecture:
              name: broken
              workload: {rate_per_s: 1}
              entry: api
              components:
                api:
                  kind: service
                  replicas: 0
                  service_time: {dist: exponential, mean_ms: 5}
        """,
    )
    assert (
        "scenario.yaml:12: candidates[0].architecture.components.api.replicas: "
        "must be at least 1 (got 0)"
    ) in problems(path)


def test_errors_inside_a_candidate_file_name_that_file(tmp_path: Path):
    bad = write(tmp_path, "name: bad\nworkload: {rate_per_s: 1}\ncomponents: {}\n", "bad.yaml")
    path = write(
        tmp_path,
        f"""\
        title: Bad candidate
        workload:
          today: {{rate_per_s: 40}}
        candidates:
          - path: {bad.name}
        """,
    )
    message = problems(path)
    assert message.startswith("bad.yaml")
    assert "components" in message


def test_not_a_mapping_and_missing_files():
    with pytest.raises(SpecError, match="must be a mapping of keys"):
        parse_scenario(["a list"], source="x.yaml")
    with pytest.raises(SpecError, match="file does not exist"):
        load_scenario(ROOT / "no-such-scenario.yaml")
    with pytest.raises(SpecError, match="title: required key is missing"):
        parse_scenario({"workload": {"today": {"rate_per_s": 1}}, "candidates": [{"path": "x"}]})


def test_resilience_files_are_relative_to_the_scenario(tmp_path: Path):
    shop = load_scenario(SHOP)
    assert shop.resilience_file("dr") == SHOP.parent / "../dr/online-shop-dr.yaml"
    assert shop.resilience_file("dr").is_file()  # type: ignore[union-attr]
    assert shop.resilience_file("rollout").is_file()  # type: ignore[union-attr]
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "canary.yaml").write_text(
        (ROOT / "data/rollouts/canary.yaml").read_text()
    )
    path = write(tmp_path, MINIMAL + "resilience: {rollout: plans/canary.yaml}\n")
    scenario = load_scenario(path)
    assert scenario.resilience_file("rollout") == tmp_path / "plans" / "canary.yaml"
    assert scenario.resilience_file("dr") is None
    assert load_scenario(write(tmp_path, MINIMAL, "plain.yaml")).resilience_file("dr") is None


def test_errors_inside_a_resilience_file_name_that_file(tmp_path: Path):
    (tmp_path / "dr.yaml").write_text(
        (ROOT / "data/dr/online-shop-dr.yaml").read_text().replace("size_gb: 400", "size_gb: -1")
    )
    message = problems(write(tmp_path, MINIMAL + "resilience: {dr: dr.yaml}\n"))
    assert "dr.yaml:" in message and "data.size_gb" in message
    assert "scenario.yaml" not in message
