"""Write-back workers on the gateway's worker registry (F14): started and stopped with the app.

Each thread owns one `WritebackWorker` (provider sessions are per thread). They poll the outbox
every `interval` seconds — other processes may enqueue too — and the meetings API kicks them the
moment it commits a change, so a new meeting reaches the calendar without waiting for a poll.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from smvue_core.writeback.worker import WorkerConfig, WritebackWorker, writeback_providers
from webhook_gateway.workers import WorkerRegistry

PREFIX = "writeback-"
MAX_ROUNDS_PER_RUN = 50  # then yield, so a flood never starves the stop signal


def register_writeback(
    services,
    *,
    threads: int = 4,
    interval: float = 1.0,
    config: WorkerConfig | None = None,
) -> list[WritebackWorker]:
    """Add `threads` write-back workers to the gateway's registry; returns them (tests inspect)."""
    registry: WorkerRegistry = services.workers
    if any(name.startswith(PREFIX) for name in registry.periodic):
        return []  # already registered (an app built twice on the same services)
    providers = writeback_providers(services.settings)
    workers = []
    for index in range(threads):
        worker = WritebackWorker(
            services.store, services.cipher, providers, config=config, clock=registry.clock
        )
        registry.every(f"{PREFIX}{index}", interval, _drain(worker))
        workers.append(worker)
    return workers


def _drain(worker: WritebackWorker) -> Callable[[datetime], None]:
    def run(now: datetime) -> None:
        for _ in range(MAX_ROUNDS_PER_RUN):
            if worker.run_once() == 0:
                return

    return run


def kick_writeback(registry: WorkerRegistry) -> None:
    """Wake every write-back worker now (after a meeting change committed)."""
    for name, worker in registry.periodic.items():
        if name.startswith(PREFIX):
            worker.kick()
