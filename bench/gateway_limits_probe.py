"""What an unauthenticated client can make the gateway hold (issue #13, items 2 and 5).

    .venv/bin/python bench/gateway_limits_probe.py [--body-mb 300] [--slow 300] [--wait 60]

Starts `smvue gateway` in its own process on a temporary SMVUE_HOME (no emulator needed: nothing
here reaches a provider), then:

- body: POSTs `--body-mb` MB to /v1/meetings without a token, streamed from a generator (chunked),
  and reports the answer and the gateway's peak RSS (VmHWM) before and after; then the same with
  the token (the body cap's turn);
- slow: opens `--slow` connections that send half a request's headers and then nothing, and
  reports how many the gateway closed and when (up to `--wait` s), while a genuine client keeps
  asking GET /healthz once a second (answered / asked).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


API_TOKEN = "probe-token-" + "x" * 32


def start_gateway(home: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMVUE_")}
    env.update({"SMVUE_HOME": str(home), "SMVUE_API_TOKEN": API_TOKEN})
    smvue = Path(sys.executable).with_name("smvue")
    process = subprocess.Popen(  # noqa: S603
        [str(smvue), "gateway", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code == 200:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the gateway did not start")


def body_probe(port: int, pid: int, megabytes: int, token: str | None = None) -> dict:
    chunk = b"x" * (1 << 20)

    def body():
        for _ in range(megabytes):
            yield chunk

    before = peak_rss_mb(pid)
    started = time.monotonic()
    try:
        answer = requests.post(
            f"http://{HOST}:{port}/v1/meetings",
            data=body(),
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
            timeout=120,
        )
        outcome = f"{answer.status_code} {answer.text[:100]}"
    except requests.RequestException as exc:
        outcome = f"{type(exc).__name__}: {str(exc)[:100]}"
    return {
        "body_mb": megabytes,
        "answer": outcome,
        "seconds": round(time.monotonic() - started, 2),
        "peak_rss_mb_before": round(before, 1),
        "peak_rss_mb_after": round(peak_rss_mb(pid), 1),
    }


def slow_probe(port: int, connections: int, wait: float) -> dict:
    selector = selectors.DefaultSelector()
    opened = time.monotonic()
    for _ in range(connections):
        sock = socket.create_connection((HOST, port))
        sock.sendall(b"POST /webhooks/google HTTP/1.1\r\nHost: x\r\nX-Goog-Chan")  # and nothing more
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    closed_after: list[float] = []
    answers: dict[str, int] = {}
    asked = answered = 0
    next_probe = time.monotonic()
    deadline = opened + wait
    while selector.get_map() and time.monotonic() < deadline:
        if time.monotonic() >= next_probe:
            asked += 1
            with contextlib.suppress(requests.RequestException):
                answered += requests.get(f"http://{HOST}:{port}/healthz", timeout=5).status_code == 200
            next_probe += 1.0
        for key, _ in selector.select(timeout=0.1):
            sock = key.fileobj
            try:
                data = sock.recv(4096)  # type: ignore[union-attr]
            except OSError:
                data = b""
            if data:
                status = data.split(b"\r\n", 1)[0].decode("latin-1")
                answers[status] = answers.get(status, 0) + 1
            selector.unregister(sock)
            sock.close()  # type: ignore[union-attr]
            closed_after.append(time.monotonic() - opened)
    still_open = len(selector.get_map())
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    return {
        "connections": connections,
        "closed": len(closed_after),
        "still_open_after_s": round(wait, 1) if still_open else None,
        "still_open": still_open,
        "first_closed_s": round(min(closed_after), 2) if closed_after else None,
        "last_closed_s": round(max(closed_after), 2) if closed_after else None,
        "answers": answers,
        "healthz_answered": f"{answered}/{asked}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--body-mb", type=int, default=300)
    parser.add_argument("--slow", type=int, default=300)
    parser.add_argument("--wait", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smvue-limits-") as home:
        port = free_port()
        gateway = start_gateway(Path(home), port)
        try:
            result = {
                "body": body_probe(port, gateway.pid, args.body_mb) if args.body_mb else None,
                "body_with_token": body_probe(port, gateway.pid, args.body_mb, API_TOKEN)
                if args.body_mb
                else None,
                "slow": slow_probe(port, args.slow, args.wait) if args.slow else None,
            }
        finally:
            gateway.terminate()
            try:
                gateway.wait(15)
            except subprocess.TimeoutExpired:
                gateway.kill()
                gateway.wait()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
