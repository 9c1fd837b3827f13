"""The reference system's services: small real HTTP services, standard library only.

Each service is one process on 127.0.0.1 (``python services.py ROLE --port 0 ...``; it prints
``listening <port>`` on its first line of output once it accepts connections):

- ``gateway``: ``GET /order`` draws a small own time, then calls ``catalog`` and then
  ``orders`` synchronously over keep-alive HTTP connections (one per worker and downstream);
- ``catalog``: ``GET /item`` sleeps a time drawn from an exponential distribution (waiting
  dominates, so the CPU stays low);
- ``orders``: ``GET /order`` sleeps an exponential time, then inserts an order and reads it
  back in one SQLite transaction (WAL journal).

Every service answers ``GET /health`` at once (outside its pool, for readiness probes).

**Each service is exactly a c-server FCFS station**, as scaleplan models a ``service`` with
``concurrency: c``: connection threads only parse HTTP and hand each request to a FIFO queue in
front of a pool of ``c`` worker threads; a worker holds the request for its own time *and* for
the synchronous calls it makes downstream (scaleplan's ``hold_during_calls``), then the
connection thread writes the answer. Requests beyond ``c`` wait in the FIFO, never in the
kernel's accept backlog or in a thread of their own doing work.

Service times come from one seeded ``random.Random`` per service, drawn when a worker starts a
request (so a fixed seed and a fixed arrival order give the same times).

``--otlp-file PATH`` turns on OpenTelemetry tracing (``telemetry.py``: a server span per
request, a worker span inside it, client spans with W3C trace context for the gateway's calls,
OTLP JSON lines in PATH, flushed on SIGTERM). Off by default: then nothing of OpenTelemetry is
imported and the request path is as before.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from telemetry import Tracing

ROLES = ("gateway", "catalog", "orders")
#: The endpoint of each role's one request class (besides /health).
ENDPOINTS = {"gateway": "/order", "catalog": "/item", "orders": "/order"}
#: How often the watchdog checks that the process that started this service still lives.
WATCHDOG_S = 1.0


class DownstreamError(Exception):
    """A downstream call failed (the gateway answers 502)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status  # the downstream's HTTP status; 0 when none came


class WorkerPool:
    """``c`` worker threads behind one FIFO queue: a c-server first-come-first-served station."""

    def __init__(self, workers: int) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], bytes], _Answer] | None] = (
            queue.SimpleQueue()
        )
        self._threads = [
            threading.Thread(target=self._work, name=f"worker-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def run(self, job: Callable[[], bytes]) -> bytes:
        """Queue ``job``, wait until a worker has done it, return its answer (or raise)."""
        answer = _Answer()
        self._jobs.put((job, answer))
        answer.done.wait()
        if answer.error is not None:
            raise answer.error
        return answer.body

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, answer = item
            try:
                answer.body = job()
            except Exception as error:  # handed to the connection thread, which answers 5xx
                answer.error = error
            answer.done.set()


class _Answer:
    __slots__ = ("body", "done", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.body = b""
        self.error: Exception | None = None


class Draws:
    """Exponential service times from one seeded generator shared by a service's workers."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def exponential_s(self, mean_ms: float) -> float:
        if mean_ms <= 0:
            return 0.0
        with self._lock:
            return self._random.expovariate(1000.0 / mean_ms)


class Downstream:
    """Keep-alive HTTP connections to one downstream service, one per worker thread."""

    def __init__(self, url: str, timeout_s: float = 10.0, tracing: Tracing | None = None) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout_s = timeout_s
        self.tracing = tracing
        self._local = threading.local()

    def get(self, path: str) -> bytes:
        if self.tracing is None:
            return self._get(path, {})
        with self.tracing.client("GET", self.host, self.port, path) as call:
            try:
                body = self._get(path, call.headers)
            except DownstreamError as error:
                call.status = error.status
                raise
            call.status = 200
            return body

    def _get(self, path: str, headers: dict[str, str]) -> bytes:
        # One retry on a fresh connection: a kept-alive connection the server closed meanwhile.
        for attempt in (1, 2):
            connection = self._connection()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                body = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise DownstreamError(f"{self.host}:{self.port}{path}: {error}") from error
                continue
            if response.status != 200:
                raise DownstreamError(
                    f"{self.host}:{self.port}{path}: HTTP {response.status}", response.status
                )
            return body
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._local.connection = connection
        return connection


class Orders:
    """The orders service's real work: an insert and a select in one SQLite transaction."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS orders ("
                "id INTEGER PRIMARY KEY, item INTEGER NOT NULL, qty INTEGER NOT NULL, "
                "created REAL NOT NULL)"
            )

    def place(self, item: int, qty: int) -> tuple[int, int, int]:
        db = self._db()
        with db:  # one transaction: commit on success, roll back on error
            db.execute("BEGIN IMMEDIATE")
            cursor = db.execute(
                "INSERT INTO orders (item, qty, created) VALUES (?, ?, ?)",
                (item, qty, time.time()),
            )
            row = db.execute(
                "SELECT id, item, qty FROM orders WHERE id = ?", (cursor.lastrowid,)
            ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            # isolation_level=None: the transaction is the explicit BEGIN IMMEDIATE above.
            db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
            db.execute("PRAGMA synchronous=NORMAL")  # WAL's usual setting: no fsync per commit
            self._local.db = db
        return db


def make_job(
    role: str, args: argparse.Namespace, draws: Draws, tracing: Tracing | None = None
) -> Callable[[], bytes]:
    """The work one request of ``role`` does while it holds a worker."""
    mean_ms = float(args.mean_ms)
    if role == "catalog":

        def catalog() -> bytes:
            time.sleep(draws.exponential_s(mean_ms))
            return b'{"item": 1, "price": 9.5}'

        return catalog
    if role == "orders":
        orders = Orders(args.db)

        def order() -> bytes:
            time.sleep(draws.exponential_s(mean_ms))
            order_id, item, qty = orders.place(1, 1)
            return json.dumps({"order": order_id, "item": item, "qty": qty}).encode()

        return order
    catalog_api = Downstream(args.catalog, tracing=tracing)
    orders_api = Downstream(args.orders, tracing=tracing)

    def gateway() -> bytes:
        time.sleep(draws.exponential_s(mean_ms))
        item = json.loads(catalog_api.get("/item"))
        placed = json.loads(orders_api.get("/order"))
        return json.dumps({"item": item, "order": placed}).encode()

    return gateway


def make_handler(
    role: str, pool: WorkerPool, job: Callable[[], bytes], tracing: Tracing | None = None
) -> type:
    endpoint = ENDPOINTS[role]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive
        disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stalls on small answers

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/health":
                self._answer(200, b'{"status": "ok"}')
            elif path == endpoint and tracing is None:
                self._answer(*self._serve(job))
            elif path == endpoint:
                # The server span starts at the hand-over to the FIFO and ends as the answer is
                # handed to the socket (its time taken before the write: once written, the
                # caller may end its client span first); the worker runs the job under it.
                span = tracing.start_server(self.command, path, self.headers)
                status, body = self._serve(tracing.in_worker(span, job))
                written_ns = self._answer(status, body)
                tracing.end_server(span, status, written_ns)
            else:
                self._answer(404, b'{"error": "not found"}')

        def _serve(self, work: Callable[[], bytes]) -> tuple[int, bytes]:
            try:
                return 200, pool.run(work)
            except DownstreamError as error:
                return 502, json.dumps({"error": str(error)}).encode()
            except Exception as error:
                return 500, json.dumps({"error": repr(error)}).encode()

        def _answer(self, status: int, body: bytes) -> int:
            """Write the answer; return the wall-clock time (ns) just before the write."""
            # Status line, headers and body in one write: one segment on loopback.
            head = (
                f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode("latin-1")
            answer = head + body
            written_ns = time.time_ns()
            self.wfile.write(answer)
            self.log_request(status)
            return written_ns

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: a log line per request would cost more than the request

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # the listen backlog: connections, not requests, wait there


def watchdog(parent: int) -> None:
    """Exit when the process that started this service is gone (no orphans after a crash)."""
    while True:
        time.sleep(WATCHDOG_S)
        if os.getppid() != parent:
            os._exit(0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    parser.add_argument("--workers", type=int, required=True, help="c: the worker threads")
    parser.add_argument("--mean-ms", type=float, required=True, help="mean own time (exp.)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", default="orders.sqlite", help="orders: the SQLite file")
    parser.add_argument("--catalog", default="", help="gateway: catalog's base URL")
    parser.add_argument("--orders", default="", help="gateway: orders' base URL")
    parser.add_argument("--parent", type=int, default=0, help="exit when this pid is gone")
    parser.add_argument(
        "--otlp-file", default="", help="trace every request to PATH (OTLP JSON lines); off: ''"
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if not args.mean_ms >= 0:
        parser.error("--mean-ms must be >= 0")
    if args.role == "gateway" and not (args.catalog and args.orders):
        parser.error("gateway needs --catalog and --orders")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    tracing = None
    if args.otlp_file:
        from telemetry import Tracing  # only with tracing on: OpenTelemetry is not stdlib

        tracing = Tracing(args.role, args.otlp_file)
        # SIGTERM (how the harness stops a service) unwinds serve_forever, so the finally
        # below exports the spans still queued instead of losing them with the process.
        signal.signal(signal.SIGTERM, _stop_serving)
    pool = WorkerPool(args.workers)
    job = make_job(args.role, args, Draws(args.seed), tracing)
    try:
        server = Server(("127.0.0.1", args.port), make_handler(args.role, pool, job, tracing))
    except OSError as error:
        sys.exit(f"{args.role}: cannot listen on 127.0.0.1:{args.port}: {error.strerror}")
    if args.parent:
        threading.Thread(target=watchdog, args=(args.parent,), daemon=True).start()
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if tracing is not None:
            _ignore_stop_signals()  # Ctrl-C reaches the harness too, which then sends SIGTERM
            tracing.shutdown()
        sys.stdout.flush()


def _stop_serving(signum: int, frame: object) -> None:
    _ignore_stop_signals()  # a second signal must not interrupt the flush
    raise KeyboardInterrupt  # caught around serve_forever, like Ctrl-C


def _ignore_stop_signals() -> None:
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.SIG_IGN)


if __name__ == "__main__":
    main()
