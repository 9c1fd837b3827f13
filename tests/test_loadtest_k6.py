"""The rendered k6 script: options, thresholds from the NFRs, and valid JavaScript (node)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scaleplan.loadtest.k6 import k6_script, k6_thresholds, write_k6_script
from scaleplan.loadtest.plan import Band, ClassRequest, LoadTestPlan, Step

NODE = shutil.which("node") or "/usr/bin/node"


def _plan(slos: tuple[str, ...], meets: tuple[bool, bool] = (True, False)) -> LoadTestPlan:
    band = Band(mean=10.0, low=9.0, high=11.0)
    return LoadTestPlan(
        scenario="shop.yaml",
        candidate="lb-cluster",
        host="http://127.0.0.1:8000",
        classes=(
            ClassRequest(name="browse", weight=3, path="/browse"),
            ClassRequest(name="checkout", weight=1, method="POST", path="/checkout?x='1'"),
        ),
        user_rate_per_s=1.0,
        slos=slos,
        steps=tuple(
            Step(
                index=i,
                start_s=60.0 * i,
                duration_s=60.0,
                settle_s=15.0,
                users=users,
                rate_per_s=rate,
                predicted={"throughput_per_s": band},
                meets_slos=meets[i],
            )
            for i, (users, rate) in enumerate(((10, 9.5), (20, 19.25)))
        ),
    )


def _options(text: str) -> dict[str, object]:
    found = re.search(r"export const options = (\{.*?\n\});", text, re.DOTALL)
    assert found is not None
    options: dict[str, object] = json.loads(found.group(1))
    return options


def test_thresholds_come_from_the_nfrs_on_the_judged_requests() -> None:
    plan = _plan(
        ("p99<=400ms", "p95<=200ms", "errors<=0.1%", "checkout.mean<=300ms", "throughput>=90%")
    )
    assert k6_thresholds(plan) == {
        "http_req_duration{judged:yes}": ["p(99)<=400", "p(95)<=200"],
        "http_req_failed{judged:yes}": ["rate<=0.001"],
        "http_req_duration{judged:yes,class:checkout}": ["avg<=300"],
    }
    # With no step predicted to meet them, every request is judged.
    assert k6_thresholds(_plan(("p99<=400ms",), meets=(False, False))) == {
        "http_req_duration": ["p(99)<=400"]
    }


def test_the_stages_follow_the_steps_in_requests_per_minute() -> None:
    options = _options(k6_script(_plan(("p99<=400ms",))))
    scenario = options["scenarios"]["steps"]  # type: ignore[index]
    assert scenario["executor"] == "ramping-arrival-rate"
    assert scenario["timeUnit"] == "1m"
    assert scenario["stages"] == [
        {"duration": "1s", "target": 570},
        {"duration": "59s", "target": 570},
        {"duration": "1s", "target": 1155},
        {"duration": "59s", "target": 1155},
    ]
    assert scenario["preAllocatedVUs"] >= 20


@pytest.mark.skipif(not Path(NODE).exists(), reason="node is not installed")
def test_the_script_is_valid_javascript(tmp_path: Path) -> None:
    plan = _plan(("p99<=400ms", "errors<=0.1%", "checkout.p95<=250ms"))
    script = write_k6_script(plan, tmp_path / "script.js")
    module = tmp_path / "script.mjs"  # node parses import statements in an ES module
    module.write_text(script.read_text())
    checked = subprocess.run(
        [NODE, "--check", str(module)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr
    # And a broken one is caught, so the check is real.
    module.write_text(script.read_text() + "\nexport default function ( {\n")
    broken = subprocess.run([NODE, "--check", str(module)], capture_output=True, timeout=30)
    assert broken.returncode != 0
