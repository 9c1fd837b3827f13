"""Plotly figures of scaleplan's results (``figure_*``) and the architecture drawn as a graph.

Every function takes plain results (or the graph) and returns a ``plotly.graph_objects.Figure``;
nothing here runs a simulation. plotly is imported inside the functions so that the engine and
the CLI's ``simulate`` start fast. One module per family of figures.
"""

from scaleplan.views.graph import figure_graph, graph_positions, write_html

__all__ = ["figure_graph", "graph_positions", "write_html"]

# Figures of the experiments (issue #4).
from scaleplan.views.experiments import (
    figure_comparison,
    figure_pareto,
    figure_pull,
    figure_pull_users,
    figure_pull_utilization,
    figure_ramp,
    figure_runway,
    figure_sweep,
)

__all__ += [
    "figure_comparison",
    "figure_pareto",
    "figure_pull",
    "figure_pull_users",
    "figure_pull_utilization",
    "figure_ramp",
    "figure_runway",
    "figure_sweep",
]

# Figures of failures, disaster recovery and rollouts (issue #5).
from scaleplan.views.downtime import (  # noqa: E402
    figure_availability,
    figure_recovery,
    figure_rollout,
)

__all__ += ["figure_availability", "figure_recovery", "figure_rollout"]

# Tables as HTML tables (a plotly table clipped its rows) and the notes shown in place of a
# figure with nothing to draw.
from scaleplan.views.axes import note  # noqa: E402
from scaleplan.views.tables import (  # noqa: E402
    Html,
    comparison_page,
    decision_matrix_table,
    html_table,
)

__all__ += ["Html", "comparison_page", "decision_matrix_table", "html_table", "note"]
