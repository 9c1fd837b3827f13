"""``scaleplan calibrate``: a model from what the system did.

Readers turn telemetry (OTLP JSON traces, Zipkin v2 JSON, Prometheus histograms, access logs)
into one span and request model (:mod:`.model`); :mod:`.traces` turns span trees into service
visits with own times; :mod:`.derive` the rate, its profile, the class mix, the call graph and
the concurrency; :mod:`.fit` the own-time distributions; :mod:`.write` the commented spec;
:mod:`.report` runs the calibrated model at the observed load against the observed latencies.

The public entry point (stable, used by the reference system's end-to-end test)::

    calibration = calibrate(["traces.jsonl"], concurrency={"catalog": 4})
    calibration.spec           # the ArchitectureSpec, in memory
    calibration.write("spec.yaml")  # the commented YAML (and its samples), checked by load_spec
    calibration.report()       # the fit report: model vs observed
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scaleplan.calibrate.derive import Derived, derive
from scaleplan.calibrate.fit import FitResult, fit_histogram, fit_samples
from scaleplan.calibrate.model import Telemetry, bad_input
from scaleplan.calibrate.read import FORMATS, read_all
from scaleplan.calibrate.traces import DEFAULT_SKEW_TOLERANCE_MS
from scaleplan.calibrate.write import SpecText, render
from scaleplan.spec.components import NAME_PATTERN

if TYPE_CHECKING:
    from scaleplan.calibrate.report import FitReport
    from scaleplan.spec import ArchitectureSpec

#: Records skipped beyond this share of those read make calibration fail (the data is too
#: broken to trust); below it they are skipped and counted.
DEFAULT_MAX_SKIPPED = 0.05

__all__ = ["FORMATS", "Calibration", "calibrate"]


@dataclass
class Calibration:
    """A calibrated model: what was read, what was derived and fitted, and the spec."""

    name: str
    telemetry: Telemetry
    derived: Derived
    fits: dict[str, FitResult]
    concurrency: Mapping[str, int]

    def render(self, stem: str = "calibrated") -> SpecText:
        return render(
            self.derived,
            self.fits,
            self.telemetry,
            name=self.name,
            stem=stem,
            concurrency=self.concurrency,
        )

    @property
    def spec(self) -> ArchitectureSpec:
        """The spec in memory (empirical distributions inline, no file written)."""
        import yaml

        from scaleplan.spec import parse_spec

        text = self.render()
        data: Any = yaml.safe_load(text.text)
        for component in data["components"].values():
            time = component["service_time"]
            if time.get("dist") == "empirical":
                time["samples_ms"] = [float(v) for v in text.samples.pop(time.pop("file"))]
        return parse_spec(data, source=f"{self.name} (calibrated)")

    def write(self, path: str | Path) -> Path:
        """Write the spec's YAML (and its samples' CSV files beside it) and check it loads."""
        from scaleplan.spec import load_spec

        path = Path(path)
        text = self.render(path.name.split(".")[0] or "calibrated")
        path.parent.mkdir(parents=True, exist_ok=True)
        for relative, values in text.samples.items():
            target = path.parent / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(
                "own_time_ms\n" + "\n".join(f"{v:.6g}" for v in values) + "\n", encoding="utf-8"
            )
        path.write_text(text.text, encoding="utf-8")
        load_spec(path)
        return path

    def report(self, *, replications: int = 3, seed: int = 1) -> FitReport:
        """Run the calibrated model at the observed load; compare with the observation."""
        from scaleplan.calibrate.report import fit_report

        return fit_report(self, replications=replications, seed=seed)

    def summary(self) -> list[str]:
        """What was read, skipped and derived, one line each (the CLI prints these)."""
        t, d = self.telemetry, self.derived
        read = ", ".join(f"{count:,} {what}" for what, count in sorted(t.read.items()))
        lines = [f"read {read} from {len(t.formats)} file(s); {d.requests:,} requests used"]
        lines += [f"skipped {line}" for line in t.skipped_lines()] or ["skipped nothing"]
        lines.append(f"rate {d.rate_per_s:.4g}/s ({d.rate_basis})")
        if d.profile is not None:
            lines.append(f"hourly profile over {len(d.profile)} slices")
        lines.append(
            "classes: "
            + ", ".join(f"{c.name} {c.count:,}" for c in d.classes[:8])
            + (f" and {len(d.classes) - 8} more" if len(d.classes) > 8 else "")
        )
        for name, figures in d.services.items():
            fit = self.fits[name]
            dist = "empirical" if fit.use_empirical else fit.best.describe()
            calls = ", ".join(f"{c.to} ×{c.per_visit:.3g}" for c in figures.calls)
            lines.append(
                f"{name}: {figures.visits:,} visits, {figures.time_kind} mean "
                f"{fit.mean_ms:.4g} ms, {dist}"
                + (
                    f"; calls {calls}" + (" in parallel" if figures.parallel else "")
                    if calls
                    else ""
                )
            )
        return lines


def _default_name(paths: Sequence[str | Path]) -> str:
    """The files' common stem (``shop.jsonl`` → ``shop``), else ``calibrated``."""
    from scaleplan.calibrate.derive import model_name

    stems = {Path(path).name.split(".")[0] for path in paths}
    return model_name(stems.pop(), None, prefix="m") if len(stems) == 1 else "calibrated"


def calibrate(
    paths: Sequence[str | Path],
    format: str = "auto",
    *,
    time_unit: str | None = None,
    name: str | None = None,
    concurrency: Mapping[str, int] | None = None,
    rate_per_s: float | None = None,
    skew_tolerance_ms: float = DEFAULT_SKEW_TOLERANCE_MS,
    max_skipped: float = DEFAULT_MAX_SKIPPED,
) -> Calibration:
    """Read telemetry files and calibrate a model from them.

    Parameters
    ----------
    paths : the telemetry files (one kind of telemetry; several files are read together).
    format : ``auto`` (by each file's first bytes), ``otlp``, ``zipkin``, ``prometheus`` or
        ``access-log``.
    time_unit : an access log's request-time unit (``s``, ``ms``, ``us``; default by form), a
        Prometheus histogram's when its name carries none.
    name : the spec's name (default: the first file's name).
    concurrency : a service's real pool size by name; the default is the observed peak, a
        lower bound.
    rate_per_s : the arrival rate when the telemetry cannot give it (one Prometheus scrape).
    skew_tolerance_ms : how far a child span may lie outside its parent before the trace is
        skipped as skewed.
    max_skipped : the share of records read that may be skipped before calibration fails.
    """
    if name is not None and not re.match(NAME_PATTERN, name):
        raise bad_input(
            "<command line>",
            f"--name must be letters, digits, '_' or '-', a letter first (got {name!r})",
        )
    if format not in FORMATS:
        raise bad_input(
            "<command line>", f"unknown format {format!r} (one of {', '.join(FORMATS)})"
        )
    telemetry = read_all(paths, format, time_unit=time_unit)
    first = str(paths[0])
    derived = derive(
        telemetry, skew_tolerance_ms=skew_tolerance_ms, rate_per_s=rate_per_s, file=first
    )
    read = sum(telemetry.read.values())
    skipped = sum(telemetry.skipped.values())
    if read and skipped > max_skipped * read:
        raise bad_input(
            first,
            f"{skipped:,} of {read:,} records skipped ({skipped / read:.1%}, more than "
            f"{max_skipped:.0%}): "
            + "; ".join(telemetry.skipped_lines())
            + " (raise --max-skipped to calibrate from the rest)",
        )
    fits: dict[str, FitResult] = {}
    for service, figures in derived.services.items():
        if figures.own_ms is not None:
            fits[service] = fit_samples(figures.own_ms)
        else:
            assert figures.histogram is not None
            mean = figures.histogram_sum_ms / figures.visits if figures.visits else None
            fits[service] = fit_histogram(figures.histogram, mean)
    known = set(derived.services) | {f.label for f in derived.services.values()}
    unknown = sorted(set(concurrency or {}) - known)
    if unknown:
        raise bad_input(
            "<command line>",
            f"--concurrency names services the telemetry does not have: {', '.join(unknown)} "
            f"(it has {', '.join(sorted(derived.services))})",
        )
    return Calibration(
        name=name or _default_name(paths),
        telemetry=telemetry,
        derived=derived,
        fits=fits,
        concurrency=dict(concurrency or {}),
    )
