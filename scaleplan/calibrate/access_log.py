"""Access logs in the nginx/Apache *combined* format with a request time at the end of each
line (nginx ``$request_time``: seconds with millisecond resolution; Apache ``%D``:
microseconds, an integer):

    127.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET /item/7?x=1 HTTP/1.1" 200 512 "-" "curl/8" 0.012

Each line gives the time it was logged (whole seconds), the class (method and route: query
stripped, numeric and id-like path segments as ``{id}``), the status (5xx is an error) and
the request time. The unit of the request time is ``time_unit`` when given; otherwise a file
whose times all have a decimal point is in seconds, one whose times are all integers in
microseconds, and a file mixing both forms is refused (two log formats appended together).
The service is the file's name without its suffixes.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from scaleplan.calibrate.model import RequestRecord, Telemetry, bad_input

_LINE = re.compile(
    r'^(?P<host>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}) '
    r'(?P<bytes>\S+)(?: "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*")?(?P<rest>.*)$'
)
_ID = re.compile(
    r"^(\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{12,})$"
)
UNITS_MS = {"s": 1000.0, "ms": 1.0, "us": 0.001}


def route_of(target: str) -> str:
    """The route of a request target: query and fragment dropped, ids as ``{id}``.

    >>> route_of("/item/123?x=1")
    '/item/{id}'
    >>> route_of("/users/3f2b1c4e-0d9a-4c1e-9a55-7b0f6c7d8e9f/cart")
    '/users/{id}/cart'
    """
    path = target.split("?", 1)[0].split("#", 1)[0] or "/"
    return "/".join("{id}" if _ID.match(part) else part for part in path.split("/"))


def read_access_log(path: Path, *, time_unit: str | None = None) -> Telemetry:
    file = str(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.strip():
        raise bad_input(file, "is empty: no access log lines in it")
    if time_unit is not None and time_unit not in UNITS_MS:
        raise bad_input(file, f"unknown time unit {time_unit!r} (one of s, ms, us)")
    service = path.name.split(".")[0] or "service"
    telemetry = Telemetry()
    telemetry.formats[file] = "access-log"
    parsed: list[tuple[int, float, str, int, str]] = []
    stamps: dict[str, float] = {}
    first_decimal: int | None = None
    first_integer: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        telemetry.read["lines"] += 1
        where = f"{path.name}:{number}"
        match = _LINE.match(line)
        if match is None:
            if not parsed and number <= 3:
                raise bad_input(
                    file,
                    'not an access log in combined format (host ident user [time] "request" '
                    f'status bytes "referer" "agent" request-time); the line starts {line[:60]!r}',
                    number,
                )
            telemetry.skip("lines not in combined format", where)
            continue
        stamp = match["time"]
        if stamp not in stamps:
            try:
                stamps[stamp] = datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z").timestamp()
            except ValueError:
                telemetry.skip("lines with an unreadable time", where)
                continue
        parts = match["request"].split()
        if len(parts) < 2:
            telemetry.skip("lines with no method and path in the request", where)
            continue
        rest = match["rest"].split()
        token = rest[-1] if rest else "-"
        try:
            value = float(token)
        except ValueError:
            telemetry.skip("lines without a request time (missing duration)", where)
            continue
        if not value >= 0 or value == float("inf"):
            telemetry.skip("lines with a negative or infinite request time", where)
            continue
        if "." in token:
            first_decimal = first_decimal or number
        else:
            first_integer = first_integer or number
        route = f"{parts[0].upper()} {route_of(parts[1])}"
        parsed.append((number, stamps[stamp], route, int(match["status"]), str(value)))
    if not parsed:
        raise bad_input(
            file, "no usable line: " + ("; ".join(telemetry.skipped_lines()) or "none read")
        )
    unit = time_unit
    if unit is None:
        if first_decimal is not None and first_integer is not None:
            raise bad_input(
                file,
                f"mixes units: request times with a decimal point (seconds, like nginx's "
                f"$request_time; first at line {first_decimal}) and integers (microseconds, like "
                f"Apache's %D; first at line {first_integer}); split the file or give --time-unit",
                first_integer if first_integer > first_decimal else first_decimal,
            )
        unit = "s" if first_decimal is not None else "us"
    scale = UNITS_MS[unit]
    for number, time_s, route, status, token in parsed:
        telemetry.requests.append(
            RequestRecord(
                time_s, service, route, status, float(token) * scale, f"{path.name}:{number}"
            )
        )
    return telemetry
