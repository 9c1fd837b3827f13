"""``decide``: run the decision-record template with papermill, then export one offline HTML file.

For a scenario ``shop.yaml`` and an output folder ``out/``, :func:`decide` writes
``out/shop/decision-record.ipynb`` (the executed notebook, kept when it fails),
``out/shop/decision-record.json`` (the results behind the record, written by the notebook) and
``out/shop/decision-record.html`` — without input cells, with plotly.js embedded once and no
script, style or font fetched from any network address (the HTML template drops the lab
template's require.js, MathJax, mermaid and widget loaders). The notebook holds no logic of its
own: its cells call :mod:`scaleplan.report.record`.

One run at a time writes a record folder: :func:`folder_lock` holds an exclusive ``fcntl``
lock on ``.scaleplan.lock`` in it from before the old results are removed until the HTML is
written, so a second ``decide`` on the same folder stops at once with a message naming the
holder (a batch job waits for it instead) rather than failing half-way with "the template wrote
no results". The kernel releases nothing by hand: the lock ends with the process that holds
it, even under SIGKILL.

This module owns the papermill run, the kernel and the HTML export; the record's content is
:mod:`scaleplan.report.record`, batches are :mod:`scaleplan.report.batch`.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import scaleplan
from scaleplan.errors import ReportError
from scaleplan.paths import OutputError, output_problem, safe_name
from scaleplan.report.consistency import problems

KERNEL_NAME = "scaleplan"
#: Seconds one cell of the template may run (the comparison is one cell).
EXECUTION_TIMEOUT_S = 1800
#: Seconds the kernel may take to start.
START_TIMEOUT_S = 120
#: The papermill engine of the records (see :func:`_record_engine`).
RECORD_ENGINE = "scaleplan-record"
#: Seconds at most between two saves of the notebook while the record runs.
SAVE_EVERY_S = 10.0
TEMPLATE_NAME = "decision-record.ipynb"
HTML_TEMPLATES = Path(__file__).parent / "templates"
NOTEBOOK_FILE = "decision-record.ipynb"
HTML_FILE = "decision-record.html"
JSON_FILE = "decision-record.json"
#: The lock file of a record folder (see :func:`folder_lock`).
LOCK_FILE = ".scaleplan.lock"
#: Cells of the template that document it for its editors and are left out of records.
TEMPLATE_ONLY_TAG = "template-only"
#: The comment plotly.js opens with: a self-contained record holds it exactly once.
PLOTLY_JS_BANNER = re.compile(r"\* plotly\.js v\d")


@dataclass(frozen=True)
class DecisionRecord:
    """The files of one decision record and the results behind it."""

    scenario: str
    folder: Path
    html: Path
    notebook: Path
    json: Path
    results: dict[str, Any]
    wall_s: float
    #: Contradictions in the record's results (:func:`scaleplan.report.consistency.problems`):
    #: the record is written all the same, and these are printed as warnings.
    problems: tuple[str, ...] = ()

    @property
    def metrics(self) -> dict[str, Any]:
        """The key metrics (what the run store keeps)."""
        return dict(self.results.get("metrics", {}))

    @property
    def artifacts(self) -> dict[str, str]:
        return {"html": str(self.html), "notebook": str(self.notebook), "json": str(self.json)}


def template_path() -> Path:
    """The papermill template: the checkout's ``notebooks/``, else the installed copy in
    ``PREFIX/share/scaleplan/`` (where a wheel puts it)."""
    repository = Path(scaleplan.__file__).resolve().parent.parent / "notebooks" / TEMPLATE_NAME
    installed = Path(sys.prefix) / "share" / "scaleplan" / TEMPLATE_NAME
    for candidate in (repository, installed):
        if candidate.is_file():
            return candidate
    raise ReportError(f"the decision-record template is missing (looked for {installed})")


def record_folder(out_dir: str | Path, scenario: str | Path) -> Path:
    """Where the record of ``scenario`` goes under ``out_dir``: a folder named after the file,
    made safe (:func:`scaleplan.paths.safe_name`: a file ``...yaml`` writes ``out/record``,
    not ``out/..``)."""
    return Path(out_dir) / safe_name(Path(scenario).stem)


@contextmanager
def folder_lock(folder: Path, *, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the record folder ``folder`` for this process; wait at most ``wait_s`` seconds
    for another holder, then raise :class:`ReportError` naming it.

    The lock file stays (removing it would let a third run lock a file nobody else sees).
    """
    path = folder / LOCK_FILE
    try:
        handle = path.open("a+", encoding="utf-8")
    except OSError as error:
        raise ReportError(f"{path}: cannot create the folder's lock file ({error})") from None
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read(200).strip() or "another process"
                    raise ReportError(
                        f"{folder}: another scaleplan run is writing a record in this folder "
                        f"({holder}); wait for it to end or give another --out"
                    ) from None
                time.sleep(0.25)
        handle.seek(0)
        handle.truncate()
        handle.write(
            f"pid {os.getpid()} on {socket.gethostname()}, since "
            f"{datetime.now(UTC).isoformat(timespec='seconds')}\n"
        )
        handle.flush()
        yield
    finally:
        handle.close()  # closing the file releases the lock


def ensure_kernel(name: str = KERNEL_NAME) -> None:
    """Check that the Jupyter kernel ``name`` exists; inside a virtualenv, install it there.

    The kernel runs this environment's Python, so a record is made with the same scaleplan
    that asked for it (``make kernel`` installs it too).
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
        return
    except NoSuchKernel:
        pass
    if sys.prefix == sys.base_prefix:
        raise ReportError(
            f"the Jupyter kernel {name!r} is not installed: run "
            f"'python -m ipykernel install --user --name {name}' (or 'make kernel')"
        )
    from ipykernel.kernelspec import install

    install(prefix=sys.prefix, kernel_name=name, display_name=f"Python ({name})")


def decide(
    scenario: str | Path,
    out_dir: str | Path = "out",
    *,
    seed: int | None = None,
    budget: int | None = None,
    kernel_name: str = KERNEL_NAME,
    execution_timeout: int = EXECUTION_TIMEOUT_S,
    folder: str | Path | None = None,
    lock_wait_s: float = 0.0,
    workers: int | None = None,
    results: str | Path | None = None,
    plan: str | Path | None = None,
) -> DecisionRecord:
    """Make the decision record of ``scenario``: executed notebook, JSON results, HTML.

    Parameters
    ----------
    scenario : path
        A scenario YAML file (see :func:`scaleplan.spec.load_scenario`).
    out_dir : path
        The record goes to ``out_dir/<scenario file stem>/`` (or ``folder`` if given).
    seed, budget : int, optional
        Override the scenario's seed and its requests per simulation run.
    kernel_name : str
        The Jupyter kernel papermill runs (installed in this virtualenv when missing).
    execution_timeout : int
        Seconds any one cell may run before the record fails.
    lock_wait_s : float
        Seconds to wait for another run writing the same folder (default: none, fail at
        once naming it).
    workers : int, optional
        Local processes the kernel's comparison uses (default: one per available core; 1:
        the kernel alone). The record's numbers do not depend on it.
    results, plan : path, optional
        A load test's results (Locust ``--csv`` prefix or k6 JSON) and the plan
        ``scaleplan loadtest`` wrote (default: ``plan.json`` beside the results): the
        record's Confirmation section then shows the model against the measurement.

    Raises
    ------
    ReportError
        When the scenario cannot be read or a cell fails; the message carries the error
        raised in the notebook (for a bad scenario file, its file, key path and what was
        found), and the failed notebook is kept.
    """
    started = time.perf_counter()
    source = Path(scenario)
    if not source.is_file():
        raise ReportError(f"{scenario}: file does not exist")
    source = source.resolve()
    given = _verified(source, results, plan)
    target = Path(folder) if folder is not None else record_folder(out_dir, source)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(output_problem(target, error)) from None
    target = target.resolve()
    with folder_lock(target, wait_s=lock_wait_s):
        return _make_record(
            scenario,
            source,
            target,
            seed,
            budget,
            workers,
            kernel_name,
            execution_timeout,
            started,
            given,
        )


def _verified(source: Path, results: str | Path | None, plan: str | Path | None) -> dict[str, str]:
    """The load test's files as the kernel needs them (absolute), judged once here so that a
    bad file stops with its message before any kernel starts."""
    if results is None:
        if plan is not None:
            raise ReportError(f"{plan}: a plan needs --results, the load test's results")
        return {}  # the template's defaults: no verification
    from scaleplan.verify import default_plan, verify

    plan_path = Path(plan) if plan is not None else default_plan(results)
    verify(source, results, plan=plan)
    return {
        "loadtest_results": str(Path(results).resolve()),
        "loadtest_plan": str(plan_path.resolve()),
    }


def _make_record(
    scenario: str | Path,
    source: Path,
    target: Path,
    seed: int | None,
    budget: int | None,
    workers: int | None,
    kernel_name: str,
    execution_timeout: int,
    started: float,
    verification: dict[str, str],
) -> DecisionRecord:
    notebook, html, results = target / NOTEBOOK_FILE, target / HTML_FILE, target / JSON_FILE
    # A failed attempt must not leave an older record looking like its result.
    for stale in (html, results):
        stale.unlink(missing_ok=True)
    ensure_kernel(kernel_name)
    parameters = {
        "scenario": str(source),
        "seed": seed,
        "budget": budget,
        "workers": workers,
        "output_dir": str(target),
        **verification,
    }
    kernel = None
    exporter: Future[Any] | None = None
    sockets = tempfile.TemporaryDirectory(prefix="scaleplan-kernel-")
    try:
        # The kernel boots while papermill is imported and the template is prepared (it only
        # waits for the kernel to be ready); it is this function's to stop.
        kernel = _start_kernel(kernel_name, target, Path(sockets.name))
        papermill = _import_papermill()  # slow to import: only once there is something to run
        # The exporter is made ready (imports, templates compiled) while the kernel works, the
        # parent only waiting for it: about a second less after the kernel ends. Not earlier:
        # its imports would hold up papermill's (one interpreter lock).
        warming = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scaleplan-export")
        exporter = warming.submit(_ready_exporter)
        warming.shutdown(wait=False)
        papermill.execute_notebook(
            str(template_path()),
            str(notebook),
            parameters=parameters,
            kernel_name=kernel_name,
            engine_name=_record_engine(),
            km=kernel,
            execution_timeout=execution_timeout,
            start_timeout=START_TIMEOUT_S,
            progress_bar=False,
            log_output=False,
            cwd=str(target),
        )
    except Exception as error:
        raise _record_failed(error, source, notebook) from None
    finally:
        if kernel is not None:
            _stop_kernel(kernel)
        sockets.cleanup()
    if not results.is_file():
        raise ReportError(f"{source.name}: the template wrote no results to {results}")
    data = json.loads(results.read_text(encoding="utf-8"))
    contradictions = tuple(problems(data))
    try:
        export_html(
            notebook, html, title=str(data.get("title") or source.stem), exporter=_ready(exporter)
        )
    except OSError as error:
        kept = f"the executed notebook and its results are kept in {target}"
        raise OutputError(output_problem(html, error, kept=kept)) from None
    return DecisionRecord(
        scenario=str(scenario),
        folder=target,
        html=html,
        notebook=notebook,
        json=results,
        results=data,
        wall_s=time.perf_counter() - started,
        problems=contradictions,
    )


#: Longest path a Unix socket may have on Linux, less room for the port suffix.
_SOCKET_PATH_MAX = 100


def _start_kernel(kernel_name: str, folder: Path, sockets: Path) -> Any:
    """Start the record's kernel in ``folder`` and return its manager (not yet ready): the
    asynchronous manager nbclient itself would make, started on this thread's event loop,
    which nbclient then uses.

    The kernel listens on Unix sockets in ``sockets``, a folder of this record's own, not on
    TCP ports: jupyter_client picks free ports by binding and closing them, and between that
    and the kernel's own bind another process can take one ("Address already in use", the
    kernel dies: papermill#511, jupyter_client#154). Batches start kernels side by side.
    """
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    prefix = sockets / "kernel"
    if len(str(prefix)) <= _SOCKET_PATH_MAX - 10:
        kernel = AsyncKernelManager(kernel_name=kernel_name, transport="ipc", ip=str(prefix))
    else:  # a temporary folder too deep for a socket's path: ports, as Jupyter does
        kernel = AsyncKernelManager(kernel_name=kernel_name)
    # The kernel's own log (a plain-TCP warning on loopback, the interrupt at shutdown) is
    # noise on the user's terminal; errors in cells reach the notebook and us.
    run_sync(kernel.start_kernel)(
        extra_arguments=["--IPKernelApp.log_level=CRITICAL"], cwd=str(folder)
    )
    return kernel


def _stop_kernel(kernel: Any) -> None:
    """Stop the record's kernel unless the notebook client already did (it does once it ran)."""
    from jupyter_core.utils import run_sync

    if kernel.has_kernel:
        run_sync(kernel.shutdown_kernel)(now=True)
        run_sync(kernel.cleanup_resources)()


def _record_failed(error: Exception, source: Path, notebook: Path) -> ReportError:
    """The error of a record whose template failed: the cell's error, or why the kernel did
    not run it (died, timed out, could not start)."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(error, PapermillExecutionError):
        message = _first_line(str(error.evalue)) if error.ename != "SpecError" else error.evalue
        return ReportError(
            f"{source.name}: the decision record failed: {error.ename}: {message} "
            f"(failed notebook kept: {notebook})"
        )
    return ReportError(
        f"{source.name}: the decision record failed: {type(error).__name__}: {error} "
        f"(notebook: {notebook})"
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _import_papermill() -> ModuleType:
    """papermill, imported without jsonschema's IRI format checker.

    papermill imports nbformat, which imports jsonschema, whose format checkers import
    ``rfc3987_syntax`` when it is installed (jupyter_events' ``format-nongpl`` extra brings it)
    and that compiles a lark grammar on import: over a second, more than the rest of
    papermill. nbformat validates with a Draft 4 validator and no format checker, so the
    checker is never used here; the module is marked missing only while papermill is imported
    (jsonschema then leaves its two IRI formats unchecked in this process), and an explicit
    import of it later still works.
    """
    if "papermill" not in sys.modules and not {"jsonschema", "rfc3987_syntax"} & set(sys.modules):
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # import: ImportError
        try:
            import papermill
        finally:
            del sys.modules["rfc3987_syntax"]
    import papermill

    return papermill


def _record_engine() -> str:
    """The papermill engine of the records, registered (again) under its name: papermill's
    own, saving the notebook when the run starts and ends — failed or not — and at most every
    :data:`SAVE_EVERY_S` seconds between, instead of at the start and end of every cell.

    Once the first figure has embedded plotly.js the notebook is about 5 MB, and each of those
    saves (serialised, validated, written: about 0.1 s) held up the next cell; the record's
    notebook is the same.
    """
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class Manager(NotebookExecutionManager):
        running = False

        def save(self, **kwargs: Any) -> None:
            waited = (self.now() - self.last_save_time).total_seconds()
            if not self.running or waited >= SAVE_EVERY_S:
                super().save(**kwargs)

        def notebook_start(self, **kwargs: Any) -> None:
            super().notebook_start(**kwargs)  # saves
            self.running = True

        def notebook_complete(self, **kwargs: Any) -> None:
            self.running = False
            super().notebook_complete(**kwargs)  # saves

    class Engine(NBClientEngine):
        @classmethod
        def execute_notebook(
            cls,
            nb: Any,
            kernel_name: str,
            output_path: str | None = None,
            progress_bar: bool = True,
            log_output: bool = False,
            autosave_cell_every: int = 30,
            **kwargs: Any,
        ) -> Any:
            # papermill's Engine.execute_notebook, with the manager above.
            manager = Manager(
                nb,
                output_path=output_path,
                progress_bar=progress_bar,
                log_output=log_output,
                autosave_cell_every=autosave_cell_every,
            )
            manager.notebook_start()
            try:
                cls.execute_managed_notebook(manager, kernel_name, log_output=log_output, **kwargs)
            finally:
                manager.cleanup_pbar()
                manager.notebook_complete()
            return manager.nb

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: int | None = None,
            **kwargs: Any,
        ) -> Any:
            # papermill's NBClientEngine.execute_managed_notebook, with the client below.
            kwargs = remove_args(["input_path"], **kwargs)
            final_kwargs = merge_kwargs(
                remove_args(["timeout", "startup_timeout"], **kwargs),
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            return Client(nb_man, **final_kwargs).execute()

    class Client(PapermillNotebookClient):
        """Given the kernel started beforehand (``km=``), it still shuts it down and closes
        its channels at the end, as it does with a kernel it starts itself.

        At once: every output is in the notebook and the results file was written (atomically)
        by a cell, so nothing is left for the kernel to do; a graceful shutdown kept the record
        waiting 0.7 s more for the kernel's own clean-up.
        """

        def __init__(self, nb_man: Any, km: Any = None, **kwargs: Any) -> None:
            super().__init__(nb_man, km=km, **kwargs)
            self.owns_km = True
            self.shutdown_kernel = "immediate"

    papermill_engines.register(RECORD_ENGINE, Engine)
    return RECORD_ENGINE


def _ready_exporter() -> Any:
    """The record's HTML exporter with its templates compiled (by converting a notebook of
    one cell), so that the record's own export starts at once."""
    import nbformat

    exporter = _html_exporter()
    warm = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("warm-up")])
    exporter.from_notebook_node(warm, resources={"metadata": {"name": "warm-up"}})
    return exporter


def _ready(exporter: Future[Any] | None) -> Any:
    """The exporter made beforehand, or None (then one is made now, and fails there if it
    must, with its error where the export's errors are handled)."""
    if exporter is None:
        return None
    try:
        return exporter.result()
    except Exception:
        return None


def _html_exporter() -> Any:
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="scaleplan",
        extra_template_basedirs=[str(HTML_TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    remover = TagRemovePreprocessor(remove_cell_tags={TEMPLATE_ONLY_TAG}, enabled=True)
    exporter.register_preprocessor(remover, enabled=True)
    return exporter


def export_html(
    notebook: str | Path, html: str | Path, *, title: str, exporter: Any = None
) -> Path:
    """Export an executed record notebook as one self-contained HTML file without inputs
    (with ``exporter``, one :func:`_ready_exporter` made beforehand)."""
    import nbformat

    node = nbformat.read(str(notebook), as_version=4)
    node.metadata["title"] = title  # the template escapes it into <title>
    node.metadata.pop("widgets", None)  # no widget state: no widget loader from a CDN
    exporter = exporter if exporter is not None else _html_exporter()
    body, _ = exporter.from_notebook_node(node, resources={"metadata": {"name": title}})
    problems = self_contained_problems(body)
    if problems:
        raise ReportError(f"{html}: the record would not open offline: {'; '.join(problems)}")
    path = Path(html)
    partial = path.with_name(path.name + f".{os.getpid()}.tmp")
    partial.write_text(body, encoding="utf-8")
    os.replace(partial, path)
    return path


def self_contained_problems(page: str) -> list[str]:
    """Why ``page`` would reach the network when opened (empty when it would not).

    plotly.js itself mentions map-tile and CDN addresses it would only use for map traces,
    so it is cut out before the page is searched; it must be there at most once.

    Examples
    --------
    >>> self_contained_problems('<script src="https://cdn.example/x.js"></script>')
    ['a script loaded from https://cdn.example/x.js', 'an address on a CDN: https://cdn.example/x.js']
    """
    problems = []
    banners = len(PLOTLY_JS_BANNER.findall(page))
    if banners > 1:
        problems.append(f"plotly.js is embedded {banners} times")
    outside = _without_plotly_js(page)
    for match in re.finditer(r"<script[^>]*\bsrc\s*=\s*[\"']?([^\"' >]+)", outside, re.I):
        problems.append(f"a script loaded from {match.group(1)}")
    for match in re.finditer(r"<link[^>]*\bhref\s*=\s*[\"']?(https?:[^\"' >]+)", outside, re.I):
        problems.append(f"a stylesheet or font from {match.group(1)}")
    for match in re.finditer(r"@import\s+url\(\s*[\"']?(https?:[^\"' )]+)", outside, re.I):
        problems.append(f"a CSS import from {match.group(1)}")
    for match in re.finditer(r"(?:https?:)?//[^\s\"'<>()]*cdn[^\s\"'<>()]*", outside, re.I):
        problems.append(f"an address on a CDN: {match.group(0)}")
    return problems


def _without_plotly_js(page: str) -> str:
    banner = PLOTLY_JS_BANNER.search(page)
    if banner is None:
        return page
    start = page.rfind("<script", 0, banner.start())
    end = page.find("</script>", banner.end())
    if start < 0 or end < 0:
        return page
    return page[:start] + page[end + len("</script>") :]
