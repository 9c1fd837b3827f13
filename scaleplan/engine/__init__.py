"""The SimPy engine: :func:`simulate` an architecture, one station class per component kind.

The engine trusts its input (validated by :mod:`scaleplan.spec`) and owns only the model:
how requests arrive, wait, are served and call other components. Statistics primitives live
in :mod:`scaleplan.metrics`; closed forms in :mod:`scaleplan.analytic`.
"""

from scaleplan.engine.faults import Hook, HookContext
from scaleplan.engine.run import UnstableError, check_stability, simulate

__all__ = ["Hook", "HookContext", "UnstableError", "check_stability", "simulate"]
