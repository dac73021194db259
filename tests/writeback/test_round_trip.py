"""The round trip through Dagster: SMVue's event comes back through sync linked to its meeting (never a
second 1:1); a move or cancel made in the calendar flows back to the meeting; SMVue's own newer
changes are not undone by stale rows; annotations survive a 410 resync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from smvue_core.providers.outlook.mapping import TAG_PROPERTY_ID, TRANSACTION_PREFIX
from smvue_core.warehouse import database
from smvue_pipeline.assets.app_tables import app_tables
from smvue_pipeline.assets.meeting_backflow import meeting_backflow, no_failed_writebacks
from smvue_pipeline.assets.one_on_ones import one_on_one_meetings
from smvue_pipeline.assets.raw_events import raw_calendar_events
from smvue_pipeline.hot_path import build_hot_path_defs
from tests.sync import scenario

SYNC_ASSETS = [raw_calendar_events, meeting_backflow, app_tables, one_on_one_meetings]


def sync(wb, assets=None, **request) -> dg.ExecuteInProcessResult:
    """sync_calendars_job's steps in process: raw, backflow, app mirrors, 1:1s (then published)."""
    selected = assets or SYNC_ASSETS
    config = {"ops": {"raw_calendar_events": {"config": request}}} if raw_calendar_events in selected else {}
    return dg.materialize(selected, resources=wb.sync.resources(), run_config=config)


def published(wb, sql: str, params=None) -> list[tuple]:
    con = database.open_database(wb.settings.published_path, wb.settings.warehouse_key, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def one_on_ones_of(wb, team) -> list[tuple]:
    return published(
        wb,
        """SELECT one_on_one_id, source, smvue_meeting_id, event_id, status, start_at, is_archived, meeting_type
           FROM analytics.one_on_one_meetings WHERE manager_id = ? ORDER BY source, start_at""",
        [team.manager_id],
    )


def hour(days: int, at: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=at, minute=0, second=0, microsecond=0)


def move_as_user(team, event_id: str, start: datetime, minutes: int) -> None:
    end = start + timedelta(minutes=minutes)
    actor = team.mailbox.actor()
    if team.mailbox.provider == "google":
        actor.patch(
            event_id, {"start": {"dateTime": start.isoformat()}, "end": {"dateTime": end.isoformat()}}
        )
    else:
        actor.patch(
            event_id,
            {
                "start": {"dateTime": start.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
                "end": {"dateTime": end.replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
            },
        )


def cancel_as_user(team, event_id: str) -> None:
    actor = team.mailbox.actor()
    if team.mailbox.provider == "google":
        actor.delete(event_id)
    else:
        actor.cancel(event_id, "Cannot make it")


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_calendar_moves_and_cancels_flow_back_to_the_meeting(wb, provider):
    team = wb.team(provider)
    meeting_id = wb.service.schedule(wb.request(team, start=hour(2, 10))).meeting_id
    wb.drain()
    event_id = wb.meeting(meeting_id).provider_event_id
    sync(wb)
    # The event came back tagged: it is the meeting's 1:1, not a second one.
    [row] = one_on_ones_of(wb, team)
    assert row[:5] == (meeting_id, "smvue", meeting_id, event_id, "scheduled")
    assert wb.meeting(meeting_id).version == 1

    moved = hour(3, 15)
    move_as_user(team, event_id, moved, 45)
    sync(wb)
    meeting = wb.meeting(meeting_id)
    assert (meeting.start_at, meeting.end_at) == (moved, moved + timedelta(minutes=45))
    assert (meeting.status, meeting.writeback_state, meeting.version) == ("scheduled", "synced", 2)
    assert len(wb.outbox.for_meeting(meeting_id)) == 1  # the calendar already says so: nothing to write
    mirrored = published(wb, "SELECT start_at, end_at FROM app.meetings WHERE meeting_id = ?", [meeting_id])
    assert [tuple(t.astimezone(UTC) for t in r) for r in mirrored] == [(moved, moved + timedelta(minutes=45))]
    [row] = one_on_ones_of(wb, team)
    assert row[0] == meeting_id and row[5].astimezone(UTC) == moved

    cancel_as_user(team, event_id)
    sync(wb)
    meeting = wb.meeting(meeting_id)
    assert (meeting.status, meeting.writeback_state, meeting.version) == ("cancelled", "synced", 3)
    assert len(wb.outbox.for_meeting(meeting_id)) == 1
    [row] = one_on_ones_of(wb, team)
    assert (row[0], row[4]) == (meeting_id, "cancelled")


def test_an_outlook_event_with_a_colliding_transaction_id_is_not_linked_to_the_meeting(wb):
    team = wb.team("microsoft")
    start = hour(2, 10)
    meeting_id = wb.service.schedule(wb.request(team, start=start)).meeting_id
    actor = team.mailbox.actor()
    # Not SMVue's: another event given the meeting's transactionId (raw rows tag Outlook events by
    # it), at another time. Graph then refuses SMVue's create with that id, and write-back adopts
    # the event found by SMVue's extended-property tag, which carries no transactionId.
    foreign = actor.create(
        scenario.graph_event("Not SMVue's", hour(3, 15), 60, transactionId=TRANSACTION_PREFIX + meeting_id)
    )
    own = actor.create(
        scenario.graph_event(
            "Weekly 1:1",
            start,
            30,
            singleValueExtendedProperties=[{"id": TAG_PROPERTY_ID, "value": meeting_id}],
        )
    )
    wb.drain()
    meeting = wb.meeting(meeting_id)
    assert (meeting.writeback_state, meeting.provider_event_id) == ("synced", own["id"])
    move_as_user(team, foreign["id"], hour(4, 16), 45)  # edited after SMVue's write: "newer"

    sync(wb)
    [tagged] = published(
        wb, "SELECT event_id FROM raw.calendar_events WHERE smvue_meeting_id = ?", [meeting_id]
    )
    assert tagged[0] == foreign["id"]  # the colliding event is in the warehouse, tagged
    meeting = wb.meeting(meeting_id)
    # Back-flow follows only the event write-back recorded: the foreign one moves nothing.
    assert (meeting.start_at, meeting.end_at) == (start, start + timedelta(minutes=30))
    assert (meeting.status, meeting.version) == ("scheduled", 1)


def test_smvue_changes_win_over_stale_rows_and_unwritten_calendar_edits(wb):
    team = wb.team("google")
    first = hour(2, 9)
    meeting_id = wb.service.schedule(wb.request(team, start=first)).meeting_id
    wb.drain()
    event_id = wb.meeting(meeting_id).provider_event_id
    sync(wb)

    # SMVue moves it and writes the calendar; the warehouse still holds the old times. Backflow
    # alone (no sync in between) must not read that stale row as a move made in the calendar.
    second = hour(4, 11)
    wb.service.reschedule(meeting_id, second, second + timedelta(minutes=30))
    wb.drain()
    sync(wb, assets=[meeting_backflow])
    assert wb.meeting(meeting_id).start_at == second
    sync(wb)
    assert (wb.meeting(meeting_id).start_at, wb.meeting(meeting_id).version) == (second, 2)

    # The user moves it in the calendar while a change of SMVue's own waits to be written: the
    # pending change is SMVue's newer intent and wins; the calendar follows it once written.
    move_as_user(team, event_id, hour(5, 16), 30)
    third = hour(6, 13)
    wb.service.reschedule(meeting_id, third, third + timedelta(minutes=30))
    sync(wb)
    assert wb.meeting(meeting_id).start_at == third
    wb.drain()
    sync(wb)
    meeting = wb.meeting(meeting_id)
    assert (meeting.start_at, meeting.writeback_state) == (third, "synced")
    [row] = one_on_ones_of(wb, team)
    assert row[5].astimezone(UTC) == third


def test_annotations_survive_a_410_resync(wb, api):
    team = wb.team("google")
    me = team.mailbox.email
    start = hour(1, 9)
    team.mailbox.actor().insert(
        {
            "summary": "Rep catch-up",
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
            "attendees": [
                {"email": me, "organizer": True, "responseStatus": "accepted"},
                {"email": team.rep_email, "responseStatus": "accepted"},
            ],
        }
    )
    meeting_id = wb.service.schedule(wb.request(team, start=hour(2, 14))).meeting_id
    wb.drain()
    sync(wb)
    calendar_ids = [r[0] for r in one_on_ones_of(wb, team) if r[1] == "calendar"]
    assert len(calendar_ids) == 1
    calendar_id = calendar_ids[0]

    # Through the API: a calendar 1:1 can be annotated, never moved or cancelled by SMVue.
    for method, body in [("PATCH", {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()}),
                         ("DELETE", None)]:  # fmt: skip
        answer = api.call(method, f"/v1/meetings/{calendar_id}", json=body)
        assert answer.status_code == 409 and "calendar" in answer.json()["error"], answer.text
    archived = api.call("POST", f"/v1/meetings/{calendar_id}/archive")
    assert (
        archived.status_code == 200
        and archived.json()["is_archived"]
        and archived.json()["source"] == "calendar"
    )
    typed = api.call("PUT", f"/v1/meetings/{calendar_id}/type", json={"meeting_type": "Pipeline Review"})
    assert typed.status_code == 200 and typed.json()["meeting_type"] == "Pipeline Review"
    assert (
        api.call("POST", f"/v1/meetings/{meeting_id}/archive", json={"is_archived": True}).json()["source"]
        == "smvue"
    )
    assert (
        api.call("PUT", f"/v1/meetings/{meeting_id}/type", json={"meeting_type": "Coaching"}).status_code
        == 200
    )
    assert api.meeting(meeting_id)["is_archived"] and api.meeting(meeting_id)["meeting_type"] == "Coaching"

    def annotated() -> dict:
        return {r[0]: (r[1], r[6], r[7]) for r in one_on_ones_of(wb, team)}

    sync(wb)
    expected = {calendar_id: ("calendar", True, "Pipeline Review"), meeting_id: ("smvue", True, "Coaching")}
    assert annotated() == expected
    before = wb.sync.sync_state(team.mailbox.connection_id)

    # The provider drops the sync token: a full resync of the calendar, then the same annotations.
    wb.sync.admin.faults({"rules": [{"kind": "sync_token_expired", "user": me, "count": 1}]})
    sync(wb)
    after = wb.sync.sync_state(team.mailbox.connection_id)
    [calendar] = after.values()
    assert calendar["last_full_sync_at"] > next(iter(before.values()))["last_full_sync_at"]
    assert annotated() == expected


def test_failed_writebacks_warn_on_app_meetings(wb):
    team, lost = wb.team("microsoft"), wb.team("google")
    synced = wb.service.schedule(wb.request(team)).meeting_id
    failing = wb.service.schedule(wb.request(lost)).meeting_id
    wb.sync.connect_service.disconnect(lost.mailbox.connection_id)
    wb.service.schedule(wb.request(team, start=hour(9, 9)))
    wb.drain()  # two written, one failed
    wb.service.schedule(wb.request(team, start=hour(10, 9)))  # stays pending

    # The check is registered with the hot-path location and runs in sync_calendars_job after app_meetings.
    defs = build_hot_path_defs(wb.settings)
    assert no_failed_writebacks.check_keys <= set(
        defs.resolve_job_def("sync_calendars_job").asset_layer.asset_graph.asset_check_keys
    )
    result = sync(wb, assets=[*SYNC_ASSETS, no_failed_writebacks])
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_failed_writebacks"]
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    counts = {k: check.metadata[k].value for k in ("pending", "synced", "failed")}
    assert counts == {"pending": 1, "synced": 2, "failed": 1}
    failures = check.metadata["latest_failures"].value
    assert failing in failures and "disconnected" in failures and synced not in failures
