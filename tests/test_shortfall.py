"""Ranking the options when none passes, and what each needs to pass."""

from __future__ import annotations

import math
from dataclasses import replace

from _records import overloaded_evidence

from scaleplan.experiments.nfr import Verdict
from scaleplan.experiments.shortfall import RANK_RULE, needs, rank, shortfall
from scaleplan.report import record


def evidence() -> record.Evidence:
    return overloaded_evidence()


def test_the_rule_is_stated_and_never_file_order() -> None:
    assert "fewest failed gates" in RANK_RULE and "never by file order" in RANK_RULE


def test_the_shortfall_sums_the_relative_margins_and_a_gate_without_one_is_infinite() -> None:
    base = evidence().comparison.candidate("pair")
    slow = Verdict("p99<=400ms", "latency", "fail", 600.0, (580.0, 620.0), 400.0, "ms", -200.0)
    poor = Verdict("errors<=1%", "errors", "fail", 0.02, (0.015, 0.025), 0.01, "fraction", -0.01)
    assert shortfall(replace(base, verdicts=(slow, poor))) == 0.5 + 1.0
    refused = replace(slow, measured=float("nan"), margin=float("nan"))
    assert shortfall(replace(base, verdicts=(refused,))) == float("inf")


def test_a_failed_latency_slo_says_the_bound_the_option_can_meet() -> None:
    pair = evidence().comparison.candidate("pair")
    slow = Verdict("p99<=400ms", "latency", "fail", 580.0, (560.0, 609.2), 400.0, "ms", -180.0)
    texts = needs(replace(pair, verdicts=(slow,)), peak=90.0, growth=0.05, closed=False)
    assert texts == ["meets p99 ≤ 610 ms at peak, not 400 ms"]


def test_ties_on_failed_gates_go_to_the_smaller_shortfall_whatever_the_file_order() -> None:
    base = evidence().comparison.candidate("pair")
    near = Verdict("p99<=400ms", "latency", "fail", 440.0, (420.0, 460.0), 400.0, "ms", -40.0)
    far = Verdict("p99<=400ms", "latency", "fail", 800.0, (780.0, 820.0), 400.0, "ms", -400.0)
    a = replace(base, name="a", verdicts=(far,), score=0.9)
    b = replace(base, name="b", verdicts=(near,), score=0.1)
    for order in ([a, b], [b, a]):
        assert [c.name for _, c in rank(order)] == ["b", "a"]
    # Equal shortfalls: the higher score first; equal scores too: the same rank, not file order.
    c = replace(base, name="c", verdicts=(near,), score=0.5)
    assert [(r, c.name) for r, c in rank([b, c])] == [(1, "c"), (2, "b")]
    d = replace(base, name="d", verdicts=(near,), score=0.1)
    assert [r for r, _ in rank([b, d])] == [1, 1]


def test_a_zero_limit_from_an_unreachable_slo_names_its_component() -> None:
    pair = evidence().comparison.candidate("pair")
    assert pair.pull is not None
    why = "unreachable: payments's own p99 is 4,573 ms under p99 ≤ 2,000 ms"
    pulled = replace(pair.pull, limit_per_s=0.0, failure_mode="unreachable", failure_detail=why)
    headroom = Verdict(
        "headroom>=20%",
        "headroom",
        "fail",
        -math.inf,
        (math.nan, math.nan),
        0.2,
        "fraction",
        -math.inf,
    )
    (text,) = needs(replace(pair, pull=pulled, verdicts=(headroom,)), peak=90.0, growth=0.0)
    assert text.startswith("needs a sustainable limit of 112 requests/s")
    assert "no load at all meets its SLOs today" in text and why in text
