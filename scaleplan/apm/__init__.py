"""Monitoring designed from the model (issue 11): ``scaleplan apm SCENARIO -o DIR``.

One module per responsibility: :mod:`.objectives` (NFRs → SLIs and error budgets),
:mod:`.instruments` (what to measure per component, OpenTelemetry and Prometheus names,
histogram buckets), :mod:`.capacity` (thresholds from the tractor pull and the runway),
:mod:`.rules` (Prometheus recording and alerting rules), :mod:`.promtests` (their
``promtool test rules`` unit tests), :mod:`.dashboard` (Grafana JSON), :mod:`.page` (the
design page and the record's appendix) and :mod:`.design` (all of it for one candidate).
"""

from scaleplan.apm.design import MonitoringDesign, design, make_design

__all__ = ["MonitoringDesign", "design", "make_design"]
