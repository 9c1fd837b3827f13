"""Running one fuzz case through the real command line, watched: time, memory, files.

A case is ``scaleplan ARGS`` run by :func:`scaleplan.cli.main` (the console entry point, so a
:class:`~scaleplan.errors.ScaleplanError` is turned into exit 2 exactly as for a user) in a
forked child of the test process. Forking keeps the speed of an in-process run (every module
is already imported) while the parent keeps control:

- **time**: the child's CPU time (user + system, from ``wait4``) is the measure — it does not
  depend on how busy the shared machine is — and the wall clock is the hard stop (the child is
  killed at :attr:`Limits.wall_s`, a hang is reported as one);
- **memory**: the growth of the child's peak resident set over its size at the fork (the child
  starts as a copy of the test process); the parent also polls the child's resident set and
  kills it past :attr:`Limits.hard_rss_mb`, so a memory bomb never takes the machine down;
- **writes**: the case runs in a fresh folder (``root``) with ``HOME`` and ``TMPDIR`` inside
  it; every file and folder under ``root`` is listed before and after, and only the paths the
  case declares as its output may change;
- **reads**: an audit hook (:func:`sys.addaudithook`) in the child records every ``open``; the
  case lists paths that must never be opened (a sentinel folder beside the spec's folder,
  ``/etc/passwd``), and a data file there is refused, not read.

:func:`run_subprocess` runs the same case through ``python -m scaleplan`` for a sample, to
check the real process boundary too. Its memory and CPU time are measured by a small launcher
process that starts the command and reads its own ``RUSAGE_CHILDREN``: measured from the test
process, that peak was the largest child's so far, and a child spawned from a large process
starts from the parent's high-water mark (a refusal of a late, 2 GB pytest "grew" 1,962 MB).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Limits:
    """What one case may cost.

    ``cpu_s``: a refusal takes well under a second and every fuzz case runs on a budget of a
    few hundred requests, so 20 CPU-seconds is ample for a correct run and far short of the
    runs the issue reports as hangs. ``rss_mb``: 1.5 GB of growth. The largest legitimate case
    here grows by well under 200 MB (a pull or a compare on a small budget); the issue's
    failures grew by 2–3 GB; the machine is shared (about 23 GB for five sessions), so a case
    must stay far below a share of it. ``wall_s`` and ``hard_rss_mb`` are the hard stops.
    """

    cpu_s: float = 20.0
    rss_mb: float = 1536.0
    wall_s: float = 60.0
    hard_rss_mb: float = 2048.0


@dataclass
class Outcome:
    """What one run of the command line did."""

    args: tuple[str, ...]
    code: int | None  # None: killed by the harness (see ``killed``)
    stdout: str
    stderr: str
    cpu_s: float
    wall_s: float
    rss_growth_mb: float
    killed: str = ""  # "time" or "memory" when the harness stopped it
    opened: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # paths under root that changed

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def brief(self) -> str:
        tail = self.output.strip().splitlines()[-6:]
        return (
            f"scaleplan {' '.join(_short(a) for a in self.args)}\n"
            f"  exit {self.code}{' (killed: ' + self.killed + ')' if self.killed else ''}, "
            f"cpu {self.cpu_s:.1f} s, wall {self.wall_s:.1f} s, rss +{self.rss_growth_mb:.0f} MB\n"
            + "\n".join("  | " + _short(line, 200) for line in tail)
        )


def _short(text: str, limit: int = 80) -> str:
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[: limit - 20] + f"…({len(text)} chars)"


# --------------------------------------------------------------------------- snapshots


def snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``roots``: path → (size, mtime in ns); a folder has size -1."""
    seen: dict[str, tuple[int, int]] = {}
    for top in roots:
        for folder, dirs, files in os.walk(top):
            for name in dirs:
                path = os.path.join(folder, name)
                seen[path] = (-1, 0)
            for name in files:
                path = os.path.join(folder, name)
                with contextlib.suppress(OSError):
                    info = os.lstat(path)
                    seen[path] = (info.st_size, info.st_mtime_ns)
    return seen


def changes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )


def inside(path: str | Path, folder: str | Path) -> bool:
    """Whether ``path`` is ``folder`` or under it (both made absolute, not resolved)."""
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# --------------------------------------------------------------------------- the forked run


def _rss_kb(pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _child(
    args: Sequence[str], cwd: Path, env: dict[str, str], out: Path, err: Path, log: Path
) -> None:
    """The forked child: run ``scaleplan ARGS`` as the console entry point does; never returns."""
    code = 1
    try:
        start_kb = _rss_kb()
        os.chdir(cwd)
        os.environ.update(env)
        import tempfile

        tempfile.tempdir = env["TMPDIR"]
        for fd, path in ((1, out), (2, err)):
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(handle, fd)
            os.close(handle)
        sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the child
        # As Python sets them up for a pipe: stdout strict, stderr with backslash escapes.
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        opened: list[str] = []
        own = {str(out), str(err), str(log)}

        def audit(event: str, detail: tuple[Any, ...]) -> None:
            if event == "open" and detail and isinstance(detail[0], (str, bytes)):
                name = os.fsdecode(detail[0])
                if name not in own and len(opened) < 20_000:
                    opened.append(os.path.abspath(name))

        sys.addaudithook(audit)
        sys.argv = ["scaleplan", *args]
        from scaleplan.cli import main

        try:
            main()
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except BaseException:  # what a user would see: Python's own traceback, exit 1
            import traceback

            traceback.print_exc()
            code = 1
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        log.write_text(
            json.dumps(
                {
                    "opened": sorted(set(opened)),
                    "growth_mb": max(0, usage.ru_maxrss - start_kb) / 1024,
                }
            )
        )
    finally:
        os._exit(code)


def run_forked(
    args: Sequence[str],
    *,
    root: Path,
    cwd: Path,
    limits: Limits = Limits(),
) -> Outcome:
    """Run ``scaleplan ARGS`` in a forked child, in ``cwd``, with HOME and TMPDIR under ``root``."""
    harness = root / ".harness"
    harness.mkdir(exist_ok=True)
    out, err, log = harness / "stdout", harness / "stderr", harness / "log.json"
    for path in (out, err, log):
        path.unlink(missing_ok=True)
    env = {"HOME": str(root / "home"), "TMPDIR": str(root / "tmp"), "COLUMNS": "120"}
    for key in ("HOME", "TMPDIR"):
        Path(env[key]).mkdir(exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        _child(tuple(args), cwd, env, out, err, log)
    killed = ""
    peak_kb = base_kb = _rss_kb(pid)
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        elapsed = time.perf_counter() - started
        peak_kb = max(peak_kb, _rss_kb(pid))
        if elapsed > limits.wall_s:
            killed = "time"
        elif (peak_kb - base_kb) / 1024 > limits.hard_rss_mb:
            killed = "memory"
        if killed:
            os.kill(pid, signal.SIGKILL)
            done, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.02 if elapsed < 1 else 0.1)
    wall = time.perf_counter() - started
    code = None if killed else os.waitstatus_to_exitcode(status)
    record: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        record = json.loads(log.read_text())
    growth = record.get("growth_mb", (peak_kb - base_kb) / 1024)
    return Outcome(
        args=tuple(args),
        code=code,
        stdout=out.read_text(errors="backslashreplace") if out.exists() else "",
        stderr=err.read_text(errors="backslashreplace") if err.exists() else "",
        cpu_s=usage.ru_utime + usage.ru_stime,
        wall_s=wall,
        rss_growth_mb=growth,
        killed=killed,
        opened=record.get("opened", []),
    )


def run_subprocess(
    args: Sequence[str], *, root: Path, cwd: Path, limits: Limits = Limits()
) -> Outcome:
    """Run ``python -m scaleplan ARGS`` as a user does (the sample of the real process)."""
    env = {
        **os.environ,
        "HOME": str(root / "home"),
        "TMPDIR": str(root / "tmp"),
        "COLUMNS": "120",
        "PYTHONPATH": str(ROOT),
    }
    for key in ("HOME", "TMPDIR"):
        Path(env[key]).mkdir(exist_ok=True)
    usage_file = root / ".harness" / "usage.json"
    usage_file.parent.mkdir(exist_ok=True)
    usage_file.unlink(missing_ok=True)
    started = time.perf_counter()
    killed = ""
    # Its own session, so that a timeout stops the launcher and the command together.
    command = [sys.executable, "-m", "scaleplan", *args]
    process = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, str(usage_file), *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=limits.wall_s)
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        code, killed = None, "time"
    usage = json.loads(usage_file.read_text()) if usage_file.is_file() else {}
    return Outcome(
        args=tuple(args),
        code=code,
        stdout=stdout.decode(errors="backslashreplace"),
        stderr=stderr.decode(errors="backslashreplace"),
        cpu_s=float(usage.get("cpu_s", 0.0)),
        wall_s=time.perf_counter() - started,
        # The command's own peak, as its small launcher saw it (the whole peak of a process
        # that started small: an upper bound of its growth).
        rss_growth_mb=float(usage.get("maxrss_kb", 0)) / 1024,
        killed=killed,
    )


#: Runs ``argv[2:]`` and writes its CPU time and peak resident set (KB) to ``argv[1]``; exits
#: with its exit code (128 + the signal that ended it).
_LAUNCHER = """\
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as report:
    json.dump({"maxrss_kb": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime}, report)
sys.exit(done.returncode if done.returncode >= 0 else 128 - done.returncode)
"""


# --------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class Case:
    """A command line to run in ``root`` and what it may touch."""

    args: tuple[str, ...]
    root: Path
    cwd: Path
    outputs: tuple[Path, ...] = ()  # files or folders the command may create or change
    forbidden: tuple[Path, ...] = ()  # files or folders it must never open
    must_refuse: bool = False  # a refusal (exit 2) is the only right answer
    unstable_ok: bool = False  # exit 1 with the engine's "unstable" message is a right answer


def problems(case: Case, outcome: Outcome, limits: Limits) -> list[str]:
    """Every rule the outcome breaks, one short line each (empty when the case passed)."""
    found: list[str] = []
    if outcome.killed:
        found.append(f"killed by the harness: {outcome.killed}")
    if "Traceback" in outcome.output:
        last = [line for line in outcome.stderr.strip().splitlines() if line.strip()]
        found.append("traceback: " + (last[-1][:160] if last else "?"))
    allowed = {0, 2}
    if case.must_refuse:
        allowed = {2}
    if outcome.code is not None and outcome.code not in allowed:
        unstable = outcome.code == 1 and "unstable" in outcome.output.lower()
        if not (case.unstable_ok and unstable):
            found.append(f"exit code {outcome.code}")
    if outcome.cpu_s > limits.cpu_s:
        found.append(f"cpu {outcome.cpu_s:.1f} s over {limits.cpu_s:g} s")
    if outcome.rss_growth_mb > limits.rss_mb:
        found.append(f"memory +{outcome.rss_growth_mb:.0f} MB over {limits.rss_mb:g} MB")
    for path in outcome.changed:
        if not any(inside(path, allowed_out) for allowed_out in case.outputs):
            found.append(f"wrote outside the output: {path}")
            break
    for path in outcome.opened:
        if any(inside(path, secret) for secret in case.forbidden):
            found.append(f"read a file it must not: {path}")
            break
    return found


def run_case(
    case: Case, limits: Limits = Limits(), *, subprocess_run: bool = False
) -> tuple[Outcome, list[str]]:
    """Run a case (forked, or as a subprocess), with the snapshot of ``root`` around it."""
    for name in ("home", "tmp", ".harness"):
        (case.root / name).mkdir(exist_ok=True)
    watched = [case.root]
    before = snapshot(*watched)
    runner = run_subprocess if subprocess_run else run_forked
    outcome = runner(case.args, root=case.root, cwd=case.cwd, limits=limits)
    after = snapshot(*watched)
    harness = case.root / ".harness"
    outcome.changed = [path for path in changes(before, after) if not inside(path, harness)]
    return outcome, problems(case, outcome, limits)


def tree_files(paths: Iterable[Path]) -> list[str]:
    return sorted(str(path) for path in paths)
