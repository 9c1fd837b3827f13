"""Rows of numbers kept flat, for the recorder to turn into an array cheaply.

Every visit leaves one row of figures (:attr:`scaleplan.engine.protocol.Station.records`) and
every request one more (the run's completions); the recorder folds them into its series a few
thousand at a time with ``np.asarray``. From a list of tuples numpy must inspect each tuple;
from one flat list of floats it converts about three times faster, and no tuple is kept alive
in between. :class:`Rows` is that flat list: ``append(row)`` adds the row's numbers in place
(``list.extend``, in C), ``np.asarray(rows)`` gives the ``(n, width)`` array, :meth:`last` the
last row. Like a list of rows, it is falsy when empty and ``clear()`` empties it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

__all__ = ["Rows"]


class Rows(list[float]):
    """Rows of ``width`` numbers, stored one after another."""

    __slots__ = ("width",)

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width

    if TYPE_CHECKING:

        def append(self, row: Iterable[float]) -> None:  # type: ignore[override]
            """Add one row."""

    else:
        # One row's numbers go in flat: list's own C method, no Python frame per row.
        append = list.extend

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        flat = np.fromiter(list.__iter__(self), dtype=float, count=len(self))
        return flat.reshape(-1, self.width)

    def rows(self) -> int:
        """How many rows it holds."""
        return len(self) // self.width

    def last(self) -> tuple[float, ...]:
        """The last row."""
        return tuple(self[-self.width :])
