"""Background work the gateway does outside requests, on daemon threads started with the app.

- periodic workers (`every`): e.g. `watch_maintenance`, which retries pending watch stops and
  finishes disconnects (revoke, then delete the tokens);
- a task queue (`submit`): one-off jobs that must not delay an acknowledgement, e.g. reauthorizing
  or recreating a Graph subscription after a lifecycle event.

Other features register their own (write-back workers add themselves with `every`). The clock and
the intervals are injectable; `kick` runs a periodic worker now, and `wait_idle` lets tests wait on
the task queue instead of sleeping.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime

from smvue_core.clock import Clock, now_utc

log = logging.getLogger(__name__)


class PeriodicWorker:
    """Runs `fn(now)` every `interval` seconds (and at once when kicked) until stopped."""

    def __init__(self, name: str, interval: float, fn: Callable[[datetime], object], clock: Clock) -> None:
        self.name = name
        self.interval = interval
        self.fn = fn
        self.clock = clock
        self.runs = 0
        self._started = 0  # runs begun; a run begun after a kick sees everything before it
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._done = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"gateway-{self.name}", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def kick(self) -> None:
        self._wake.set()

    def kick_and_wait(self, timeout: float = 10.0) -> bool:
        """Kick, then wait for a run that began after the kick. A run already under way when
        kicked (another caller's kick, the timer) may have read state from before the kick, so
        it does not count."""
        with self._done:
            target = self._started + 1
        self.kick()
        return self.wait_runs(target, timeout)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> None:
        try:
            self.fn(self.clock())
            self.last_error = None
        except Exception as exc:  # a worker outlives any one failure; the next round retries
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("background worker %s failed", self.name)
        with self._done:
            self.runs += 1
            self._done.notify_all()

    def wait_runs(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until the worker has completed `count` runs in total."""
        with self._done:
            return self._done.wait_for(lambda: self.runs >= count, timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._done:
                self._started += 1
            self.run_once()


class TaskQueue:
    """One daemon thread running submitted jobs in order."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="gateway-tasks", daemon=True)
            self._thread.start()

    def submit(self, name: str, fn: Callable[[], object]) -> None:
        self.start()  # lazily, so apps served without a lifespan still run their tasks
        self._queue.put((name, fn))

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once every submitted task has finished."""
        done = threading.Event()

        def joiner() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=joiner, daemon=True).start()
        return done.wait(timeout)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                name, fn = item
                try:
                    fn()
                except Exception:
                    log.exception("background task %s failed", name)
            finally:
                self._queue.task_done()


class WorkerRegistry:
    """The gateway's background workers: started with the app, stopped with it."""

    def __init__(self, clock: Clock = now_utc) -> None:
        self.clock = clock
        self.periodic: dict[str, PeriodicWorker] = {}
        self.tasks = TaskQueue()
        self._started = False

    def every(self, name: str, interval: float, fn: Callable[[datetime], object]) -> PeriodicWorker:
        """Register `fn(now)` to run every `interval` seconds (started now if the registry runs)."""
        worker = PeriodicWorker(name, interval, fn, self.clock)
        self.periodic[name] = worker
        if self._started:
            worker.start()
        return worker

    def submit(self, name: str, fn: Callable[[], object]) -> None:
        self.tasks.submit(name, fn)

    def kick(self, name: str) -> None:
        self.periodic[name].kick()

    def start(self) -> None:
        self._started = True
        self.tasks.start()
        for worker in self.periodic.values():
            worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._started = False
        for worker in self.periodic.values():
            worker.stop(timeout)
        self.tasks.stop(timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        return self.tasks.wait_idle(timeout)

    def status(self) -> dict[str, bool]:
        alive = {name: worker.alive() for name, worker in self.periodic.items()}
        alive["tasks"] = self.tasks.alive()
        return alive
