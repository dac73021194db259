"""Issue 3, test 4: throttling and transient failures are retried (Retry-After honoured); failures
that persist are reported on the connection while the run itself succeeds."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.sync import scenario
from tests.sync.conftest import RecordingSleep

LIST_ROUTES = r"(/events$|/calendarView/delta$)"


def seed_one(mailbox) -> str:
    start = scenario.local(datetime.now(UTC).date() + timedelta(days=1), 10)
    actor = mailbox.actor()
    if mailbox.provider == "google":
        return actor.insert(scenario.google_event("Forecast call", start, 30))["id"]
    return actor.create(scenario.graph_event("Forecast call", start, 30))["id"]


def fault(harness, mailbox, **rule) -> None:
    harness.admin.faults({"rules": [{"user": mailbox.email, "path": LIST_ROUTES, **rule}]})


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_429_sleeps_exactly_retry_after_then_succeeds(harness, provider):
    mailbox = harness.connect(provider)
    event_id = seed_one(mailbox)
    fault(harness, mailbox, kind="rate_limit", status=429, retry_after=7, count=1)
    sleep = RecordingSleep()

    [result] = harness.engine_sync(sleep=sleep)

    assert result.ok, result.error
    assert sleep.calls == [7.0]
    assert result.stats.throttled == 1 and result.stats.retries == 1
    assert event_id in harness.rows(mailbox.connection_id)
    assert harness.connection(mailbox.connection_id).status == "connected"


def test_google_403_rate_limit_exceeded_is_retried(harness):
    mailbox = harness.connect("google")
    event_id = seed_one(mailbox)
    fault(harness, mailbox, kind="rate_limit", retry_after=3, count=2)  # Google's 403 rateLimitExceeded
    sleep = RecordingSleep()

    [result] = harness.engine_sync(sleep=sleep)

    assert result.ok, result.error
    assert sleep.calls == [3.0, 3.0]
    assert harness.admin.stats()["statuses"].get("403") == 2
    assert event_id in harness.rows(mailbox.connection_id)


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_server_errors_and_timeouts_are_retried_with_backoff(harness, provider):
    mailbox = harness.connect(provider)
    event_id = seed_one(mailbox)
    harness.admin.faults(
        {
            "rules": [
                {"kind": "server_error", "status": 503, "retry_after": None, "count": 1, "user": mailbox.email, "path": LIST_ROUTES},
                {"kind": "server_error", "retry_after": None, "count": 1, "user": mailbox.email, "path": LIST_ROUTES},
                {"kind": "timeout", "seconds": 1.0, "count": 1, "user": mailbox.email, "path": LIST_ROUTES},
            ]
        }
    )  # fmt: skip
    sleep = RecordingSleep()

    [result] = harness.engine_sync(sleep=sleep, **{provider: {"request_timeout_seconds": 0.3}})

    assert result.ok, result.error
    assert len(sleep.calls) == 3 and result.stats.retries == 3
    # No Retry-After: jittered exponential backoff, within the cap for each attempt.
    assert all(0 <= s <= 0.5 * 2**i for i, s in enumerate(sleep.calls))
    assert event_id in harness.rows(mailbox.connection_id)


@pytest.mark.parametrize(
    "kind",
    [{"kind": "server_error", "retry_after": 0}, {"kind": "timeout", "seconds": 0.6}],
    ids=["5xx", "timeout"],
)
@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_persistent_failures_end_in_error_without_crashing_the_run(harness, provider, kind):
    mailbox = harness.connect(provider)
    synced = seed_one(mailbox)
    # Only the second calendar keeps failing.
    harness.admin.faults(
        {"rules": [{"user": mailbox.email, "path": re.escape(mailbox.second_calendar_id), **kind}]}
    )

    result = harness.materialize(
        **{provider: {"max_attempts": 3, "retry_base_seconds": 0.01, "request_timeout_seconds": 0.2}}
    )

    assert result.success, "one connection's failure never fails the run"
    connection = harness.connection(mailbox.connection_id)
    assert connection.status == "error"
    assert "unavailable after 3 attempts" in connection.last_error
    # A readable reason for Settings > Integrations: no URL, no sync cursor.
    assert "http" not in connection.last_error.lower() and len(connection.last_error) < 200
    # The calendar that did sync is applied with its cursor; the failing one has neither.
    assert set(harness.rows(mailbox.connection_id)) == {synced}
    assert set(harness.sync_state(mailbox.connection_id)) == {mailbox.primary_calendar_id}
    [materialization] = result.asset_materializations_for_node("raw_calendar_events")
    assert materialization.metadata["connections_failed"].value == 1
    assert materialization.metadata["requests"].value >= 1 + 3, "failed attempts are reported"
    mirrored = harness.query(
        "SELECT status, last_error FROM app.connections WHERE connection_id = $c",
        {"c": mailbox.connection_id},
    )
    assert mirrored == [{"status": "error", "last_error": connection.last_error}]
