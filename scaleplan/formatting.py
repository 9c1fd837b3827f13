"""How numbers are shown and written: one formatter for the CLI, the views and the record, and
one NaN-safe conversion to JSON.

A figure that is not known (``None``, NaN, ±inf) is shown as a dash everywhere, never as
``nan`` or ``inf``, and written to JSON as ``null`` (strict JSON has no NaN).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

#: What an unknown figure is shown as.
UNKNOWN = "—"


def known(value: float | None) -> bool:
    """Whether ``value`` is a finite number (not None, NaN or ±inf)."""
    return value is not None and math.isfinite(value)


def number(value: float | None, spec: str = ".4g", unit: str = "") -> str:
    """A number with ``format`` spec ``spec`` and a unit, or a dash when it is not known.

    Examples
    --------
    >>> number(1234.5678, ",.1f", " ms"), number(float("nan")), number(None, unit=" ms")
    ('1,234.6 ms', '—', '—')
    """
    if value is None or not math.isfinite(value):
        return UNKNOWN
    return format(value, spec) + unit


def ms(value: float | None, digits: int = 1) -> str:
    """Milliseconds: ``12.3 ms``.

    Examples
    --------
    >>> ms(12.345), ms(float("inf"))
    ('12.3 ms', '—')
    """
    return number(value, f".{digits}f", " ms")


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage: ``0.1234`` → ``12.3%``.

    Examples
    --------
    >>> percent(0.1234), percent(None)
    ('12.3%', '—')
    """
    return UNKNOWN if not known(value) else f"{100 * value:.{digits}f}%"  # type: ignore[operator]


def with_ci(value: float | None, interval: tuple[float, float], spec: str = ".4g") -> str:
    """A figure and its 95% CI, ``412 [398, 431]``; the figure alone when the CI is unknown.

    Examples
    --------
    >>> with_ci(412.3, (398.04, 431.2), ".0f"), with_ci(12.0, (float("nan"),) * 2)
    ('412 [398, 431]', '12')
    """
    low, high = interval
    if not known(value) or not (known(low) and known(high)):
        return number(value, spec)
    return f"{number(value, spec)} [{number(low, spec)}, {number(high, spec)}]"


def duration(seconds: float) -> str:
    """A duration as people say it: ``45 s``, ``15 min``, ``2.5 h``.

    >>> duration(10), duration(900), duration(9000)
    ('10 s', '15 min', '2.5 h')
    """
    if not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


def json_safe(value: Any) -> Any:
    """A JSON-safe copy: dataclasses become dicts (their ``to_dict()`` when they have one),
    tuples lists, keys strings, numpy scalars Python numbers, NaN and ±inf ``None``.

    Examples
    --------
    >>> json_safe({"a": float("nan"), 1: (1.5, float("inf"))})
    {'a': None, '1': [1.5, None]}
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict):
            return json_safe(to_dict())
        return json_safe(
            {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
        )
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if hasattr(value, "item"):  # numpy scalars
        return json_safe(value.item())
    return str(value)


def chart_text(value: object) -> str:
    """User text for a plotly title, annotation, label, legend, table cell or hover text.

    plotly renders a subset of HTML in all of them (``<a href>``, ``<b>``, ``<br>``), so text a
    user wrote is escaped: it shows as written and makes no link.

    Examples
    --------
    >>> chart_text('<a href="http://evil">x</a> & <img src=x>')
    '&lt;a href=&quot;http://evil&quot;&gt;x&lt;/a&gt; &amp; &lt;img src=x&gt;'
    """
    import html

    return html.escape(str(value))
