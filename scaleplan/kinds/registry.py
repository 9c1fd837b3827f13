"""The registry of component kinds: one line per kind.

Adding a kind is one new module beside this one and one line in the tuple below.
"""

from __future__ import annotations

import scaleplan.kinds.cache as cache
import scaleplan.kinds.database as database
import scaleplan.kinds.edge as edge
import scaleplan.kinds.load_balancer as load_balancer
import scaleplan.kinds.queue as queue
import scaleplan.kinds.service as service
import scaleplan.kinds.topic as topic
import scaleplan.kinds.worker_pool as worker_pool
from scaleplan.kinds.base import ComponentKind

#: Every component kind, by its ``kind:`` tag, in the order the docs and the legend show them.
REGISTRY: dict[str, ComponentKind] = {
    kind.name: kind
    for kind in (
        service.KIND,
        load_balancer.KIND,
        database.KIND,
        cache.KIND,
        edge.KIND,
        queue.KIND,
        topic.KIND,
        worker_pool.KIND,
    )
}


def kind_of(name: str) -> ComponentKind:
    """The kind registered under ``name`` (a ``KeyError`` naming the known kinds otherwise)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no component kind {name!r} (known: {', '.join(REGISTRY)})") from None
