"""The ipywidgets explorer for JupyterLab (:class:`Explorer`).

``knobs`` finds which values of a spec the user may move; ``explorer`` holds the widget and
the order of work after a change; ``figures`` the explorer's latency and utilisation charts.
ipywidgets and plotly are imported inside the functions that need them.
"""

from scaleplan.widgets.explorer import Explorer, summary_html
from scaleplan.widgets.knobs import Knob, discover_knobs

__all__ = ["Explorer", "Knob", "discover_knobs", "summary_html"]
