"""Closed forms: the referee of the simulation and the source of instant estimates.

This package owns the queueing and availability formulas (Erlang B and C, M/M/1, M/M/c,
M/G/1, approximations for M/G/c and GI/G/c, bottleneck bounds, k-of-n availability). It works
on plain floats and knows nothing of specs, graphs or the engine.
"""

from scaleplan.analytic.network import bottleneck, estimate

__all__ = ["bottleneck", "estimate"]
