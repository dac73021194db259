"""Issue 3, test 1: the initial import of a connected calendar, the same rows for both providers."""

from __future__ import annotations

import pytest

from tests.sync import scenario


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_initial_import_gives_exactly_the_expected_rows(harness, provider):
    mailbox = harness.connect(provider)
    built = scenario.build(mailbox)

    result = harness.materialize()

    assert result.success
    rows = harness.rows(mailbox.connection_id)
    got = {event_id: scenario.actual(row) for event_id, row in rows.items()}
    # Exactly the expected events, per calendar: the cancelled instance is absent and the moved
    # one appears once, at its new time.
    assert set(got) == set(built.expected)
    for event_id, expected in built.expected.items():
        assert got[event_id] == expected, event_id
    by_calendar = {}
    for row in rows.values():
        by_calendar.setdefault(row["calendar_id"], set()).add(row["event_id"])
    assert by_calendar == {
        mailbox.primary_calendar_id: set(built.expected) - {built.second_id},
        mailbox.second_calendar_id: {built.second_id},
    }
    assert all(r["provider"] == provider for r in rows.values())
    series_rows = [r for r in rows.values() if r["recurring_event_id"] == built.series_id]
    assert len(series_rows) == scenario.SERIES_COUNT - 1
    # Every instance of the series (the moved one too) shares one iCalUID, as on Google.
    [series_uid] = {r["ical_uid"] for r in series_rows}
    assert series_uid and series_uid not in {r["ical_uid"] for r in rows.values() if r not in series_rows}
    # One cursor per calendar, written with the rows.
    states = harness.sync_state(mailbox.connection_id)
    assert set(states) == {mailbox.primary_calendar_id, mailbox.second_calendar_id}
    assert all(s["sync_cursor"] for s in states.values())
    connection = harness.connection(mailbox.connection_id)
    assert connection.status == "connected" and connection.last_synced_at and not connection.last_error
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["unique_event_key"] and checks["no_description_stored"] and all(checks.values()), checks
