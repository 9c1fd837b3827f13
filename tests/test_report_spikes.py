"""The spike limit on a scenario's terms and in words (report/spikes.py)."""

from __future__ import annotations

from pathlib import Path

from scaleplan.experiments.spike_limit import SpikeLimit, SpikeStep
from scaleplan.report.spikes import scenario_spike_limit, spike_markdown
from scaleplan.spec import load_scenario

STEADY = """
title: No profile
workload:
  today: {arrival: poisson, rate_per_s: 5}
  peak_factor: 2
nfrs: {slos: ["p99<=300ms"]}
candidates:
  - name: one
    architecture:
      name: one
      workload: {rate_per_s: 5, requests: 500}
      entry: api
      components:
        api: {kind: service, concurrency: 2, service_time: {dist: exponential, mean_ms: 20}}
"""


def test_a_scenario_without_a_profile_has_no_spike_to_grow(tmp_path: Path) -> None:
    path = tmp_path / "steady.yaml"
    path.write_text(STEADY)
    assert scenario_spike_limit(load_scenario(path), "one") is None


def test_the_words_give_the_limit_and_every_step() -> None:
    found = SpikeLimit(
        spec="one",
        phase="sale",
        duration_s=600,
        base_rate_per_s=10,
        declared_factor=4,
        limits=(5.0, 5.5),
        limit=5.25,
        ci95=(4.5, 6.0),
        binding="p99<=300ms",
        steps=(
            SpikeStep(0, 4, True, ""),
            SpikeStep(0, 8, False, "p99<=300ms"),
            SpikeStep(1, 4, True, ""),
            SpikeStep(1, 8, False, "p99<=300ms, errors<=1%"),
        ),
        replications=3,
        tolerance=0.05,
    )
    said = spike_markdown("one", found)
    assert "the largest sale it carries for 10 min is 5\\.25× the base rate" in said
    assert "it carries the declared spike" in said
    assert said.count("| 8× | no |") == 2 and said.count("| 4× | yes |") == 2
