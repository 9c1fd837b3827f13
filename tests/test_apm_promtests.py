"""The rules checked and unit-tested with the real promtool (Debian's prometheus package).

``promtool check rules`` reads the generated file; ``promtool test rules`` runs the generated
unit tests: a burn just over 14.4× the budget pages within the 5-minute short window, a 1×
burn never pages in three days, latency objectives are fed through histogram buckets, and each
capacity alert fires above the model's threshold and not at half of it. A rule changed by hand
makes the tests fail, so they are not a check that cannot fail. In CI a missing promtool fails
these tests (``.ci/run`` installs it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from _apm import run_promtool, shop_design

from scaleplan.apm import MonitoringDesign
from scaleplan.apm.promtests import FAST_BURN, PER_MINUTE, unit_tests, unit_tests_yaml


def _write(made: MonitoringDesign, folder: Path, rules: str | None = None) -> None:
    (folder / "rules.yml").write_text(rules or made.rules.to_yaml(), encoding="utf-8")
    (folder / "rules.test.yml").write_text(unit_tests_yaml(made), encoding="utf-8")


def test_promtool_checks_and_tests_the_shops_rules(tmp_path: Path) -> None:
    made = shop_design()
    _write(made, tmp_path)
    checked = run_promtool("check", "rules", "rules.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in made.rules.groups)} rules found" in (
        checked.stdout
    )
    tested = run_promtool("test", "rules", "rules.test.yml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_a_page_threshold_changed_by_hand_fails_the_tests(tmp_path: Path) -> None:
    made = shop_design()
    alert = made.rules.alert("ErrorsBurnRate1h")
    assert alert.expr.count("> 0.0144") == 2
    # 20× instead of 14.4×: the fed 15× burn no longer pages, and promtool says where.
    doc = yaml.safe_load(made.rules.to_yaml())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert.name:
                rule["expr"] = alert.expr.replace("0.0144", "0.02")
    _write(made, tmp_path, yaml.safe_dump(doc, sort_keys=False))
    # Only the error objective's fast burn (the three-day test would take seconds).
    tests = unit_tests(made)
    tests["tests"] = [t for t in tests["tests"] if t["name"].startswith("errors<=0.1%: a 15x")]
    (tmp_path / "rules.test.yml").write_text(yaml.safe_dump(tests), encoding="utf-8")
    tested = run_promtool("test", "rules", "rules.test.yml", cwd=tmp_path)
    output = tested.stdout + tested.stderr
    assert tested.returncode == 1, output
    assert "FAILED" in output and "alertname: ErrorsBurnRate1h, time: 5m" in output
    # Restored, the same test passes.
    _write(made, tmp_path)
    (tmp_path / "rules.test.yml").write_text(yaml.safe_dump(tests), encoding="utf-8")
    again = run_promtool("test", "rules", "rules.test.yml", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr


def test_per_class_whole_second_and_availability_objectives(tmp_path: Path) -> None:
    nfrs = {
        "slos": ["checkout.p95<=1s", "p99<=250ms", "errors<=0.5%"],
        "availability": {"min_percent": 99.5},
    }
    made = shop_design(nfrs, candidate="three-tier")
    _write(made, tmp_path)
    checked = run_promtool("check", "rules", "rules.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run_promtool("test", "rules", "rules.test.yml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_fed_series_burn_as_named() -> None:
    made = shop_design()
    doc = unit_tests(made)
    assert doc["group_eval_order"] == [g["name"] for g in made.rules.groups]
    names = [t["name"] for t in doc["tests"]]
    for objective in made.objectives:
        assert f"{objective.text}: a {FAST_BURN:g}x burn pages within the short window" in names
    # One three-day 1x test, on the error objective.
    [slow] = [t for t in doc["tests"] if "never pages" in t["name"]]
    assert slow["name"].startswith("errors<=0.1%")
    failed = next(s for s in slow["input_series"] if 'error_type="500"' in s["series"])
    per_minute = float(failed["values"].split("+")[1].split("x")[0])
    assert per_minute == PER_MINUTE * 0.001 and failed["values"].endswith("x4320")
    latency = next(t for t in doc["tests"] if t["name"].startswith("p99<=400ms"))
    bucket = next(s for s in latency["input_series"] if 'le="0.4"' in s["series"])
    fast = float(bucket["values"].split("+")[1].split("x")[0])
    assert 1 - fast / PER_MINUTE == pytest.approx(FAST_BURN * 0.01) and FAST_BURN > 14.4
    assert yaml.safe_load(unit_tests_yaml(made)) == doc
