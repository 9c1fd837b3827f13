"""The record's consistency check: each contradiction named, none in the records tests make."""

from __future__ import annotations

import copy
from typing import Any

from _records import overloaded_evidence

from scaleplan.report.consistency import problems


def _good() -> dict[str, Any]:
    verdict = {
        "nfr": "p99<=150ms",
        "kind": "latency",
        "status": "pass",
        "measured": 100.0,
        "ci95": [90.0, 110.0],
        "bound": 150.0,
        "unit": "ms",
        "extra_requests": None,
    }
    errors = {
        "nfr": "errors<=1%",
        "kind": "errors",
        "status": "pass",
        "measured": 0.001,
        "ci95": [0.0002, 0.004],
        "unit": "fraction",
        "extra_requests": None,
    }
    candidate = {
        "name": "pair",
        "verdicts": [verdict, errors],
        "metrics": {"p99_ms": 100.0, "error_rate": 0.001},
        "metrics_ci95": {"p99_ms": [90.0, 110.0], "error_rate": [0.0002, 0.004]},
        "pull": {"limit_per_s": 200.0},
        "runway": {"limit_per_s": 200.0},
        "cost": {"per_month_today": 400.0, "components": [{"component": "app", "per_month": 300}]},
        "gated": False,
        "measurement": {"settle_cap_requests": 80_000},
    }
    return {
        "comparison": {
            "recommended": "pair",
            "reasons": ["pair passes every hard NFR gate at peak load (90 requests/s)."],
            "candidates": [candidate],
        }
    }


def _broken(change) -> list[str]:  # type: ignore[no-untyped-def]
    data = copy.deepcopy(_good())
    change(data["comparison"]["candidates"][0], data["comparison"])
    return problems(data)


def test_a_consistent_record_has_no_problems() -> None:
    assert problems(_good()) == []


def test_each_contradiction_is_named() -> None:
    def outside(c, _):  # type: ignore[no-untyped-def]
        c["verdicts"][0]["measured"] = 120.0

    def negative_share(c, _):  # type: ignore[no-untyped-def]
        c["verdicts"][1]["ci95"] = [-0.002, 0.004]

    def fails(c, _):  # type: ignore[no-untyped-def]
        c["verdicts"][0]["status"] = "fail"

    def inconclusive(c, _):  # type: ignore[no-untyped-def]
        c["verdicts"][0]["status"] = "inconclusive"

    def not_evaluated(c, _):  # type: ignore[no-untyped-def]
        c["verdicts"].append(
            {
                "nfr": "availability>=99.9%",
                "kind": "availability",
                "status": "not evaluated",
                "measured": 1.0,
                "ci95": [None, None],
                "unit": "fraction",
            }
        )

    def bad_limit(c, _):  # type: ignore[no-untyped-def]
        c["runway"]["limit_per_s"] = None

    def zero_limit(c, _):  # type: ignore[no-untyped-def]
        c["pull"]["limit_per_s"] = 0.0

    def huge_extra(c, _):  # type: ignore[no-untyped-def]
        c["verdicts"][0].update(status="inconclusive", extra_requests=34_895_599)

    def negative_cost(c, _):  # type: ignore[no-untyped-def]
        c["cost"]["per_month_today"] = -5.0

    def error_ci(c, _):  # type: ignore[no-untyped-def]
        c["metrics_ci95"]["error_rate"] = [-0.001, 0.004]

    cases = {
        "lies outside its 95% CI": outside,
        "proportion's 95% CI": negative_share,
        "recommended option pair fails p99<=150ms": fails,
        "yet a gate of it is inconclusive": inconclusive,
        "'not evaluated' yet shows a measured 1": not_evaluated,
        "not a finite figure ≥ 0": bad_limit,
        "carries no load within its SLOs": zero_limit,
        "cannot be settled within the budget": huge_extra,
        "cost per_month_today is negative": negative_cost,
        "error rate's 95% CI": error_ci,
    }
    for words, change in cases.items():
        found = _broken(change)
        assert any(words in problem for problem in found), (words, found)


def test_a_gated_recommendation_is_named() -> None:
    def gated(c, _):  # type: ignore[no-untyped-def]
        c["gated"] = True

    assert any("excluded by the gates" in p for p in _broken(gated))


def test_the_overloaded_record_is_consistent() -> None:
    assert problems(overloaded_evidence().to_dict()) == []


def test_a_spike_limit_that_contradicts_itself_is_named() -> None:
    spike = {
        "candidate": "pair",
        "limit": 2.0,
        "limit_ci95": [1.8, 2.2],
        "base_rate_per_s": 10.0,
        "limit_per_s": 20.0,
    }
    good = _good()
    good["spike_limit"] = spike
    assert problems(good) == []
    cases = {
        "outside its 95% CI": {"limit": 2.5, "limit_per_s": 25.0},
        "is not 2× the base rate": {"limit_per_s": 30.0},
        "but the chosen option is pair": {"candidate": "other"},
    }
    for words, change in cases.items():
        broken = copy.deepcopy(good)
        broken["spike_limit"].update(change)
        found = problems(broken)
        assert any(words in problem for problem in found), (words, found)
