"""How a calendar's fetched changes land in raw.calendar_events (pure logic, no provider)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smvue_core.providers.base import Attendee, EventRecord, Removal, SyncWindow
from smvue_core.sync.raw_store import apply_calendar, load_states
from smvue_core.warehouse.database import ensure_schema, open_database

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
WINDOW = SyncWindow(NOW - timedelta(days=90), NOW + timedelta(days=31))


def record(event_id: str, start: datetime, title: str = "1:1", recurring: str | None = None) -> EventRecord:
    return EventRecord(
        calendar_id="cal",
        event_id=event_id,
        ical_uid=f"{event_id}@x",
        recurring_event_id=recurring,
        original_start_at=start if recurring else None,
        status="confirmed",
        title=title,
        start_at=start,
        end_at=start + timedelta(minutes=30),
        is_all_day=False,
        time_zone="UTC",
        organizer_email="m@x.com",
        attendees=[
            Attendee("m@x.com", "M", "accepted", True, False),
            Attendee("r@x.com", "R", "accepted", False, False),
        ],
        location=None,
        video_link=None,
        smvue_meeting_id=None,
        provider_updated_at=NOW,
    )


@pytest.fixture
def con(tmp_path):
    con = open_database(tmp_path / "w.duckdb")
    ensure_schema(con)
    yield con
    con.close()


def apply(con, events=(), removals=(), full=False, cursor="c1", window=WINDOW):
    return apply_calendar(
        con,
        connection_id="conn",
        provider="google",
        calendar_id="cal",
        calendar_name="Work",
        events=list(events),
        removals=list(removals),
        cursor=cursor,
        window=window,
        full=full,
        now=NOW,
    )


def rows(con):
    return dict(con.execute("SELECT event_id, status FROM raw.calendar_events ORDER BY event_id").fetchall())


def test_insert_then_update_counts_and_keeps_one_row_per_key(con):
    counts = apply(con, [record("a", NOW), record("b", NOW + timedelta(days=1))], full=True)
    assert (counts.inserted, counts.updated) == (2, 0)
    counts = apply(con, [record("a", NOW, title="moved")])
    assert (counts.inserted, counts.updated) == (0, 1)
    assert con.execute(
        "SELECT count(*), max(title) FROM raw.calendar_events WHERE event_id='a'"
    ).fetchone() == (1, "moved")


def test_series_removal_cancels_every_instance(con):
    apply(
        con,
        [
            record("s_1", NOW, recurring="s"),
            record("s_2", NOW + timedelta(days=7), recurring="s"),
            record("x", NOW),
        ],
    )
    counts = apply(con, removals=[Removal("cal", "s", series=True)])
    assert counts.cancelled == 2
    assert rows(con) == {"s_1": "cancelled", "s_2": "cancelled", "x": "confirmed"}


def test_window_only_removal_keeps_history_outside_the_window(con):
    old = NOW - timedelta(days=200)
    apply(
        con,
        [record("old", old), record("new", NOW)],
        window=SyncWindow(old - timedelta(days=1), NOW + timedelta(days=31)),
    )
    counts = apply(
        con, removals=[Removal("cal", "old", window_only=True), Removal("cal", "new", window_only=True)]
    )
    assert counts.cancelled == 1
    assert rows(con) == {"new": "cancelled", "old": "confirmed"}


def test_full_sync_cancels_live_rows_it_did_not_see_inside_the_window(con):
    old = NOW - timedelta(days=200)
    wide = SyncWindow(old - timedelta(days=1), NOW + timedelta(days=31))
    apply(con, [record("a", NOW), record("b", NOW), record("old", old)], full=True, window=wide)
    counts = apply(con, [record("a", NOW)], full=True)  # the window has rolled past "old"
    assert counts.cancelled == 1
    assert rows(con) == {"a": "confirmed", "b": "cancelled", "old": "confirmed"}


def test_events_outside_the_window_enter_only_as_updates(con):
    far = NOW + timedelta(days=400)
    counts = apply(con, [record("far", far)])
    assert counts.skipped_outside_window == 1 and rows(con) == {}
    apply(con, [record("a", NOW)])
    apply(con, [record("a", far)])  # moved out of the window: the row follows instead of going stale
    assert con.execute("SELECT start_at FROM raw.calendar_events WHERE event_id='a'").fetchone()[0] == far


def test_cursor_commits_with_the_rows_and_rolls_back_with_them(con, monkeypatch):
    apply(con, [record("a", NOW)], cursor="first", full=True)
    assert load_states(con)[("conn", "cal")].cursor == "first"
    import smvue_core.sync.raw_store as raw_store

    def boom(*args, **kwargs):
        raise RuntimeError("crash between rows and cursor")

    monkeypatch.setattr(raw_store, "_apply_removals", boom)
    with pytest.raises(RuntimeError):
        apply(con, [record("b", NOW)], removals=[Removal("cal", "a")], cursor="second")
    assert load_states(con)[("conn", "cal")].cursor == "first"
    assert rows(con) == {"a": "confirmed"}


def test_a_batch_applies_several_calendars_atomically_with_their_own_counts(con):
    from smvue_core.sync.raw_store import CalendarChanges, apply_batch, events_table

    def changes(calendar_id, events, removals=(), full=False, cursor="c"):
        table = events_table("conn", "google", "Work", [_on(e, calendar_id) for e in events], NOW)
        return CalendarChanges("conn", "google", calendar_id, table, list(removals), cursor, WINDOW, full)

    apply_batch(
        con,
        [
            changes("a", [record("x", NOW), record("y", NOW)], full=True),
            changes("b", [record("z", NOW)], full=True),
        ],
        NOW,
    )
    counts = apply_batch(
        con,
        [
            changes("a", [record("x", NOW, title="renamed")], full=True, cursor="a2"),  # y is gone
            changes("b", [record("w", NOW)], removals=[Removal("b", "z")], cursor="b2"),
        ],
        NOW,
    )
    assert [(c.inserted, c.updated, c.cancelled) for c in counts] == [(0, 1, 1), (1, 0, 1)]
    rows = dict(
        ((cal, event), status)
        for cal, event, status in con.execute(
            "SELECT calendar_id, event_id, status FROM raw.calendar_events"
        ).fetchall()
    )
    assert rows == {
        ("a", "x"): "confirmed",
        ("a", "y"): "cancelled",
        ("b", "z"): "cancelled",
        ("b", "w"): "confirmed",
    }
    assert {k[1]: v.cursor for k, v in load_states(con).items()} == {"a": "a2", "b": "b2"}


def _on(event: EventRecord, calendar_id: str) -> EventRecord:
    event.calendar_id = calendar_id
    return event
