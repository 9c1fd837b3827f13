"""The validated, frozen description of architectures, workloads, NFRs and scenarios.

This package is the boundary of scaleplan (docs/architecture.md): after :func:`load_spec` (or
``load_scenario``), everything downstream may trust its input. ``architecture`` holds the
architecture and workload contract and the YAML loading with key-path errors; further modules
hold the other documents (non-functional requirements, scenarios, costs).
"""

from scaleplan.kinds.cache import CacheSpec
from scaleplan.kinds.database import DatabaseFailureSpec, DatabaseSpec
from scaleplan.kinds.edge import EdgeSpec
from scaleplan.kinds.load_balancer import LoadBalancerSpec, WeightedTarget
from scaleplan.kinds.queue import QueueSpec
from scaleplan.kinds.service import LoadSheddingSpec, ServiceSpec
from scaleplan.kinds.topic import SubscriptionSpec, TopicSpec
from scaleplan.kinds.worker_pool import WorkerPoolSpec
from scaleplan.spec.architecture import (
    KINDS,
    MAX_EXPANDED_NODES,
    ArchitectureSpec,
    BurstSpec,
    ComponentSpec,
    DiurnalSpec,
    RequestClassSpec,
    TraceSpec,
    WorkloadSpec,
    example_spec,
    json_schema,
    load_spec,
    parse_duration_s,
    parse_spec,
    read_yaml,
    validation_problems,
)
from scaleplan.spec.components import (
    NAME_PATTERN,
    AutoscaleSpec,
    BaseFailureSpec,
    CallSpec,
    ChaosEventSpec,
    CircuitBreakerSpec,
    FailureSpec,
    KeySpaceSpec,
    Policy,
    RetrySpec,
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
    ResilienceSpec,
    RunBudgetSpec,
    ScenarioSpec,
    ScenarioWorkloadSpec,
    load_scenario,
    parse_scenario,
)

__all__ = [
    "KINDS",
    "MAX_EXPANDED_NODES",
    "NAME_PATTERN",
    "ArchitectureSpec",
    "AutoscaleSpec",
    "BaseFailureSpec",
    "BurstSpec",
    "CacheSpec",
    "CallSpec",
    "ChaosEventSpec",
    "CircuitBreakerSpec",
    "ComponentSpec",
    "DatabaseFailureSpec",
    "DatabaseSpec",
    "DiurnalSpec",
    "EdgeSpec",
    "FailureSpec",
    "KeySpaceSpec",
    "LoadBalancerSpec",
    "LoadSheddingSpec",
    "Policy",
    "QueueSpec",
    "RequestClassSpec",
    "RetrySpec",
    "ServiceSpec",
    "SubscriptionSpec",
    "TopicSpec",
    "TraceSpec",
    "WeightedTarget",
    "WorkerPoolSpec",
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
    "ResilienceSpec",
    "RetentionNFR",
    "RunBudgetSpec",
    "SLOSpec",
    "ScenarioSpec",
    "ScenarioWorkloadSpec",
    "load_scenario",
    "parse_scenario",
    "parse_slo",
]

# Disaster recovery and rollouts (issue #5).
from scaleplan.spec.dr import (  # noqa: E402
    BackupSpec,
    DataSpec,
    DisasterSpec,
    DRNFRSpec,
    DRSpec,
    DurationSpec,
    PITRSpec,
    RecoveryObjective,
    ReplicationSpec,
    RetentionPlanSpec,
    StrategySpec,
    load_dr,
    parse_dr,
)
from scaleplan.spec.rollout import (  # noqa: E402
    CanarySpec,
    ReleaseSpec,
    RollbackSpec,
    RolloutSpec,
    load_rollout,
)

__all__ += [
    "BackupSpec",
    "CanarySpec",
    "DRNFRSpec",
    "DRSpec",
    "DataSpec",
    "DisasterSpec",
    "DurationSpec",
    "PITRSpec",
    "RecoveryObjective",
    "ReleaseSpec",
    "ReplicationSpec",
    "RetentionPlanSpec",
    "RollbackSpec",
    "RolloutSpec",
    "StrategySpec",
    "load_dr",
    "load_rollout",
    "parse_dr",
]
