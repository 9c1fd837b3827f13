"""A stand-in for a batch's papermill job, for the store and batch hardening tests.

:func:`fake_job` does what :func:`scaleplan.report.batch.run_job` does to the disk — a record
folder with the notebook, the results JSON (naming the run key, as the template does) and the
HTML — in a fraction of a second, so a test can kill and rerun batches many times. It appends
one line per finished record to ``executions.log`` beside the record folders (an O_APPEND
write, atomic between processes), so a test counts how often each scenario really ran.

Behaviour comes from the environment (spawned workers inherit it) and the scenario's name:
``FAKE_JOB_S`` seconds per job; a scenario whose file name contains ``dies`` ends its worker
process at once (``os._exit``); one containing ``raises`` raises from the job.

Run as ``python -c "import _store_jobs; _store_jobs.main()" OUT STORE SCENARIO…`` it is a
batch on local processes with this job, as a subprocess a test can SIGKILL.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from scaleplan.report.provenance import run_key

LOG = "executions.log"


def fake_job(job: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    scenario = Path(job["scenario"])
    if "dies" in scenario.name:
        os._exit(3)
    if "raises" in scenario.name:
        raise RuntimeError(f"a template error in {scenario.name}")
    folder = Path(job["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    time.sleep(float(os.environ.get("FAKE_JOB_S", "0.2")))
    key = run_key(scenario, seed=job["seed"], budget=job["budget"])
    artifacts = {
        "notebook": str(folder / "decision-record.ipynb"),
        "json": str(folder / "decision-record.json"),
        "html": str(folder / "decision-record.html"),
    }
    metrics = {"chosen": "single", "scenario_hash": key.scenario_hash}
    results = {"title": scenario.stem, "run_key": {"digest": key.digest}, "metrics": metrics}
    for kind, path in artifacts.items():
        body = json.dumps(results) if kind == "json" else f"<{kind} of {key.digest}>"
        partial = Path(path + f".{os.getpid()}.tmp")
        partial.write_text(body, encoding="utf-8")
        os.replace(partial, path)
    line = f"{scenario.name} {key.digest} {os.getpid()}\n".encode()
    handle = os.open(folder.parent / LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(handle, line)
    finally:
        os.close(handle)
    return {
        "status": "done",
        "wall_s": time.perf_counter() - started,
        "metrics": metrics,
        "artifacts": artifacts,
        "title": scenario.stem,
    }


def executions(out: Path) -> list[str]:
    """The scenario file names of every finished fake record, in order."""
    log = out / LOG
    return [line.split()[0] for line in log.read_text().splitlines()] if log.is_file() else []


def main() -> None:
    from scaleplan.report.batch import batch

    out, store, *scenarios = sys.argv[1:]
    result = batch(scenarios, out, store=store, workers=2, runner=fake_job)
    counts = {
        outcome: sum(job.outcome == outcome for job in result.jobs)
        for outcome in ("done", "skipped", "failed")
    }
    print(json.dumps({"counts": counts, "warnings": list(result.warnings)}))
    sys.exit(0 if result.ok else 1)
