"""The ``service`` kind: replicas × concurrency slots, a FIFO per replica, calls in order or in
parallel, autoscaling, failures and zones (spec :class:`~scaleplan.spec.ServiceSpec`, station
:class:`ServiceStation`, below).

A station is one small class per ``kind`` with a generator method ``visit(request)`` that a
request's process delegates to (``yield from``) and that returns the request's status there
(:data:`OK`, :data:`REJECTED`, :data:`FAILED`). Every kind's station lives in its kind's module.

The protocol they share (statuses, the request, replicas and their slots, the station base,
observers) is :mod:`scaleplan.engine.protocol`.

What is recorded per visit is one tuple appended to ``records`` (completion time, wait,
own service, holding time, span), turned into statistics in bulk by the recorder.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import simpy
from pydantic import (
    Field,
    model_validator,
)
from simpy.events import Event, Timeout

from scaleplan.distributions import Distribution
from scaleplan.engine.autoscale import Autoscaler
from scaleplan.engine.policies import Policy, make_policy
from scaleplan.engine.preemption import Preemption
from scaleplan.engine.protocol import (
    FAILED,
    OK,
    REJECTED,
    Replica,
    Request,
    ServiceTurn,
    Station,
    StreamFactory,
    Visit,
    acquire,
    answered,
    release,
    service_times,
)
from scaleplan.engine.resilience import ResilientCall
from scaleplan.engine.routing import RoutedCall
from scaleplan.engine.sharing import SharedProcessor
from scaleplan.engine.streams import uniforms
from scaleplan.kinds.base import ComponentKind, FailureModel, autoscaled_nodes, unit_availability
from scaleplan.spec.base import (
    MAX_SERVERS,
    Count,
    Milliseconds,
    NonNegativeCount,
    Servers,
    StrictModel,
)
from scaleplan.spec.components import (
    D_DESCRIPTION,
    NAME_PATTERN,
    POLICY_DESCRIPTION,
    AutoscaleSpec,
    CallSpec,
    FailureSpec,
    Probability,
    _ComponentBase,
    check_d,
)
from scaleplan.spec.components import (
    Policy as PolicyName,
)

if TYPE_CHECKING:
    from scaleplan.analytic.network import _Context, _Station


class LoadSheddingSpec(StrictModel):
    """Drop a request that waited longer than ``max_wait_ms`` when its turn comes (its caller has
    most likely given up), rather than serve it late (CoDel-style)."""

    max_wait_ms: Milliseconds


Discipline = Literal["fifo", "lifo", "ps"]


class ServiceSpec(_ComponentBase):
    """A pool of replicas, each serving ``concurrency`` requests at once from its own queue
    (first come first served unless ``discipline`` says otherwise)."""

    kind: Literal["service"]
    replicas: Servers = 1
    concurrency: Servers = Field(
        default=1,
        description="requests one replica serves at once (under discipline ps: its processors)",
    )
    queue_limit: NonNegativeCount | None = Field(
        default=None, description="waiting requests per replica; beyond it a request is rejected"
    )
    discipline: Discipline = Field(
        default="fifo",
        description=(
            "the order a replica serves its requests in. fifo: first come first served. "
            "lifo: non-preemptive last come first served (a freed slot goes to the most "
            "recently arrived waiting request; same mean wait as fifo, longer tail). ps: "
            "processor sharing, as an event loop or a time-sliced CPU: concurrency is the "
            "replica's processors and the n requests admitted share them, each progressing "
            "at rate min(1, concurrency/n), so short requests are not stuck behind long ones"
        ),
    )
    admission_limit: Count | None = Field(
        default=None,
        description=(
            "discipline ps only: requests per replica admitted to share the processors at "
            "once (at least concurrency; none: every request is admitted). The rest wait "
            "FIFO behind them; queue_limit and load_shedding apply to that waiting line "
            "(limited processor sharing)"
        ),
    )
    service_time: Distribution
    calls: tuple[CallSpec, ...] = ()
    parallel: bool = Field(default=False, description="make the calls at once and join them")
    hold_during_calls: bool = Field(
        default=True,
        description=(
            "the slot stays busy while the calls are out (under discipline ps: the request "
            "keeps its admission place but takes no processor share while its calls are out)"
        ),
    )
    dispatch: PolicyName = Field(
        default="round_robin",
        description="when it is called directly (not through a balancer), " + POLICY_DESCRIPTION,
    )
    d: int = Field(default=2, ge=2, le=MAX_SERVERS, description="for dispatch: " + D_DESCRIPTION)
    error_probability: Probability = Field(
        default=0.0, description="share of requests that fail after being served"
    )
    preemptive: bool = Field(
        default=False,
        description=(
            "a higher-priority arrival interrupts a lower-priority request in service, which "
            "resumes later where it stopped (preemptive-resume); only the replica's own work "
            "is interrupted, never a request waiting on its calls; no effect unless the "
            "workload's classes have different priorities"
        ),
    )
    load_shedding: LoadSheddingSpec | None = None
    autoscale: AutoscaleSpec | None = None
    failures: FailureSpec | None = None
    zones: tuple[Annotated[str, Field(pattern=NAME_PATTERN)], ...] = Field(
        default=(), description="replica i runs in zones[i mod len(zones)]"
    )

    @model_validator(mode="after")
    def _admission(self) -> ServiceSpec:
        limit = self.admission_limit
        if limit is not None and self.discipline != "ps":
            raise ValueError(
                f"admission_limit applies to discipline ps only (got discipline "
                f"{self.discipline!r} with admission_limit {limit})"
            )
        if limit is not None and limit < self.concurrency:
            raise ValueError(
                f"admission_limit must be at least concurrency, the processors it shares "
                f"(got {limit} < {self.concurrency})"
            )
        if self.preemptive and self.discipline == "ps":
            raise ValueError(
                "preemptive applies to a replica whose slots serve one request each at full "
                "speed; under discipline ps the admitted requests already share the processors "
                "(got discipline 'ps' with preemptive: true)"
            )
        return self

    @model_validator(mode="after")
    def _autoscale_range(self) -> ServiceSpec:
        scale = self.autoscale
        if scale is not None and not scale.min_replicas <= self.replicas <= scale.max_replicas:
            raise ValueError(
                f"replicas must lie within autoscale min_replicas..max_replicas "
                f"(got {self.replicas} outside {scale.min_replicas}..{scale.max_replicas})"
            )
        check_d(self.dispatch, self.d, "d" in self.model_fields_set, "dispatch")
        most = scale.max_replicas if scale is not None else self.replicas
        if "d" in self.model_fields_set and self.d > most:
            # Fewer replicas in rotation at run time (scaled in, crashed) are all compared.
            raise ValueError(
                f"d must not exceed the replicas it samples from (got d {self.d} with "
                f"{'at most ' if scale is not None else ''}{most} replicas)"
            )
        return self

    @model_validator(mode="after")
    def _exits_in_sequence(self) -> ServiceSpec:
        # An exit ends a sequence early; parallel calls all go out at once, so it has no place.
        exits = [index for index, call in enumerate(self.calls) if call.exit]
        if self.parallel and exits:
            raise ValueError(
                f"an exit ends a sequence of calls, but parallel calls all go out at once: "
                f"remove the exit (calls[{exits[0]}]) or set parallel: false"
            )
        return self

    def edges(self) -> list[tuple[str, float, str]]:
        """The calls, each with the probability that it is made: a call after exits is
        reached only when none of them ended the visit (Π (1 − p_exit) before it)."""
        found: list[tuple[str, float, str]] = []
        reach = 1.0
        for index, call in enumerate(self.calls):
            if call.exit:  # no edge, but fewer visits go on
                reach *= 1.0 - call.probability
                continue
            # A one_of call goes to each target with its weight share.
            for target, share, key in call.targets():
                found.append((target, reach * call.probability * share, f"calls[{index}].{key}"))
        return found

    @property
    def capacity(self) -> int:
        return self.replicas * self.concurrency

    @property
    def max_capacity(self) -> int:
        most = self.autoscale.max_replicas if self.autoscale is not None else self.replicas
        return most * self.concurrency


def service_traffic(
    name: str, spec: Any, failure: Mapping[str, float], notes: dict[str, str]
) -> tuple[list[Any], float]:
    """A service's calls per visit and the probability a visit fails: its own error first, then
    each call in turn (sequential: a failed call ends the sequence; parallel: every branch goes
    out and any failed one fails the join). Either way the visit succeeds only when its service
    and every call made do. Retries add attempts (with their budget) and backoff."""
    from scaleplan.load import Call, retry_figures

    own = spec.error_probability
    reach = served = 1.0 - own
    # The failure mass is summed where it arises (not 1 − what succeeds), so a visit that
    # cannot fail gets exactly 0 rather than a rounding residue.
    failed = own
    calls: list[Call] = []
    for call in spec.calls:
        if call.exit:  # sequential lists only: the rest go on with 1 − p
            reach *= 1.0 - call.probability
            continue
        made = (served if spec.parallel else reach) * call.probability
        final = 0.0  # the chance that the call, to whichever target it went, finally fails
        for target, share, _ in call.targets():
            attempts, fails, backoff = retry_figures(
                call.retries, failure[target], f"{name} → {target}", notes
            )
            calls.append(
                Call(
                    target,
                    made * share,
                    call.probability * share,
                    attempts,
                    backoff,
                    False,
                    call.operation,
                )
            )
            final += share * fails
        failed += reach * call.probability * final
        reach *= 1.0 - call.probability * final
    return calls, failed


def call_outcome(
    call: CallSpec, known: Mapping[str, tuple[float, float, float]]
) -> tuple[float, float, float]:
    """The outcome of one call once it is made: its target's, retried by its policy (a
    one_of call: the mixture over its targets by weight, each retried alone)."""
    from scaleplan.analytic.network import mixture, retried

    if call.to is not None:
        return retried(known[call.to], call.retries)
    return mixture(
        [(share, retried(known[target], call.retries)) for target, share, _ in call.targets()]
    )


def service_outcome(
    ctx: Any, name: str, known: Mapping[str, tuple[float, float, float]]
) -> tuple[float, float, float]:
    """A service visit's outcome: its own error first, then its calls in order (a failed one
    ends the sequence, an exit ends it successfully with its probability), or all at once and
    joined."""
    from scaleplan.analytic.network import maybe, then

    component = ctx.component(name)
    station = ctx.stations[name]
    before = station.wait_s + component.own_mean_s()
    error = component.error_probability
    stage = (1 - error, (1 - error) * before, error * before)
    # A call for other classes only has probability 0 here when a class's outcome is folded
    # (analytic.network._class_outcomes gives each class its own component).
    if any(call.exit for call in component.calls):
        return _sequence_with_exits(stage, component.calls, known)
    made = [(call.probability, call_outcome(call, known)) for call in component.calls]
    if component.parallel:
        # The join's time is taken as independent of its outcome (its stated approximation
        # already takes the branches as independent exponentials).
        ok = (1 - error) * math.prod(maybe(p, branch)[0] for p, branch in made)
        join = (station.span_s - before) / (1 - error) if error < 1 else 0.0
        return ok, ok * (before + join), station.span_s - ok * (before + join)
    for probability, branch in made:
        stage = then(stage, maybe(probability, branch))
    return stage


def _sequence_with_exits(
    stage: tuple[float, float, float],
    calls: tuple[CallSpec, ...],
    known: Mapping[str, tuple[float, float, float]],
) -> tuple[float, float, float]:
    """Fold a sequential call list with exits: ``stage`` is the part of the visit still going
    (P(ok and on), E[T·1{ok and on}], E[T·1{failed}]); an exit of probability p moves p of
    the going mass, with its time so far, to the successful ends, and the rest of the list
    applies to the other 1 − p."""
    from scaleplan.analytic.network import maybe, then

    ended_ok = ended_t = 0.0
    for call in calls:
        ok, t_ok, t_fail = stage
        if call.exit:
            ended_ok += call.probability * ok
            ended_t += call.probability * t_ok
            stage = ((1 - call.probability) * ok, (1 - call.probability) * t_ok, t_fail)
        else:
            stage = then(stage, maybe(call.probability, call_outcome(call, known)))
    ok, t_ok, t_fail = stage
    return ok + ended_ok, t_ok + ended_t, t_fail


def service_passes_poisson(ctx: Any, name: str) -> bool:
    """An exponential server that frees its slot before its calls and whose replicas get a
    random split (or that has one replica) passes Poisson traffic on (Burke); so does a
    processor-sharing one without an admission limit, whatever its service time and whether it
    holds its place during calls (a symmetric queue is quasi-reversible: Kelly 1979, §3.3;
    the PS stations of a BCMP network)."""
    component = ctx.component(name)
    has_calls = any(call.made > 0 for call in ctx.flows.calls[name])
    most = component.autoscale.max_replicas if component.autoscale else component.replicas
    split = ctx.splits[name]
    split_ok = (
        component.kind == "worker_pool"
        or most == 1
        or (split.policy == "random" and not split.mixed)
    )
    if component.discipline == "ps" and component.admission_limit is None:
        return split_ok
    holds = component.hold_during_calls and has_calls
    return bool(component.service_time.scv == 1.0 and not holds and split_ok)


class ServiceStation(Station):
    kind = "service"

    def __init__(
        self, name: str, spec: ServiceSpec, env: simpy.Environment, streams: StreamFactory
    ):
        super().__init__(name, env)
        self.spec = spec
        self.streams = streams
        # Under ps each replica's processors are shared (scaleplan.engine.sharing); its slots
        # count the requests admitted to share them.
        self.sharing: dict[Replica, SharedProcessor] | None = (
            {} if spec.discipline == "ps" else None
        )
        zones = spec.zones or ("",)
        self.replicas = [
            self.new_replica(zones[index % len(zones)]) for index in range(spec.replicas)
        ]
        self.all_replicas = list(self.replicas)
        self.queue_limit = spec.queue_limit
        self.hold = spec.hold_during_calls
        self.parallel = spec.parallel
        self.max_wait_s = (
            spec.load_shedding.max_wait_ms / 1000 if spec.load_shedding is not None else None
        )
        self.error_probability = spec.error_probability
        self.errors: Iterator[float] = uniforms(streams(f"errors:{name}"))
        self.service_s = service_times(spec.service_time, streams(f"service:{name}"))
        self.routing: Iterator[float] = uniforms(streams(f"routing:{name}"))
        # (station or RoutedCall, probability, resilient caller or None); an exit has no station
        self.calls: list[tuple[Any, float, Any]] = []
        self.shed = 0
        self.failed_here = 0
        self.preemption = Preemption(env) if spec.preemptive else None
        # The hot path's one test: its own work is one timeout (neither ps nor preemptive).
        self.plain = self.sharing is None and self.preemption is None
        # A request that waits is served by its turn's event (ServiceTurn) when nothing is
        # decided between the hand-over and the service: plain, and no load shedding.
        self.served_at_turn = self.service_s if self.plain and self.max_wait_s is None else None
        self.dispatch: Policy = make_policy(
            spec.dispatch,
            [1.0] * spec.replicas,
            self.replicas_load,
            streams(f"dispatch:{name}"),
            spec.d,
        )

    def new_replica(self, zone: str) -> Replica:
        """A replica of this service in ``zone`` (with its shared processors under ps): every
        replica the service ever runs (autoscaling, a rollout's new ones) is made here."""
        spec = self.spec
        if self.sharing is None:
            return Replica(spec.concurrency, zone, lifo=spec.discipline == "lifo")
        replica = Replica(spec.admission_limit or sys.maxsize, zone)
        self.sharing[replica] = SharedProcessor(self.env, spec.concurrency)
        return replica

    def replicas_load(self, index: int) -> int:
        return self.replicas[index].load()

    def connect(self, stations: dict[str, Station], streams: StreamFactory) -> None:
        self.calls = []
        for index, call in enumerate(self.spec.calls):
            if call.exit:
                self.calls.append((None, call.probability, None))
            elif call.to is not None and call.classes is None and call.operation is None:
                # A plain call, exactly as before routing by class, target or operation.
                target = stations[call.to]
                caller = (
                    ResilientCall(
                        self.env, f"{self.name}->{call.to}#{index}", call, target, streams
                    )
                    if call.resilient
                    else None
                )
                self.calls.append((target, call.probability, caller))
            else:
                routed = RoutedCall(self.env, self.name, index, call, stations, streams)
                self.calls.append((routed, call.probability, None))

    def start(self) -> None:
        if self.spec.autoscale is not None:
            Autoscaler(self, self.spec.autoscale).start()

    def visit(self, request: Request) -> Visit:
        # Not a generator itself: it returns serve's, one frame fewer for every event the
        # request waits for below it.
        replicas = self.replicas
        if len(replicas) > 1:
            return self.serve(replicas[self.dispatch.choose()], request)
        if replicas:
            return self.serve(replicas[0], request)
        # every replica is out of rotation
        self.failure_times.append(self.env.now)
        request.error(self.name, FAILED)
        return answered(FAILED)

    def serve(self, replica: Replica, request: Request, holding: bool = False) -> Visit:
        """Serve ``request`` on ``replica``: take a slot (unless ``holding`` one already, as a
        worker that pulled a job from its broker does), serve, make the calls, free the slot.

        The one implementation of a service's work, for services and worker pools alike.
        """
        env = self.env
        arrived = started = env._now  # the clock itself: `now` is a property call
        version = replica.version
        request.versions |= 1 << version
        if not replica.up:  # crashed, and no health check has noticed yet
            return self._refused(replica, request, version, arrived, FAILED)
        epoch = replica.epoch
        turn: Event | None = None
        if not holding:
            limit = self.queue_limit
            if (
                limit is not None
                and replica.busy >= replica.concurrency
                and len(replica.queue) >= limit
            ):  # full(replica, limit), inlined
                return self._refused(replica, request, version, arrived, REJECTED)
            preemption = self.preemption
            if replica.busy < replica.concurrency:  # acquire's free slot, inlined
                replica.busy += 1
            elif preemption is None:
                turn = acquire(replica, env, request.priority, self.served_at_turn)
            else:
                turn = preemption.acquire(replica, request.priority)
            if turn is not None:
                # The slot is handed over by release() (True), or the replica crashed (False).
                if not (yield turn):
                    return self._refused(replica, request, version, arrived, FAILED)
                if type(turn) is ServiceTurn:  # served too, from its start on
                    started = turn.started
                else:
                    started = env._now
                    if self.max_wait_s is not None and started - arrived > self.max_wait_s:
                        release(replica)
                        self.shed += 1
                        return self._refused(replica, request, version, arrived, REJECTED)
                    turn = None
        if turn is not None:  # a ServiceTurn: served already
            pass
        elif self.plain:  # neither shared nor preemptible: one timeout
            yield Timeout(env, next(self.service_s) * replica.slowdown)
        elif self.sharing is not None:  # it holds a processor from `started` on (engine.sharing)
            started = yield self.sharing[replica].serve(next(self.service_s) * replica.slowdown)
        else:
            assert self.preemption is not None
            # interruptible; the time spent preempted counts as waiting, not service
            paused = yield from self.preemption.serve(
                replica, request.priority, next(self.service_s)
            )
            if paused is None:
                return self._refused(replica, request, version, arrived, FAILED)
            started += paused
        if replica.epoch != epoch:  # crashed while serving: the slot went with it
            return self._refused(replica, request, version, arrived, FAILED)
        served = done = env._now
        status = OK
        error = self.error_probability + replica.extra_error
        replica.served += 1
        if error and next(self.errors) < error:
            status = FAILED
            self.failed_here += 1
            replica.errors += 1
            request.error(self.name, FAILED)
        hold = self.hold
        if not hold:
            if replica.queue:
                release(replica)
            else:  # release's idle case, inlined
                replica.busy -= 1
        if self.calls and status == OK:
            if self.parallel:
                status = yield from self.call_parallel(request)
            else:
                # The calls in order, inlined: a frame of its own would be resumed for every
                # event the request waits for below it.
                routing = self.routing
                for station, probability, caller in self.calls:
                    if probability < 1.0 and next(routing) >= probability:
                        continue
                    if station is None:  # an exit: the visit ends here, successfully
                        break
                    status = yield from (
                        station.visit(request) if caller is None else caller.call(request)
                    )
                    if status != OK:
                        break
            done = env._now
        if hold:
            if replica.epoch != epoch:  # crashed while waiting for its calls
                return self._refused(replica, request, version, arrived, FAILED)
            if replica.queue:
                release(replica)
            else:  # release's idle case, inlined
                replica.busy -= 1
            # Under ps its processor is free once its own work is done; its place is not.
            held = (done if self.sharing is None else served) - started
        else:
            held = served - started
        self.records.append((done, started - arrived, served - started, held, done - arrived))
        if status != OK:  # an error here or from a call: this component answered with it
            self.failure_times.append(done)
        if self.served_observers:
            for observe in self.served_observers:
                observe(self, replica, request, version, status, arrived)
        return status

    def _refused(
        self, replica: Replica, request: Request, version: int, arrived: float, status: int
    ) -> int:
        """A visit that ends here without a record (rejected, or failed by a crash)."""
        now = self.env.now
        (self.reject_times if status == REJECTED else self.failure_times).append(now)
        request.error(self.name, status)
        for observe in self.served_observers:
            observe(self, replica, request, version, status, arrived)
        return status

    def call_parallel(self, request: Request) -> Visit:
        """The calls at once, each in a process of its own carrying the same request."""
        env = self.env
        routing = self.routing
        branches = [
            env.process(station.visit(request) if caller is None else caller.call(request))
            for station, probability, caller in self.calls
            if station is not None  # the spec refuses exits in parallel lists
            and (probability >= 1.0 or next(routing) < probability)
        ]
        if not branches:
            return OK
        outcome = yield env.all_of(branches)
        statuses = [status for status in outcome.values() if status != OK]
        return max(statuses) if statuses else OK

    # -- autoscaling ------------------------------------------------------------------

    def add_replica(self) -> None:
        zones = self.spec.zones or ("",)
        replica = self.new_replica(zones[len(self.all_replicas) % len(zones)])
        self.replicas.append(replica)
        self.all_replicas.append(replica)
        self.rotation_changed()

    def rotation_changed(self) -> None:
        if self.replicas:
            self.dispatch.resize([1.0] * len(self.replicas))
        self.notify()

    # -- processor sharing: capacity and utilisation count processors, not admissions --

    @property
    def capacity(self) -> int:
        if self.sharing is None:
            return super().capacity
        return len(self.replicas) * self.spec.concurrency

    def in_service(self) -> int:
        if self.sharing is None:
            return super().in_service()
        return sum(self.sharing[replica].busy for replica in self.replicas)

    def crash(self, replica: Replica) -> None:
        super().crash(replica)
        if self.sharing is not None:  # the requests sharing its processors fail with it
            self.sharing[replica].crash()

    @property
    def members(self) -> int:
        """Replicas the component runs, up or down, in rotation or not (what scaling counts)."""
        return len(self.all_replicas)

    def remove_replica(self) -> None:
        """Retire one replica: a crashed one first (as a ReplicaSet deletes unready pods
        first), else the least loaded one in rotation, which finishes what it holds. A retired
        replica never comes back, whatever its repair or health check says later."""
        down = [replica for replica in self.all_replicas if not replica.up]
        if down:
            removed = down[0]
        elif len(self.replicas) > 1:
            removed = min(self.replicas, key=lambda replica: replica.load())
        else:
            return
        self.all_replicas.remove(removed)
        if removed in self.replicas:
            self.replicas.remove(removed)
        self.rotation_changed()

    def details(self) -> dict[str, Any]:
        figures: dict[str, Any] = {}
        if self.shed:
            figures["shed"] = self.shed
        if self.failed_here:
            figures["errors"] = self.failed_here
        if self.preemption is not None and self.preemption.preemptions:
            figures["preemptions"] = self.preemption.preemptions
        callers = {
            caller.label: caller.figures() for _, _, caller in self.calls if caller is not None
        }
        for station, _, _ in self.calls:  # the resilient callers of routed calls' targets
            if isinstance(station, RoutedCall):
                callers.update(
                    (caller.label, caller.figures())
                    for _, caller in station.choices
                    if caller is not None
                )
        if callers:
            figures["calls"] = callers
        return figures


def autoscaled_station(
    ctx: _Context, name: str, spans: Mapping[str, float], component: ServiceSpec
) -> _Station:
    """The service at the replica count its autoscaler settles on for the mean load.

    On utilisation, Kubernetes' HPA asks for ceil(n·u/target) = ceil(a/target) replicas, with
    a = λ·holding/concurrency the offered load in replicas; on queue length, for the fewest
    replicas whose waiting requests per replica meet the target. Both within min..max.
    """
    from scaleplan.analytic.network import slot_station

    scale = component.autoscale
    assert scale is not None
    low, high = scale.min_replicas, scale.max_replicas
    if scale.metric == "utilization":
        probe = slot_station(ctx, name, spans, low)
        offered = probe.utilization * low  # λ·holding / concurrency, in replicas
        wanted = math.ceil(offered / scale.target * (1 - 1e-12))
        count = min(high, max(low, wanted))
        how = f"ceil(a/target) = ceil({offered:.4g}/{scale.target:g}) = {wanted}"
        station = probe if count == low else slot_station(ctx, name, spans, count)
        met = station.utilization <= scale.target * (1 + 1e-9)
    else:
        how = "the fewest replicas with waiting requests per replica at most the target"
        station = slot_station(ctx, name, spans, low)
        count = low
        while not _queue_target_met(station, count, scale.target) and count < high:
            count += 1
            station = slot_station(ctx, name, spans, count)
        met = _queue_target_met(station, count, scale.target)
    clamp = f", clamped to {low}..{high}" if scale.metric == "utilization" else ""
    station.warnings.append(
        f"{name}: autoscaled on {scale.metric} (target {scale.target:g}): evaluated at "
        f"{count} replicas, {how}{clamp}; the scaling transient (interval, boot, cool-down), "
        f"the ±{scale.tolerance:.0%} tolerance band and time-varying load are not modelled"
    )
    if not met:
        station.warnings.append(
            f"{name}: even at max_replicas {high} the autoscaling target {scale.target:g} "
            "is not met"
        )
        station.capacity_note = f" at max_replicas {high}"
    station.details["autoscaled_replicas"] = count
    return station


def _queue_target_met(station: _Station, replicas: int, target: float) -> bool:

    if station.utilization >= 1 or not math.isfinite(station.wait_s):
        return False
    return station.arrival_rate * station.wait_s / replicas <= target


class ServiceKind(ComponentKind):
    name = "service"
    spec_model = ServiceSpec
    symbol = "circle"
    example: ClassVar[Mapping[str, Any]] = {
        "kind": "service",
        "replicas": 2,
        "concurrency": 2,
        "service_time": {"dist": "exponential", "mean_ms": 10},
    }

    def station(self, name: str, spec: Any, env: Any, streams: Any) -> Any:
        return ServiceStation(name, spec, env, streams)

    def analytic_station(self, ctx: Any, name: str, spans: Mapping[str, float]) -> Any:
        from scaleplan.analytic import network

        component = ctx.component(name)
        if component.autoscale is not None:
            return autoscaled_station(ctx, name, spans, component)
        return network.slot_station(ctx, name, spans)

    def billable_nodes(self, spec: Any, running_replicas: float | None = None) -> float:
        return autoscaled_nodes(spec, running_replicas)

    def station_loads(
        self, name: str, spec: Any, arrivals_per_s: float, holding_s: float
    ) -> list[Any]:
        """Under ps the processors carry only the requests' own work, whatever
        ``hold_during_calls`` says; with an ``admission_limit`` and a place held during the
        calls, the admission places are a second station (each held at least the visit's own
        work plus its calls' low-load spans). A ``queue_limit`` bounds a ps replica only
        when admission is limited (otherwise nothing waits)."""
        if spec.discipline != "ps":
            return super().station_loads(name, spec, arrivals_per_s, holding_s)
        from scaleplan.load import StationLoad

        most = spec.autoscale.max_replicas if spec.autoscale is not None else spec.replicas
        limit = spec.admission_limit
        bounded = limit is not None and spec.queue_limit is not None
        own = spec.own_mean_s()
        stations = [StationLoad(name, "", arrivals_per_s, own, most * spec.concurrency, bounded)]
        if limit is not None and holding_s > own:
            stations.append(
                StationLoad(
                    name, "admission places", arrivals_per_s, holding_s, most * limit, bounded
                )
            )
        return stations

    def availability_model(self, spec: Any) -> FailureModel | None:
        from scaleplan.analytic.availability import k_of_n

        failures, a, together = unit_availability(spec)
        n = spec.replicas
        # Up while one replica is (k of n with k = 1); alone or failing together, a SPOF.
        analytic = a if together else k_of_n(1, n, a)
        return FailureModel(
            spec.kind, "replicas", n, n, 1, failures, a, analytic, n == 1 or together
        )

    def passes_poisson(self, ctx: Any, name: str) -> bool:
        return service_passes_poisson(ctx, name)

    def transform_traffic(
        self,
        name: str,
        spec: Any,
        failure: Mapping[str, float],
        miss: float,
        notes: dict[str, str],
    ) -> tuple[list[Any], float]:
        return service_traffic(name, spec, failure, notes)

    def visit_outcome(
        self, ctx: Any, name: str, known: Mapping[str, tuple[float, float, float]]
    ) -> tuple[float, float, float]:
        return service_outcome(ctx, name, known)


KIND = ServiceKind()
