"""The k6 script of a load-test plan: ``script.js``, for teams that load-test with k6.

Unlike Locust's users, k6's ``ramping-arrival-rate`` executor starts requests at a given rate
whatever the responses do: an open workload, as the simulation's. Its stages follow the plan's
steps (a one-second ramp to each step's rate, then a hold), in requests per minute so that a
fractional rate per second stays exact to 1/60. Each iteration sends one request, its class
drawn by the class mix, tagged with its class, its step and whether the step is judged.

The ``thresholds`` are the NFRs on the requests of the judged windows, as in the Locust file
(the measured part of each step the model predicts to meet every objective; every request when
it predicts none): ``http_req_duration{judged:yes}: ['p(99)<=400']``,
``http_req_failed{judged:yes}: ['rate<=0.001']``, with ``class`` in the tag for a class's
objective. k6 exits non-zero when one is crossed. Throughput objectives are left to
``scaleplan verify``.

k6 is not needed to render it; the tests check its syntax with ``node --check``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from scaleplan.loadtest.closed import split_users, think_sampler
from scaleplan.loadtest.plan import LoadTestPlan
from scaleplan.spec.nfr import SLOSpec

__all__ = ["k6_script", "k6_thresholds", "write_k6_script"]

#: Seconds k6 takes to move to a step's rate (its stages ramp linearly).
RAMP_S = 1
#: Virtual users per unit of the largest step's users (an open model needs slack for slow
#: responses); at least ``MIN_VUS``.
VU_SLACK = 4
MIN_VUS = 10


def _expression(slo: SLOSpec) -> tuple[str, str] | None:
    """The k6 metric and threshold expression of one objective (None: not a k6 threshold)."""
    if slo.metric == "errors":
        return "http_req_failed", f"rate<={slo.bound:g}"
    if slo.metric == "mean":
        return "http_req_duration", f"avg<={slo.bound:g}"
    if slo.is_latency:
        percent = {"p50": "50", "p90": "90", "p95": "95", "p99": "99", "p999": "99.9"}
        return "http_req_duration", f"p({percent[slo.metric]})<={slo.bound:g}"
    return None


def k6_thresholds(plan: LoadTestPlan) -> dict[str, list[str]]:
    """The plan's objectives as k6 thresholds, on the judged requests."""
    judged = "yes" if any(step.meets_slos for step in plan.steps) else None
    thresholds: dict[str, list[str]] = {}
    for text in plan.slos:
        slo = SLOSpec.model_validate(text)
        found = _expression(slo)
        if found is None:
            continue
        metric, expression = found
        tags = []
        if judged:
            tags.append(f"judged:{judged}")
        if slo.request_class is not None:
            tags.append(f"class:{slo.request_class}")
        key = f"{metric}{{{','.join(tags)}}}" if tags else metric
        thresholds.setdefault(key, []).append(expression)
    return thresholds


def _stages(plan: LoadTestPlan) -> list[dict[str, object]]:
    stages: list[dict[str, object]] = []
    for step in plan.steps:
        target = max(1, round(step.rate_per_s * 60))
        hold = step.duration_s - RAMP_S
        stages.append({"duration": f"{RAMP_S}s", "target": target})
        if hold > 0:
            stages.append({"duration": f"{hold:g}s", "target": target})
    return stages


def _vu_classes(plan: LoadTestPlan) -> list[int]:
    """The class of each virtual user by its number (k6's ``ramping-vus`` starts them in
    order): each step's new users go to the classes furthest below the model's split."""
    shares = plan.class_users or {c.name: c.weight for c in plan.classes}
    names = [c.name for c in plan.classes]
    held = [0] * len(names)
    order: list[int] = []
    for step in plan.steps:
        wanted = split_users({name: shares.get(name, 0.0) for name in names}, step.users)
        while len(order) < step.users:
            index = max(range(len(names)), key=lambda i: (wanted[i] - held[i], -i))
            held[index] += 1
            order.append(index)
    return order


def _vu_stages(plan: LoadTestPlan) -> list[dict[str, object]]:
    stages: list[dict[str, object]] = []
    for step in plan.steps:
        hold = step.duration_s - RAMP_S
        stages.append({"duration": f"{RAMP_S}s", "target": step.users})
        if hold > 0:
            stages.append({"duration": f"{hold:g}s", "target": step.users})
    return stages


#: The JavaScript of ``think()`` per sampler (parameters in ``THINK``, seconds).
_JS_THINK = {
    "none": "  return 0;",
    "exponential": "  return -THINK.mean_s * Math.log(1 - Math.random());",
    "constant": "  return THINK.value_s;",
    "uniform": "  return THINK.low_s + (THINK.high_s - THINK.low_s) * Math.random();",
    # mu and sigma are those of the log of milliseconds (scaleplan's lognormal).
    "lognormal": "  return Math.exp(THINK.mu + THINK.sigma * normal()) / 1000;",
    "gamma": "  return gamma(THINK.shape) * THINK.scale_s;",
    "empirical": ("  return THINK.samples_s[Math.floor(Math.random() * THINK.samples_s.length)];"),
}


def _closed_script(plan: LoadTestPlan) -> str:
    """A closed plan's k6 script: ``ramping-vus`` over the steps' users, each VU thinking."""
    sampler, parameters = think_sampler(plan.think_time, plan.scenario)
    most = max(step.users for step in plan.steps)
    windows = [
        [1000 * (s.start_s + s.settle_s), 1000 * (s.start_s + s.duration_s)]
        for s in plan.steps
        if s.meets_slos
    ]
    options = {
        "discardResponseBodies": True,
        "scenarios": {
            "steps": {
                "executor": "ramping-vus",
                "startVUs": 0,
                "stages": _vu_stages(plan),
                "gracefulRampDown": "5s",
                "gracefulStop": "5s",
            }
        },
        "thresholds": k6_thresholds(plan),
    }
    classes = [{"name": c.name, "method": c.method, "path": c.path} for c in plan.classes]
    starts = [[1000 * s.start_s, s.index] for s in plan.steps]
    replacements = {
        "__CANDIDATE__": json.dumps(plan.candidate),
        "__SCENARIO__": json.dumps(plan.scenario),
        "__HOST__": json.dumps(plan.host),
        "__CLASSES__": json.dumps(classes, indent=2),
        "__VU_CLASSES__": json.dumps(_vu_classes(plan)),
        "__MOST__": str(most),
        "__THINK_BODY__": _JS_THINK[sampler],
        "__THINK_PARAMS__": json.dumps(parameters),
        "__WINDOWS__": json.dumps(windows),
        "__STARTS__": json.dumps(starts),
        "__OPTIONS__": json.dumps(options, indent=2),
    }
    text = _CLOSED_TEMPLATE
    for marker, value in replacements.items():
        text = text.replace(marker, value)
    return text


def k6_script(plan: LoadTestPlan) -> str:
    """The text of a k6 script (an ES module) for ``plan``."""
    if plan.closed:
        return _closed_script(plan)
    total = math.fsum(c.weight for c in plan.classes)
    cumulative, running = [], 0.0
    for request in plan.classes:
        running += request.weight / total
        cumulative.append(
            {
                "name": request.name,
                "method": request.method,
                "path": request.path,
                "upTo": round(running, 12),
            }
        )
    cumulative[-1]["upTo"] = 1.0
    most = max(step.users for step in plan.steps)
    windows = [
        [1000 * (s.start_s + s.settle_s), 1000 * (s.start_s + s.duration_s)]
        for s in plan.steps
        if s.meets_slos
    ]
    options = {
        "discardResponseBodies": True,
        "scenarios": {
            "steps": {
                "executor": "ramping-arrival-rate",
                "startRate": 0,
                "timeUnit": "1m",
                "preAllocatedVUs": max(MIN_VUS, most),
                "maxVUs": max(MIN_VUS, VU_SLACK * most),
                "stages": _stages(plan),
                "gracefulStop": "5s",
            }
        },
        "thresholds": k6_thresholds(plan),
    }
    starts = [[1000 * s.start_s, s.index] for s in plan.steps]
    replacements = {
        "__CANDIDATE__": json.dumps(plan.candidate),
        "__SCENARIO__": json.dumps(plan.scenario),
        "__HOST__": json.dumps(plan.host),
        "__CLASSES__": json.dumps(cumulative, indent=2),
        "__WINDOWS__": json.dumps(windows),
        "__STARTS__": json.dumps(starts),
        "__OPTIONS__": json.dumps(options, indent=2),
    }
    text = _TEMPLATE
    for marker, value in replacements.items():
        text = text.replace(marker, value)
    return text


def write_k6_script(plan: LoadTestPlan, path: str | Path) -> Path:
    """Write :func:`k6_script` to ``path`` (its folder must exist)."""
    target = Path(path)
    target.write_text(k6_script(plan), encoding="utf-8")
    return target


_TEMPLATE = """\
// Load test of __CANDIDATE__ generated by `scaleplan loadtest` from __SCENARIO__.
// Run: k6 run -e HOST=http://HOST:PORT --summary-export summary.json script.js
// An open workload (ramping-arrival-rate): the steps' rates in requests per minute.
import http from 'k6/http';
import exec from 'k6/execution';

const HOST = __ENV.HOST || __HOST__;

// Request classes with their cumulative share of the mix.
const CLASSES = __CLASSES__;

// Measured windows [from, to) in ms of the steps predicted to meet every objective.
const JUDGED = __WINDOWS__;

// [start in ms, step index] of every step.
const STARTS = __STARTS__;

export const options = __OPTIONS__;

function stepAt(ms) {
  let index = STARTS[0][1];
  for (const [start, step] of STARTS) {
    if (ms >= start) {
      index = step;
    }
  }
  return index;
}

export default function () {
  const draw = Math.random();
  const chosen = CLASSES.find((c) => draw < c.upTo) || CLASSES[CLASSES.length - 1];
  const now = exec.instance.currentTestRunDuration;
  const judged = JUDGED.some(([from, to]) => now >= from && now < to);
  http.request(chosen.method, HOST + chosen.path, null, {
    tags: {
      name: chosen.name,
      class: chosen.name,
      step: String(stepAt(now)),
      judged: judged ? 'yes' : 'no',
    },
  });
}
"""

_CLOSED_TEMPLATE = """\
// Load test of __CANDIDATE__ generated by `scaleplan loadtest` from __SCENARIO__.
// Run: k6 run -e HOST=http://HOST:PORT --summary-export summary.json script.js
// A closed workload (ramping-vus), as the model's: each virtual user keeps one request class,
// sends its request, waits for the answer, thinks (the model's think time) and sends the next.
import http from 'k6/http';
import exec from 'k6/execution';
import { sleep } from 'k6';

const HOST = __ENV.HOST || __HOST__;

// Request classes; VU_CLASSES[n - 1] is the class of virtual user n (the model's split).
const CLASSES = __CLASSES__;
const VU_CLASSES = __VU_CLASSES__;
const MOST_USERS = __MOST__;

// The think time's parameters (seconds; a lognormal's are of the log of milliseconds).
const THINK = __THINK_PARAMS__;

// Measured windows [from, to) in ms of the steps predicted to meet every objective.
const JUDGED = __WINDOWS__;

// [start in ms, step index] of every step.
const STARTS = __STARTS__;

export const options = __OPTIONS__;

function normal() {
  // Box-Muller: one standard normal value.
  const u = 1 - Math.random();
  const v = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function gamma(shape) {
  // Marsaglia and Tsang (2000); a shape below 1 boosted by U^(1/shape).
  if (shape < 1) {
    return gamma(shape + 1) * Math.pow(1 - Math.random(), 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x;
    let v;
    do {
      x = normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - Math.random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) {
      return d * v;
    }
  }
}

export function think() {
__THINK_BODY__
}

function stepAt(ms) {
  let index = STARTS[0][1];
  for (const [start, step] of STARTS) {
    if (ms >= start) {
      index = step;
    }
  }
  return index;
}

// Per VU (each has its own copy of this module): every user starts with a think.
let started = false;

export default function () {
  if (!started) {
    started = true;
    sleep(think());
  }
  const vu = exec.vu.idInTest;
  const chosen = CLASSES[VU_CLASSES[(vu - 1) % MOST_USERS]];
  const now = exec.instance.currentTestRunDuration;
  const judged = JUDGED.some(([from, to]) => now >= from && now < to);
  http.request(chosen.method, HOST + chosen.path, null, {
    tags: {
      name: chosen.name,
      class: chosen.name,
      step: String(stepAt(now)),
      judged: judged ? 'yes' : 'no',
    },
  });
  sleep(think());
}
"""
