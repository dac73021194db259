"""What each provider's state model offers the admin API (the provider's own API is in its urls.py)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from calendar_emulator.store import User


class ProviderBackend(ABC):
    """Calendars and events of one provider. Callers hold `state.lock` around every call."""

    def __init__(self, state) -> None:
        # The EmulatorState that owns this backend (its lock, clock, identity, notifier, config);
        # not imported here, so that the state never depends on a provider's model.
        self.state = state

    @abstractmethod
    def create_mailbox(self, user: User) -> str:
        """Give a new user a primary calendar (idempotent); returns its calendar id."""

    @abstractmethod
    def add_calendar(self, user: User, name: str) -> str:
        """A secondary calendar owned by the user; returns its id."""

    @abstractmethod
    def invalidate_sync_tokens(self, user: User | None = None) -> None:
        """Every outstanding sync token / delta link (of this user, or of all) now answers 410."""

    @abstractmethod
    def seed_events(self, user: User, calendar_id: str | None, events: list[dict]) -> list[str]:
        """Insert provider-shaped event bodies as the user would (same validation, same notifications)."""

    @abstractmethod
    def watches(self) -> list[dict]:
        """Channels / subscriptions, stopped and expired ones included, with an `active` flag."""
