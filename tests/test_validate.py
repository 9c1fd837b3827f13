"""``scaleplan validate``: every kind of file, and the checks of the command that runs it
(scaleplan/preflight.py, scaleplan/cli/validation.py; issue 10).

The pre-run checks are held to ``simulate``'s own: on every spec it refuses, :func:`check_run`
returns the very error (type and message) ``simulate`` raises before its first event.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scaleplan.cli import app
from scaleplan.engine import simulate
from scaleplan.errors import ScaleplanError
from scaleplan.preflight import check_run
from scaleplan.spec import load_spec, parse_spec

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


def _service(mean_ms: float, **keys: Any) -> dict[str, Any]:
    return {"kind": "service", "service_time": {"dist": "exponential", "mean_ms": mean_ms}, **keys}


def _tandem(rate: float) -> dict[str, Any]:
    """An M/M/1 api (10 ms) calling an M/M/1 db (2 ms): the api holds its slot during the
    call, 12 ms a request, so it carries 83.3 requests/s."""
    return {
        "name": "tandem",
        "workload": {"rate_per_s": rate, "requests": 2000},
        "entry": "api",
        "components": {"api": _service(10, calls=[{"to": "db"}]), "db": _service(2)},
    }


REFUSED: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "unstable": (_tandem(150), {}),
    "unstable at an override": (_tandem(50), {"rate_per_s": 90}),
    "too long": (_tandem(50), {"requests": 10**13}),
    "call cycle": (
        {
            "name": "cycle",
            "workload": {"rate_per_s": 1, "requests": 100},
            "entry": "a",
            "components": {
                "a": _service(1, calls=[{"to": "b"}], hold_during_calls=False),
                "b": _service(1, calls=[{"to": "a", "probability": 0.99}], hold_during_calls=False),
            },
        },
        {},
    ),
    "mixed workload's open overload": (
        {
            "name": "mixed",
            "workload": {
                "kind": "closed",
                "think_time": {"dist": "exponential", "mean_ms": 100},
                "classes": [{"name": "u", "users": 5}, {"name": "o", "rate_per_s": 500}],
            },
            "entry": "a",
            "components": {"a": _service(10)},
        },
        {},
    ),
    "closed workload given a rate": (
        {
            "name": "closed",
            "workload": {
                "kind": "closed",
                "users": 5,
                "think_time": {"dist": "exponential", "mean_ms": 100},
            },
            "entry": "a",
            "components": {"a": _service(10)},
        },
        {"rate_per_s": 10},
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_check_run_refuses_what_simulate_refuses_with_its_message(case: str) -> None:
    data, overrides = REFUSED[case]
    spec = parse_spec(data)
    with pytest.raises(ScaleplanError) as raised:
        simulate(spec, **overrides)
    check = check_run(spec, requests_key="requests", replications_key="replications", **overrides)
    assert check.refused
    assert type(check.refusal) is type(raised.value)
    assert str(check.refusal) == str(raised.value)


def test_what_check_run_lets_start_simulate_starts() -> None:
    for data in (_tandem(50), _tandem(80)):
        spec = parse_spec(data)
        check = check_run(spec)
        assert not check.refused
        assert check.busiest is not None and check.busiest.name == "api"
        assert check.busiest.load == pytest.approx(data["workload"]["rate_per_s"] * 0.012)
        assert simulate(spec, requests=300).requests.arrived == 300


def invoke(*args: str) -> tuple[int, str]:
    """The CLI in this process as ``scaleplan.cli.main`` runs it (a ScaleplanError exits 2)."""
    result = CliRunner().invoke(app, list(args))
    output = result.output + (getattr(result, "stderr", "") or "")
    if isinstance(result.exception, ScaleplanError):
        return 2, output + str(result.exception)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, " ".join(output.replace("│", " ").split())  # rich's box too


BUNDLED = sorted(DATA.glob("*/*.yaml"))


@pytest.mark.parametrize("path", BUNDLED, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_bundled_file_validates_as_its_kind(path: Path) -> None:
    code, output = invoke("validate", str(path))
    assert code == 0, output
    assert output.startswith(f"ok {path}"), output


def test_an_unstable_architecture_is_refused_as_simulate_refuses_it(tmp_path: Path) -> None:
    path = tmp_path / "tandem.yaml"
    path.write_text(str(_tandem(150)).replace("'", '"'))  # a flow mapping is YAML
    code, output = invoke("validate", str(path))
    assert code == 2
    assert "tandem.yaml: simulate would refuse it before it starts" in output
    assert "components.api: offered load is 1.80× its capacity of 1 slots" in output
    assert "simulate --run-anyway runs it regardless" in output
    # The overrides simulate takes are checked as simulate checks them.
    code, output = invoke("validate", str(path), "--rate-per-s", "50")
    assert code == 0 and "busiest station: api at 60%" in output, output
    code, output = invoke("validate", str(path), "--rate-per-s", "50", "--requests", str(10**13))
    assert code == 2 and "--requests: 1e+13 requests would take about" in output, output


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shop")
    for part in ("architectures", "scenarios", "dr", "rollouts"):
        shutil.copytree(DATA / part, folder / part)
    return folder / "scenarios"


def _variant(shop: Path, name: str, old: str, new: str) -> Path:
    text = (shop / "online-shop.yaml").read_text()
    assert old in text
    path = shop / name
    path.write_text(text.replace(old, new, 1))
    return path


def test_a_scenario_names_each_candidate_at_peak_and_one_refused_there(shop: Path) -> None:
    """The monolith (8 slots, 27.4 ms held per request, a queue limit of 500) carries 292
    requests/s; without its queue limit a peak of 405/s is refused before its runs, and
    compare fails its SLOs unmeasured: said, but compare runs, so validate passes."""
    monolith = shop.parent / "architectures" / "monolith.yaml"
    unbounded = monolith.with_name("monolith-unbounded.yaml")
    unbounded.write_text(monolith.read_text().replace("    queue_limit: 500\n", ""))
    path = _variant(shop, "sale.yaml", "peak_factor: 2.5", "peak_factor: 4.5")
    path.write_text(path.read_text().replace("/monolith.yaml", "/monolith-unbounded.yaml"))
    code, output = invoke("validate", str(path))
    assert code == 0, output
    assert "3 candidates at a peak of 405 requests/s" in output
    assert "monolith: refused at peak: app: offered load is 1.39× its capacity of 8 slots" in output
    assert "lb-cluster: busiest station at peak: api at 24%" in output
    assert "canary.yaml rolls out service 'api'; candidate monolith has no such component" in output


def test_a_scenario_whose_budget_compare_refuses_exits_2(shop: Path) -> None:
    path = _variant(shop, "huge.yaml", "  requests: 20000\n", "  requests: 20000000000\n")
    code, output = invoke("validate", str(path))
    assert code == 2
    assert "huge.yaml: compare would refuse it before it runs: huge.yaml:" in output
    assert "run.requests: 2e+10 requests × 10 replications at most" in output


def test_the_kind_is_told_from_the_keys_or_given(shop: Path) -> None:
    rollout = shop.parent / "rollouts" / "canary.yaml"
    code, output = invoke("validate", str(rollout), "--kind", "architecture")
    assert code == 2 and "name: required key is missing" in output
    code, output = invoke("validate", str(rollout), "--kind", "rollot")
    assert code == 2 and "unknown kind of file 'rollot' (did you mean 'rollout'?)" in output
    code, output = invoke("validate", str(rollout), "--rate-per-s", "5")
    assert code == 2 and "check an architecture (got a rollout file)" in output
    # Keys that tell no kind for sure: the guess is said beside the problems.
    vague = shop / "vague.yaml"
    vague.write_text("title: what is this\nseed: 3\n")
    code, output = invoke("validate", str(vague))
    assert code == 2
    assert "read as a dr file (2 of its keys are a dr's); give --kind" in output


def test_the_console_script_exits_2_without_a_traceback(shop: Path) -> None:
    path = _variant(shop, "typo.yaml", "  peak_factor: 2.5", "  peak_facter: 2.5")
    done = subprocess.run(
        [sys.executable, "-m", "scaleplan", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert "typo.yaml:23: workload.peak_facter: unknown key 'peak_facter'" in done.stderr
    assert load_spec(DATA / "architectures" / "monolith.yaml")  # the copy left the originals


def test_an_autoscaled_busiest_station_is_shown_at_the_replicas_it_settles_on() -> None:
    """The bundled autoscaler holds 60% utilisation: at 150 requests/s of 80 ms on 4 slots a
    replica it settles on 5 replicas (60%). Its load at its maximum of 30 replicas (10%, the
    certain bound the stability check uses) read as if the service idled."""
    code, output = invoke("validate", str(ROOT / "data" / "architectures" / "autoscaling.yaml"))
    assert code == 0, output
    expected = "api at 60% on the 5 replicas its autoscaler settles on (10% at its maximum of 30)"
    assert expected in " ".join(output.split()), output
