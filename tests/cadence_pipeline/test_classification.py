"""F8 1:1 detection and the 1:1 table, at the SQL level (smvue_core/warehouse/one_on_one_meetings.sql)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smvue_core.warehouse.one_on_ones import OneOnOneRules, one_on_one_id_for_event
from tests.cadence_pipeline.conftest import NOW, person

MAYA, LIAM, AVA, NOAH = "maya@acme.test", "liam@acme.test", "ava@acme.test", "noah@acme.test"
ROOM = "room-harbor@acme.test"


def test_two_people_is_a_one_on_one_three_is_not_a_room_does_not_count(wh):
    wh.add_event("two", [person(MAYA, organizer=True), person(LIAM)])
    wh.add_event("three", [person(MAYA), person(LIAM), person(AVA)])
    wh.add_event("room", [person(MAYA), person(LIAM), person(ROOM, resource=True)])
    wh.add_event("solo", [])
    wh.recompute()

    found = wh.one_on_ones()
    assert set(found) == {"two", "room"}
    assert found["two"]["rep_id"] == "rep-liam" and found["two"]["manager_id"] == "mgr-maya"
    assert found["two"]["classification_reason"] == "1:1 between Maya Chen and Liam Ortiz, 30 min"
    assert wh.classification("three")["classification_reason"] == "not a 1:1: 3 people after removing rooms"
    assert wh.classification("three")["is_one_on_one"] is False
    assert wh.classification("room")["is_one_on_one"] is True
    assert wh.classification("solo")["classification_reason"] == "not a 1:1: 1 person after removing rooms"


def test_emails_match_whatever_their_case_and_surrounding_spaces(wh):
    wh.set_rep_email("rep-liam", "  Liam@ACME.test ")
    wh.add_event(
        "shouty",
        # The manager under the connected account's address, the rep twice in two spellings.
        [person(" MAYA.Chen@Gmail.test"), person("LIAM@acme.TEST "), person("liam@acme.test")],
    )
    wh.add_event("roster-address", [person("Maya@Acme.Test"), person(" liam@acme.test")])
    wh.recompute()

    found = wh.one_on_ones()
    assert set(found) == {"shouty", "roster-address"}
    assert {r["rep_id"] for r in found.values()} == {"rep-liam"}


def test_someone_outside_the_managers_team_makes_it_no_one_on_one(wh):
    wh.add_event("other-team", [person(MAYA), person(NOAH)])  # Noah reports to Omar
    wh.add_event("stranger", [person(MAYA), person("client@customer.test")])
    wh.recompute()

    assert wh.one_on_ones() == {}
    assert (
        wh.classification("other-team")["classification_reason"]
        == "not a 1:1: noah@acme.test is not on mgr-maya's team"
    )
    assert wh.classification("stranger")["reason_class"] == "not_on_team"


def test_editing_a_reps_email_relinks_their_meetings_at_the_next_recompute(wh):
    wh.add_event("with-new-address", [person(MAYA), person("liam.ortiz@acme.test")])
    wh.recompute()
    assert wh.one_on_ones() == {}

    wh.set_rep_email("rep-liam", "Liam.Ortiz@acme.test")
    wh.recompute()
    assert wh.one_on_ones()["with-new-address"]["rep_id"] == "rep-liam"

    wh.set_rep_email("rep-liam", "liam@acme.test")
    wh.recompute()
    assert wh.one_on_ones() == {}


def test_all_day_events_are_excluded(wh):
    wh.add_event("offsite", [person(MAYA), person(LIAM)], minutes=24 * 60, all_day=True)
    wh.recompute()
    assert wh.one_on_ones() == {}
    assert wh.classification("offsite")["classification_reason"] == "not a 1:1: all-day"


@pytest.mark.parametrize(
    ("minutes", "is_one_on_one", "typical"),
    [
        (9, False, None),
        (10, True, False),
        (29, True, False),
        (30, True, True),
        (60, True, True),
        (61, True, False),
        (120, True, False),
        (121, False, None),
    ],
)
def test_duration_bounds_are_inclusive_and_typical_is_30_to_60(wh, minutes, is_one_on_one, typical):
    wh.add_event("timed", [person(MAYA), person(LIAM)], minutes=minutes)
    wh.recompute()
    found = wh.one_on_ones()
    assert ("timed" in found) is is_one_on_one
    if is_one_on_one:
        assert found["timed"]["duration_minutes"] == minutes
        assert found["timed"]["is_typical_duration"] is typical
    else:
        assert (
            wh.classification("timed")["classification_reason"]
            == f"not a 1:1: {minutes} min is outside 10–120"
        )


def test_duration_bounds_are_configurable(wh):
    wh.add_event("long", [person(MAYA), person(LIAM)], minutes=150)
    wh.recompute(min_minutes=15, max_minutes=180)
    assert wh.one_on_ones()["long"]["duration_minutes"] == 150
    with pytest.raises(ValueError, match="min_minutes"):
        OneOnOneRules(as_of=NOW, min_minutes=60, max_minutes=30)


def test_status_cancelled_declined_held_scheduled(wh):
    past, future = NOW - timedelta(days=2), NOW + timedelta(days=2)
    wh.add_event("held", [person(MAYA), person(LIAM)], start=past)
    wh.add_event("cancelled", [person(MAYA), person(LIAM)], start=past, status="cancelled")
    wh.add_event("rep-declined", [person(MAYA), person(LIAM, response="declined")], start=past)
    wh.add_event(
        "manager-declined", [person(" maya@acme.test", response="declined"), person(AVA)], start=past
    )
    wh.add_event("scheduled", [person(MAYA), person(LIAM)], start=future)
    wh.add_event("ends-now", [person(MAYA), person(AVA)], start=NOW - timedelta(minutes=30))
    wh.recompute()

    status = {key: row["status"] for key, row in wh.one_on_ones().items()}
    assert status == {
        "held": "held",
        "cancelled": "cancelled",
        "rep-declined": "declined",
        "manager-declined": "declined",
        "scheduled": "scheduled",
        "ends-now": "held",  # held = ended (end <= now)
    }


def test_as_of_decides_held_versus_scheduled(wh):
    wh.add_event("tomorrow", [person(MAYA), person(LIAM)], start=NOW + timedelta(days=1))
    wh.recompute()
    assert wh.one_on_ones()["tomorrow"]["status"] == "scheduled"
    wh.recompute(as_of=NOW + timedelta(days=2))
    assert wh.one_on_ones()["tomorrow"]["status"] == "held"


def test_archive_flag_and_meeting_type_come_from_annotations(wh):
    wh.add_event("archived", [person(MAYA), person(LIAM)])
    wh.add_event("typed", [person(MAYA), person(AVA)])
    wh.annotate(one_on_one_id_for_event("conn_maya", "primary", "archived"), archived=True)
    wh.annotate(one_on_one_id_for_event("conn_maya", "primary", "typed"), meeting_type="Pipeline Review")
    wh.recompute()

    found = wh.one_on_ones()
    assert found["archived"]["is_archived"] is True
    assert found["typed"]["is_archived"] is False and found["typed"]["meeting_type"] == "Pipeline Review"


def test_one_on_one_id_is_stable_across_resyncs_and_matches_python(wh):
    wh.add_event("evt-1", [person(MAYA), person(LIAM)])
    wh.recompute()
    first = wh.one_on_ones()["evt-1"]["one_on_one_id"]
    # A resync rewrites the row (new title, new synced_at): same event, same id.
    wh.add_event("evt-1", [person(MAYA), person(LIAM)], minutes=45)
    wh.recompute()
    assert (
        wh.one_on_ones()["evt-1"]["one_on_one_id"]
        == first
        == one_on_one_id_for_event("conn_maya", "primary", "evt-1")
    )


def test_a_moved_instance_of_a_series_stays_one_row(wh):
    """A provider moves an instance in place (same event id, new start, original start kept)."""
    series_start = NOW - timedelta(days=14)
    for week in range(3):
        start = series_start + timedelta(weeks=week)
        wh.add_event(
            f"series_{week}",
            [person(MAYA), person(LIAM)],
            start=start,
            ical_uid="series@google.com",
            recurring_event_id="series",
            original_start=start,
        )
    moved_from = series_start + timedelta(weeks=1)
    wh.add_event(
        "series_1",
        [person(MAYA), person(LIAM)],
        start=moved_from + timedelta(days=1),
        ical_uid="series@google.com",
        recurring_event_id="series",
        original_start=moved_from,
    )
    wh.recompute()

    rows = wh.rows("SELECT * FROM analytics.one_on_one_meetings ORDER BY start_at")
    assert len(rows) == 3
    assert {r["original_start_at"] for r in rows} == {series_start + timedelta(weeks=w) for w in range(3)}
    assert rows[1]["start_at"] == moved_from + timedelta(days=1)


def test_smvue_meeting_and_its_synced_event_are_one_row(wh):
    start = NOW + timedelta(days=3)
    wh.add_meeting("mtg_tagged", "mgr-maya", "rep-liam", start, provider_event_id="smvue123")
    wh.add_event(
        "smvue123", [person(LIAM)], start=start, smvue_meeting_id="mtg_tagged", video_link="https://meet/x"
    )
    # Found by the provider event id write-back recorded, even without the tag.
    wh.add_meeting("mtg_by_id", "mgr-maya", "rep-ava", start, provider_event_id="evt-written")
    wh.add_event("evt-written", [person(MAYA), person(AVA)], start=start)
    # Not synced back yet: the meeting still has its row.
    wh.add_meeting(
        "mtg_pending", "mgr-maya", "rep-liam", start + timedelta(days=1), writeback_state="pending"
    )
    wh.recompute()

    rows = wh.rows("SELECT * FROM analytics.one_on_one_meetings ORDER BY one_on_one_id")
    assert [r["one_on_one_id"] for r in rows] == ["mtg_by_id", "mtg_pending", "mtg_tagged"]
    by_id = {r["one_on_one_id"]: r for r in rows}
    assert all(r["source"] == "smvue" and r["smvue_meeting_id"] == r["one_on_one_id"] for r in rows)
    assert (
        by_id["mtg_tagged"]["event_id"] == "smvue123"
        and by_id["mtg_tagged"]["video_link"] == "https://meet/x"
    )
    assert by_id["mtg_tagged"]["meeting_type"] == "Weekly"
    assert by_id["mtg_by_id"]["event_id"] == "evt-written"
    assert by_id["mtg_pending"]["event_id"] is None
    assert "not synced yet" in by_id["mtg_pending"]["classification_reason"]
    assert wh.classification("smvue123")["one_on_one_id"] == "mtg_tagged"
    assert wh.classification("smvue123")["reason_class"] == "smvue_meeting"


def test_smvue_meeting_follows_the_calendar_once_synced_and_cancels_from_either_side(wh):
    start = NOW + timedelta(days=3)
    moved = start + timedelta(hours=2)
    wh.add_meeting("mtg_moved", "mgr-maya", "rep-liam", start, provider_event_id="e-moved")
    wh.add_event("e-moved", [person(LIAM)], start=moved, smvue_meeting_id="mtg_moved")
    wh.add_meeting("mtg_cal_cancel", "mgr-maya", "rep-liam", start, provider_event_id="e-cancel")
    wh.add_event(
        "e-cancel", [person(LIAM)], start=start, smvue_meeting_id="mtg_cal_cancel", status="cancelled"
    )
    wh.add_meeting(
        "mtg_app_cancel", "mgr-maya", "rep-ava", start, status="cancelled", writeback_state="pending"
    )
    wh.add_event("e-app", [person(AVA)], start=start, smvue_meeting_id="mtg_app_cancel")
    wh.add_meeting("mtg_declined", "mgr-maya", "rep-ava", start, provider_event_id="e-declined")
    wh.add_event(
        "e-declined", [person(AVA, response="declined")], start=start, smvue_meeting_id="mtg_declined"
    )
    wh.recompute()

    rows = {r["one_on_one_id"]: r for r in wh.rows("SELECT * FROM analytics.one_on_one_meetings")}
    assert rows["mtg_moved"]["start_at"] == moved and rows["mtg_moved"]["status"] == "scheduled"
    assert rows["mtg_cal_cancel"]["status"] == "cancelled"
    assert rows["mtg_app_cancel"]["status"] == "cancelled"
    assert rows["mtg_declined"]["status"] == "declined"


def test_meetings_of_reps_no_longer_on_the_team_and_unknown_managers_are_left_out(wh):
    wh.add_meeting("mtg_left", "mgr-maya", "rep-noah", NOW + timedelta(days=1))  # Noah is Omar's
    wh.add_event("orphan", [person("x@acme.test"), person(LIAM)], connection_id="conn_unknown")
    wh.recompute()
    assert wh.one_on_ones() == {}
    assert wh.classification("orphan")["reason_class"] == "no_manager"


def test_every_event_is_classified_once(wh):
    for i in range(5):
        wh.add_event(f"e{i}", [person(MAYA), person(LIAM if i % 2 else AVA)], start=NOW + timedelta(days=i))
    wh.add_event("group", [person(MAYA), person(LIAM), person(AVA)])
    wh.recompute()
    counts = wh.rows(
        "SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM analytics.meeting_classifications"
    )[0]
    assert counts == {"n": 6, "d": 6}
    columns = {
        r["column_name"] for r in wh.rows("SELECT column_name FROM (DESCRIBE analytics.one_on_one_meetings)")
    }
    assert "description" not in columns
    assert columns == {
        "one_on_one_id", "manager_id", "rep_id", "connection_id", "calendar_id", "event_id", "smvue_meeting_id",
        "ical_uid", "recurring_event_id", "original_start_at", "title", "start_at", "end_at", "duration_minutes",
        "status", "is_archived", "meeting_type", "source", "classification_reason", "is_typical_duration",
        "video_link",
    }  # fmt: skip
