"""Chaos with gateway replicas: two `smvue gateway` processes on one PostgreSQL database take a burst
of genuine Google notifications spread over both (each connection alternates replicas, as a load
balancer would), and one replica is `kill -9`'d mid-burst. A notification the dead replica did
not answer is sent again to the survivor, with the same message number (a provider's retry).

Verdict, per channel: every acknowledged notification has its queue row (lost = 0), and no
message number has two rows (duplicates = 0: rows <= distinct numbers sent).

Trials: `--trials` (each a fresh database and a fresh pair of replicas).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from bench.gateway_throughput import (
    _read_response,
    free_port,
    google_headers,
    request_bytes,
    seed,
    start_gateway,
)
from bench.postgres import throwaway_server

CHANNELS = 40
SENDERS = 8
PER_SENDER = 400
HOST = "127.0.0.1"


def replicas(args, workdir: Path) -> dict:
    from smvue_core.opstore import OpStore
    from smvue_core.security.cipher import TokenCipher

    trials = max(1, min(args.trials, 5))
    figures = Counter()
    rates = []
    with throwaway_server() as server:
        for trial in range(trials):
            with server.database() as url:
                key = TokenCipher.generate_key()
                channels = seed(url, key, CHANNELS)
                homes = [workdir / f"trial{trial}-replica{i}" for i in range(2)]
                ports = [free_port(), free_port()]
                gateways = [start_gateway(h, key, p, url) for h, p in zip(homes, ports, strict=True)]
                try:
                    outcome = _burst(channels, ports, gateways[1])
                finally:
                    for process in gateways:
                        if process.poll() is None:
                            process.send_signal(signal.SIGTERM)
                            try:
                                process.wait(timeout=20)
                            except subprocess.TimeoutExpired:
                                process.kill()
                rows = _rows_per_channel(OpStore(url))
                for channel_id, _, _ in channels:
                    acked = outcome["acked"][channel_id]
                    sent = outcome["numbers"][channel_id]
                    have = rows.get(channel_id, 0)
                    figures["lost"] += max(0, acked - have)
                    figures["duplicates"] += max(0, have - sent)
                figures["acknowledged"] += sum(outcome["acked"].values())
                figures["retried_on_survivor"] += outcome["retried"]
                figures["trials"] += 1
                rates.append(outcome["acked_per_s_before_kill"])
    result = dict(figures)
    result["acked_per_s_two_replicas_before_kill"] = round(sorted(rates)[len(rates) // 2])
    return {"passed": figures["lost"] == 0 and figures["duplicates"] == 0, "figures": result}


def _rows_per_channel(store) -> dict[str, int]:
    """Queue rows per channel (the bench seeds one channel per connection)."""
    rows = store.query(
        "SELECT w.watch_id, count(q.queue_id) AS n FROM watches w "
        "LEFT JOIN change_queue q ON q.connection_id = w.connection_id GROUP BY w.watch_id"
    )
    return {r["watch_id"]: r["n"] for r in rows}


def _burst(channels, ports: list[int], victim: subprocess.Popen) -> dict:
    acked: Counter = Counter()
    numbers: Counter = Counter()  # distinct message numbers sent per channel
    retried = [0]
    lock = threading.Lock()
    done = [0]
    started = time.perf_counter()
    killed_at: list[float] = []
    acked_before_kill = [0]

    def sender(index: int) -> None:
        mine = [c for i, c in enumerate(channels) if i % SENDERS == index]
        sockets: dict[int, socket.socket] = {}
        buffers: dict[int, bytearray] = {}
        alive = list(range(len(ports)))
        for k in range(PER_SENDER):
            channel = mine[k % len(mine)]
            number = 1000 + k // len(mine) + 1  # increasing per channel: one sender per channel
            with lock:
                numbers[channel[0]] += 1
            payload = request_bytes("/webhooks/google", google_headers(channel, number))
            replica = alive[k % len(alive)]
            while True:
                try:
                    sock = sockets.get(replica)
                    if sock is None:
                        sock = sockets[replica] = socket.create_connection((HOST, ports[replica]), timeout=10)
                        buffers[replica] = bytearray()
                    sock.sendall(payload)
                    status = _read_response(sock, buffers[replica])
                except OSError:
                    # The replica died under this request: the provider retries on the survivor.
                    sockets.pop(replica, None)
                    if replica in alive and len(alive) > 1:
                        alive.remove(replica)
                    replica = alive[0]
                    with lock:
                        retried[0] += 1
                    continue
                break
            with lock:
                if status in (200, 202):
                    acked[channel[0]] += 1
                    if not killed_at:
                        acked_before_kill[0] += 1
                done[0] += 1
        for sock in sockets.values():
            sock.close()

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(SENDERS)]
    for t in threads:
        t.start()
    total = SENDERS * PER_SENDER
    kill_after = random.randint(total // 3, 2 * total // 3)  # noqa: S311 - mid-burst, anywhere
    while True:
        with lock:
            if done[0] >= kill_after:
                break
        time.sleep(0.001)
    killed_at.append(time.perf_counter())
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    for t in threads:
        t.join()
    return {
        "acked": acked,
        "numbers": numbers,
        "retried": retried[0],
        "acked_per_s_before_kill": acked_before_kill[0] / max(killed_at[0] - started, 1e-6),
    }
