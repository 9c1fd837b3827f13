"""Choosing a reader: `auto` tells each format from its first bytes, `--format` overrides it,
and what is none of them, missing, or a mix of kinds is refused naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaleplan.calibrate.derive import derive
from scaleplan.calibrate.read import detect, read_all, read_file
from scaleplan.errors import SpecError

DATA = Path(__file__).parent / "data" / "telemetry"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("otlp-small.jsonl", "otlp"),
        ("otlp-base64.json", "otlp"),
        ("zipkin-small.json", "zipkin"),
        ("prometheus-scrape1.txt", "prometheus"),
        ("shop.access.log", "access-log"),
        ("apache-us.log", "access-log"),
    ],
)
def test_auto_detects_each_format(name: str, expected: str) -> None:
    path = DATA / name
    assert detect(path, path.read_text()[:65536]) == expected
    assert read_file(path).formats == {str(path): expected}


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"not-telemetry\.csv:1: not a telemetry format"):
        read_file(DATA / "bad" / "not-telemetry.csv")
    with pytest.raises(SpecError, match="does not exist"):
        read_file(tmp_path / "missing.jsonl")
    with pytest.raises(SpecError, match="is not a file"):
        read_file(tmp_path)
    with pytest.raises(SpecError, match="no telemetry file given"):
        read_all([])
    # A format forced onto the wrong file is that reader's error.
    with pytest.raises(SpecError, match="not Zipkin v2 JSON"):
        read_file(DATA / "otlp-base64.json", "zipkin")
    mixed = read_all([DATA / "apache-us.log", DATA / "zipkin-small.json"])
    with pytest.raises(SpecError, match="mixes kinds of telemetry"):
        derive(mixed)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SpecError, match=r"deep\.json: nests too deeply to be zipkin telemetry"):
        read_file(deep)
