"""Fault injection: what POST /_admin/faults accepts and how a request decides its fate.

A plan is a list of rules. Each API request (admin routes excepted) walks the rules in order; the
first rule that matches and fires decides the fault. Rules fire with a probability (`rate`, drawn
from a seeded generator so chaos runs repeat) and at most `count` times, which makes deterministic
scenarios ("the next delta request gets a 410") one rule long.
"""

from __future__ import annotations

import random
import re
import threading
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FaultKind = Literal[
    "rate_limit",  # Google 403 rateLimitExceeded (or 429 with status=429); Graph 429; Retry-After
    "quota_exceeded",  # Google 403 quotaExceeded (a daily limit: not to be retried quickly)
    "server_error",  # 500 (or `status`: 502/503/504), with Retry-After when set
    "timeout",  # the response stalls for `seconds` before it is sent
    "truncate",  # 200 with the body cut short
    "latency",  # the response is delayed by `latency_ms`
    "sync_token_expired",  # requests that carry a syncToken / deltatoken get the provider's 410
    "unauthorized",  # 401 as if the access token had expired
    "foreign_link",  # Graph @odata.nextLink / deltaLink pointing at `link_base` (another origin)
]

API_PREFIXES = ("/google/calendar/", "/microsoft/v1.0/")


class FaultRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    provider: Literal["google", "microsoft"] | None = None
    path: str | None = Field(None, description="regex searched in the request path")
    method: str | None = None
    user: str | None = Field(None, description="only requests made as this mailbox")
    rate: float = Field(1.0, ge=0.0, le=1.0)
    count: int | None = Field(None, ge=1, description="fire at most this many times")
    status: int | None = Field(None, ge=400, le=599)
    retry_after: float | None = Field(1.0, ge=0)
    latency_ms: int = Field(0, ge=0, le=120_000)
    seconds: float = Field(30.0, ge=0, le=600)
    link_base: str | None = Field(
        None, pattern=r"^https?://[^/?#]+$", description="foreign_link: the origin links are moved to"
    )

    @model_validator(mode="after")
    def _link_base_for_foreign_links(self) -> FaultRule:
        if self.kind == "foreign_link" and not self.link_base:
            raise ValueError("link_base: required for kind foreign_link (e.g. http://127.0.0.1:9)")
        return self

    @field_validator("path")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            re.compile(value)
        return value


class NotificationFaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drop: float = Field(0.0, ge=0.0, le=1.0)
    duplicate: float = Field(0.0, ge=0.0, le=1.0)
    delay_ms_min: int = Field(0, ge=0, le=600_000)
    delay_ms_max: int = Field(0, ge=0, le=600_000)


class FaultPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int | None = None
    rules: list[FaultRule] = []
    notifications: NotificationFaults = NotificationFaults()
    expire_sync_tokens: bool = Field(False, description="invalidate every outstanding sync/delta token now")
    expire_access_tokens: bool = Field(False, description="expire every access token issued so far now")


class FaultInjector:
    """Holds the active plan and draws decisions from it, thread-safely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan = FaultPlan()
        self._fired: list[int] = []
        self._rng = random.Random()

    @property
    def plan(self) -> FaultPlan:
        return self._plan

    def set(self, plan: FaultPlan) -> None:
        with self._lock:
            self._plan = plan
            self._fired = [0] * len(plan.rules)
            self._rng = random.Random(plan.seed)

    def clear(self) -> None:
        self.set(FaultPlan())

    def draw(self, provider: str, method: str, path: str, query: str, user: str | None) -> FaultRule | None:
        """The rule that fires for this request, if any."""
        with self._lock:
            for index, rule in enumerate(self._plan.rules):
                if not _matches(rule, provider, method, path, query, user):
                    continue
                if rule.count is not None and self._fired[index] >= rule.count:
                    continue
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                self._fired[index] += 1
                return rule
        return None

    def notification_fate(self) -> tuple[bool, int, int]:
        """(dropped, copies, delay_ms) for one outgoing notification."""
        faults = self._plan.notifications
        with self._lock:
            if faults.drop and self._rng.random() < faults.drop:
                return True, 0, 0
            copies = 2 if faults.duplicate and self._rng.random() < faults.duplicate else 1
            low, high = faults.delay_ms_min, max(faults.delay_ms_min, faults.delay_ms_max)
            delay = self._rng.randint(low, high) if high else 0
            return False, copies, delay

    def jitter_ms(self, low: int, high: int) -> int:
        with self._lock:
            return self._rng.randint(low, high)


def _matches(rule: FaultRule, provider: str, method: str, path: str, query: str, user: str | None) -> bool:
    if rule.provider and rule.provider != provider:
        return False
    if rule.method and rule.method.upper() != method:
        return False
    if rule.user and (user or "").lower() != rule.user.lower():
        return False
    if rule.path:
        if not re.search(rule.path, path):
            return False
    elif not path.startswith(API_PREFIXES):
        return False  # by default faults hit the calendar APIs, not the OAuth endpoints
    if rule.kind == "sync_token_expired":
        return "syncToken=" in query or "deltatoken=" in query.lower()
    return True
