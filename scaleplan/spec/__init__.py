"""The validated, frozen description of architectures, workloads, NFRs and scenarios.

This package is the boundary of scaleplan (shared/DESIGN.md): after :func:`load_spec` (or
``load_scenario``), everything downstream may trust its input. ``architecture`` holds the
architecture and workload contract and the YAML loading with key-path errors; further modules
hold the other documents (non-functional requirements, scenarios, costs).
"""

from scaleplan.spec.architecture import (
    MAX_EXPANDED_NODES,
    NAME_PATTERN,
    ArchitectureSpec,
    BurstSpec,
    CallSpec,
    ComponentSpec,
    DiurnalSpec,
    LoadBalancerSpec,
    Policy,
    RequestClassSpec,
    ServiceSpec,
    TraceSpec,
    WeightedTarget,
    WorkloadSpec,
    example_spec,
    json_schema,
    load_spec,
    parse_duration_s,
    parse_spec,
    read_yaml,
    validation_problems,
)
from scaleplan.spec.cost import HOURS_PER_MONTH, CostRateSpec, CostTableSpec
from scaleplan.spec.nfr import (
    AvailabilityNFR,
    CostNFR,
    GrowthNFR,
    HeadroomNFR,
    NFRSpec,
    QualitativeNFR,
    RetentionNFR,
    SLOSpec,
    parse_slo,
)
from scaleplan.spec.scenario import (
    CRITERIA,
    CandidateSpec,
    RunBudgetSpec,
    ScenarioSpec,
    ScenarioWorkloadSpec,
    load_scenario,
    parse_scenario,
)

__all__ = [
    "MAX_EXPANDED_NODES",
    "NAME_PATTERN",
    "ArchitectureSpec",
    "BurstSpec",
    "CallSpec",
    "ComponentSpec",
    "DiurnalSpec",
    "LoadBalancerSpec",
    "Policy",
    "RequestClassSpec",
    "ServiceSpec",
    "TraceSpec",
    "WeightedTarget",
    "WorkloadSpec",
    "example_spec",
    "json_schema",
    "load_spec",
    "parse_duration_s",
    "parse_spec",
    "read_yaml",
    "validation_problems",
]
# Non-functional requirements, costs and scenarios (issue #4).
__all__ += [
    "CRITERIA",
    "HOURS_PER_MONTH",
    "AvailabilityNFR",
    "CandidateSpec",
    "CostNFR",
    "CostRateSpec",
    "CostTableSpec",
    "GrowthNFR",
    "HeadroomNFR",
    "NFRSpec",
    "QualitativeNFR",
    "RetentionNFR",
    "RunBudgetSpec",
    "SLOSpec",
    "ScenarioSpec",
    "ScenarioWorkloadSpec",
    "load_scenario",
    "parse_scenario",
    "parse_slo",
]
