"""Recognizing SMVue's own events in provider-shaped JSON (Google or Graph), as the providers or
the emulator's admin dump render them — for checks and tests that look at calendars directly."""

from __future__ import annotations

from smvue_core.providers.base import SMVUE_TAG
from smvue_core.providers.outlook.mapping import meeting_id_from_transaction


def smvue_meeting_id(event: dict) -> str | None:
    """The SMVue meeting an event was created for: Google's private extended property, Graph's
    single-value extended property, or (where a dump omits those) Graph's transactionId."""
    private = (event.get("extendedProperties") or {}).get("private") or {}
    if private.get(SMVUE_TAG):
        return private[SMVUE_TAG]
    suffix = f"name {SMVUE_TAG}".lower()
    for prop in event.get("singleValueExtendedProperties") or []:
        if prop.get("id", "").lower().endswith(suffix):
            return prop.get("value")
    return meeting_id_from_transaction(event.get("transactionId"))
