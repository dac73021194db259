"""Forged and fuzzed gateway input: zero accepted, zero 5xx, zero enqueued.

`smvue gateway` runs in its own process on a private SMVUE_HOME whose operational store holds real
Google channels and Graph subscriptions (their secrets stored as digests). Then: forged
notifications of every kind (wrong / missing tokens and clientStates, unknown channels, resource
mismatches, bad states, malformed and oversized bodies, forged lifecycle events), forged app API
and OAuth calls, and seeded random fuzz (methods, paths, headers, bodies). The change queue must
not grow. A final control of genuine notifications must be accepted, or the gateway was simply
refusing everything.
"""

from __future__ import annotations

import http.client
import json
import random
import signal
import subprocess
import uuid
from collections import Counter
from pathlib import Path

from bench.chaos.checks import scan
from bench.common import HOST, REPO, free_port, smvue_command
from bench.smvue_sync import smvue_env

WEBHOOKS = ("/webhooks/google", "/webhooks/microsoft", "/webhooks/microsoft/lifecycle")


def seed_watches(home: Path, key: str, count: int) -> tuple[list, list]:
    """`count` Google channels and `count` Graph subscriptions: (channel, token) pairs."""
    from smvue_core.opstore import OpStore
    from smvue_core.opstore.connections import ConnectionRepository
    from smvue_core.security.cipher import TokenCipher
    from smvue_core.security.watch_secrets import secret_digest

    store = OpStore(home / "operational.sqlite")
    repo = ConnectionRepository(store, TokenCipher(key))
    google, graph = [], []
    stamp = "2024-01-01T00:00:00.000000+00:00"
    for index in range(count):
        for provider in ("google", "microsoft"):
            connection = repo.connect(
                f"mgr-{provider}-{index}", provider, f"{provider}{index}@forged.example", "{}"
            )
            watch_id = f"smvue-{uuid.uuid4().hex}" if provider == "google" else str(uuid.uuid4())
            resource_id = f"resource-{uuid.uuid4().hex[:12]}" if provider == "google" else None
            secret = uuid.uuid4().hex + uuid.uuid4().hex
            with store.transaction() as conn:
                conn.execute(
                    """INSERT INTO watches (watch_id, connection_id, calendar_id, provider, resource_id,
                           secret_sha256, expires_at, state, created_at, updated_at)
                       VALUES (?, ?, ?, ?, ?, ?, '2999-01-01T00:00:00.000000+00:00', 'active', ?, ?)""",
                    (
                        watch_id,
                        connection.connection_id,
                        "primary",
                        provider,
                        resource_id,
                        secret_digest(secret),
                        stamp,
                        stamp,
                    ),
                )
            (google if provider == "google" else graph).append((watch_id, resource_id, secret))
    store.close()
    return google, graph


def queue_rows(home: Path) -> int:
    from smvue_core.opstore import OpStore

    store = OpStore(home / "operational.sqlite")
    try:
        return store.query_one("SELECT count(*) AS n FROM change_queue")["n"]
    finally:
        store.close()


class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)
        self.statuses: Counter = Counter()
        self.by_case: dict[str, Counter] = {}

    def send(
        self, case: str, method: str, path: str, headers: dict | None = None, body: bytes | None = None
    ) -> int:
        for attempt in range(2):
            try:
                self.conn.putrequest(method, path, skip_accept_encoding=True)
                for name, value in (headers or {}).items():
                    self.conn.putheader(name, value)
                if body is not None:
                    self.conn.putheader("Content-Length", str(len(body)))
                self.conn.endheaders(body)
                response = self.conn.getresponse()
                response.read()
                status = response.status
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                if attempt:
                    status = 0  # the server closed the connection: refused, not accepted
        self.statuses[status] += 1
        self.by_case.setdefault(case, Counter())[status] += 1
        return status


def google_headers(channel: str, resource: str | None, token: str | None, state: str = "exists") -> dict:
    headers = {"X-Goog-Channel-ID": channel, "X-Goog-Resource-State": state, "X-Goog-Message-Number": "3"}
    if resource is not None:
        headers["X-Goog-Resource-ID"] = resource
    if token is not None:
        headers["X-Goog-Channel-Token"] = token
    return headers


def graph_body(items: list[dict]) -> bytes:
    return json.dumps({"value": items}).encode()


def forged_traffic(client: Client, google: list, graph: list, rng: random.Random) -> None:
    json_type = {"Content-Type": "application/json"}
    for _ in range(200):
        channel, resource, _ = rng.choice(google)
        client.send(
            "google wrong token",
            "POST",
            "/webhooks/google",
            google_headers(channel, resource, "forged-" + uuid.uuid4().hex),
        )
    for _ in range(100):
        channel, resource, _ = rng.choice(google)
        client.send(
            "google missing token", "POST", "/webhooks/google", google_headers(channel, resource, None)
        )
    for _ in range(150):
        _, resource, token = rng.choice(google)
        client.send(
            "google unknown channel",
            "POST",
            "/webhooks/google",
            google_headers(f"smvue-{uuid.uuid4().hex}", resource, token),
        )
    for _ in range(100):
        channel, _, token = rng.choice(google)
        client.send(
            "google resource mismatch",
            "POST",
            "/webhooks/google",
            google_headers(channel, "other-resource", token),
        )
    for _ in range(50):
        channel, resource, token = rng.choice(google)
        client.send(
            "google bogus state",
            "POST",
            "/webhooks/google",
            google_headers(channel, resource, token, "bogus"),
        )
    for _ in range(50):
        client.send("google no headers", "POST", "/webhooks/google", {})
    for _ in range(50):
        _, resource, token = rng.choice(google)
        client.send(
            "google oversized id",
            "POST",
            "/webhooks/google",
            google_headers("x" * rng.randint(257, 8000), resource, token),
        )
    for _ in range(50):  # a Graph subscription's id and secret are no Google channel
        sub, _, secret = rng.choice(graph)
        client.send("google with graph secret", "POST", "/webhooks/google", google_headers(sub, "r", secret))

    for _ in range(200):
        sub, _, _ = rng.choice(graph)
        item = {"subscriptionId": sub, "clientState": "forged", "changeType": "updated"}
        client.send("graph wrong clientState", "POST", "/webhooks/microsoft", json_type, graph_body([item]))
    for _ in range(150):
        _, _, secret = rng.choice(graph)
        item = {"subscriptionId": str(uuid.uuid4()), "clientState": secret, "changeType": "updated"}
        client.send(
            "graph unknown subscription", "POST", "/webhooks/microsoft", json_type, graph_body([item])
        )
    for _ in range(100):
        sub, _, _ = rng.choice(graph)
        client.send(
            "graph missing clientState",
            "POST",
            "/webhooks/microsoft",
            json_type,
            graph_body([{"subscriptionId": sub, "changeType": "updated"}]),
        )
    for _ in range(50):  # a Google channel's id and token are no Graph subscription
        channel, _, token = rng.choice(google)
        item = {"subscriptionId": channel, "clientState": token, "changeType": "updated"}
        client.send("graph with google secret", "POST", "/webhooks/microsoft", json_type, graph_body([item]))
    for _ in range(100):
        client.send(
            "graph malformed json",
            "POST",
            "/webhooks/microsoft",
            json_type,
            rng.randbytes(rng.randint(1, 300)),
        )
    for body in (
        b"{}",
        b"[]",
        b'{"value": {}}',
        b'{"value": "x"}',
        b'{"value": [1, 2]}',
        b'{"value": [null]}',
        b"null",
    ):
        for _ in range(10):
            client.send("graph wrong shapes", "POST", "/webhooks/microsoft", json_type, body)
    for _ in range(20):
        client.send(
            "graph deep nesting",
            "POST",
            "/webhooks/microsoft",
            json_type,
            b'{"value": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        )
    for _ in range(5):
        sub, _, _ = rng.choice(graph)
        items = [{"subscriptionId": sub, "clientState": "forged", "changeType": "updated"}] * 20000
        client.send("graph oversized batch", "POST", "/webhooks/microsoft", json_type, graph_body(items))
    for _ in range(50):
        sub, _, _ = rng.choice(graph)
        item = {"subscriptionId": sub, "clientState": "forged", "lifecycleEvent": "missed"}
        client.send(
            "graph forged lifecycle", "POST", "/webhooks/microsoft/lifecycle", json_type, graph_body([item])
        )
    for _ in range(50):
        client.send(
            "graph wrong content type",
            "POST",
            "/webhooks/microsoft",
            {"Content-Type": "text/plain"},
            b"value=1",
        )

    bearer = {"Authorization": "Bearer forged-" + uuid.uuid4().hex}
    for _ in range(30):
        client.send("api without token", "GET", "/v1/connections")
        client.send("api forged token", "GET", "/v1/connections", bearer)
        client.send("api forged meeting", "POST", "/v1/meetings", bearer | json_type, b'{"manager_id": "x"}')
        client.send(
            "oauth forged state", "GET", f"/oauth/google/callback?state={uuid.uuid4().hex}&code=forged"
        )
        client.send(
            "oauth forged state", "GET", f"/oauth/microsoft/callback?state={uuid.uuid4().hex}&code=forged"
        )


def fuzz(client: Client, google: list, rng: random.Random, count: int) -> None:
    methods = ("POST", "GET", "PUT", "PATCH", "DELETE")
    names = (
        "X-Goog-Channel-ID",
        "X-Goog-Resource-ID",
        "X-Goog-Resource-State",
        "X-Goog-Channel-Token",
        "X-Goog-Message-Number",
        "Content-Type",
        "X-Random",
    )
    for _ in range(count):
        path = rng.choice(WEBHOOKS + ("/webhooks/", "/webhooks/google/x", "/oauth/google/callback"))
        headers = {}
        for name in rng.sample(names, rng.randint(0, len(names))):
            kind = rng.random()
            if kind < 0.3:
                channel, resource, token = rng.choice(google)
                value = rng.choice((channel, resource, token[:-1] + "x", "exists", "sync"))
            elif kind < 0.6:
                value = "".join(chr(rng.randint(33, 126)) for _ in range(rng.randint(0, 300)))
            else:
                value = rng.randbytes(rng.randint(1, 40)).hex()
            headers[name] = value
        body = rng.choice(
            (
                None,
                b"",
                rng.randbytes(rng.randint(1, 4096)),
                json.dumps({"value": [{"x": rng.random()}]}).encode(),
            )
        )
        client.send("fuzz", rng.choice(methods), path, headers, body)


def forged(args, workdir: Path) -> dict:
    from smvue_core.security.cipher import TokenCipher

    home = workdir / "home"
    home.mkdir(parents=True)
    key = TokenCipher.generate_key()
    google, graph = seed_watches(home, key, 10)
    port = free_port()
    env = smvue_env(home, "http://127.0.0.1:9", key)
    log = open(workdir / "gateway.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [*smvue_command(), "gateway", "--host", HOST, "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        client = Client(port)
        import time

        deadline = time.monotonic() + 60
        while client.send("startup", "GET", "/healthz") != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.2)
        client.statuses.clear()
        client.by_case.pop("startup", None)
        before = queue_rows(home)
        rng = random.Random(7)
        forged_traffic(client, google, graph, rng)
        fuzz(client, google, rng, args.fuzz)
        enqueued = queue_rows(home) - before
        statuses = dict(client.statuses)
        by_case = {case: dict(counts) for case, counts in client.by_case.items()}
        accepted = sum(n for status, n in statuses.items() if 200 <= status < 300)
        server_errors = sum(n for status, n in statuses.items() if status >= 500)
        # Control: genuine notifications are still accepted and queued.
        control = Client(port)
        for channel, resource, token in google[:10]:
            control.send(
                "genuine google", "POST", "/webhooks/google", google_headers(channel, resource, token)
            )
        for sub, _, secret in graph[:10]:
            item = {"subscriptionId": sub, "clientState": secret, "changeType": "updated"}
            control.send(
                "genuine graph",
                "POST",
                "/webhooks/microsoft",
                {"Content-Type": "application/json"},
                graph_body([item]),
            )
        control_rows = queue_rows(home) - before - enqueued
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    secrets = [token for _, _, token in google + graph] + [key]
    leaks = scan([home], secrets)
    sent = sum(statuses.values())
    return {
        "passed": accepted == 0
        and server_errors == 0
        and enqueued == 0
        and control_rows == 20
        and leaks["hits"] == 0,
        "figures": {
            "requests": sent,
            "accepted": accepted,
            "server_errors": server_errors,
            "enqueued": enqueued,
            "connection_refused": statuses.get(0, 0),
            "genuine_control_enqueued": f"{control_rows}/20",
            "canary_hits": leaks["hits"],
        },
        "statuses": {str(k): v for k, v in statuses.items()},
        "by_case": {case: {str(k): v for k, v in counts.items()} for case, counts in by_case.items()},
        "scan": leaks,
    }
