"""The fuzz suite (issue 15): hostile input on every surface, through the real command line.

Every case starts from a valid document and corrupts one place of it
(:mod:`fuzz_strategies`), or gives one command-line option a hostile value, then runs the
command by its console entry point in a watched child process (:mod:`fuzz_harness`). Each
case must:

- exit 0 or 2 (1 only where the contract says so: ``simulate``/``graph``/``pull`` of a load
  the engine calls unstable), with no ``Traceback`` in its output;
- stay within :class:`fuzz_harness.Limits`: CPU time (absurd work is refused before it
  starts, not run) and peak memory growth, both measured per case;
- write nothing outside its output (the case runs in a fresh folder, with HOME and TMPDIR in
  it; the whole folder is listed before and after);
- read nothing outside the allowed tree: a data ``file:`` outside the spec's folder is refused
  (an audit hook records every file the command opens).

Surfaces: architecture files (random valid ones from :mod:`strategies`, one field corrupted),
scenario, DR and rollout files (the bundled ones on a small budget, one field corrupted),
whole files that are no document, data files (trace and empirical), and the options of every
command. A sample of cases also runs as a real subprocess (``python -m scaleplan``).

Profiles: ``fuzz`` (the default, in ``make test``: fixed examples, a few minutes on two cores)
and ``fuzz-long`` (``SCALEPLAN_FUZZ=long``, ``make fuzz``: ten times as many, new ones each
run, with shrinking). ``SCALEPLAN_FUZZ=survey`` (``survey-long``) runs the default (long)
examples but records every broken rule to ``SCALEPLAN_FUZZ_LOG`` (JSON lines) instead of
failing at the first: it is how the findings are collected. Every failing case ever found is
kept as a plain regression test in tests/test_fuzz_regressions.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz_harness import Case, Limits, Outcome, run_case
from fuzz_strategies import (
    DOCUMENTS,
    Mutation,
    apply,
    dump,
    hostile_option,
    mutations,
)
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from strategies import architectures

import scaleplan.analytic
import scaleplan.cli
import scaleplan.engine
import scaleplan.experiments
import scaleplan.experiments.availability
import scaleplan.experiments.dr
import scaleplan.experiments.rollout
import scaleplan.runsize
import scaleplan.spec.dr
import scaleplan.spec.rollout
import scaleplan.views  # noqa: F401 - imported before the forks, so each case starts warm

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
MODE = os.environ.get("SCALEPLAN_FUZZ", "")
LONG = MODE in ("long", "survey-long")
SURVEY = MODE in ("survey", "survey-long")
LOG = Path(os.environ.get("SCALEPLAN_FUZZ_LOG", "fuzz-survey.jsonl"))

settings.register_profile(
    "fuzz",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    # A case is one corruption of one place: the example is already small, and shrinking a
    # case that the harness had to kill would take minutes.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
    max_examples=20,
)
settings.register_profile(
    "fuzz-long",
    parent=settings.get_profile("fuzz"),
    derandomize=False,
    phases=tuple(Phase),
)
PROFILE = settings.get_profile("fuzz-long" if LONG else "fuzz")
LIMITS = Limits(wall_s=120.0) if LONG else Limits()
timeout = pytest.mark.timeout(0 if LONG else 900)


def examples(count: int) -> settings:
    """The profile with ``count`` examples (ten times as many in the long profile)."""
    return settings(PROFILE, max_examples=count * (10 if LONG else 1))


# --------------------------------------------------------------------------- the workspace


SECRET = "SECRET-MARKER-2c41"


class Workspace:
    """A fresh folder for one case: the spec's folder, the bundled data, a secret beside them.

    ``root/spec`` holds the file under test and its in-tree data files; ``root/data`` a copy
    of the bundled architectures, scenarios, DR and rollout files (the scenario's candidates
    are found relative to it); ``root/secret`` a data file that is valid but outside every
    spec's folder, which no command may open; ``root/out`` the output folder; ``root/work``
    the working directory.
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="scaleplan-fuzz-"))
        self.spec_dir = self.root / "spec"
        self.data = self.root / "data"
        self.secret = self.root / "secret"
        self.out = self.root / "out"
        self.work = self.root / "work"
        for folder in (self.spec_dir, self.secret, self.out, self.work):
            folder.mkdir()
        shutil.copytree(DATA, self.data)
        samples = "value_ms\n" + "\n".join(str(1 + i % 7) for i in range(50)) + "\n"
        (self.spec_dir / "samples.csv").write_text(samples)
        (self.secret / "data.csv").write_text(f"{SECRET}\n" + samples.split("\n", 1)[1])
        (self.secret / "trace.csv").write_text(
            f"{SECRET}\n" + "\n".join(f"{i / 10:.1f}" for i in range(1, 400)) + "\n"
        )
        os.mkfifo(self.spec_dir / "fifo.csv")

    def write(self, name: str, text: str | bytes, folder: Path | None = None) -> Path:
        path = (folder or self.spec_dir) / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        return path

    def case(
        self, args: Sequence[str | Path], *, outputs: Sequence[Path] = (), **flags: Any
    ) -> Case:
        forbidden = [self.secret]
        named = {str(arg) for arg in args}
        # /etc/passwd named on the command line is the user's own choice; named in a file, not.
        forbidden += [Path(p) for p in ("/etc/passwd", "/etc/shadow") if p not in named]
        return Case(
            args=tuple(str(arg) for arg in args),
            root=self.root,
            cwd=self.work,
            outputs=tuple(outputs) or (self.out,),
            forbidden=tuple(forbidden),
            **flags,
        )

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def check(
    case: Case, *, subprocess_run: bool = False, label: str = "", limits: Limits = LIMITS
) -> Outcome:
    """Run ``case``; fail with every broken rule (or, in the survey, record them)."""
    outcome, broken = run_case(case, limits, subprocess_run=subprocess_run)
    with contextlib.suppress(InvalidArgument):  # outside a Hypothesis test
        event(f"{outcome.args[0]}: exit {outcome.code}")
    if SURVEY:
        if broken:
            with LOG.open("a") as log:
                log.write(
                    json.dumps(
                        {
                            "label": label,
                            "args": list(outcome.args),
                            "problems": broken,
                            "code": outcome.code,
                            "tail": outcome.stderr.strip().splitlines()[-3:],
                        }
                    )
                    + "\n"
                )
        return outcome
    assert not broken, f"{label}\n" + "; ".join(broken) + "\n" + outcome.brief()
    return outcome


# --------------------------------------------------------------------------- the base documents


def _small_scenario(workspace: Workspace) -> dict[str, Any]:
    """The bundled scenario on a budget of a few seconds: two candidates, small runs."""
    data = yaml.safe_load((DATA / "scenarios" / "online-shop.yaml").read_text())
    data["candidates"] = data["candidates"][:2]
    del data["costs"]["candidates"]["three-tier"]
    data["run"].update(
        replications=2, requests=1000, pull_replications=2, pull_requests=500, precision=0.2
    )
    data["candidates"] = [
        {**c, "path": "../data/architectures/" + Path(c["path"]).name} for c in data["candidates"]
    ]
    data["resilience"] = {
        "dr": "../data/dr/online-shop-dr.yaml",
        "rollout": "../data/rollouts/canary.yaml",
    }
    return data


def _small_dr() -> dict[str, Any]:
    data = yaml.safe_load((DATA / "dr" / "online-shop-dr.yaml").read_text())
    data["disasters"]["count"] = 300
    return data


def _small_rollout() -> dict[str, Any]:
    data = yaml.safe_load((DATA / "rollouts" / "canary.yaml").read_text())
    data.update(start_s=10, canary={"steps": [0.5, 1.0], "bake_s": 10})
    return data


# A small architecture for rollouts: two API replicas (ha-zones is six, at 120/s).
ROLLOUT_ARCH = {
    "name": "rollout-base",
    "workload": {"arrival": "poisson", "rate_per_s": 20, "duration_s": 60},
    "entry": "api",
    "components": {
        "api": {
            "kind": "service",
            "replicas": 3,
            "concurrency": 4,
            "service_time": {"dist": "exponential", "mean_ms": 10},
        }
    },
}


def _architecture_data(data: dict[str, Any], workspace: Workspace) -> dict[str, Any]:
    """A generated architecture with its trace file moved into the spec's folder."""
    trace = data.get("workload", {}).get("trace")
    if trace:
        shutil.copy(trace["file"], workspace.spec_dir / "trace.csv")
        data = {**data, "workload": {**data["workload"], "trace": {**trace, "file": "trace.csv"}}}
    return data


# --------------------------------------------------------------------------- architectures

ARCH_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("validate", "{spec}"),
    ("estimate", "{spec}"),
    ("simulate", "{spec}", "--requests", "300"),
    ("simulate", "{spec}"),
    ("estimate", "{spec}", "--json"),
    ("graph", "{spec}", "-o", "{out}/graph.html", "--no-simulate"),
    ("failures", "{spec}", "--replications", "2", "--probes", "100", "--duration-h", "2"),
)


def _fill(template: Sequence[str], **values: Path) -> list[str]:
    return [part.format(**{k: str(v) for k, v in values.items()}) for part in template]


@timeout
@examples(40)
@given(
    example=architectures(max_components=5),
    data=st.data(),
    command=st.sampled_from(ARCH_COMMANDS),
)
def test_architecture_field_corrupted(
    example: Any, data: st.DataObject, command: tuple[str, ...]
) -> None:
    workspace = Workspace()
    try:
        base = _architecture_data(example.data, workspace)
        mutation: Mutation = data.draw(mutations(base), label="mutation")
        spec = workspace.write("arch.yaml", apply(base, mutation))
        args = _fill(command, spec=spec, out=workspace.out)
        check(workspace.case(args, unstable_ok=True), label=f"architecture {mutation!r}")
    finally:
        workspace.close()


BUNDLED = sorted((DATA / "architectures").glob("*.yaml"))


@timeout
@examples(25)
@given(
    path=st.sampled_from(BUNDLED),
    data=st.data(),
    command=st.sampled_from(ARCH_COMMANDS[:3]),
)
def test_bundled_architecture_field_corrupted(
    path: Path, data: st.DataObject, command: tuple[str, ...]
) -> None:
    workspace = Workspace()
    try:
        base = yaml.safe_load(path.read_text())
        mutation: Mutation = data.draw(mutations(base), label="mutation")
        spec = workspace.write(path.name, apply(base, mutation))
        args = _fill(command, spec=spec, out=workspace.out)
        check(workspace.case(args, unstable_ok=True), label=f"{path.name} {mutation!r}")
    finally:
        workspace.close()


# --------------------------------------------------------------------------- scenario, DR, rollout


@timeout
@examples(20)
@given(data=st.data())
def test_scenario_field_corrupted(data: st.DataObject) -> None:
    workspace = Workspace()
    try:
        base = _small_scenario(workspace)
        mutation: Mutation = data.draw(mutations(base), label="mutation")
        scenario = workspace.write("scenario.yaml", apply(base, mutation))
        check(
            workspace.case(["compare", scenario, "--workers", "1"]),
            label=f"scenario {mutation!r}",
        )
    finally:
        workspace.close()


@timeout
@examples(30)
@given(data=st.data())
def test_dr_field_corrupted(data: st.DataObject) -> None:
    workspace = Workspace()
    try:
        base = _small_dr()
        mutation: Mutation = data.draw(mutations(base), label="mutation")
        path = workspace.write("dr.yaml", apply(base, mutation))
        check(workspace.case(["dr", path]), label=f"dr {mutation!r}")
    finally:
        workspace.close()


@timeout
@examples(20)
@given(data=st.data())
def test_rollout_field_corrupted(data: st.DataObject) -> None:
    workspace = Workspace()
    try:
        base = _small_rollout()
        mutation: Mutation = data.draw(mutations(base), label="mutation")
        plan = workspace.write("plan.yaml", apply(base, mutation))
        arch = workspace.write("arch.yaml", dump(ROLLOUT_ARCH))
        check(workspace.case(["rollout", arch, "--plan", plan]), label=f"rollout {mutation!r}")
    finally:
        workspace.close()


def test_the_base_documents_run() -> None:
    """The documents the fuzz corrupts are valid and run: a corruption is the only fault."""
    workspace = Workspace()
    try:
        plan = workspace.write("plan.yaml", dump(_small_rollout()))
        arch = workspace.write("arch.yaml", dump(ROLLOUT_ARCH))
        for args in (
            ["compare", workspace.write("scenario.yaml", dump(_small_scenario(workspace)))],
            ["dr", workspace.write("dr.yaml", dump(_small_dr()))],
            ["rollout", arch, "--plan", plan],
            *(["simulate", path, "--requests", "300"] for path in BUNDLED),
        ):
            outcome = check(workspace.case(args), label="base document")
            assert outcome.code == 0, outcome.brief()
    finally:
        workspace.close()


# --------------------------------------------------------------------------- whole documents

KINDS_OF_FILE: dict[str, Callable[[Path, Workspace], list[str | Path]]] = {
    "architecture": lambda path, w: ["validate", path],
    "scenario": lambda path, w: ["compare", path, "--workers", "1"],
    "dr": lambda path, w: ["dr", path],
    "rollout": lambda path, w: [
        "rollout",
        w.write("arch.yaml", dump(ROLLOUT_ARCH)),
        "--plan",
        path,
    ],
}


@pytest.mark.parametrize("kind", sorted(KINDS_OF_FILE))
@pytest.mark.parametrize("index", range(len(DOCUMENTS)))
def test_file_that_is_no_document_is_refused(kind: str, index: int) -> None:
    workspace = Workspace()
    try:
        path = workspace.write(f"{kind}.yaml", DOCUMENTS[index])
        check(
            workspace.case(KINDS_OF_FILE[kind](path, workspace), must_refuse=True),
            label=f"{kind} document {DOCUMENTS[index][:40]!r}",
        )
    finally:
        workspace.close()


# --------------------------------------------------------------------------- data files

# Where a data file may point, and whether it must be refused (True) or read (False).
DATA_FILES: dict[str, bool] = {
    "samples.csv": False,  # in the spec's folder: read
    "../secret/data.csv": True,  # beside it: outside the tree
    "{secret}/data.csv": True,  # the same, absolute
    "/etc/passwd": True,
    "../../../../../../../../etc/passwd": True,
    "/dev/zero": True,  # endless
    "fifo.csv": True,  # a named pipe would block the read forever
    ".": True,
    "missing.csv": True,
    "binary.csv": True,
    "latin1.csv": True,
    "nan.csv": True,
    "inf.csv": True,
    "huge-field.csv": True,
    "negative.csv": True,
}


def _data_files(workspace: Workspace) -> None:
    workspace.write("binary.csv", b"\x00\xff\xfe\x01" * 100)
    workspace.write("latin1.csv", "value_ms\n1\n2\ncaf\u00e9\n".encode("latin-1"))
    workspace.write("nan.csv", "value_ms\n1\nnan\n2\n")
    workspace.write("inf.csv", "value_ms\n1\ninf\n2\n")
    workspace.write("huge-field.csv", "value_ms\n" + "1" * 200_000 + "\n")
    workspace.write("negative.csv", "value_ms\n1\n-5\n2\n")


def _with_empirical(file: str) -> dict[str, Any]:
    return {
        "name": "empirical",
        "workload": {"arrival": "poisson", "rate_per_s": 10, "requests": 300},
        "entry": "api",
        "components": {
            "api": {
                "kind": "service",
                "concurrency": 2,
                "service_time": {"dist": "empirical", "file": file},
            }
        },
    }


def _with_trace(file: str) -> dict[str, Any]:
    return {
        "name": "trace",
        "workload": {"arrival": "trace", "trace": {"file": file}},
        "entry": "api",
        "components": {
            "api": {
                "kind": "service",
                "concurrency": 4,
                "service_time": {"dist": "exponential", "mean_ms": 5},
            }
        },
    }


@pytest.mark.parametrize("builder", [_with_empirical, _with_trace], ids=["empirical", "trace"])
@pytest.mark.parametrize("file", sorted(DATA_FILES))
def test_data_file_confined_and_checked(
    builder: Callable[[str], dict[str, Any]], file: str
) -> None:
    """A data file outside the spec's folder is refused and never opened; bad content exit 2."""
    must_refuse = DATA_FILES[file]
    workspace = Workspace()
    try:
        _data_files(workspace)
        if builder is _with_trace and file == "samples.csv":
            file = "trace.csv"
            workspace.write(file, "t_s\n" + "\n".join(f"{i / 10:.1f}" for i in range(1, 300)))
        file = file.format(secret=workspace.secret)
        spec = workspace.write("arch.yaml", dump(builder(file)))
        target = workspace.spec_dir / file
        outcome = check(
            workspace.case(["simulate", spec, "--requests", "200"], must_refuse=must_refuse),
            label=f"{builder.__name__} file {file}",
        )
        if not SURVEY:
            assert not echoed(target, outcome), "a data file's content reached the output"
    finally:
        workspace.close()


# --------------------------------------------------------------------------- options


def echoed(path: Path, outcome: Outcome) -> list[str]:
    """Lines of the data file ``path`` that the output repeats (an error names a row, never
    prints it)."""
    try:
        if not path.is_file() or path.stat().st_size > 1_000_000:
            return []
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if len(line.strip()) >= 8 and line in outcome.output]


# Each command with small budgets, and its options by kind. ``{x}`` are filled per case.
COMMANDS: dict[str, tuple[list[str], dict[str, str]]] = {
    "simulate": (
        ["simulate", "{arch}", "--requests", "300"],
        {
            "--rate-per-s": "number",
            "--requests": "number",
            "--seed": "number",
            "--replications": "number",
        },
    ),
    "estimate": (["estimate", "{arch}"], {"--rate-per-s": "number"}),
    "graph": (
        ["graph", "{arch}", "--no-simulate", "-o", "{out}/graph.html"],
        {"-o": "path", "--seed": "number"},
    ),
    "schema": (["schema", "-o", "{out}/schema.json"], {"-o": "path"}),
    "pull": (
        ["pull", "{arch}", "--requests", "300", "--replications", "1", "--precision", "0.3"],
        {
            "--slo": "slo",
            "--seed": "number",
            "--requests": "number",
            "--replications": "number",
            "--precision": "number",
            "--html": "path",
        },
    ),
    "ramp": (
        ["ramp", "{arch}", "--requests", "400", "--steps", "3"],
        {
            "--slo": "slo",
            "--seed": "number",
            "--steps": "number",
            "--requests": "number",
            "--html": "path",
        },
    ),
    "sweep": (
        [
            "sweep",
            "{arch}",
            "--requests",
            "300",
            "--workers",
            "1",
            "--set",
            "components.app.replicas=1,2",
        ],
        {"--set": "set", "--seed": "number", "--requests": "number", "--workers": "number"},
    ),
    "compare": (
        ["compare", "{scenario}", "--workers", "1"],
        {"--seed": "number", "--workers": "number", "--html": "path"},
    ),
    "failures": (
        ["failures", "{arch}", "--replications", "2", "--probes", "100", "--duration-h", "2"],
        {
            "--seed": "number",
            "--replications": "number",
            "--duration-h": "number",
            "--probes": "number",
            "--availability": "number",
            "--html": "path",
        },
    ),
    "dr": (
        ["dr", "{dr}", "--disasters", "300"],
        {"--disasters": "number", "--seed": "number", "--html": "path"},
    ),
    "rollout": (
        ["rollout", "{rollout_arch}", "--plan", "{plan}"],
        {
            "--strategy": "text",
            "--component": "text",
            "--batch-size": "number",
            "--boot-s": "number",
            "--drain-s": "number",
            "--bad-probability": "number",
            "--error-rate": "number",
            "--latency-factor": "number",
            "--max-error-rate": "number",
            "--cost-per-replica-hour": "number",
            "--rate-per-s": "number",
            "--seed": "number",
            "--replications": "number",
            "--html": "path",
        },
    ),
    "runs": (
        ["runs", "--store", "{out}/scaleplan.db"],
        {"--store": "path", "--scenario": "text", "--limit": "number"},
    ),
}
OPTIONS = [(command, option) for command, (_, options) in COMMANDS.items() for option in options]


def _command_line(
    workspace: Workspace, command: str, option: str, value: str
) -> tuple[list[str], list[Path]]:
    """The command's base line with ``option`` set to ``value``, and the outputs it may write."""
    base, kinds = COMMANDS[command]
    files = {
        "arch": workspace.data / "architectures" / "monolith.yaml",
        "scenario": workspace.write("scenario.yaml", dump(_small_scenario(workspace))),
        "dr": workspace.write("dr.yaml", dump(_small_dr())),
        "plan": workspace.write("plan.yaml", dump(_small_rollout())),
        "rollout_arch": workspace.write("arch.yaml", dump(ROLLOUT_ARCH)),
        "out": workspace.out,
    }
    args = _fill(base, **files)
    if option in args and option not in ("--slo", "--set", "--strategy"):
        args[args.index(option) + 1] = value
    elif option == "--set" and "--set" in args:
        args[args.index("--set") + 1] = value
    else:
        args += [option, value]
    outputs = [workspace.out]
    if kinds[option] == "path" and option != "--store":
        # The file the user named, and the folders on the way to it that it may create.
        named = Path(value)
        outputs.append(named if named.is_absolute() else workspace.work / (named.parts or ("",))[0])
    return args, outputs


@timeout
@examples(80)
@given(data=st.data(), pick=st.sampled_from(OPTIONS))
def test_option_hostile(data: st.DataObject, pick: tuple[str, str]) -> None:
    command, option = pick
    value = data.draw(hostile_option(COMMANDS[command][1][option]), label="value")
    workspace = Workspace()
    try:
        args, outputs = _command_line(workspace, command, option, value)
        check(
            workspace.case(args, outputs=outputs, unstable_ok=True),
            label=f"{command} {option}={value[:60]!r}",
        )
    finally:
        workspace.close()


# --------------------------------------------------------------------------- the real process

SUBPROCESS_SAMPLE: list[tuple[str, list[str]]] = [
    ("negative seed", ["simulate", "{arch}", "--requests", "300", "--seed", "-1"]),
    ("infinite rate", ["simulate", "{arch}", "--rate-per-s", "inf"]),
    ("huge replications", ["simulate", "{arch}", "--replications", "100000000"]),
    ("markup in an SLO", ["pull", "{arch}", "--slo", "[/x]", "--requests", "300"]),
    ("output on a full disk", ["schema", "-o", "/dev/full"]),
    ("output is a folder", ["graph", "{arch}", "--no-simulate", "-o", "{out}"]),
    ("huge sweep", ["sweep", "{arch}", "--set", "components.app.replicas=1:1e9"]),
    ("huge probes", ["failures", "{arch}", "--probes", "1000000000"]),
]


@pytest.mark.parametrize(
    ("label", "template"), SUBPROCESS_SAMPLE, ids=[s[0] for s in SUBPROCESS_SAMPLE]
)
def test_subprocess_sample(label: str, template: list[str]) -> None:
    """A sample through ``python -m scaleplan``: the same rules across the process boundary."""
    workspace = Workspace()
    try:
        args = _fill(
            template, arch=workspace.data / "architectures" / "monolith.yaml", out=workspace.out
        )
        outputs = [workspace.out] + ([Path("/dev/full")] if "/dev/full" in args else [])
        check(
            workspace.case(args, outputs=outputs, unstable_ok=True),
            subprocess_run=True,
            label=label,
        )
    finally:
        workspace.close()


def test_a_subprocess_sample_measures_its_own_memory_not_its_parents() -> None:
    # A sample's peak memory was RUSAGE_CHILDREN's: the largest child's so far, and a child
    # spawned from a large test process starts from the parent's high-water mark, so every
    # sample of a late, large pytest process was "over 1536 MB" (+1962 MB for a refusal in
    # 0.3 s). A parent of 700 MB must not make a refusal cost 400 MB.
    ballast = b"x" * (700 * 2**20)  # resident: written, not only reserved
    workspace = Workspace()
    try:
        args = ["simulate", str(workspace.data / "architectures" / "monolith.yaml"), "--seed", "-1"]
        outcome, problems = run_case(
            workspace.case(args, outputs=[workspace.out]),
            Limits(rss_mb=400.0),
            subprocess_run=True,
        )
    finally:
        workspace.close()
    assert len(ballast) == 700 * 2**20
    assert outcome.code == 2, outcome.brief()
    assert outcome.rss_growth_mb < 400, outcome.brief()
    assert problems == [], problems
