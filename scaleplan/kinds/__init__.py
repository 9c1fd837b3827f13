"""Component kinds: everything one kind of component is, one module each, in one registry.

Each module holds one :class:`~scaleplan.kinds.base.ComponentKind`: its spec model, its SimPy
station, its analytic station figures, whether it passes Poisson traffic on, its billable nodes,
what fails when it has failures, its explorer knobs and its drawing symbol. Every stage finds a
kind through :data:`REGISTRY` (:func:`kind_of`), so adding a kind is one new module and one line
below; ``tests/test_kinds.py`` names any piece a registered kind lacks.

Examples
--------
>>> kind_of("database").billable_nodes(kind_of("database").spec_model.model_validate(
...     {"kind": "database", "shards": 4, "read_replicas": 1,
...      "read_time": {"dist": "constant", "mean_ms": 1}}))
8.0
"""

from __future__ import annotations

from scaleplan.kinds.base import PIECES, ComponentKind
from scaleplan.kinds.registry import REGISTRY, kind_of

__all__ = ["PIECES", "REGISTRY", "ComponentKind", "kind_of"]
