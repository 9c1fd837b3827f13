"""Prometheus exposition text: latency histograms per service and route (parsed with
``prometheus_client``'s parser).

A histogram family is a latency when its name carries a time unit (``_seconds``,
``_milliseconds``/``_ms``, ``_microseconds``/``_us``), or ``time_unit`` says the unit. The
service is the ``service``, ``service_name`` or ``job`` label (else the file's name), the route
``http_route``, ``route``, ``handler``, ``path``, ``endpoint`` or ``uri`` (with the method
when a ``method`` or ``http_request_method`` label is there). Counters hold totals since the
process started: two scrapes of the same series with timestamps (two files, or one file per
scrape) give a rate from their difference; one scrape gives none (``--rate-per-s``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from scaleplan.calibrate.model import Histogram, Telemetry, bad_input

_UNITS_MS = (
    ("_milliseconds", 1.0),
    ("_ms", 1.0),
    ("_microseconds", 0.001),
    ("_us", 0.001),
    ("_seconds", 1000.0),
)
_UNIT_OPTION = {"s": 1000.0, "ms": 1.0, "us": 0.001}
_SERVICE = ("service", "service_name", "job")
_ROUTE = ("http_route", "route", "handler", "path", "endpoint", "uri")
_METHOD = ("http_request_method", "method")


def _unit(name: str, time_unit: str | None) -> float | None:
    for suffix, scale in _UNITS_MS:
        if name.endswith(suffix) or f"{suffix}_" in name + "_":
            return scale
    return _UNIT_OPTION.get(time_unit or "")


def _first_bad_line(text: str) -> tuple[int, str]:
    from prometheus_client.parser import text_string_to_metric_families

    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            list(text_string_to_metric_families(line + "\n"))
        except ValueError as error:
            return number, str(error)
    return 0, "?"


def read_prometheus(path: Path, *, time_unit: str | None = None) -> Telemetry:
    from prometheus_client.parser import text_string_to_metric_families

    file = str(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise bad_input(file, "is empty: no Prometheus metrics in it")
    try:
        families = list(text_string_to_metric_families(text))
    except (ValueError, IndexError, KeyError) as error:
        line, reason = _first_bad_line(text)
        raise bad_input(
            file, f"not Prometheus exposition text ({reason or error})", line or None
        ) from None
    telemetry = Telemetry()
    telemetry.formats[file] = "prometheus"
    histograms = [f for f in families if f.type == "histogram"]
    if not histograms:
        raise bad_input(
            file,
            "holds no histogram: a latency histogram is needed (e.g. "
            "http_server_request_duration_seconds)",
        )
    default_service = path.name.split(".")[0] or "service"
    for family in histograms:
        scale = _unit(family.name, time_unit)
        series: dict[tuple[tuple[str, str], ...], dict[str, object]] = defaultdict(dict)
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k != "le"}
            key = tuple(sorted(labels.items()))
            entry = series[key]
            entry["labels"] = labels
            if sample.timestamp is not None:
                entry["timestamp"] = float(sample.timestamp)
            if sample.name.endswith("_bucket"):
                buckets = entry.setdefault("buckets", [])
                assert isinstance(buckets, list)
                buckets.append((float(sample.labels["le"]), float(sample.value)))
            elif sample.name.endswith("_count"):
                entry["count"] = float(sample.value)
            elif sample.name.endswith("_sum"):
                entry["sum"] = float(sample.value)
        telemetry.read["series"] += len(series)
        if scale is None:
            telemetry.skip(
                "histogram series with no time unit in their name (give --time-unit)",
                f"{path.name}: {family.name}",
                len(series),
            )
            continue
        for entry in series.values():
            found: dict[str, str] = entry["labels"]  # type: ignore[assignment]
            buckets = entry.get("buckets")
            count = entry.get("count")
            values = [v for _, v in buckets] if isinstance(buckets, list) else []
            if not isinstance(buckets, list) or not isinstance(count, float):
                telemetry.skip(
                    "histogram series without buckets or a count",
                    f"{path.name}: {family.name}{found}",
                )
                continue
            if not all(math.isfinite(v) and v >= 0 for v in [*values, count]):
                telemetry.skip(
                    "histogram series with a negative or non-finite count",
                    f"{path.name}: {family.name}{found}",
                )
                continue
            service = next((found[k] for k in _SERVICE if found.get(k)), default_service)
            route = next((found[k] for k in _ROUTE if found.get(k)), "all")
            method = next((found[k] for k in _METHOD if found.get(k)), None)
            if method:
                route = f"{method.upper()} {route}"
            total = entry.get("sum", 0.0)
            assert isinstance(total, float)
            stamp = entry.get("timestamp")
            telemetry.histograms.append(
                Histogram(
                    service=str(service),
                    route=str(route),
                    buckets=tuple(sorted((edge * scale, value) for edge, value in buckets)),
                    count=count,
                    sum_ms=total * scale,
                    timestamp_s=stamp if isinstance(stamp, float) else None,
                    where=f"{path.name}: {family.name}",
                )
            )
    return telemetry
