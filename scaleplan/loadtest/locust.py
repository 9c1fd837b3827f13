"""The Locust file of a load-test plan: ``locustfile.py``, runnable on its own.

The rendered file imports only Locust and the standard library; the plan's steps, requests
and thresholds are constants in it, so it runs where scaleplan is not installed. It has one
``HttpUser`` whose tasks are the request classes weighted by the class mix (each request named
by its class, so Locust's statistics are per class), each user pacing itself so that the
step's users together offer the step's planned rate, at a random phase of its period; a
``LoadTestShape`` that walks the plan's steps and returns ``None`` after the last (headless
Locust then stops by itself); and a pass/fail exit code.

**Pacing.** Locust's ``constant_throughput`` times each user's requests from the moment the
user was created, and a step's users are created together: they would send in lock-step bursts
(a burst of ``users`` requests every period), a load the model does not describe, and the
latency measured at the reference system was three to four times the prediction although the
system was exactly as modelled (``examples/reference-system/README.md``). Each user therefore
starts at a uniformly random phase of its period, then sends once per period (a late answer is
not caught up by a burst); the period is the step's users over its rate, so the step offers
exactly its planned rate whatever the rounding of users.

**Pass or fail.** A stress test deliberately goes past the predicted limit, so the SLOs are
judged over the measured windows (after ``settle_s``) of the steps at which the model predicts
them met; a plan that predicts none met is judged over the whole run. On Locust's ``quitting``
event every objective the file can check (latency percentiles and mean, error rate; overall
or per class) is compared with its bound; a broken one is printed and the exit code set to 1.
Throughput objectives are left to ``scaleplan verify``, which judges every step.

scaleplan never imports Locust (gevent patches the process it is imported into): this module
only writes text.
"""

from __future__ import annotations

import math
import pprint
from fractions import Fraction
from functools import reduce
from pathlib import Path

from scaleplan.loadtest.closed import split_users, think_sampler, think_time_text
from scaleplan.loadtest.plan import ClassRequest, LoadTestPlan
from scaleplan.spec.nfr import SLOSpec

__all__ = ["locust_command", "locustfile", "task_weights", "write_locustfile"]

#: Task weights are integers (Locust repeats a task ``weight`` times in its list): the class
#: mix is rounded to this many parts, then reduced by the common divisor.
WEIGHT_PARTS = 1000

#: The SLO metrics the Locust file checks, and how (Locust's percentile or its mean).
_LOCUST_QUANTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}


def task_weights(classes: tuple[ClassRequest, ...]) -> list[int]:
    """Small integer weights in the classes' proportions (each at least 1)."""
    total = math.fsum(c.weight for c in classes)
    parts = [max(1, round(WEIGHT_PARTS * Fraction(c.weight / total))) for c in classes]
    divisor = reduce(math.gcd, parts)
    return [part // divisor for part in parts]


def _thresholds(plan: LoadTestPlan) -> list[dict[str, object]]:
    methods = {c.name: c.method for c in plan.classes}
    rows: list[dict[str, object]] = []
    for text in plan.slos:
        slo = SLOSpec.model_validate(text)
        row: dict[str, object] = {
            "text": slo.text,
            "metric": slo.metric,
            "bound": slo.bound,
            "class": slo.request_class,
            "method": methods.get(slo.request_class or ""),
            "checked": slo.metric in _LOCUST_QUANTILES or slo.metric in ("mean", "errors"),
        }
        rows.append(row)
    return rows


def locustfile(plan: LoadTestPlan) -> str:
    """The text of a self-contained Locust file for ``plan``."""
    if plan.closed:
        return _closed_locustfile(plan)
    weights = task_weights(plan.classes)
    tasks = []
    for index, (request, weight) in enumerate(zip(plan.classes, weights, strict=True)):
        tasks.append(
            f"    @task({weight})\n"
            f"    def task_{index}(self):\n"
            f"        # request class {request.name!r}: {request.method} {request.path!r}\n"
            f"        self.client.request({request.method!r}, {request.path!r}, "
            f"name={request.name!r})\n"
        )
    steps = [
        {
            "index": step.index,
            "start_s": step.start_s,
            "duration_s": step.duration_s,
            "settle_s": step.settle_s,
            "users": step.users,
            "rate_per_s": round(step.rate_per_s, 6),
            "meets_slos": step.meets_slos,
        }
        for step in plan.steps
    ]
    constants = {
        "__CANDIDATE__": _in_docstring(plan.candidate),
        "__SCENARIO__": _in_docstring(plan.scenario),
        "__HOST__": repr(plan.host),
        "__USER_RATE__": repr(plan.user_rate_per_s),
        "__STEPS__": _literal(steps),
        "__THRESHOLDS__": _literal(_thresholds(plan)),
        "__TASKS__": "\n".join(tasks).rstrip("\n"),
    }
    text = _OPEN_TEMPLATE + _SHARED
    for marker, value in constants.items():
        text = text.replace(marker, value)
    return text


#: The body of the closed Locust file's ``think()`` per sampler (parameters in ``THINK``).
_THINK_BODIES = {
    "none": "    return 0.0",
    "exponential": '    return random.expovariate(1.0 / THINK["mean_s"])',
    "constant": '    return THINK["value_s"]',
    "uniform": '    return random.uniform(THINK["low_s"], THINK["high_s"])',
    # The lognormal's mu and sigma are those of the log of milliseconds (scaleplan's own).
    "lognormal": '    return random.lognormvariate(THINK["mu"], THINK["sigma"]) / 1000.0',
    "gamma": '    return random.gammavariate(THINK["shape"], THINK["scale_s"])',
    "empirical": '    return random.choice(THINK["samples_s"])',
}


def _closed_locustfile(plan: LoadTestPlan) -> str:
    """A closed plan's Locust file: users who think, each keeping its class (no pacing)."""
    sampler, parameters = think_sampler(plan.think_time, plan.scenario)
    shares = plan.class_users or {c.name: c.weight for c in plan.classes}
    ordered = [shares.get(c.name, 0.0) for c in plan.classes]
    steps = [
        {
            "index": step.index,
            "start_s": step.start_s,
            "duration_s": step.duration_s,
            "settle_s": step.settle_s,
            "users": step.users,
            "class_users": split_users(
                dict(zip([c.name for c in plan.classes], ordered, strict=True)), step.users
            ),
            "rate_per_s": round(step.rate_per_s, 6),
            "meets_slos": step.meets_slos,
        }
        for step in plan.steps
    ]
    classes = [{"name": c.name, "method": c.method, "path": c.path} for c in plan.classes]
    constants = {
        "__CANDIDATE__": _in_docstring(plan.candidate),
        "__SCENARIO__": _in_docstring(plan.scenario),
        "__THINK_TEXT__": _in_docstring(think_time_text(plan.think_time)).strip("'"),
        "__THINK_BODY__": _THINK_BODIES[sampler],
        "__THINK_PARAMS__": _literal(parameters),
        "__HOST__": repr(plan.host),
        "__CLASSES__": _literal(classes),
        "__STEPS__": _literal(steps),
        "__THRESHOLDS__": _literal(_thresholds(plan)),
    }
    text = _CLOSED_TEMPLATE + _SHARED
    for marker, value in constants.items():
        text = text.replace(marker, value)
    return text


def _in_docstring(text: str) -> str:
    """``text`` quoted so that it cannot end the file's docstring (or hold a newline)."""
    return repr(text).replace('"', "'")


def _literal(value: object) -> str:
    """A Python literal of plain data (lists, dicts, strings, numbers, booleans, None)."""
    return pprint.pformat(value, indent=1, width=96, sort_dicts=False)


def write_locustfile(plan: LoadTestPlan, path: str | Path) -> Path:
    """Write :func:`locustfile` to ``path`` (its folder must exist)."""
    target = Path(path)
    target.write_text(locustfile(plan), encoding="utf-8")
    return target


def locust_command(locustfile_path: str | Path, host: str, csv_prefix: str | Path) -> list[str]:
    """The command that runs the file headless against ``host``, writing Locust's CSVs.

    ``--csv-full-history`` makes the history hold Locust's current (rolling-window) percentiles
    per interval, which ``scaleplan verify`` needs to judge each step's p50, p95 and p99;
    without it the history's percentiles run from the start of the test.
    """
    return [
        "locust",
        "-f",
        str(locustfile_path),
        "--headless",
        "--host",
        host,
        "--csv",
        str(csv_prefix),
        "--csv-full-history",
    ]


_OPEN_TEMPLATE = '''\
"""Load test of __CANDIDATE__ generated by `scaleplan loadtest` from __SCENARIO__.

Run headless (it stops by itself after the last step):

    locust -f locustfile.py --headless --host http://HOST:PORT --csv results --csv-full-history

The exit code is 1 when an objective is broken over the measured part of the steps at which
the model predicts every objective met (the whole run when it predicts none), else 0.
Only Locust and the standard library are imported; the plan is in the constants below.
"""

import random
import sys
import time

from locust import HttpUser, LoadTestShape, events, task

#: Requests per second each user sends, as planned (each step's own rate over its users
#: sets the period actually kept).
USER_RATE_PER_S = __USER_RATE__

#: The plan's steps: when each starts, how long it lasts and settles, the users it runs.
STEPS = __STEPS__

#: The NFR objectives; ``checked`` ones decide the exit code (throughput is judged by
#: `scaleplan verify`, step by step).
THRESHOLDS = __THRESHOLDS__

_QUANTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}


def _period(environment):
    """Seconds between one user's requests in the current step: its users over its rate."""
    now = environment.shape_class.get_run_time() if environment.shape_class else 0.0
    for step in STEPS:
        if now < step["start_s"] + step["duration_s"]:
            return step["users"] / step["rate_per_s"]
    return 1.0 / USER_RATE_PER_S


class PlannedUser(HttpUser):
    """One user: the request classes weighted by the model's class mix."""

    host = __HOST__

    def on_start(self):
        # Users created together must not send together: a random phase of the period.
        time.sleep(random.uniform(0.0, _period(self.environment)))
        self._due = time.monotonic()

    def wait_time(self):
        # One request per period from the phase on; a late answer is not caught up by a burst.
        now = time.monotonic()
        self._due = max(self._due + _period(self.environment), now)
        return self._due - now

__TASKS__


'''

_CLOSED_TEMPLATE = '''\
"""Load test of __CANDIDATE__ generated by `scaleplan loadtest` from __SCENARIO__.

A closed workload, as the model's: each step runs its users; each user belongs to one request
class, sends its request, waits for the answer (whatever its status), thinks for a time drawn
from the model's think time and sends the next. Nobody paces the users: the requests per
second are what the system lets them send. Think time: __THINK_TEXT__.

Run headless (it stops by itself after the last step):

    locust -f locustfile.py --headless --host http://HOST:PORT --csv results --csv-full-history

The exit code is 1 when an objective is broken over the measured part of the steps at which
the model predicts every objective met (the whole run when it predicts none), else 0.
Only Locust and the standard library are imported; the plan is in the constants below.
"""

import random
import sys
import time

from locust import HttpUser, LoadTestShape, events, task

#: The request classes: a user keeps its class for its life (as the model's users do).
CLASSES = __CLASSES__

#: The plan's steps: when each starts, how long it lasts and settles, the users it runs, each
#: class's users among them (the model's split) and the throughput the model predicts.
STEPS = __STEPS__

#: The NFR objectives; ``checked`` ones decide the exit code (throughput is judged by
#: `scaleplan verify`, step by step).
THRESHOLDS = __THRESHOLDS__

#: The model's think time (__THINK_TEXT__).
THINK = __THINK_PARAMS__

_QUANTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}


def think():
    """One think time in seconds, drawn from the model's distribution."""
__THINK_BODY__


def _step(environment):
    """The step under way (the last one after the end)."""
    now = environment.shape_class.get_run_time() if environment.shape_class else 0.0
    for step in STEPS:
        if now < step["start_s"] + step["duration_s"]:
            return step
    return STEPS[-1]


#: Users holding each class now.
_HELD = [0] * len(CLASSES)


def _claim(environment):
    """The class of a new user: the one furthest below its share of the step's users."""
    wanted = _step(environment)["class_users"]
    index = max(range(len(CLASSES)), key=lambda i: (wanted[i] - _HELD[i], -i))
    _HELD[index] += 1
    return index


class PlannedUser(HttpUser):
    """One user of the closed workload: send, wait for the answer, think, repeat."""

    host = __HOST__

    def on_start(self):
        self._class = _claim(self.environment)
        # Every user starts with a think, as the model's: users created together spread out.
        time.sleep(think())

    def on_stop(self):
        _HELD[self._class] -= 1

    def wait_time(self):
        return think()

    @task
    def send(self):
        request = CLASSES[self._class]
        self.client.request(request["method"], request["path"], name=request["name"])


'''

_SHARED = '''\
class PlannedSteps(LoadTestShape):
    """The plan's steps, back to back; None after the last one ends the test."""

    def tick(self):
        now = self.get_run_time()
        for step in STEPS:
            if now < step["start_s"] + step["duration_s"]:
                # Reach the step's users within about a second.
                return step["users"], max(1, step["users"])
        return None


class _Judged:
    """Response times (ms, rounded as Locust rounds) and failures in the judged windows."""

    def __init__(self):
        self.windows = [
            (s["start_s"] + s["settle_s"], s["start_s"] + s["duration_s"])
            for s in STEPS
            if s["meets_slos"]
        ]
        self.times = {}  # (name or None) -> {ms: count}
        self.requests = {}
        self.failures = {}

    def add(self, name, response_time, failed):
        for key in (None, name):
            counts = self.times.setdefault(key, {})
            rounded = _round(response_time)
            counts[rounded] = counts.get(rounded, 0) + 1
            self.requests[key] = self.requests.get(key, 0) + 1
            if failed:
                self.failures[key] = self.failures.get(key, 0) + 1


def _round(ms):
    """Locust's rounding of a response time (2 significant digits above 100 ms)."""
    ms = float(ms or 0)
    if ms < 100:
        return round(ms)
    if ms < 1000:
        return round(ms, -1)
    if ms < 10000:
        return round(ms, -2)
    return round(ms, -3)


def _percentile(counts, q):
    total = sum(counts.values())
    if not total:
        return 0.0
    wanted = total * q
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= wanted:
            return float(value)
    return float(max(counts))


def _mean(counts):
    total = sum(counts.values())
    return sum(value * n for value, n in counts.items()) / total if total else 0.0


JUDGED = _Judged()


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, exception=None, **kwargs):
    shape = _ENVIRONMENT[0].shape_class if _ENVIRONMENT else None
    if shape is None:
        return
    now = shape.get_run_time()
    if any(start <= now < end for start, end in JUDGED.windows):
        JUDGED.add(name, response_time, exception is not None)


_ENVIRONMENT = []


@events.init.add_listener
def _on_init(environment, **kwargs):
    _ENVIRONMENT.append(environment)


def _figure_from_locust(environment, row):
    """A threshold's figure over the whole run, from Locust's own statistics."""
    stats = environment.stats
    entry = stats.total if row["class"] is None else stats.get(row["class"], row["method"])
    if row["metric"] == "errors":
        return entry.fail_ratio, entry.num_requests
    if row["metric"] == "mean":
        return entry.avg_response_time, entry.num_requests
    return entry.get_response_time_percentile(_QUANTILES[row["metric"]]) or 0.0, entry.num_requests


def _figure_judged(row):
    key = row["class"]
    requests = JUDGED.requests.get(key, 0)
    if row["metric"] == "errors":
        return (JUDGED.failures.get(key, 0) / requests if requests else 0.0), requests
    counts = JUDGED.times.get(key, {})
    if row["metric"] == "mean":
        return _mean(counts), requests
    return _percentile(counts, _QUANTILES[row["metric"]]), requests


@events.quitting.add_listener
def _on_quitting(environment, **kwargs):
    judged = bool(JUDGED.windows) and JUDGED.requests.get(None, 0) > 0
    where = (
        "the steps predicted to meet every objective (after settling)"
        if judged
        else "the whole run"
    )
    broken = []
    for row in THRESHOLDS:
        if not row["checked"]:
            print(f"not checked here: {row['text']} (scaleplan verify judges it per step)")
            continue
        value, requests = _figure_judged(row) if judged else _figure_from_locust(environment, row)
        if not requests:
            print(f"no requests to judge {row['text']} by")
            continue
        shown = f"{100 * value:.3g}%" if row["metric"] == "errors" else f"{value:.1f} ms"
        ok = value <= row["bound"]
        verdict = "met" if ok else "BROKEN"
        print(f"{verdict}: {row['text']} (measured {shown} over {requests} requests)")
        if not ok:
            broken.append(row["text"])
    print(f"judged over {where}")
    if broken:
        print("FAIL: " + ", ".join(broken), file=sys.stderr)
        environment.process_exit_code = 1
    else:
        environment.process_exit_code = 0
'''
