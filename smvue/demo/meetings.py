"""The demo's write-back step (F14): schedule, reschedule and cancel a 1:1 through the gateway's
meetings API, and print the manager's calendar following each change, as the emulator shows it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from calendar_emulator.actors import EmulatorAdminClient
from smvue.demo.api import GatewayClient
from smvue.demo.organisation import Manager


def _tag(row: dict) -> str | None:
    event = row["event"]
    private = (event.get("extendedProperties") or {}).get("private") or {}
    transaction = event.get("transactionId") or ""
    return private.get("smvueMeetingId") or (transaction.removeprefix("smvue-") if transaction else None)


def _when(value: dict) -> str:
    text = value["dateTime"].replace("Z", "+00:00")
    if "." in text:  # Graph's seven fractional digits; its times are UTC here (SMVue writes UTC)
        text = text.split(".")[0]
    moment = datetime.fromisoformat(text)
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.strftime("%a %d %b %H:%M")


def describe_event(admin: EmulatorAdminClient, manager: Manager, meeting_id: str) -> str:
    """The meeting's event on the manager's calendar, from the emulator's own records."""
    rows = [r for r in admin.dump(manager.email, manager.provider) if _tag(r) == meeting_id]
    if not rows:
        return "no event on the calendar"
    event = rows[0]["event"]
    title = event.get("summary") or event.get("subject")
    status = "cancelled" if rows[0]["deleted"] else "confirmed"
    people = ", ".join(
        a.get("email") or (a.get("emailAddress") or {}).get("address", "")
        for a in event.get("attendees") or []
    )
    return (
        f"{title!r} {_when(event['start'])}–{_when(event['end'])[-5:]} UTC, {status}, with {people} "
        f"({len(rows)} event{'s' if len(rows) != 1 else ''} tagged {meeting_id})"
    )


def round_trip(api: GatewayClient, admin: EmulatorAdminClient, manager: Manager) -> None:
    rep = manager.reps[0]
    start = (datetime.now(UTC) + timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)
    body = {
        "manager_id": manager.manager_id,
        "rep_id": rep.rep_id,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        "title": f"1:1 {manager.name.split()[0]} / {rep.name.split()[0]}",
        "meeting_type": "Weekly",
    }
    accepted = api.call("POST", "/v1/meetings", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    meeting_id = accepted["meeting_id"]

    def show(step: str) -> None:
        state = api.settled(meeting_id)
        print(
            f"    {step:<11} writeback {state['writeback']:<6} -> {describe_event(admin, manager, meeting_id)}"
        )

    print(f"    {manager.name} ({manager.provider}), meeting {meeting_id}")
    show("scheduled")
    moved = start + timedelta(days=1, hours=1)
    api.call(
        "PATCH",
        f"/v1/meetings/{meeting_id}",
        json={"start": moved.isoformat(), "end": (moved + timedelta(minutes=45)).isoformat()},
    )
    show("rescheduled")
    api.call("DELETE", f"/v1/meetings/{meeting_id}")
    show("cancelled")


def run_meeting_step(api: GatewayClient, admin: EmulatorAdminClient, managers: Sequence[Manager]) -> None:
    """One round trip per manager (one on Google, one on Outlook), through the running gateway."""
    for manager in managers:
        round_trip(api, admin, manager)
