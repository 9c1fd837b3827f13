"""What a command and the record's kernel import before they work: nothing slow they do not use.

``scipy.stats`` (about a second) and jsonschema's ``rfc3987_syntax`` (a lark grammar compiled
on import, over a second) were on the critical path of every ``decide``; the replacements
below give the same numbers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import special, stats

from scaleplan.metrics import replication_ci

ROOT = Path(__file__).resolve().parent.parent


def _imported_after(code: str, modules: tuple[str, ...]) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_record_kernel_and_the_commands_do_not_import_scipy_stats() -> None:
    kernel = (
        "from scaleplan.report import present, record\nfrom scaleplan.report.markup import show"
    )
    commands = "import scaleplan.cli\nfrom scaleplan.experiments import compare, pull, recovery"
    assert _imported_after(f"{kernel}\n{commands}", ("scipy.stats",)) == []


def test_decide_imports_papermill_without_the_iri_grammar() -> None:
    code = (
        "from scaleplan.report.decide import _import_papermill\n"
        "_import_papermill()\n"
        "import jsonschema\n"
        "assert 'papermill' in sys.modules\n"
    )
    assert _imported_after(f"import sys\n{code}", ("rfc3987_syntax",)) == []


def test_the_t_quantile_is_scipy_stats_own() -> None:
    values = np.array([3.0, 5.0, 4.0, 6.5, 2.0])
    ci = replication_ci(values)
    half = float(stats.t.ppf(0.975, 4)) * (float(values.std(ddof=1)) / np.sqrt(5))
    assert ci.half_width == half  # exactly: stdtrit is what t.ppf computes
    for df in (1, 2, 9, 29, 299):
        assert special.stdtrit(df, 0.975) == stats.t.ppf(0.975, df)


@pytest.mark.parametrize("q", [0.01, 0.5, 0.9, 0.99, 0.999])
def test_the_binomial_quantile_of_the_dr_cis_is_scipy_stats_own(q: float) -> None:
    from scaleplan.experiments.dr import _binomial_quantile

    for n in [*range(1, 400), 1000, 4321, 10_000, 100_000]:
        for prob in (0.025, 0.975):
            assert _binomial_quantile(prob, n, q) == int(stats.binom.ppf(prob, n, q)), (n, prob)
