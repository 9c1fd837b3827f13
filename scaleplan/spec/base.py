"""The base of every spec model, defined once: frozen, unknown keys and infinite numbers refused.

Unknown keys are refused because they are usually typos (``replica:`` for ``replicas:``), and a
typo silently ignored is a wrong model; a frozen spec can be shared between runs and processes
without anyone changing it under them. A YAML ``.inf`` or ``.nan`` is never a real duration,
rate or price: let through, it turns into an "unstable" run or a NaN in every figure.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A frozen pydantic model that refuses keys it does not know, and numbers that are not
    finite (``.inf``, ``.nan``) in every float field."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


__all__ = ["StrictModel"]
