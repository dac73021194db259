"""Prep reminders (F12): planned once per 1:1 occurrence, moved, withdrawn, delivered exactly once
to a real HTTP receiver with an Idempotency-Key, across failures and a crashed sender."""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from smvue_core.opstore import OpStore
from smvue_core.opstore.reminders import ReminderRepository
from smvue_core.reminders.delivery import DeliveryPolicy, deliver_due
from smvue_core.reminders.planner import plan_and_store
from smvue_core.warehouse.one_on_ones import one_on_one_id_for_event
from smvue_pipeline.ops.reminders import deliver_prep_reminders_job
from smvue_pipeline.resources.opstore import OperationalStoreResource
from smvue_pipeline.resources.reminder_webhook import ReminderWebhookResource
from smvue_pipeline.sensors import reminders as reminder_sensor
from tests import processes
from tests.cadence_pipeline.conftest import NOW, REPO, person
from tests.receiver import NotificationReceiver

MAYA, LIAM, AVA, OMAR, NOAH = (
    "maya@acme.test",
    "liam@acme.test",
    "ava@acme.test",
    "omar@acme.test",
    "noah@acme.test",
)
DAY = timedelta(days=1)
LEASE = timedelta(minutes=2)


@pytest.fixture
def repo(tmp_path) -> ReminderRepository:
    store = OpStore(tmp_path / "operational.sqlite")
    yield ReminderRepository(store)
    store.close()


@pytest.fixture
def receiver():
    with NotificationReceiver() as rx:
        yield rx


def keys(rx: NotificationReceiver, at_least: int = 1) -> Counter:
    """Deliveries per Idempotency-Key, once at least `at_least` requests arrived."""
    received = rx.wait_for(lambda got: len(got) >= at_least, timeout=10)
    return Counter(item.headers.get("Idempotency-Key") for item in received)


def one_on_one(event_id: str, connection_id: str = "conn_maya") -> str:
    return one_on_one_id_for_event(connection_id, "primary", event_id)


def plan(wh, repo, now=NOW, **kwargs):
    wh.recompute(as_of=now)
    return plan_and_store(wh.con, repo, now, **kwargs)


def deliver(repo, rx, now, **kwargs):
    return deliver_due(repo, rx.url if rx else None, now, policy=DeliveryPolicy(lease=LEASE, **kwargs))


def test_a_reschedule_moves_the_reminder_and_it_is_sent_exactly_once(wh, repo, receiver):
    start = NOW + 3 * DAY
    wh.add_event("weekly", [person(MAYA), person(LIAM)], start=start)
    assert plan(wh, repo).created == 1
    (reminder,) = repo.all()
    assert reminder.one_on_one_id == one_on_one("weekly")
    assert reminder.remind_at == start - DAY and reminder.state == "scheduled"

    moved = start + DAY
    wh.add_event("weekly", [person(MAYA), person(LIAM)], start=moved)  # the manager moves it a day
    assert plan(wh, repo).moved == 1
    (moved_reminder,) = repo.all()
    assert moved_reminder.reminder_id == reminder.reminder_id
    assert moved_reminder.remind_at == moved - DAY and moved_reminder.meeting_start_at == moved

    assert deliver(repo, receiver, start - DAY).sent == []  # the old time is not due any more
    report = deliver(repo, receiver, moved - DAY + timedelta(minutes=1))
    assert report.sent == [reminder.reminder_id]
    body = json.loads(receiver.wait_for(lambda got: len(got) >= 1)[0].body)
    assert body["rep_name"] == "Liam Ortiz" and body["manager_name"] == "Maya Chen"
    assert body["meeting_start_at"].startswith(moved.strftime("%Y-%m-%dT%H:%M"))

    # Sent is final: later passes, another move and re-planning send nothing more.
    wh.add_event("weekly", [person(MAYA), person(LIAM)], start=moved + timedelta(hours=3))
    plan(wh, repo, now=moved - timedelta(hours=12))
    deliver(repo, receiver, moved - timedelta(hours=1))
    assert keys(receiver) == {reminder.reminder_id: 1}
    assert repo.get(reminder.reminder_id).state == "sent"


def test_cancel_declined_and_archive_withdraw_the_reminder_before_it_is_sent(wh, repo, receiver):
    start = NOW + 2 * DAY
    wh.add_event("to-cancel", [person(MAYA), person(LIAM)], start=start)
    wh.add_event("to-archive", [person(MAYA), person(AVA)], start=start)
    wh.add_event("to-decline", [person(MAYA), person(AVA)], start=start + timedelta(hours=2))
    assert plan(wh, repo).created == 3

    wh.add_event("to-cancel", [person(MAYA), person(LIAM)], start=start, status="cancelled")
    wh.annotate(one_on_one("to-archive"), archived=True)
    wh.add_event(
        "to-decline", [person(MAYA), person(AVA, response="declined")], start=start + timedelta(hours=2)
    )
    assert plan(wh, repo).withdrawn == 3
    states = {r.one_on_one_id: (r.state, r.state_reason) for r in repo.all()}
    assert states == {
        one_on_one("to-cancel"): ("withdrawn", "cancelled"),
        one_on_one("to-archive"): ("withdrawn", "archived"),
        one_on_one("to-decline"): ("withdrawn", "declined"),
    }
    assert deliver(repo, receiver, start - timedelta(hours=1)).sent == []
    assert receiver.received == []

    # Un-archived before its time: the same reminder comes back, and is sent once.
    wh.con.execute("UPDATE app.annotations SET is_archived = false")
    assert plan(wh, repo).moved == 1
    deliver(repo, receiver, start - timedelta(hours=1))
    deliver(repo, receiver, start - timedelta(minutes=30))
    assert keys(receiver) == {f"rem_{one_on_one('to-archive')}": 1}


def test_copies_of_one_occurrence_on_two_calendars_get_one_reminder(wh, repo):
    start = NOW + 2 * DAY
    for calendar in ("primary", "coaching"):
        wh.add_event(
            "shared", [person(MAYA), person(LIAM)], start=start, calendar_id=calendar, ical_uid="uid-1"
        )
    plan(wh, repo)
    assert len(repo.all()) == 1


def test_an_smvue_meeting_gets_its_reminder_under_its_meeting_id(wh, repo):
    start = NOW + 2 * DAY
    wh.add_meeting("mtg_1", "mgr-maya", "rep-liam", start, provider_event_id="smvue1")
    wh.add_event("smvue1", [person(LIAM)], start=start, smvue_meeting_id="mtg_1")
    plan(wh, repo)
    (reminder,) = repo.all()
    assert reminder.reminder_id == "rem_mtg_1"


def test_per_manager_lead_time_overrides_the_default(wh, repo):
    start = NOW + 3 * DAY
    wh.add_event("maya-1on1", [person(MAYA), person(LIAM)], start=start)
    wh.add_event("omar-1on1", [person(OMAR), person(NOAH)], start=start, connection_id="conn_omar")
    repo.set_lead_time("mgr-maya", 90)
    plan(wh, repo)
    remind_at = {r.manager_id: r.remind_at for r in repo.all()}
    assert remind_at == {"mgr-maya": start - timedelta(minutes=90), "mgr-omar": start - DAY}

    repo.clear_lead_time("mgr-maya")
    assert plan(wh, repo).moved == 1
    with pytest.raises(ValueError, match="lead_minutes"):
        repo.set_lead_time("mgr-maya", -5)


def test_without_a_webhook_url_reminders_stay_scheduled(wh, repo):
    wh.add_event("weekly", [person(MAYA), person(LIAM)], start=NOW + DAY / 2)
    plan(wh, repo)
    report = deliver(repo, None, NOW + timedelta(hours=1))
    assert report.attempted == 0
    (reminder,) = repo.all()
    assert (reminder.state, reminder.attempts, reminder.lease_owner) == ("scheduled", 0, None)


def test_failures_retry_with_backoff_then_fail_visibly(wh, repo):
    wh.add_event("weekly", [person(MAYA), person(LIAM)], start=NOW + 2 * DAY)
    plan(wh, repo)
    due = NOW + DAY + timedelta(minutes=1)
    with NotificationReceiver(respond=lambda item: (503, "text/plain", b"down")) as failing:
        first = deliver(repo, failing, due, max_attempts=3)
        assert len(first.retrying) == 1
        (reminder,) = repo.all()
        assert reminder.attempts == 1 and reminder.next_attempt_at == due + timedelta(seconds=30)
        assert reminder.last_error == "HTTP 503 from the reminder webhook"
        assert (
            deliver(repo, failing, due + timedelta(seconds=10), max_attempts=3).attempted == 0
        )  # backing off
        assert len(deliver(repo, failing, due + timedelta(seconds=31), max_attempts=3).retrying) == 1
        assert repo.all()[0].next_attempt_at == due + timedelta(seconds=31 + 60)
        final = deliver(repo, failing, due + timedelta(minutes=5), max_attempts=3)
        assert len(final.failed) == 1
        failing.wait_for(lambda got: len(got) >= 3)
    (reminder,) = repo.all()
    assert (reminder.state, reminder.attempts) == ("failed", 3)
    assert len({item.headers["Idempotency-Key"] for item in failing.received}) == 1


def test_a_reminder_for_a_1on1_that_already_started_expires(wh, repo, receiver):
    start = NOW + DAY / 2
    wh.add_event("weekly", [person(MAYA), person(LIAM)], start=start)
    plan(wh, repo)
    report = deliver(repo, receiver, start + timedelta(minutes=5))
    assert report.expired == [repo.all()[0].reminder_id] and receiver.received == []
    assert repo.all()[0].state == "failed" and "expired" in repo.all()[0].last_error


@pytest.mark.parametrize("crash_point", ["after-claim", "after-post"])
def test_a_sender_killed_mid_delivery_is_retried_with_the_same_key_and_never_again(
    wh, repo, receiver, crash_point
):
    start = NOW + 2 * DAY
    wh.add_event("weekly", [person(MAYA), person(LIAM)], start=start)
    plan(wh, repo)
    (reminder,) = repo.all()
    due = start - DAY + timedelta(minutes=1)

    child = processes.run(
        [sys.executable, "-m", "tests.cadence_pipeline.reminder_child", str(repo.store.path), receiver.url,
         due.isoformat(), crash_point],
        cwd=REPO, timeout=60,
    )  # fmt: skip
    assert child.returncode == 17, child.stderr[-2000:]
    held = repo.get(reminder.reminder_id)
    assert held.state == "scheduled" and held.lease_owner == "doomed-sender"
    posted_before = 1 if crash_point == "after-post" else 0
    receiver.wait_for(lambda got: len(got) >= posted_before)

    # A new sender while the dead one's lease is live: hands off. After it expires: one retry.
    assert deliver(repo, receiver, due + timedelta(seconds=30)).attempted == 0
    assert deliver(repo, receiver, due + LEASE + timedelta(seconds=1)).sent == [reminder.reminder_id]
    deliver(repo, receiver, due + LEASE + timedelta(minutes=10))
    assert keys(receiver, posted_before + 1) == {reminder.reminder_id: posted_before + 1}
    assert repo.get(reminder.reminder_id).state == "sent"


def test_two_senders_never_hold_the_same_reminder(wh, repo):
    for i in range(6):
        wh.add_event(f"e{i}", [person(MAYA), person(LIAM)], start=NOW + DAY / 2 + timedelta(minutes=i))
    plan(wh, repo)
    first = repo.claim_due(NOW, "a", LEASE, limit=4)
    second = repo.claim_due(NOW, "b", LEASE, limit=4)
    assert len(first) == 4 and len(second) == 2
    assert not {r.reminder_id for r in first} & {r.reminder_id for r in second}


def test_sensor_says_why_it_skips_and_launches_when_due(wh, repo, receiver):
    configured = ReminderWebhookResource(url=receiver.url)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance)
        skip = reminder_sensor.evaluate(context, repo, configured, NOW)
        assert skip.skip_message == "no prep reminder scheduled"

        start = NOW + 2 * DAY
        wh.add_event("weekly", [person(MAYA), person(LIAM)], start=start)
        plan(wh, repo)
        skip = reminder_sensor.evaluate(context, repo, configured, NOW)
        assert skip.skip_message.startswith(f"no prep reminder due; next is rem_{one_on_one('weekly')} at ")

        due = start - DAY + timedelta(minutes=1)
        skip = reminder_sensor.evaluate(context, repo, ReminderWebhookResource(url=None), due)
        assert "SMVUE_REMINDER_WEBHOOK_URL is not set: 1 due reminder(s) stay scheduled" in skip.skip_message

        result = reminder_sensor.evaluate(context, repo, configured, due)
        assert len(result.run_requests) == 1 and json.loads(result.cursor)["due"] == 1


def test_the_sensor_launches_the_delivery_job_which_sends(wh, repo, receiver):
    """The sensor and job on their own clock: a 1:1 twelve hours from now is due for its reminder."""
    now = datetime.now(UTC)
    wh.add_event("soon", [person(MAYA), person(LIAM)], start=now + DAY / 2)
    plan(wh, repo, now=now)
    resources = {
        "opstore": OperationalStoreResource(path=str(repo.store.path)),
        "reminder_webhook": ReminderWebhookResource(url=receiver.url),
    }
    with dg.instance_for_test() as instance:
        launched = reminder_sensor.prep_reminder_sensor(
            dg.build_sensor_context(instance=instance, resources=resources)
        )
        assert len(launched.run_requests) == 1
        outcome = deliver_prep_reminders_job.execute_in_process(instance=instance, resources=resources)
    assert outcome.success
    assert keys(receiver) == {f"rem_{one_on_one('soon')}": 1}
    assert repo.all()[0].state == "sent"


def test_an_unreachable_webhook_is_retried_and_its_url_never_recorded(wh, repo):
    wh.add_event("weekly", [person(MAYA), person(LIAM)], start=NOW + 2 * DAY)
    plan(wh, repo)
    with NotificationReceiver() as gone:
        url = f"{gone.url}/hook?token=very-secret-token"
    report = deliver_due(repo, url, NOW + DAY + timedelta(minutes=1), policy=DeliveryPolicy(lease=LEASE))
    assert len(report.retrying) == 1
    (reminder,) = repo.all()
    assert reminder.last_error == "connection failed: the reminder webhook could not be reached"
    assert "very-secret-token" not in str(report.errors)
