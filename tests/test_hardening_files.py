"""Files scaleplan reads besides a document itself, and where it writes (issue 15).

A document's data files (an empirical distribution's or a trace's ``file:``, a scenario's
candidates and resilience files) stay inside its folder tree unless the user allows more; a
data file is read bounded, as UTF-8 text, and an error about its content names the line and
the column but never the content. Outputs derived from user text stay under ``-o``, and a
write that fails is one clear message (exit 2), not a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scaleplan.errors import SpecError
from scaleplan.paths import ALLOW_OUTSIDE_ENV, MAX_DATA_FILE_BYTES, safe_name
from scaleplan.spec import load_scenario, load_spec

ROOT = Path(__file__).resolve().parent.parent
SECRET = "hunter2-s3cret"


def scaleplan(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scaleplan", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def empirical_spec(folder: Path, file: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(
        "name: files\nworkload: {rate_per_s: 10, requests: 200}\nentry: api\ncomponents:\n"
        f"  api: {{kind: service, service_time: {{dist: empirical, file: '{file}'}}}}\n"
    )
    return path


def trace_spec(folder: Path, file: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(
        f"name: files\nworkload: {{arrival: trace, trace: {{file: '{file}'}}}}\nentry: api\n"
        "components:\n  api: {kind: service, service_time: {dist: constant, mean_ms: 1}}\n"
    )
    return path


@pytest.fixture
def confined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_OUTSIDE_ENV, raising=False)


def secret_file(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    path = folder / "secret.csv"
    path.write_text(f"1\n2\n{SECRET}\n")
    return path


# --------------------------------------------------------------------------- confinement


@pytest.mark.usefixtures("confined")
@pytest.mark.parametrize("make", [empirical_spec, trace_spec], ids=["empirical", "trace"])
@pytest.mark.parametrize("how", ["absolute", "relative", "symlink"])
def test_a_data_file_outside_the_spec_folder_is_refused(tmp_path: Path, make, how: str) -> None:
    secret = secret_file(tmp_path)
    folder = tmp_path / "project"
    folder.mkdir()
    if how == "symlink":
        (folder / "link.csv").symlink_to(secret)
        given = "link.csv"
    else:
        given = str(secret) if how == "absolute" else "../elsewhere/secret.csv"
    spec = make(folder, given)
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    message = str(caught.value)
    assert "is outside the folder tree of the file that names it" in message
    assert "--allow-files-outside" in message
    assert SECRET not in message


@pytest.mark.usefixtures("confined")
def test_etc_shadow_is_neither_read_nor_echoed(tmp_path: Path) -> None:
    # The case of the issue: a line of /etc/shadow was printed in the error.
    spec = empirical_spec(tmp_path, "/etc/shadow")
    done = scaleplan("validate", str(spec), env={ALLOW_OUTSIDE_ENV: ""})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "'/etc/shadow' is outside the folder tree" in done.stderr
    assert "root:" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_the_option_allows_a_file_outside_and_still_never_echoes_its_content(
    tmp_path: Path,
) -> None:
    secret = secret_file(tmp_path)
    spec = empirical_spec(tmp_path / "project", str(secret))
    refused = scaleplan("validate", str(spec), env={ALLOW_OUTSIDE_ENV: ""})
    assert refused.returncode == 2 and "outside the folder tree" in refused.stderr
    for done in (
        scaleplan("--allow-files-outside", "validate", str(spec), env={ALLOW_OUTSIDE_ENV: ""}),
        scaleplan("validate", str(spec), env={ALLOW_OUTSIDE_ENV: "1"}),
    ):
        assert done.returncode == 2, done.stdout + done.stderr
        assert "secret.csv line 3, column 1: not a number" in done.stderr
        assert SECRET not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.usefixtures("confined")
def test_files_inside_the_tree_are_read(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "samples.csv").write_text("ms\n4\n8\n")
    spec = load_spec(empirical_spec(tmp_path, "data/samples.csv"))
    assert spec.components["api"].service_time.mean_value_ms() == 6.0
    absolute = load_spec(empirical_spec(tmp_path, str(tmp_path / "data" / "samples.csv")))
    assert absolute.components["api"].service_time.mean_value_ms() == 6.0


@pytest.mark.usefixtures("confined")
def test_the_bundled_scenario_names_its_sibling_folders() -> None:
    # data/scenarios/online-shop.yaml names ../architectures, ../dr and ../rollouts: a
    # scenario's tree is the folder that holds its folder.
    scenario = load_scenario(ROOT / "data" / "scenarios" / "online-shop.yaml")
    assert len(scenario.candidates) == 3


@pytest.mark.usefixtures("confined")
@pytest.mark.parametrize("key", ["candidate", "dr", "rollout"])
def test_a_scenario_cannot_name_files_beyond_its_project(tmp_path: Path, key: str) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text((ROOT / "data" / "architectures" / "monolith.yaml").read_text())
    folder = tmp_path / "project" / "scenarios"
    folder.mkdir(parents=True)
    (folder / "app.yaml").write_text(outside.read_text())
    candidate = "../../outside.yaml" if key == "candidate" else "app.yaml"
    text = (
        f"title: t\nworkload: {{today: {{rate_per_s: 10}}}}\ncandidates:\n  - path: {candidate}\n"
    )
    if key != "candidate":
        text += f"resilience: {{{key}: ../../outside.yaml}}\n"
    (folder / "s.yaml").write_text(text)
    with pytest.raises(SpecError) as caught:
        load_scenario(folder / "s.yaml")
    where = "candidates[0].path" if key == "candidate" else f"resilience.{key}"
    assert "s.yaml:" in str(caught.value) and where in str(caught.value)
    assert "is outside the folder tree" in str(caught.value)


# --------------------------------------------------------------------------- content


def write_bytes_spec(tmp_path: Path, make, content: bytes) -> Path:
    (tmp_path / "data.csv").write_bytes(content)
    return make(tmp_path, "data.csv")


CONTENT_CASES = [
    pytest.param(b"", "needs at least 2", id="empty"),
    pytest.param(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a binary file (NUL byte at offset", id="bin"
    ),
    pytest.param(b"1\n2\n\xff\xfe3\n", "not UTF-8 text (invalid byte at offset 4)", id="latin"),
    pytest.param(b"1\n2\nnan\n", "data.csv line 3, column 1: must be a finite number", id="nan"),
    pytest.param(b"1\n2\n-inf\n", "data.csv line 3, column 1: must be a finite number", id="inf"),
    pytest.param(
        b"1\n2\n1e400\n", "data.csv line 3, column 1: must be a finite number", id="1e400"
    ),
    pytest.param(
        b"1\n2\n" + b"9" * 200_000 + b"\n",
        "data.csv line 3: not readable as CSV (field larger than field limit",
        id="huge-field",
    ),
    pytest.param(
        b'1\n2\n"' + SECRET.encode() + b"\n",
        "data.csv line 3, column 1: not a number",
        id="open-quote",
    ),
]


@pytest.mark.parametrize("make", [empirical_spec, trace_spec], ids=["empirical", "trace"])
@pytest.mark.parametrize(("content", "message"), CONTENT_CASES)
def test_bad_content_is_a_clear_error_without_the_content(
    tmp_path: Path, make, content: bytes, message: str
) -> None:
    spec = write_bytes_spec(tmp_path, make, content)
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert message in str(caught.value)
    assert SECRET not in str(caught.value)
    assert "99999" not in str(caught.value)


def test_a_file_larger_than_the_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    with (tmp_path / "data.csv").open("wb") as handle:
        handle.truncate(MAX_DATA_FILE_BYTES + 10)  # sparse: claims 64 MiB of zeros
    with pytest.raises(SpecError) as caught:
        load_spec(empirical_spec(tmp_path, "data.csv"))
    assert "data.csv: larger than 64 MiB; refused" in str(caught.value)


@pytest.mark.parametrize("given", ["/dev/zero", "."])
def test_a_device_or_a_folder_is_not_a_data_file(
    tmp_path: Path, given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALLOW_OUTSIDE_ENV, "1")
    with pytest.raises(SpecError) as caught:
        load_spec(trace_spec(tmp_path, given))
    assert "workload.trace.file" in str(caught.value)


def test_a_bad_data_file_on_the_command_line_exits_2(tmp_path: Path) -> None:
    spec = write_bytes_spec(tmp_path, trace_spec, b"0\n1\n\xc3\x28\n")
    for command in ("validate", "simulate", "estimate"):
        done = scaleplan(command, str(spec))
        assert done.returncode == 2, (command, done.stdout + done.stderr)
        assert "not UTF-8 text" in done.stderr
        assert "Traceback" not in done.stderr


# --------------------------------------------------------------------------- output names


@pytest.mark.parametrize(
    ("stem", "expected"),
    [("online-shop", "online-shop"), ("..", "record"), ("...", "record"), (".hidden", "hidden")],
)
def test_safe_name(stem: str, expected: str) -> None:
    assert safe_name(stem) == expected
    assert len(safe_name("x" * 1000)) <= 100
    assert "/" not in safe_name("a/../../b") and not safe_name("a/../../b").startswith(".")


def test_a_scenario_named_dots_writes_its_record_under_out(tmp_path: Path) -> None:
    from scaleplan.report.decide import record_folder

    out = tmp_path / "out"
    for stem in ("...", "..", ".", "../x", "a b[/x]"):
        folder = record_folder(out, tmp_path / f"{stem}.yaml").resolve()
        assert folder.is_relative_to(out.resolve()) and folder != out.resolve(), stem


def test_decide_into_a_file_exits_2_before_any_run(tmp_path: Path) -> None:
    scenario = ROOT / "tests" / "data" / "scenarios" / "tiny-api.yaml"
    (tmp_path / "out").write_text("a file where a folder is expected")
    done = scaleplan("decide", str(scenario), "-o", str(tmp_path / "out"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot write" in done.stderr and "Traceback" not in done.stderr


LONG = "x" * 300 + ".html"


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("folder", "it is a folder; give a file name"),
        ("file/graph.html", "a part of the path is a file, not a folder"),
        (LONG, "the name is too long"),
        ("/dev/full", "no space left on the device"),
    ],
    ids=["a-folder", "under-a-file", "too-long", "disk-full"],
)
def test_an_output_that_cannot_be_written_exits_2(tmp_path: Path, output: str, reason: str) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    spec = str(ROOT / "data" / "architectures" / "monolith.yaml")
    target = output if output.startswith("/") else str(tmp_path / output)
    drawn = scaleplan("graph", spec, "--no-simulate", "-o", target)
    assert drawn.returncode == 2, drawn.stdout + drawn.stderr
    assert f"cannot write {target}: {reason}" in drawn.stderr
    assert "Traceback" not in drawn.stderr
    schema = scaleplan("schema", "-o", target)
    assert schema.returncode == 2 and reason in schema.stderr, schema.stderr


def test_results_computed_before_a_failed_write_are_printed() -> None:
    # Once, not for each reason above: the figure goes through the same views.write_html as
    # graph's, whose message for each reason the test above checks.
    dr = str(ROOT / "data" / "dr" / "online-shop-dr.yaml")
    computed = scaleplan("dr", dr, "--disasters", "50", "--json", "--html", "/dev/full")
    assert computed.returncode == 2, computed.stderr
    assert '"strategies"' in computed.stdout
    assert "cannot write /dev/full: no space left on the device" in computed.stderr
    assert "; the results were printed" in computed.stderr
