"""The validated, frozen description of architectures, workloads, NFRs and scenarios.

This package is the boundary of scaleplan (docs/architecture.md): after :func:`load_spec` (or
``load_scenario``), everything downstream may trust its input. ``architecture`` holds the
architecture and workload contract and the YAML loading with key-path errors; further modules
hold the other documents (non-functional requirements, scenarios, costs).

The names below are imported on first use (PEP 562): a component kind's module imports the
spec's shared models (``scaleplan.spec.components``) while ``scaleplan.spec.architecture``
builds the component union from the registry of kinds, so importing this package must not
import its submodules eagerly (that would make a cycle).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        ClosedWorkloadError,
        ComponentSpec,
        DiurnalSpec,
        RequestClassSpec,
        TraceSpec,
        WorkloadSpec,
        example_spec,
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
    from scaleplan.spec.dr import (
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
    from scaleplan.spec.nfr import (
        AvailabilityNFR,
        BacklogNFR,
        CostNFR,
        GrowthNFR,
        HeadroomNFR,
        NFRSpec,
        QualitativeNFR,
        RetentionNFR,
        SLOSpec,
        parse_slo,
    )
    from scaleplan.spec.rollout import (
        CanarySpec,
        ReleaseSpec,
        RollbackSpec,
        RolloutSpec,
        load_rollout,
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
    from scaleplan.spec.schema import FILE_KINDS, json_schema

#: Where each public name lives.
_HOMES: dict[str, str] = {
    "KINDS": "scaleplan.spec.architecture",
    "MAX_EXPANDED_NODES": "scaleplan.spec.architecture",
    "NAME_PATTERN": "scaleplan.spec.components",
    "ArchitectureSpec": "scaleplan.spec.architecture",
    "AutoscaleSpec": "scaleplan.spec.components",
    "BaseFailureSpec": "scaleplan.spec.components",
    "BurstSpec": "scaleplan.spec.architecture",
    "CacheSpec": "scaleplan.kinds.cache",
    "CallSpec": "scaleplan.spec.components",
    "ChaosEventSpec": "scaleplan.spec.components",
    "CircuitBreakerSpec": "scaleplan.spec.components",
    "ComponentSpec": "scaleplan.spec.architecture",
    "DatabaseFailureSpec": "scaleplan.kinds.database",
    "DatabaseSpec": "scaleplan.kinds.database",
    "DiurnalSpec": "scaleplan.spec.architecture",
    "EdgeSpec": "scaleplan.kinds.edge",
    "FailureSpec": "scaleplan.spec.components",
    "KeySpaceSpec": "scaleplan.spec.components",
    "LoadBalancerSpec": "scaleplan.kinds.load_balancer",
    "LoadSheddingSpec": "scaleplan.kinds.service",
    "Policy": "scaleplan.spec.components",
    "QueueSpec": "scaleplan.kinds.queue",
    "RequestClassSpec": "scaleplan.spec.architecture",
    "ClosedWorkloadError": "scaleplan.spec.architecture",
    "RetrySpec": "scaleplan.spec.components",
    "ServiceSpec": "scaleplan.kinds.service",
    "SubscriptionSpec": "scaleplan.kinds.topic",
    "TopicSpec": "scaleplan.kinds.topic",
    "TraceSpec": "scaleplan.spec.architecture",
    "WeightedTarget": "scaleplan.kinds.load_balancer",
    "WorkerPoolSpec": "scaleplan.kinds.worker_pool",
    "WorkloadSpec": "scaleplan.spec.architecture",
    "example_spec": "scaleplan.spec.architecture",
    "json_schema": "scaleplan.spec.schema",
    "FILE_KINDS": "scaleplan.spec.schema",
    "load_spec": "scaleplan.spec.architecture",
    "parse_duration_s": "scaleplan.spec.architecture",
    "parse_spec": "scaleplan.spec.architecture",
    "read_yaml": "scaleplan.spec.architecture",
    "validation_problems": "scaleplan.spec.architecture",
    "CRITERIA": "scaleplan.spec.scenario",
    "HOURS_PER_MONTH": "scaleplan.spec.cost",
    "AvailabilityNFR": "scaleplan.spec.nfr",
    "BacklogNFR": "scaleplan.spec.nfr",
    "CandidateSpec": "scaleplan.spec.scenario",
    "CostNFR": "scaleplan.spec.nfr",
    "CostRateSpec": "scaleplan.spec.cost",
    "CostTableSpec": "scaleplan.spec.cost",
    "GrowthNFR": "scaleplan.spec.nfr",
    "HeadroomNFR": "scaleplan.spec.nfr",
    "NFRSpec": "scaleplan.spec.nfr",
    "QualitativeNFR": "scaleplan.spec.nfr",
    "ResilienceSpec": "scaleplan.spec.scenario",
    "RetentionNFR": "scaleplan.spec.nfr",
    "RunBudgetSpec": "scaleplan.spec.scenario",
    "SLOSpec": "scaleplan.spec.nfr",
    "ScenarioSpec": "scaleplan.spec.scenario",
    "ScenarioWorkloadSpec": "scaleplan.spec.scenario",
    "load_scenario": "scaleplan.spec.scenario",
    "parse_scenario": "scaleplan.spec.scenario",
    "parse_slo": "scaleplan.spec.nfr",
    "BackupSpec": "scaleplan.spec.dr",
    "CanarySpec": "scaleplan.spec.rollout",
    "DRNFRSpec": "scaleplan.spec.dr",
    "DRSpec": "scaleplan.spec.dr",
    "DataSpec": "scaleplan.spec.dr",
    "DisasterSpec": "scaleplan.spec.dr",
    "DurationSpec": "scaleplan.spec.dr",
    "PITRSpec": "scaleplan.spec.dr",
    "RecoveryObjective": "scaleplan.spec.dr",
    "ReleaseSpec": "scaleplan.spec.rollout",
    "ReplicationSpec": "scaleplan.spec.dr",
    "RetentionPlanSpec": "scaleplan.spec.dr",
    "RollbackSpec": "scaleplan.spec.rollout",
    "RolloutSpec": "scaleplan.spec.rollout",
    "StrategySpec": "scaleplan.spec.dr",
    "load_dr": "scaleplan.spec.dr",
    "load_rollout": "scaleplan.spec.rollout",
    "parse_dr": "scaleplan.spec.dr",
}

__all__ = [
    "CRITERIA",
    "FILE_KINDS",
    "HOURS_PER_MONTH",
    "KINDS",
    "MAX_EXPANDED_NODES",
    "NAME_PATTERN",
    "ArchitectureSpec",
    "AutoscaleSpec",
    "AvailabilityNFR",
    "BacklogNFR",
    "BackupSpec",
    "BaseFailureSpec",
    "BurstSpec",
    "CacheSpec",
    "CallSpec",
    "CanarySpec",
    "CandidateSpec",
    "ChaosEventSpec",
    "CircuitBreakerSpec",
    "ClosedWorkloadError",
    "ComponentSpec",
    "CostNFR",
    "CostRateSpec",
    "CostTableSpec",
    "DRNFRSpec",
    "DRSpec",
    "DataSpec",
    "DatabaseFailureSpec",
    "DatabaseSpec",
    "DisasterSpec",
    "DiurnalSpec",
    "DurationSpec",
    "EdgeSpec",
    "FailureSpec",
    "GrowthNFR",
    "HeadroomNFR",
    "KeySpaceSpec",
    "LoadBalancerSpec",
    "LoadSheddingSpec",
    "NFRSpec",
    "PITRSpec",
    "Policy",
    "QualitativeNFR",
    "QueueSpec",
    "RecoveryObjective",
    "ReleaseSpec",
    "ReplicationSpec",
    "RequestClassSpec",
    "ResilienceSpec",
    "RetentionNFR",
    "RetentionPlanSpec",
    "RetrySpec",
    "RollbackSpec",
    "RolloutSpec",
    "RunBudgetSpec",
    "SLOSpec",
    "ScenarioSpec",
    "ScenarioWorkloadSpec",
    "ServiceSpec",
    "StrategySpec",
    "SubscriptionSpec",
    "TopicSpec",
    "TraceSpec",
    "WeightedTarget",
    "WorkerPoolSpec",
    "WorkloadSpec",
    "example_spec",
    "json_schema",
    "load_dr",
    "load_rollout",
    "load_scenario",
    "load_spec",
    "parse_dr",
    "parse_duration_s",
    "parse_scenario",
    "parse_slo",
    "parse_spec",
    "read_yaml",
    "validation_problems",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'scaleplan.spec' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
