"""The one place that knows both providers: it builds an EmulatorState with the Google and
Microsoft backends attached, and renders a provider's stored items for the admin API's dump.

The state (state.py) and the backend interface (backend.py) know no provider; each provider's
state model (models.py) knows neither HTTP shapes nor the other provider."""

from __future__ import annotations

from calendar_emulator.google.models import GoogleBackend
from calendar_emulator.microsoft.models import GraphBackend
from calendar_emulator.microsoft.serialize import dump_mailbox
from calendar_emulator.state import EmulatorConfig, EmulatorState
from calendar_emulator.store import User


def new_state(config: EmulatorConfig | None = None) -> EmulatorState:
    state = EmulatorState(config)
    state.google = GoogleBackend(state)
    state.microsoft = GraphBackend(state)
    return state


def dump(state: EmulatorState, provider: str, user: User) -> list[dict]:
    """Every stored item of the user's calendars, tombstones included, for test assertions:
    [{"calendar_id", "id", "deleted", "event"}] (the event in the provider's JSON shape)."""
    if provider == "google":
        return state.google.dump(user)  # type: ignore[attr-defined]  # stored as Google JSON
    return dump_mailbox(state.microsoft, user)  # type: ignore[arg-type]
