"""The emulator's whole state: shared identity, both providers' calendars, faults, stats, notifier.

One re-entrant lock guards every mutation; handlers hold it only for in-memory work, never while
doing network I/O (notifications and validation handshakes run outside it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from calendar_emulator.backend import ProviderBackend
from calendar_emulator.clock import Clock
from calendar_emulator.endpoint_health import EndpointHealth, SlowEndpointPolicy
from calendar_emulator.faults import FaultInjector, FaultPlan
from calendar_emulator.notifier import Notifier
from calendar_emulator.stats import Stats
from calendar_emulator.store import IdentityStore


@dataclass
class EmulatorConfig:
    graph_max_subscription_minutes: int = 4230
    graph_validation_timeout: float = 10.0  # seconds a notificationUrl has to answer the handshake
    google_max_channel_seconds: int = 7 * 24 * 3600
    access_token_ttl: int = 3600
    notification_batch_window: float = 0.05
    notification_retry_base: float = 0.5
    # Graph's slow-endpoint throttling (providers.md); the admin API can change these at run time.
    graph_slow_ms: float = 2900.0
    graph_slow_min_notifications: int = 100
    graph_slow_delay_share: float = 0.10
    graph_slow_drop_share: float = 0.15
    graph_slow_delay_seconds: float = 600.0


class EmulatorState:
    """Built by calendar_emulator.providers.new_state, which attaches both providers' backends
    (`google`, `microsoft`); this module knows neither provider."""

    google: ProviderBackend
    microsoft: ProviderBackend

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.lock = threading.RLock()
        self.clock = Clock()
        self.stats = Stats()
        self.faults = FaultInjector()
        self.identity = IdentityStore(self.clock, access_token_ttl=self.config.access_token_ttl)
        self.notifier = Notifier(
            self.faults,
            self.stats,
            batch_window=self.config.notification_batch_window,
            retry_base=self.config.notification_retry_base,
            health=EndpointHealth(
                SlowEndpointPolicy(
                    slow_ms=self.config.graph_slow_ms,
                    min_notifications=self.config.graph_slow_min_notifications,
                    delay_share=self.config.graph_slow_delay_share,
                    drop_share=self.config.graph_slow_drop_share,
                    delay_seconds=self.config.graph_slow_delay_seconds,
                )
            ),
        )

    def backend(self, provider: str) -> ProviderBackend:
        return self.google if provider == "google" else self.microsoft

    def apply_faults(self, plan: FaultPlan) -> None:
        with self.lock:
            self.faults.set(plan)
            if plan.expire_sync_tokens:
                self.google.invalidate_sync_tokens()
                self.microsoft.invalidate_sync_tokens()
            if plan.expire_access_tokens:
                self.identity.expire_access_tokens()

    def close(self) -> None:
        self.notifier.stop()
