"""Which reader a telemetry file needs (``--format auto`` looks at its first bytes), and
reading every file into one :class:`~scaleplan.calibrate.model.Telemetry`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from scaleplan.calibrate.model import Telemetry, bad_input

Format = Literal["auto", "otlp", "zipkin", "prometheus", "access-log"]
FORMATS: tuple[str, ...] = ("auto", "otlp", "zipkin", "prometheus", "access-log")
#: The most a telemetry file may hold: beyond it, split the recording.
MAX_FILE_BYTES = 512 * 1024 * 1024
_PROMETHEUS = re.compile(r"^(# (HELP|TYPE) \S+|[A-Za-z_:][A-Za-z0-9_:]*(\{[^}]*\})?\s+\S+)")
_LOG = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "')


def detect(path: Path, head: str) -> str:
    """The format of a file from its first 64 kB, or a SpecError saying it is none of them."""
    text = head.lstrip("\ufeff").lstrip()
    if not text:
        raise bad_input(str(path), "is empty: no telemetry in it")
    if text.startswith("{") and ('"resourceSpans"' in text or '"resource_spans"' in text):
        return "otlp"
    if text.startswith("["):
        return "zipkin"
    first = text.splitlines()[0]
    if _LOG.match(first):
        return "access-log"
    if _PROMETHEUS.match(first):
        return "prometheus"
    raise bad_input(
        str(path),
        "not a telemetry format scaleplan reads: expected OTLP JSON traces (objects with "
        "'resourceSpans'), Zipkin v2 JSON (a list of spans), Prometheus exposition text or an "
        f"access log in combined format (the file starts {first[:60]!r}); or give --format",
        1,
    )


def read_file(path: Path, format: str = "auto", *, time_unit: str | None = None) -> Telemetry:
    """One file through its reader."""
    from scaleplan.calibrate.access_log import read_access_log
    from scaleplan.calibrate.otlp import read_otlp
    from scaleplan.calibrate.prometheus import read_prometheus
    from scaleplan.calibrate.zipkin import read_zipkin

    file = str(path)
    if not path.exists():
        raise bad_input(file, "does not exist")
    if not path.is_file():
        raise bad_input(file, "is not a file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise bad_input(
            file,
            f"is {size / 2**20:,.0f} MiB, over the {MAX_FILE_BYTES // 2**20} MiB a file may "
            "be: split it",
        )
    if format == "auto":
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            format = detect(path, handle.read(65536))
    readers = {
        "otlp": lambda: read_otlp(path),
        "zipkin": lambda: read_zipkin(path),
        "prometheus": lambda: read_prometheus(path, time_unit=time_unit),
        "access-log": lambda: read_access_log(path, time_unit=time_unit),
    }
    if format not in readers:
        raise bad_input(file, f"unknown format {format!r} (one of {', '.join(FORMATS)})")
    try:
        return readers[format]()
    except RecursionError:
        # JSON nested thousands deep: no telemetry looks like that.
        raise bad_input(file, f"nests too deeply to be {format} telemetry") from None


def read_all(
    paths: Sequence[str | Path], format: str = "auto", *, time_unit: str | None = None
) -> Telemetry:
    """Every file, into one Telemetry (skips of all files counted together)."""
    if not paths:
        raise bad_input("<command line>", "no telemetry file given")
    telemetry = Telemetry()
    for path in paths:
        telemetry.extend(read_file(Path(path), format, time_unit=time_unit))
    return telemetry
