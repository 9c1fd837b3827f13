"""Plotly figures of scaleplan's results (``figure_*``) and the architecture drawn as a graph.

Every function takes plain results (or the graph) and returns a ``plotly.graph_objects.Figure``;
nothing here runs a simulation. plotly is imported inside the functions so that the engine and
the CLI's ``simulate`` start fast. One module per family of figures.
"""

from scaleplan.views.graph import figure_graph, graph_positions, write_html

__all__ = ["figure_graph", "graph_positions", "write_html"]
