"""`scaleplan calibrate` as a user runs it: a real subprocess end to end (spec, report in
Markdown and JSON, the summary), and bad telemetry exiting 2 with the file, line and reason
and no traceback (through the console entry point, in process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _telemetry import write_otlp

from scaleplan.cli import main
from scaleplan.spec import load_spec

DATA = Path(__file__).parent / "data" / "telemetry"
ROOT = Path(__file__).resolve().parent.parent


def test_end_to_end(tmp_path: Path) -> None:
    traces = tmp_path / "recording.jsonl"
    write_otlp(traces, requests=600, seed=4)
    spec_path = tmp_path / "model.yaml"
    report = tmp_path / "fit.md"
    done = subprocess.run(
        [
            sys.executable, "-m", "scaleplan", "calibrate", str(traces), "-o", str(spec_path),
            "--report", str(report), "--concurrency", "catalog=4", "--name", "shop",
            "--replications", "2",
        ],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    spans = traces.read_text().count('"spanId"')
    assert f"read {spans:,} spans from 1 file(s); 600 requests used" in done.stdout
    assert "gateway: 600 visits" in done.stdout and "calls catalog ×1" in done.stdout
    assert "mean: observed" in done.stdout
    spec = load_spec(spec_path)
    assert spec.name == "shop" and spec.components["catalog"].concurrency == 4
    assert report.read_text().startswith("# Fit report: shop")
    assert json.loads(report.with_suffix(".json").read_text())["replications"] == 2
    # `scaleplan validate` accepts what calibrate wrote.
    checked = subprocess.run(
        [sys.executable, "-m", "scaleplan", "validate", str(spec_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"ok {spec_path}")


def _run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["scaleplan", "calibrate", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return int(exit_.value.code or 0), " ".join(err.split())


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "truncated.jsonl",
            "truncated.jsonl:2: not valid JSON (truncated: the text ends inside a JSON value)",
        ),
        ("empty.json", "empty.json: is empty: no telemetry in it"),
        ("not-telemetry.csv", "not-telemetry.csv:1: not a telemetry format scaleplan reads"),
        (
            "no-root.jsonl",
            "no complete trace is left to calibrate from (1 spans of traces with no root span",
        ),
        ("skew.jsonl", "clock skew (a child outside its parent by more than 1 ms)"),
    ],
)
def test_bad_telemetry_exits_2(
    name: str,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, err = _run(capsys, monkeypatch, str(DATA / "bad" / name), "-o", str(tmp_path / "s.yaml"))
    assert code == 2
    assert message in err
    assert not (tmp_path / "s.yaml").exists()


def test_too_much_skipped_and_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One span of eight had no end: 12.5% skipped, over the 5% allowed by default.
    out = str(tmp_path / "s.yaml")
    code, err = _run(capsys, monkeypatch, str(DATA / "otlp-small.jsonl"), "-o", out)
    assert code == 2 and "1 of 8 records skipped (12.5%, more than 5%)" in err
    assert "missing duration" in err and "--max-skipped" in err
    code, err = _run(
        capsys, monkeypatch, str(DATA / "otlp-small.jsonl"), "-o", out, "--max-skipped", "0.2"
    )
    assert code == 0 and load_spec(out).components["sqlite"].concurrency == 1
    code, err = _run(capsys, monkeypatch, str(DATA / "mixed-units.log"), "-o", out)
    assert code == 2 and "mixes units" in err
    code, err = _run(
        capsys, monkeypatch, str(DATA / "apache-us.log"), "-o", out, "--concurrency", "nginx=4"
    )
    assert code == 2 and "--concurrency names services the telemetry does not have: nginx" in err
    code, err = _run(
        capsys, monkeypatch, str(DATA / "apache-us.log"), "-o", out, "--concurrency", "x"
    )
    assert code == 2 and "SERVICE=N" in err
    code, err = _run(
        capsys, monkeypatch, str(DATA / "apache-us.log"), "-o", out, "--format", "jaeger"
    )
    assert code == 2 and "must be one of auto, otlp" in err


def test_name_checked_and_defaulted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = str(tmp_path / "s.yaml")
    log = str(DATA / "apache-us.log")
    code, err = _run(capsys, monkeypatch, log, "-o", out, "--name", "my model")
    assert code == 2 and "--name must be letters, digits" in err
    code, _ = _run(capsys, monkeypatch, log, "-o", out)
    assert code == 0 and load_spec(out).name == "apache-us"
