"""The progress callback every long-running verb accepts, defined once.

``progress(done, planned)`` is called from time to time with the units of work done so far
(requests, replications, disasters) and the units planned; the CLI turns it into a progress bar,
a notebook into a widget. It must be cheap: it is called from inside the simulation loop.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]

__all__ = ["Progress"]
