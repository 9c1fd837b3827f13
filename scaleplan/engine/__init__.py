"""The SimPy engine: :func:`simulate` an architecture, one station per component.

The engine trusts its input (validated by :mod:`scaleplan.spec`) and owns only the model:
how requests arrive, wait, are served and call other components. Each kind's station lives in
its kind's module (:mod:`scaleplan.kinds`) on the protocol of :mod:`scaleplan.engine.protocol`;
statistics primitives live in :mod:`scaleplan.metrics`, closed forms in :mod:`scaleplan.analytic`.

The verbs are imported on first use (PEP 562): the kinds' modules import the engine's protocol
while the spec is being loaded, before the run module (which imports the spec) can be.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scaleplan.engine.faults import Hook, HookContext
    from scaleplan.engine.run import UnstableError, check_stability, simulate

__all__ = ["Hook", "HookContext", "UnstableError", "check_stability", "simulate"]

_HOMES = {
    "Hook": "scaleplan.engine.faults",
    "HookContext": "scaleplan.engine.faults",
    "UnstableError": "scaleplan.engine.run",
    "check_stability": "scaleplan.engine.run",
    "simulate": "scaleplan.engine.run",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'scaleplan.engine' has no attribute {name!r}")
