"""Outgoing push notifications: real HTTP POSTs to channel and subscription addresses.

Google messages are body-less POSTs, one per change; Graph change notifications to the same URL are
batched in one `{"value": [...]}` POST per short window. Fault injection decides per message
whether it is dropped, duplicated or delayed (delays reorder). Deliveries are retried the way each
provider documents it: Google retries 500/502/503/504, Graph retries any failure. Graph also
delays, then drops, deliveries to endpoints that answer slowly (endpoint_health.py).
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote

import requests

from calendar_emulator.endpoint_health import DELAYED, DROPPED, EndpointHealth
from calendar_emulator.faults import FaultInjector
from calendar_emulator.stats import Stats

log = logging.getLogger("calendar_emulator.notifier")

GOOGLE_RETRYABLE = {500, 502, 503, 504}
GRAPH_KINDS = ("graph", "graph_lifecycle")


@dataclass
class Delivery:
    kind: str  # google | graph | graph_lifecycle
    url: str
    headers: dict[str, str]
    body: bytes | None = None
    attempt: int = 0
    items: int = 1  # notifications in the body (a Graph batch holds several)


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    action: str = field(compare=False)  # deliver | graph_item | flush
    delivery: Delivery | None = field(default=None, compare=False)
    url: str = field(default="", compare=False)
    item: dict | None = field(default=None, compare=False)
    lifecycle: bool = field(default=False, compare=False)


class Notifier:
    def __init__(
        self,
        faults: FaultInjector,
        stats: Stats,
        workers: int = 8,
        batch_window: float = 0.05,
        retry_base: float = 0.5,
        max_attempts: int = 5,
        timeout: float = 10.0,
        health: EndpointHealth | None = None,
    ) -> None:
        self.health = health or EndpointHealth()
        self._faults = faults
        self._stats = stats
        self._batch_window = batch_window
        self._retry_base = retry_base
        self._max_attempts = max_attempts
        self._timeout = timeout
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._batches: dict[tuple[str, bool], list[dict]] = {}
        self._in_flight = 0
        self._stopping = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emulator-notify")
        self._local = threading.local()
        self._thread = threading.Thread(target=self._run, name="emulator-notifier", daemon=True)
        self._thread.start()

    # --- enqueueing --------------------------------------------------------------------------
    def send_google(self, address: str, headers: dict[str, str]) -> None:
        dropped, copies, delay_ms = self._faults.notification_fate()
        self._count_fate(dropped, copies)
        for _ in range(copies):
            delivery = Delivery("google", address, {"User-Agent": "APIs-Google", **headers})
            self._push(_Entry(self._due(delay_ms), next(self._seq), "deliver", delivery=delivery))

    def send_graph(self, url: str, item: dict, lifecycle: bool = False) -> None:
        dropped, copies, delay_ms = self._faults.notification_fate()
        self._count_fate(dropped, copies)
        for _ in range(copies):
            self._push(
                _Entry(
                    self._due(delay_ms),
                    next(self._seq),
                    "graph_item",
                    url=url,
                    item=item,
                    lifecycle=lifecycle,
                )
            )

    def validate_endpoint(self, url: str, token: str, timeout: float = 10.0) -> bool:
        """Graph's validation handshake: the endpoint must echo the decoded token as text/plain
        within `timeout` seconds (Graph allows 10)."""
        separator = "&" if "?" in url else "?"
        try:
            response = self._session().post(
                f"{url}{separator}validationToken={quote(token, safe='')}",
                headers={"Content-Type": "text/plain; charset=utf-8"},
                data=b"",
                timeout=timeout,
            )
        except requests.RequestException as exc:
            log.info("validation of %s failed: %s", url, exc)
            self._stats.count_notification("validation_failed")
            return False
        content_type = response.headers.get("content-type", "")
        ok = response.status_code == 200 and response.text == token and content_type.startswith("text/plain")
        self._stats.count_notification("validation_ok" if ok else "validation_failed")
        return ok

    # --- waiting -----------------------------------------------------------------------------
    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._in_flight + sum(len(b) for b in self._batches.values())

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._heap) + self._in_flight + sum(len(b) for b in self._batches.values()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # --- internals ---------------------------------------------------------------------------
    def _due(self, delay_ms: int) -> float:
        return time.monotonic() + delay_ms / 1000.0

    def _count_fate(self, dropped: bool, copies: int) -> None:
        if dropped:
            self._stats.count_notification("dropped")
        elif copies > 1:
            self._stats.count_notification("duplicated")

    def _push(self, entry: _Entry) -> None:
        with self._cond:
            heapq.heappush(self._heap, entry)
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (not self._heap or self._heap[0].due > time.monotonic()):
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._stopping:
                    return
                entry = heapq.heappop(self._heap)
                if entry.action == "graph_item":
                    key = (entry.url, entry.lifecycle)
                    batch = self._batches.setdefault(key, [])
                    batch.append(entry.item)  # type: ignore[arg-type]
                    if len(batch) == 1:
                        flush_at = time.monotonic() + self._batch_window
                        heapq.heappush(
                            self._heap,
                            _Entry(
                                flush_at, next(self._seq), "flush", url=entry.url, lifecycle=entry.lifecycle
                            ),
                        )
                    self._cond.notify_all()
                    continue
                if entry.action == "flush":
                    items = self._batches.pop((entry.url, entry.lifecycle), [])
                    if not items:
                        self._cond.notify_all()
                        continue
                    entry.delivery = Delivery(
                        "graph_lifecycle" if entry.lifecycle else "graph",
                        entry.url,
                        {"Content-Type": "application/json"},
                        json.dumps({"value": items}).encode(),
                        items=len(items),
                    )
                    verdict = self.health.verdict(entry.url)
                    if verdict == DROPPED:
                        self._stats.count_notification("dropped_slow_endpoint", len(items))
                        self._cond.notify_all()
                        continue
                    if verdict == DELAYED:
                        self._stats.count_notification("delayed_slow_endpoint", len(items))
                        due = time.monotonic() + self.health.policy.delay_seconds
                        heapq.heappush(
                            self._heap, _Entry(due, next(self._seq), "deliver", delivery=entry.delivery)
                        )
                        self._cond.notify_all()
                        continue
                self._in_flight += 1
            self._pool.submit(self._deliver, entry.delivery)

    def _count_speed(self, delivery: Delivery, elapsed: float | None) -> None:
        """Graph deliveries feed the endpoint's health; any slow answer shows in the stats."""
        if delivery.kind in GRAPH_KINDS:
            slow = self.health.record(delivery.url, elapsed)
        else:
            slow = elapsed is None or elapsed * 1000 > self.health.policy.slow_ms
        if slow:
            self._stats.count_notification("slow")

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # never route loopback deliveries through a proxy
            self._local.session = session
        return session

    def _deliver(self, delivery: Delivery) -> None:
        retry = False
        graph = delivery.kind in GRAPH_KINDS
        try:
            started = time.monotonic()
            response = self._session().post(
                delivery.url, headers=delivery.headers, data=delivery.body or b"", timeout=self._timeout
            )
            status = response.status_code
            self._count_speed(delivery, time.monotonic() - started)
            delivered = 200 <= status < 300 or (delivery.kind == "google" and status == 102)
            retry = not delivered and (delivery.kind != "google" or status in GOOGLE_RETRYABLE)
        except requests.Timeout as exc:
            log.debug("delivery to %s timed out: %s", delivery.url, exc)
            self._count_speed(delivery, None)
            delivered, retry = False, True
        except requests.RequestException as exc:
            log.debug("delivery to %s failed: %s", delivery.url, exc)
            delivered, retry = False, True
        if delivered:
            self._stats.count_notification(f"delivered_{delivery.kind}")
        elif retry and delivery.attempt + 1 < self._max_attempts:
            delivery.attempt += 1
            self._stats.count_notification("retried")
            backoff = self._retry_base * 2 ** (delivery.attempt - 1)
            if graph and self.health.verdict(delivery.url) == DELAYED:
                backoff = self.health.policy.delay_seconds  # a flagged endpoint's retries wait too
            due = time.monotonic() + backoff
            self._push(_Entry(due, next(self._seq), "deliver", delivery=delivery))
        else:
            self._stats.count_notification(f"failed_{delivery.kind}")
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()
