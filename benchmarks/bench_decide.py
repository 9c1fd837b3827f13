"""Wall time of ``compare`` and ``decide`` on the bundled scenario: the code before issue 13
against this checkout, measured in the same run, interleaved.

Run: ``.venv/bin/python benchmarks/bench_decide.py [--repeats N] [--baseline-ref REF]``.

- **baseline**: the commands of the code at ``REF`` (default :data:`BASELINE_REF`, main before
  issue 13: the engine, run lengths and start-up as they were), exported with ``git archive``
  into a temporary folder (no worktree is added to the repository) and run with
  ``PYTHONPATH`` pointing at it (its kernel inherits it), on the same Python, packages and
  machine. ``--also-ref REF2`` times a second version the same way (say, the commit before a
  change), interleaved with the others.
- **new**: the commands of this checkout, with their defaults (every available core,
  precision-driven run lengths).

Both run as commands in a new process each time (``scaleplan compare`` and ``scaleplan decide``),
so the wall times hold what a user waits for: start-up, and for ``decide`` papermill, its
kernel, the record's cells and the HTML export. Each version runs each command once untimed
first, so that its byte code is compiled as an installed package's is (the children do not
inherit ``PYTHONDONTWRITEBYTECODE``). Baseline and new alternate, ``N`` times each (default
3); the medians are compared.

Targets (issue 13, on the issue's quiet 2-core machine, where the baseline ``decide`` took
15.6 s): ``decide`` ≤ 5 s and ``compare`` ≤ 3 s. Absolute times do not carry from one machine to
another (the same code has measured 2.4 s and 4.1 s here on different days), so the baseline
measured in this run says how fast this machine is: ``speed = baseline decide / 15.6 s``, and
each target is scaled by it (``decide`` ≤ 5 s × speed, which is the ratio 15.6 / 5 = 3.12;
``compare`` ≤ 3 s × speed). The issue gave no quiet figure of its own for the ``compare``
command, hence the scaling through ``decide``.

Also measured: the comparison inside the record (papermill's duration of the record's evidence
cell, which imports and compares), 13 s in the issue's record against a 3 s target: a ratio of
at least :data:`IN_RECORD_COMPARE_RATIO` against the baseline's same cell. An earlier version of
this benchmark held the ``compare`` *command* to that ratio, but the command's baseline is not
the record's 13 s (7.3 s against 10.9 s on one machine): the two are now kept apart.

Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from scaleplan.parallel import available_cores

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = Path("data") / "scenarios" / "online-shop.yaml"
#: main before issue 13 (the last commit of issues 14 and 15).
BASELINE_REF = "8d87efc"
#: The baseline ``decide`` on the issue's quiet 2-core machine.
ISSUE_DECIDE_BASELINE_S = 15.6
DECIDE_TARGET_S = 5.0
COMPARE_TARGET_S = 3.0
#: The comparison inside the issue's record, 13 s → 3 s.
IN_RECORD_COMPARE_RATIO = 13.0 / 3.0
VERBS = ("compare", "decide")


def time_command(tree: Path, verb: str, out: Path) -> tuple[float, float]:
    """Wall seconds of ``scaleplan VERB`` on the scenario with the code of ``tree``, and the
    CPU seconds (user + system) of it and every process it started."""
    command = [sys.executable, "-m", "scaleplan", verb, str(tree / SCENARIO)]
    if verb == "decide":
        command += ["-o", str(out)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's installed package has its byte code
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=tree, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{verb} failed ({' '.join(command)} in {tree}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


@contextlib.contextmanager
def baseline_tree(ref: str, folder: Path) -> Iterator[Path]:
    """The code at ``ref`` exported into ``folder`` (removed with it afterwards)."""
    tree = folder / f"baseline-{ref}"
    tree.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref], cwd=ROOT, check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    yield tree


def evidence_cell_s(out: Path) -> float:
    """Papermill's duration of the record's evidence cell (the one that imports and compares)
    in the notebook ``decide`` last wrote under ``out``."""
    notebook = out / SCENARIO.stem / "decision-record.ipynb"
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "evidence =" in source:
            return float(cell["metadata"]["papermill"]["duration"])
    raise SystemExit(f"{notebook}: no cell assigns the evidence")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-ref", default=BASELINE_REF)
    parser.add_argument(
        "--also-ref", default=None, help="a second version to time beside the baseline"
    )
    arguments = parser.parse_args()
    repeats = arguments.repeats
    versions = ["baseline", *(["also"] if arguments.also_ref else []), "new"]
    walls: dict[str, list[float]] = {f"{v}_{w}": [] for w in versions for v in VERBS}
    cpus: dict[str, list[float]] = {f"{v}_{w}": [] for w in versions for v in VERBS}
    in_record: dict[str, list[float]] = {version: [] for version in versions}
    with (
        tempfile.TemporaryDirectory(prefix="bench-decide-") as folder,
        contextlib.ExitStack() as stack,
    ):
        out = Path(folder)
        trees = {"baseline": stack.enter_context(baseline_tree(arguments.baseline_ref, out))}
        if arguments.also_ref:
            trees["also"] = stack.enter_context(baseline_tree(arguments.also_ref, out))
        trees["new"] = ROOT
        for version in versions:  # untimed: compiles each version's byte code once
            for verb in VERBS:
                time_command(trees[version], verb, out / version)
        for _ in range(repeats):
            for verb in VERBS:
                for version in versions:
                    wall, cpu = time_command(trees[version], verb, out / version)
                    walls[f"{verb}_{version}"].append(wall)
                    cpus[f"{verb}_{version}"].append(cpu)
                    if verb == "decide":
                        in_record[version].append(evidence_cell_s(out / version))
    median = {name: statistics.median(values) for name, values in walls.items()}
    in_record_median = {name: statistics.median(values) for name, values in in_record.items()}
    speed = median["decide_baseline"] / ISSUE_DECIDE_BASELINE_S
    targets = {"compare": COMPARE_TARGET_S * speed, "decide": DECIDE_TARGET_S * speed}
    in_record_ratio = in_record_median["baseline"] / in_record_median["new"]
    report = {
        "cores": available_cores(),
        "repeats": repeats,
        "wall_s": {name: [round(v, 2) for v in values] for name, values in walls.items()},
        "cpu_s": {name: [round(v, 2) for v in values] for name, values in cpus.items()},
        "median_s": {name: round(value, 2) for name, value in median.items()},
        "median_cpu_s": {
            name: round(statistics.median(values), 2) for name, values in cpus.items()
        },
        "in_record_compare_s": {
            name: [round(v, 2) for v in values] for name, values in in_record.items()
        },
        "baseline_ref": arguments.baseline_ref,
        "also_ref": arguments.also_ref,
        "machine_speed": round(speed, 3),
        "scaled_targets_s": {verb: round(value, 2) for verb, value in targets.items()},
        "compare_ratio": round(median["compare_baseline"] / median["compare_new"], 2),
        "decide_ratio": round(median["decide_baseline"] / median["decide_new"], 2),
        "in_record_compare_ratio": round(in_record_ratio, 2),
    }
    print(json.dumps(report, indent=2))
    print(
        f"this machine: the baseline decide took {median['decide_baseline']:.2f} s against the "
        f"issue's {ISSUE_DECIDE_BASELINE_S:g} s (speed ×{speed:.2f}); targets scaled by it"
    )
    missed = []
    for verb, nominal in (("compare", COMPARE_TARGET_S), ("decide", DECIDE_TARGET_S)):
        new, target = median[f"{verb}_new"], targets[verb]
        also = (
            f", {arguments.also_ref}: {median[f'{verb}_also']:.2f} s" if arguments.also_ref else ""
        )
        print(
            f"{verb}: {median[f'{verb}_baseline']:.2f} s{also} → {new:.2f} s "
            f"(×{report[f'{verb}_ratio']:.2f}); target {nominal:g} s on the issue's machine, "
            f"{target:.2f} s on this one: {'met' if new <= target else 'not met'}"
        )
        if new > target:
            missed.append(f"{verb} took {new:.2f} s, the target here is {target:.2f} s")
    in_record_met = in_record_ratio >= IN_RECORD_COMPARE_RATIO
    print(
        f"comparison inside the record: {in_record_median['baseline']:.2f} s → "
        f"{in_record_median['new']:.2f} s (×{in_record_ratio:.2f}, target "
        f"×{IN_RECORD_COMPARE_RATIO:.2f}: {'met' if in_record_met else 'not met'})"
    )
    if not in_record_met:
        missed.append(
            f"the comparison inside the record is ×{in_record_ratio:.2f} faster, "
            f"the target is ×{IN_RECORD_COMPARE_RATIO:.2f}"
        )
    for problem in missed:
        print(f"target missed: {problem}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
