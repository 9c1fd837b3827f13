"""The base of every spec model, defined once: frozen, and unknown keys refused.

Unknown keys are refused because they are usually typos (``replica:`` for ``replicas:``), and a
typo silently ignored is a wrong model; a frozen spec can be shared between runs and processes
without anyone changing it under them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A frozen pydantic model that refuses keys it does not know."""

    model_config = ConfigDict(extra="forbid", frozen=True)


__all__ = ["StrictModel"]
