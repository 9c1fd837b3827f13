"""Reports: decision records made with papermill, batch runs and the run store.

One module per job: ``markup`` (safe Markdown and showing figures), ``plan`` (a scenario's
workload and NFRs as Markdown), ``record`` (the MADR sections of a decision record, from the
comparison of candidates), ``decide`` (the papermill run and the offline HTML export),
``batch`` (many records on local processes or a Dask cluster), ``store`` (the SQLite run
store), ``provenance`` (run keys: input hashes, seed, budget, versions). papermill, nbconvert
and dask are imported inside the functions that use them.
"""

from scaleplan.report.batch import BatchResult, JobResult, batch
from scaleplan.report.decide import DecisionRecord, decide
from scaleplan.report.store import RunRecord, RunStore

__all__ = [
    "BatchResult",
    "DecisionRecord",
    "JobResult",
    "RunRecord",
    "RunStore",
    "batch",
    "decide",
]
