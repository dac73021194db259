"""Gateway throughput: verified + durably enqueued Google notifications vs. the same server's empty
endpoint (SPEC.md, Performance: >= 90% of the empty endpoint's rate, p99 ack <= 25 ms, zero lost).

    .venv/bin/python bench/gateway_throughput.py [--drivers auto] [--rounds 3] [--connections 16]

The gateway runs as `smvue gateway` in its own process (production configuration: uvicorn with
uvloop and httptools) on a temporary SMVUE_HOME whose opstore holds N valid Google channels, and with
SMVUE_BENCH_NOOP=1, which adds `POST /webhooks/_noop` (no work, routed just ahead of the webhooks)
as the baseline. Both endpoints get the very same requests (headers included), over keep-alive
connections, from separate processes; each connection sends its next request as soon as the
previous one is answered. Empty and notification rounds alternate, so background noise hits both,
and medians are reported, with the server's CPU time per request (steadier than rates on a busy
machine). Load generators:

- wrk (default when installed: `apt-get install wrk`): C, saturates the server, hardly competes
  with it for CPU. Duration-based, so up to one request per connection is still in flight when it
  stops: such a request may be committed without being counted as acknowledged (reported as
  `in_flight_at_stop`); `lost` counts acknowledged notifications without a queue row.
- raw: Python processes writing prebuilt requests to sockets, a fixed count per round, so the
  queue must hold exactly one row per acknowledged notification.
- http.client: one multi-threaded Python process; it is slower than the server, so requests
  arrive one at a time, each notification pays a commit of its own, and the figure says more about
  added latency than about the rate the server sustains.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smvue_core.opstore import OpStore  # noqa: E402
from smvue_core.opstore.connections import ConnectionRepository  # noqa: E402
from smvue_core.security.cipher import TokenCipher  # noqa: E402
from smvue_core.security.watch_secrets import secret_digest  # noqa: E402

HOST = "127.0.0.1"


# --- the opstore: N connections with one valid channel each --------------------------------------
def seed(target, key: str, watches: int) -> list[tuple[str, str, str]]:
    store = OpStore(target)
    repo = ConnectionRepository(store, TokenCipher(key))
    channels = []
    for index in range(watches):
        connection = repo.connect(f"bench-manager-{index}", "google", f"m{index}@example.com", "{}")
        channel_id, resource_id, token = (
            f"smvue-bench-{index}",
            f"resource-{index}",
            f"token-{index:04d}-" + "x" * 32,
        )
        with store.transaction() as conn:
            conn.execute(
                """INSERT INTO watches (watch_id, connection_id, calendar_id, provider, resource_id,
                       secret_sha256, expires_at, state, created_at, updated_at)
                   VALUES (?, ?, ?, 'google', ?, ?, '2999-01-01T00:00:00.000000+00:00', 'active', ?, ?)""",
                (
                    channel_id,
                    connection.connection_id,
                    f"m{index}@example.com",
                    resource_id,
                    secret_digest(token),
                    "2024-01-01T00:00:00.000000+00:00",
                    "2024-01-01T00:00:00.000000+00:00",
                ),
            )
        channels.append((channel_id, resource_id, token))
    store.close()
    return channels


def queue_rows(target) -> int:
    store = OpStore(target)
    try:
        return store.query_one("SELECT count(*) AS n FROM change_queue")["n"]
    finally:
        store.close()


# --- the server ------------------------------------------------------------------------------------
def start_gateway(home: Path, key: str, port: int, database_url: str | None = None) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if k != "SMVUE_DATABASE_URL"},
        "SMVUE_HOME": str(home),
        "SMVUE_SECRET_KEY": key,
        "SMVUE_API_TOKEN": "bench-token-" + "x" * 32,
        "SMVUE_BENCH_NOOP": "1",
    }
    if database_url:
        env["SMVUE_DATABASE_URL"] = database_url
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("smvue")), "gateway", "--host", HOST, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1) as probe:
                probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if probe.recv(64).startswith(b"HTTP/1.1 200"):
                    return process
        except OSError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"the gateway exited with status {process.returncode}")
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the gateway did not become healthy within 60 s")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


# --- the load: processes x threads, keep-alive connections, fixed request counts ------------------
def google_headers(channel: tuple[str, str, str], number: int) -> dict[str, str]:
    channel_id, resource_id, token = channel
    return {
        "User-Agent": "APIs-Google",
        "Content-Length": "0",
        "X-Goog-Channel-ID": channel_id,
        "X-Goog-Message-Number": str(number),
        "X-Goog-Resource-ID": resource_id,
        "X-Goog-Resource-State": "exists",
        "X-Goog-Resource-URI": f"https://www.googleapis.com/calendar/v3/calendars/{channel_id}/events",
        "X-Goog-Channel-Token": token,
    }


def request_bytes(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {HOST}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_response(sock: socket.socket, buffer: bytearray) -> int:
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        rest += chunk
    buffer[:] = rest[length:]
    return status


def _connection_worker(port: int, client: str, requests: list, out: list, start: threading.Barrier) -> None:
    latencies, statuses = [], {}
    if client == "raw":  # prebuilt bytes over a socket: the cheapest client Python can be
        sock = socket.create_connection((HOST, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        payloads = [request_bytes(path, headers) for path, headers in requests]
        buffer = bytearray()
        start.wait()
        for payload in payloads:
            sent = time.perf_counter()
            sock.sendall(payload)
            status = _read_response(sock, buffer)
            latencies.append(time.perf_counter() - sent)
            statuses[status] = statuses.get(status, 0) + 1
        sock.close()
    else:  # http.client, keep-alive: what the brief and SPEC's own baseline figures used
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        start.wait()
        for path, headers in requests:
            sent = time.perf_counter()
            conn.request("POST", path, body=b"", headers=headers)
            response = conn.getresponse()
            response.read()
            latencies.append(time.perf_counter() - sent)
            statuses[response.status] = statuses.get(response.status, 0) + 1
        conn.close()
    out.append((latencies, statuses))


def _load_process(port, client: str, per_thread: list[list], ready, go, results) -> None:
    out: list = []
    barrier = threading.Barrier(len(per_thread) + 1)
    threads = [
        threading.Thread(target=_connection_worker, args=(port, client, reqs, out, barrier))
        for reqs in per_thread
    ]
    for thread in threads:
        thread.start()
    ready.put(1)
    go.wait()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    ended = time.perf_counter()
    latencies = [lat for lats, _ in out for lat in lats]
    statuses: dict[int, int] = {}
    for _, counts in out:
        for status, count in counts.items():
            statuses[status] = statuses.get(status, 0) + count
    results.put((began, ended, latencies, statuses))


def drive(port: int, path: str, channels, total: int, processes: int, threads: int, client: str) -> dict:
    connections = processes * threads
    # The gateway refuses a message number that is not newer than its channel's last one, as a
    # replay: each connection gets channels of its own, and numbers rise from round to round
    # (microseconds since the epoch outgrow any round's request count).
    base = time.time_ns() // 1000
    per_connection = []
    for c in range(connections):
        own = channels[c::connections] or [channels[c % len(channels)]]
        count = total // connections + (1 if c < total % connections else 0)
        per_connection.append(
            [(path, google_headers(own[i % len(own)], base + i * connections + c)) for i in range(count)]
        )
    context = multiprocessing.get_context("fork")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    workers = [
        context.Process(
            target=_load_process,
            args=(port, client, per_connection[p * threads : (p + 1) * threads], ready, go, results),
        )
        for p in range(processes)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=60)
    go.set()
    collected = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    began = min(c[0] for c in collected)
    ended = max(c[1] for c in collected)
    latencies = sorted(lat for c in collected for lat in c[2])
    statuses: dict[int, int] = {}
    for c in collected:
        for status, count in c[3].items():
            statuses[status] = statuses.get(status, 0) + count
    return {"rate": total / (ended - began), "latencies": latencies, "statuses": statuses}


WRK_SCRIPT = r"""
local channels = {CHANNELS}
local thread_count = {THREADS}
local threads = {}
function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end
function init(args)
  -- Each thread its own channels, and message numbers that rise per channel and from round to
  -- round (the gateway refuses one not newer than its channel's last as a replay).
  acked, other, n = 0, 0, 0
  base = os.time() * 1000000
  mine = {}
  for i, c in ipairs(channels) do
    if (i - 1) % thread_count == index or #channels < thread_count then table.insert(mine, c) end
  end
end
function request()
  n = n + 1
  if #mine == 0 then
    return wrk.format("POST", wrk.path, {["Content-Length"] = "0"})
  end
  local c = mine[(n % #mine) + 1]
  return wrk.format("POST", wrk.path, {
    ["Content-Length"] = "0",
    ["User-Agent"] = "APIs-Google",
    ["X-Goog-Channel-ID"] = c[1],
    ["X-Goog-Message-Number"] = string.format("%d", base + n),
    ["X-Goog-Resource-ID"] = c[2],
    ["X-Goog-Resource-State"] = "exists",
    ["X-Goog-Channel-Token"] = c[3],
  })
end
function response(status, headers, body)
  if status == 202 then acked = acked + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local a, o = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("acked"); o = o + t:get("other") end
  io.write(string.format("WRKRESULT %d %f %d %d %f %f %f\n", summary.requests, summary.duration / 1e6,
    a, o, latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def drive_wrk(port: int, path: str, channels, seconds: float, connections: int, threads: int) -> dict:
    """wrk (C, epoll) for a load generator that hardly competes with the server for CPU. Duration-
    based: requests still in flight when it stops may be committed without being counted as
    acknowledged, so `queue_rows - acknowledged` is at most the number of connections."""
    entries = ",".join(f'{{"{c}","{r}","{t}"}}' for c, r, t in (channels or []))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.replace("{CHANNELS}", "{" + entries + "}").replace("{THREADS}", str(threads)))
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "-s",
                script.name,
                f"http://{HOST}:{port}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    fields = next(line for line in out.splitlines() if line.startswith("WRKRESULT ")).split()[1:]
    requests, seconds, acked, other = int(fields[0]), float(fields[1]), int(fields[2]), int(fields[3])
    p50, p95, p99 = (float(v) for v in fields[4:7])
    return {
        "rate": requests / seconds,
        "acked": acked,
        "other": other,
        "ms": {"p50": p50, "p95": p95, "p99": p99},
    }


def percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def measure(driver: str, port: int, channels, home, server_pid: int, args) -> dict:
    """Alternating rounds (empty endpoint, then notifications) with one load generator."""
    if driver == "wrk" or driver == "raw":
        connections, processes = args.connections, 2
    else:  # http.client: one multi-threaded process, as in the brief
        connections, processes = args.client_threads, 1
    threads = max(1, connections // processes)

    def run(path: str) -> dict:
        # The empty endpoint gets the very same requests (headers included): only the work differs.
        if driver == "wrk":
            return drive_wrk(port, path, channels, args.seconds, connections, processes)
        result = drive(port, path, channels, args.requests, processes, threads, driver)
        lat = result["latencies"]
        return {
            "rate": result["rate"],
            "acked": result["statuses"].get(202, 0),
            "other": sum(n for code, n in result["statuses"].items() if code != 202),
            "latencies": lat,
            "ms": {q: percentile(lat, f) for q, f in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))},
        }

    run("/webhooks/_noop")  # warm-up, both paths
    run("/webhooks/google")
    baseline_rows = queue_rows(home)
    empty_rates, rates, p99s, empty_p99s, latencies = [], [], [], [], []
    cpu: dict[str, list[float]] = {"empty": [], "notification": []}
    acknowledged = other = 0
    for _ in range(args.rounds):
        before = cpu_seconds(server_pid)
        empty = run("/webhooks/_noop")
        middle = cpu_seconds(server_pid)
        verified = run("/webhooks/google")
        after = cpu_seconds(server_pid)
        empty_rates.append(empty["rate"])
        empty_p99s.append(empty["ms"]["p99"])
        rates.append(verified["rate"])
        p99s.append(verified["ms"]["p99"])
        latencies.extend(verified.get("latencies", []))
        acknowledged += verified["acked"]
        other += verified["other"]
        if before is not None:
            cpu["empty"].append((middle - before) / (empty["acked"] + empty["other"]) * 1e6)
            cpu["notification"].append((after - middle) / (verified["acked"] + verified["other"]) * 1e6)
    rows = queue_rows(home) - baseline_rows
    if latencies:  # exact percentiles over every notification of every round
        latencies.sort()
        ack_ms = {q: percentile(latencies, f) for q, f in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}
        p99 = ack_ms["p99"]
    else:  # wrk's own percentiles per round; the worst round counts
        ack_ms = {"p99_worst_round": max(p99s)}
        p99 = max(p99s)
    empty_rate, rate = statistics.median(empty_rates), statistics.median(rates)
    ratio = rate / empty_rate
    # wrk stops mid-flight: rows may exceed the acknowledged count by up to one per connection.
    lost = max(0, acknowledged - rows)
    return {
        "load": f"{connections} keep-alive connections"
        + ("" if driver == "wrk" else f", {processes} process(es), {args.requests} requests per round")
        + (f", {args.seconds} s per round" if driver == "wrk" else ""),
        "empty_endpoint_per_s": round(empty_rate),
        "notifications_per_s": round(rate),
        "ratio": round(ratio, 3),
        "rounds_empty_per_s": [round(r) for r in empty_rates],
        "rounds_notifications_per_s": [round(r) for r in rates],
        # Server CPU per request: less sensitive to other load on the machine than the rates.
        "server_cpu_us_per_request": {
            name: round(statistics.median(values), 1) if values else None for name, values in cpu.items()
        },
        "ack_ms": {k: round(v, 2) for k, v in ack_ms.items()},
        "empty_p99_ms_worst_round": round(max(empty_p99s), 2),
        "acknowledged": acknowledged,
        "queue_rows": rows,
        "lost": lost,
        "in_flight_at_stop": rows - acknowledged if rows >= acknowledged else 0,
        "non_202": other,
        "meets_targets": ratio >= 0.9 and p99 <= 25 and lost == 0 and other == 0,
    }


def run_backend(backend: str, drivers: list[str], args) -> dict:
    """Every driver against one gateway process on one store (a fresh one)."""
    from contextlib import ExitStack

    home = Path(tempfile.mkdtemp(prefix="smvue-gateway-bench-"))
    key = TokenCipher.generate_key()
    with ExitStack() as stack:
        database_url = None
        if backend == "postgresql":
            from bench.postgres import throwaway_server

            server_pg = stack.enter_context(throwaway_server())
            database_url = stack.enter_context(server_pg.database())
        elif backend != "sqlite":
            raise SystemExit(f"--backends: unknown backend {backend!r} (sqlite, postgresql)")
        target = database_url or home / "operational.sqlite"
        channels = seed(target, key, args.watches)
        port = free_port()
        server = start_gateway(home, key, port, database_url)
        try:
            return {driver: measure(driver, port, channels, target, server.pid, args) for driver in drivers}
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            shutil.rmtree(home, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--watches", type=int, default=100, help="valid channels (notifications spread over them)"
    )
    parser.add_argument(
        "--drivers",
        default="auto",
        help="comma-separated: wrk (C; saturates the server), raw (Python sockets, 2 processes), "
        "http.client (one multi-threaded Python process). auto = wrk if installed, else raw: a rate is "
        "what the server sustains, so the default load generator is the one that saturates it",
    )
    parser.add_argument(
        "--requests", type=int, default=20_000, help="Python drivers: notifications per round"
    )
    parser.add_argument("--seconds", type=int, default=5, help="wrk: seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="empty/notification round pairs per driver")
    parser.add_argument("--connections", type=int, default=16, help="wrk/raw: keep-alive connections")
    parser.add_argument("--client-threads", type=int, default=8, help="http.client: threads (connections)")
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="operational stores to measure in this run: sqlite (the file under SMVUE_HOME) and/or "
        "postgresql (a throwaway embedded server on this machine, over its Unix socket)",
    )
    args = parser.parse_args(argv)
    drivers = args.drivers.split(",")
    if drivers == ["auto"]:
        drivers = ["wrk" if shutil.which("wrk") else "raw"]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    by_backend = {}
    for backend in backends:
        by_backend[backend] = run_backend(backend, drivers, args)
    report = {
        "benchmark": "gateway_throughput",
        "command": "python bench/gateway_throughput.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "server": "smvue gateway (uvicorn, uvloop, httptools), one process",
        "watches": args.watches,
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "targets": {"ratio": ">= 0.90", "p99_ms": "<= 25", "lost": 0},
        # `drivers`: the SQLite store (the embedded default); `postgresql`: the same on PostgreSQL.
        "drivers": by_backend.get("sqlite", {}),
        **({"postgresql": {"drivers": by_backend["postgresql"]}} if "postgresql" in by_backend else {}),
    }
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
