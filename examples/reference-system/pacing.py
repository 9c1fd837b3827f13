"""How Locust's pacing shapes the load: constant_throughput users against Poisson-paced users.

    python examples/reference-system/pacing.py --users 15 --run-time 25

Runs the reference system, then real Locust (headless, bounded by ``--run-time`` and a timeout)
three times at the same offered rate (``users`` × 1 request/s): with ``constant_throughput(1)``;
with one request a second per user from a random phase; with each user sending at Poisson times
of its own (exponential gaps on a schedule, so a slow answer does not shift the next send). It
prints what Locust measured beside what the model (architecture.yaml, Poisson arrivals)
predicts at that rate.

Why it matters: Locust's ``constant_pacing``/``constant_throughput`` keeps each user's phase
from the moment the user was *created* (``User._cp_last_run``), and Locust creates a step's
users together when the spawn rate is at least their number, so they send in lock-step: a
burst of ``users`` requests every second, not the Poisson stream the model (and the plan's
predicted bands) assume. The measured latency is then far above the prediction although the
system is as modelled. A superposition of independent Poisson-paced users is Poisson.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import system  # noqa: E402 (this folder is not a package)

PACINGS = {
    "constant_throughput": "    wait_time = constant_throughput(1.0)\n",
    "random_phase": (
        "    def on_start(self):\n"
        "        # A random phase: users created together must not send together.\n"
        "        time.sleep(random.uniform(0, 1.0))\n"
        "        self.due = time.monotonic()\n"
        "\n"
        "    def wait_time(self):\n"
        "        # One request a second from that phase; a late answer is not caught up.\n"
        "        now = time.monotonic()\n"
        "        self.due = max(self.due + 1.0, now)\n"
        "        return self.due - now\n"
    ),
    "poisson": (
        "    def wait_time(self):\n"
        "        # The next send is due an exponential gap after the last one was due.\n"
        "        now = time.monotonic()\n"
        "        self.due = max(getattr(self, 'due', now), now - 1.0) + random.expovariate(1.0)\n"
        "        return max(0.0, self.due - now)\n"
    ),
}

LOCUSTFILE = """import random
import time

from locust import HttpUser, constant_throughput, task


class Orders(HttpUser):
{pacing}
    @task
    def order(self):
        self.client.get("/order", name="order")
"""


def run_locust(url: str, pacing: str, users: int, run_time_s: int, folder: Path) -> dict:
    locustfile = folder / f"{pacing}.py"
    locustfile.write_text(LOCUSTFILE.format(pacing=PACINGS[pacing]))
    prefix = folder / pacing
    subprocess.run(
        [
            *(sys.executable, "-m", "locust", "-f", str(locustfile), "--headless"),
            *("--host", url, "--users", str(users), "--spawn-rate", str(users)),
            *("--run-time", f"{run_time_s}s", "--stop-timeout", "2", "--csv", str(prefix)),
            "--only-summary",
        ],
        capture_output=True,
        timeout=run_time_s + 60,
        check=True,
    )
    with open(f"{prefix}_stats.csv", newline="") as file:
        return next(row for row in csv.DictReader(file) if row["Name"] == "order")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=15, help="users, each 1 request/s")
    parser.add_argument("--run-time", type=int, default=25, help="seconds per Locust run")
    args = parser.parse_args()
    from scaleplan.engine import simulate
    from scaleplan.spec import load_spec

    model = simulate(
        load_spec(HERE / "architecture.yaml"),
        seed=1,
        rate_per_s=float(args.users),
        requests=10_000,
        replications=3,
    ).latency_ms
    print(
        f"model at {args.users} requests/s: mean {model.mean:.0f} ms, p50 {model.p50:.0f}, "
        f"p95 {model.p95:.0f}, p99 {model.p99:.0f}"
    )
    with tempfile.TemporaryDirectory(prefix="refsys-pacing-") as folder:
        for pacing in PACINGS:
            with system.running() as running:
                row = run_locust(running.url, pacing, args.users, args.run_time, Path(folder))
            print(
                f"locust {pacing:20}: {float(row['Requests/s']):.1f} requests/s, mean "
                f"{float(row['Average Response Time']):.0f} ms, p50 {row['50%']}, "
                f"p95 {row['95%']}, p99 {row['99%']}, failures {row['Failure Count']}"
            )


if __name__ == "__main__":
    main()
