"""The write-back worker against the emulator through the real clients: reschedule and cancel reach
the calendar, superseded changes collapse, transient failures back off and then fail visibly, and
nothing that is not SMVue's own event is ever touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smvue_core.providers.google.mapping import event_id_for_meeting
from smvue_core.writeback.worker import WorkerConfig
from tests.writeback.conftest import event_times, smvue_tag

PROVIDERS = ["google", "microsoft"]


def later(days: int = 3, hour: int = 14) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def own_event(team, start: datetime, title: str = "Dentist") -> str:
    """An event the manager made themselves, untagged."""
    actor = team.mailbox.actor()
    end = start + timedelta(minutes=45)
    if team.mailbox.provider == "google":
        return actor.insert(
            {"summary": title, "start": {"dateTime": start.isoformat()}, "end": {"dateTime": end.isoformat()}}
        )["id"]
    return actor.create(
        {
            "subject": title,
            "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": end.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
        }
    )["id"]


def by_id(rows: list[dict], event_id: str) -> dict:
    return next(r for r in rows if event_id in (r["id"], r.get("immutable_id")))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_reschedule_and_cancel_reach_the_calendar(wb, provider):
    team = wb.team(provider)
    meeting_id = wb.service.schedule(wb.request(team)).meeting_id
    wb.drain()
    created = wb.meeting(meeting_id)
    assert created.writeback_state == "synced"

    new_start = later(days=4, hour=15)
    wb.service.reschedule(meeting_id, new_start, new_start + timedelta(minutes=45))
    assert wb.meeting(meeting_id).writeback_state == "pending"
    wb.drain()
    moved = wb.meeting(meeting_id)
    assert (moved.writeback_state, moved.version, moved.provider_event_id) == (
        "synced",
        2,
        created.provider_event_id,
    )
    row = by_id(wb.events(team), created.provider_event_id)
    assert event_times(row) == (new_start, new_start + timedelta(minutes=45)) and not row["deleted"]

    wb.service.cancel(meeting_id)
    wb.drain()
    cancelled = wb.meeting(meeting_id)
    assert (cancelled.status, cancelled.writeback_state) == ("cancelled", "synced")
    assert by_id(wb.events(team), created.provider_event_id)["deleted"]
    assert [r for r in wb.events(team, live_only=True) if smvue_tag(r) == meeting_id] == []


@pytest.mark.parametrize("provider", PROVIDERS)
def test_changes_queued_before_the_worker_ran_collapse_into_one_write(wb, provider):
    team = wb.team(provider)
    meeting_id = wb.service.schedule(wb.request(team)).meeting_id
    final = later(days=5, hour=9)
    wb.service.reschedule(meeting_id, final - timedelta(hours=1), final - timedelta(minutes=30))
    wb.service.reschedule(meeting_id, final, final + timedelta(minutes=30))
    wb.drain()
    assert [o.state for o in wb.outbox.for_meeting(meeting_id)] == ["superseded", "superseded", "done"]
    live = wb.events(team, live_only=True)
    assert len(live) == 1 and event_times(live[0]) == (final, final + timedelta(minutes=30))
    assert wb.meeting(meeting_id).writeback_state == "synced"

    # Scheduled and cancelled before anything was written: nothing ever reaches the calendar.
    gone_id = wb.service.schedule(wb.request(team, start=final + timedelta(days=1))).meeting_id
    wb.service.cancel(gone_id)
    wb.drain()
    assert wb.meeting(gone_id).writeback_state == "synced"
    assert [smvue_tag(r) for r in wb.events(team)] == [meeting_id]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_transient_failures_back_off_then_fail_visibly(wb, provider):
    team = wb.team(provider)
    email = team.mailbox.email
    outage = {"kind": "server_error", "status": 503, "retry_after": 0, "method": "POST", "user": email}
    worker = wb.worker(WorkerConfig(lease_seconds=30, max_attempts=3, backoff_base_seconds=10))

    # One outbox attempt's worth of 503s (the client tries three times), then the provider is back.
    wb.sync.admin.faults({"rules": [{**outage, "count": 3}]})
    meeting_id = wb.service.schedule(wb.request(team)).meeting_id
    assert worker.run_once() == 1
    first = wb.outbox.latest(meeting_id)
    assert (first.state, first.attempts) == ("pending", 1) and "ProviderUnavailable" in first.last_error
    assert wb.meeting(meeting_id).writeback_state == "pending"
    assert worker.run_once() == 0  # not due before its backoff
    wb.clock.advance(10)
    assert worker.run_once() == 1
    assert wb.meeting(meeting_id).writeback_state == "synced"
    assert len(wb.events(team, live_only=True)) == 1

    # A provider that stays down: 10 s, 20 s of backoff, then `failed` with the error, for all to see.
    wb.sync.admin.faults({"rules": [outage]})
    other = wb.service.schedule(wb.request(team, start=later(days=6))).meeting_id
    for wait in (0, 10, 20):
        wb.clock.advance(wait)
        assert worker.run_once() == 1
    wb.sync.admin.clear_faults()
    failed = wb.meeting(other)
    assert failed.writeback_state == "failed"
    assert failed.writeback_error.startswith("gave up after 3 attempts: ProviderUnavailable")
    assert wb.outbox.latest(other).state == "failed"
    assert wb.meetings.counts() == {"synced": 1, "failed": 1}
    assert [smvue_tag(r) for r in wb.events(team)] == [meeting_id]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_tampered_event_id_is_refused_and_the_event_left_untouched(wb, provider):
    team = wb.team(provider)
    meeting_id = wb.service.schedule(wb.request(team)).meeting_id
    wb.drain()
    ours = wb.meeting(meeting_id).provider_event_id
    theirs = own_event(team, later(days=3, hour=8))
    before = wb.events(team)
    # Someone points the meeting at the manager's own event, then asks SMVue to move and cancel it.
    with wb.store.transaction() as conn:
        conn.execute("UPDATE meetings SET provider_event_id = ? WHERE meeting_id = ?", (theirs, meeting_id))
    start = later(days=9)
    wb.service.reschedule(meeting_id, start, start + timedelta(minutes=30))
    wb.drain()
    refused = wb.meeting(meeting_id)
    assert refused.writeback_state == "failed"
    assert (
        refused.writeback_error.startswith("refused: calendar event")
        and "not tagged by SMVue" in refused.writeback_error
    )
    assert wb.outbox.latest(meeting_id).state == "refused"
    wb.service.cancel(meeting_id)
    wb.drain()
    assert wb.outbox.latest(meeting_id).state == "refused"
    after = wb.events(team)
    assert by_id(after, theirs) == by_id(before, theirs)
    assert by_id(after, ours) == by_id(before, ours)


def test_google_409_on_an_event_that_is_not_ours_is_refused(wb):
    team = wb.team("google")
    meeting_id = wb.service.schedule(wb.request(team)).meeting_id
    squatter = event_id_for_meeting(meeting_id)
    start = later(days=2, hour=7)
    # Something else already holds the id SMVue derives from the meeting id, tagged for another meeting.
    team.mailbox.actor().insert(
        {
            "id": squatter,
            "summary": "Not SMVue's",
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
            "extendedProperties": {"private": {"smvueMeetingId": "mtg_someone_else"}},
        }
    )
    before = wb.events(team)
    wb.drain()
    meeting = wb.meeting(meeting_id)
    assert meeting.writeback_state == "failed" and "tagged 'mtg_someone_else'" in meeting.writeback_error
    assert meeting.provider_event_id is None
    assert wb.events(team) == before


@pytest.mark.parametrize("provider", PROVIDERS)
def test_disconnect_leaves_events_and_meetings_in_place(wb, provider):
    team = wb.team(provider)
    meeting_id = wb.service.schedule(wb.request(team)).meeting_id
    wb.drain()
    before = wb.events(team, live_only=True)
    wb.sync.connect_service.disconnect(team.mailbox.connection_id)
    assert wb.events(team, live_only=True) == before and len(before) == 1
    assert wb.meeting(meeting_id).status == "scheduled"
    # Later changes cannot reach a disconnected calendar: they fail with a reason, nothing is touched.
    start = later(days=8)
    wb.service.reschedule(meeting_id, start, start + timedelta(minutes=30))
    wb.drain()
    meeting = wb.meeting(meeting_id)
    assert meeting.writeback_state == "failed" and "disconnected" in meeting.writeback_error
    assert wb.events(team, live_only=True) == before
