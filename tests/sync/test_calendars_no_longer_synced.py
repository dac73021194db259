"""A calendar its owner deletes at the provider: the connection keeps syncing its other calendars,
the deleted calendar's rows and cursor leave the warehouse, it leaves the connection's calendars,
and its watches are handed to the watch maintenance to stop. Through the real clients and the
emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.sync import scenario


def _add_event(mailbox, title: str, start: datetime, calendar_id: str) -> str:
    actor = mailbox.actor()
    if mailbox.provider == "google":
        return actor.insert(scenario.google_event(title, start, 30), calendar_id=calendar_id)["id"]
    return actor.create(scenario.graph_event(title, start, 30), calendar_id=calendar_id)["id"]


def _synced_with_an_event_on_each_calendar(harness, provider: str):
    """A connected mailbox (both calendars selected), an event on each, imported: (mailbox, the
    first event's start, its id on the primary calendar, its id on the Coaching calendar)."""
    mailbox = harness.connect(provider)
    start = scenario.local(datetime.now(UTC).date() + timedelta(days=2), 10)
    on_primary = _add_event(mailbox, "Pipeline review", start, mailbox.primary_calendar_id)
    on_coaching = _add_event(
        mailbox, "1:1 Sam / Mara", start + timedelta(hours=2), mailbox.second_calendar_id
    )
    [first] = harness.engine_sync()
    assert first.ok and {on_primary, on_coaching} <= set(harness.rows(mailbox.connection_id, live_only=True))
    return mailbox, start, on_primary, on_coaching


def _watch_on(harness, mailbox, calendar_id: str) -> str:
    """A live watch row for the calendar, as the gateway's WatchManager leaves one."""
    watch_id = f"watch-{calendar_id[:12]}"
    now = datetime.now(UTC)
    with harness.store.transaction() as conn:
        conn.execute(
            """INSERT INTO watches (watch_id, connection_id, calendar_id, provider, secret_sha256, expires_at,
                                    state, created_at, updated_at)
               VALUES (?, ?, ?, ?, 'x', ?, 'active', ?, ?)""",
            (
                watch_id,
                mailbox.connection_id,
                calendar_id,
                mailbox.provider,
                (now + timedelta(days=1)).isoformat(timespec="microseconds"),
                now.isoformat(timespec="microseconds"),
                now.isoformat(timespec="microseconds"),
            ),
        )
    return watch_id


def _watch_state(harness, watch_id: str) -> str:
    return harness.store.query_one("SELECT state FROM watches WHERE watch_id = ?", (watch_id,))["state"]


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_a_calendar_deleted_at_the_provider_is_forgotten_and_the_others_keep_syncing(harness, provider):
    mailbox, start, kept, doomed = _synced_with_an_event_on_each_calendar(harness, provider)
    coaching = mailbox.second_calendar_id
    primary_watch, coaching_watch = (
        _watch_on(harness, mailbox, c) for c in (mailbox.primary_calendar_id, coaching)
    )

    mailbox.actor().delete_calendar(coaching)
    moved = start + timedelta(hours=1)
    if provider == "google":
        mailbox.actor().patch(
            kept,
            {
                "start": scenario.google_time(moved),
                "end": scenario.google_time(moved + timedelta(minutes=30)),
            },
        )
    else:
        mailbox.actor().patch(
            kept,
            {"start": scenario.graph_time(moved), "end": scenario.graph_time(moved + timedelta(minutes=30))},
        )

    [second] = harness.engine_sync()
    # Not a failure of the connection: the other calendar synced in the same run.
    assert second.ok, second.error
    assert {c.calendar_id: c.mode for c in second.calendars} == {
        mailbox.primary_calendar_id: "incremental",
        coaching: "gone",
    }
    rows = harness.rows(mailbox.connection_id)
    assert rows[kept]["status"] != "cancelled" and rows[kept]["start_at"] == moved
    assert doomed not in rows and second.purged == 1  # its events went with it
    assert set(harness.sync_state(mailbox.connection_id)) == {mailbox.primary_calendar_id}
    assert harness.connection(mailbox.connection_id).status == "connected"
    calendars = {
        c.calendar_id for c in harness.connections.calendars(mailbox.connection_id, selected_only=False)
    }
    assert calendars == {mailbox.primary_calendar_id}
    assert _watch_state(harness, coaching_watch) == "stopping"  # the maintenance stops it
    assert _watch_state(harness, primary_watch) == "active"

    # From now on the deleted calendar costs nothing: one request, for the calendar that is left.
    harness.admin.reset_stats()
    [third] = harness.engine_sync()
    assert third.ok and [c.calendar_id for c in third.calendars] == [mailbox.primary_calendar_id]
    listing = {k: v for k, v in harness.admin.stats()["requests"].items() if "calendar" in k.lower()}
    assert sum(listing.values()) == 1, listing


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_a_deselected_calendar_leaves_the_warehouse_and_can_come_back(harness, provider):
    mailbox, _, kept, private = _synced_with_an_event_on_each_calendar(harness, provider)
    coaching = mailbox.second_calendar_id

    # The user stops sharing the coaching calendar with SMVue: its rows and cursor go.
    harness.connections.select_calendars(mailbox.connection_id, {mailbox.primary_calendar_id})
    [second] = harness.engine_sync()
    assert second.ok and second.purged == 1
    assert set(harness.rows(mailbox.connection_id)) == {kept}
    assert set(harness.sync_state(mailbox.connection_id)) == {mailbox.primary_calendar_id}

    # Selected again: a full import brings it back.
    harness.connections.select_calendars(mailbox.connection_id, {mailbox.primary_calendar_id, coaching})
    [third] = harness.engine_sync()
    assert third.ok and {c.calendar_id: c.mode for c in third.calendars}[coaching] == "full"
    assert harness.rows(mailbox.connection_id)[private]["status"] != "cancelled"


@pytest.mark.parametrize(
    ("provider", "listing"), [("google", r"/events$"), ("microsoft", r"/calendarView/delta$")]
)
def test_a_stray_404_on_a_calendar_that_exists_forgets_nothing(harness, provider, listing):
    mailbox, _, on_primary, on_coaching = _synced_with_an_event_on_each_calendar(harness, provider)
    coaching = mailbox.second_calendar_id
    # One 404 on the coaching calendar's listing; the calendar itself still answers.
    harness.admin.faults(
        {
            "rules": [
                {"kind": "server_error", "status": 404, "path": listing, "user": mailbox.email, "count": 1}
            ]
        }
    )
    try:
        [stray] = harness.engine_sync()
    finally:
        harness.admin.clear_faults()

    assert not stray.ok and "still exists" in str(stray.error)
    assert not any(c.gone for c in stray.calendars) and stray.purged == 0
    selected = {c.calendar_id for c in harness.connections.calendars(mailbox.connection_id)}
    assert selected == {mailbox.primary_calendar_id, coaching}
    assert {on_primary, on_coaching} <= set(harness.rows(mailbox.connection_id, live_only=True))
    [after] = harness.engine_sync()
    assert after.ok and {c.calendar_id for c in after.calendars} == selected
