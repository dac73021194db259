"""End to end through the emulator: managers put meetings on their calendars as users (Google API
client, Graph over HTTP), connect through OAuth, one sync_calendars_job run, and the 1:1s, cadence
marts, coaching briefs, prep reminders and the dashboard are all in the published snapshot."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from calendar_emulator.actors import GoogleActor, GraphActor
from smvue_core.connect import ConnectService
from smvue_core.opstore import OpStore
from smvue_core.opstore.annotations import AnnotationRepository
from smvue_core.opstore.roster import RosterRepository
from smvue_core.security.cipher import TokenCipher
from smvue_core.settings import Settings
from smvue_core.warehouse.database import open_database
from smvue_core.warehouse.one_on_ones import one_on_one_id_for_event
from smvue_pipeline.resources.bindings import build_resources
from tests.admin import AdminClient
from tests.waiting import scaled

DAY = timedelta(days=1)


@pytest.fixture
def home(emulator, tmp_path, monkeypatch):
    """A private SMVUE_HOME pointed at the session emulator."""
    url = emulator.url
    env = {
        "SMVUE_HOME": str(tmp_path / "smvue-home"),
        "SMVUE_SECRET_KEY": TokenCipher.generate_key(),
        "SMVUE_GOOGLE_API_BASE": f"{url}/google/calendar/v3/",
        "SMVUE_GOOGLE_AUTH_BASE": f"{url}/google/oauth2/",
        "SMVUE_GRAPH_API_BASE": f"{url}/microsoft/v1.0/",
        "SMVUE_MS_AUTHORITY": f"{url}/microsoft/common",
        "SMVUE_PRIVACY_CANARY": emulator.state.identity.canary,
    }
    for name in (
        "SMVUE_WAREHOUSE",
        "SMVUE_PUBLISHED",
        "SMVUE_WAREHOUSE_KEY",
        "DAGSTER_HOME",
        "SMVUE_REMINDER_WEBHOOK_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def google_event(title: str, start: datetime, minutes: int, people: list[str], rooms=(), **extra) -> dict:
    attendees = [{"email": e, "responseStatus": "accepted"} for e in people]
    attendees += [{"email": r, "resource": True, "responseStatus": "accepted"} for r in rooms]
    return {
        "summary": title,
        "description": "private agenda: never stored",
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(minutes=minutes)).isoformat(), "timeZone": "UTC"},
        "attendees": attendees,
        **extra,
    }


def connect(connect_service: ConnectService, manager_id: str, provider: str) -> str:
    """The OAuth round trip (the emulator's consent screen approves the login_hint user at once)."""
    http = requests.Session()
    http.trust_env = False
    answer = http.get(connect_service.start(manager_id, provider), allow_redirects=False, timeout=scaled(30))
    assert answer.status_code == 302, answer.text[:300]
    outcome = connect_service.finish(provider, dict(parse_qsl(urlsplit(answer.headers["Location"]).query)))
    return outcome.connection.connection_id


def published_rows(settings: Settings, sql: str, params=None) -> list[dict]:
    con = open_database(settings.published_path, read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        cursor = con.execute(sql, params or {})
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def test_calendar_to_cadence_reminders_and_dashboard(emulator, home, dbt_manifest):
    settings = home
    admin = AdminClient(emulator.url)
    tag = uuid.uuid4().hex[:8]
    maya, liam, ava = (f"maya-{tag}@acme.test", f"Liam.{tag}@acme.test", f"ava-{tag}@acme.test")
    omar, noah = f"omar-{tag}@acme.test", f"noah-{tag}@acme.test"
    store = OpStore(settings.opstore_path)
    roster = RosterRepository(store)
    roster.upsert_manager(f"mgr-maya-{tag}", "Maya Chen", maya)
    roster.upsert_team_member(
        f"rep-liam-{tag}", f"mgr-maya-{tag}", "Liam Ortiz", f" {liam.lower()} ", "2026-01-05"
    )
    roster.upsert_team_member(f"rep-ava-{tag}", f"mgr-maya-{tag}", "Ava Patel", ava, None)
    roster.upsert_manager(f"mgr-omar-{tag}", "Omar Haddad", omar)
    roster.upsert_team_member(f"rep-noah-{tag}", f"mgr-omar-{tag}", "Noah Kim", noah, "2024-01-01")

    # --- the managers' calendars, written as the users themselves -------------------------------
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    admin.create_user(maya, "google", "Maya Chen")
    admin.create_user(omar, "microsoft", "Omar Haddad")
    google = GoogleActor(emulator.url, admin.token(maya, "google"))
    google.insert(google_event("Liam 1:1 (held)", now - 3 * DAY, 30, [maya, liam]))
    archived = google.insert(google_event("Liam 1:1 (archived)", now - 10 * DAY, 30, [maya, liam]))
    google.insert(google_event("Liam 1:1 (next)", now + 2 * DAY, 45, [maya, liam.upper()]))
    google.insert(google_event("Pipeline sync", now - DAY, 45, [maya, liam, ava]))
    google.insert(
        google_event("Ava 1:1 in the Harbor Room", now + 3 * DAY, 30, [maya, ava], rooms=["room-h@acme.test"])
    )
    google.insert(google_event("Too long with Ava", now - 2 * DAY, 150, [maya, ava]))
    google.insert(
        {
            "summary": "Offsite",
            "start": {"date": (now - 9 * DAY).date().isoformat()},
            "end": {"date": (now - 8 * DAY).date().isoformat()},
            "attendees": [{"email": maya}, {"email": liam}],
        }
    )
    series = google.insert(
        google_event("Ava weekly", now - 27 * DAY, 30, [maya, ava], recurrence=["RRULE:FREQ=WEEKLY;COUNT=4"])
    )
    second = google.instances(series["id"])[1]
    moved_start = datetime.fromisoformat(second["start"]["dateTime"].replace("Z", "+00:00")) + DAY
    google.patch(
        second["id"],
        {
            "start": {"dateTime": moved_start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (moved_start + timedelta(minutes=30)).isoformat(), "timeZone": "UTC"},
        },
    )
    GraphActor(emulator.url, admin.token(omar, "microsoft")).create(
        {
            "subject": "Noah / Omar",
            "start": {"dateTime": (now - DAY).replace(tzinfo=None).isoformat(), "timeZone": "UTC"},
            "end": {
                "dateTime": (now - DAY + timedelta(minutes=30)).replace(tzinfo=None).isoformat(),
                "timeZone": "UTC",
            },
            "attendees": [{"emailAddress": {"address": noah, "name": "Noah Kim"}, "type": "required"}],
            "body": {"contentType": "text", "content": "private agenda: never stored"},
        }
    )

    # --- connect through OAuth and run the job -------------------------------------------------
    import dagster as dg

    from smvue_pipeline.definitions import build_defs

    resources = build_resources(settings)
    providers = {
        "google": resources["google_calendar"].client(),
        "microsoft": resources["outlook_calendar"].client(),
    }
    connect_service = ConnectService(
        store, TokenCipher(settings.secret_key()), providers, settings.public_url
    )
    maya_connection = connect(connect_service, f"mgr-maya-{tag}", "google")
    omar_connection = connect(connect_service, f"mgr-omar-{tag}", "microsoft")

    # The manager archives one 1:1 (F16): it stays a 1:1 row, flagged, and counts for nothing.
    primary = next(c for c in connect_service.connections.calendars(maya_connection) if c.is_primary)
    archived_id = one_on_one_id_for_event(maya_connection, primary.calendar_id, archived["id"])
    AnnotationRepository(store).set_archived(archived_id)

    job = build_defs(settings).resolve_job_def("sync_calendars_job")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, tags={"trigger": "test"})
    assert result.success
    checks = [e for e in result.get_asset_check_evaluations() if e.asset_key.path == ["one_on_one_meetings"]]
    assert {c.check_name for c in checks} == {
        "unique_one_on_one_id",
        "links_one_manager_and_one_rep",
        "no_description_column",
    }
    assert all(c.passed for c in checks)

    # --- everything a reader needs is in the published snapshot --------------------------------
    one_on_ones = published_rows(
        settings,
        "SELECT * FROM analytics.one_on_one_meetings WHERE connection_id IN ($a, $b) ORDER BY start_at",
        {"a": maya_connection, "b": omar_connection},
    )
    titles = [r["title"] for r in one_on_ones]
    assert titles.count("Ava weekly") == 4  # the moved instance counts once
    assert sorted(set(titles)) == [
        "Ava 1:1 in the Harbor Room",
        "Ava weekly",
        "Liam 1:1 (archived)",
        "Liam 1:1 (held)",
        "Liam 1:1 (next)",
        "Noah / Omar",
    ]
    by_title = {r["title"]: r for r in one_on_ones}
    assert by_title["Liam 1:1 (archived)"]["one_on_one_id"] == archived_id
    assert by_title["Liam 1:1 (archived)"]["is_archived"] is True
    assert by_title["Liam 1:1 (held)"]["status"] == "held"
    assert (
        by_title["Liam 1:1 (next)"]["status"] == "scheduled"
        and by_title["Liam 1:1 (next)"]["rep_id"] == f"rep-liam-{tag}"
    )
    assert (
        by_title["Noah / Omar"]["rep_id"] == f"rep-noah-{tag}" and by_title["Noah / Omar"]["status"] == "held"
    )
    assert moved_start in {r["start_at"] for r in one_on_ones}

    reasons = {
        r["title"]: r["classification_reason"]
        for r in published_rows(
            settings,
            """SELECT e.title, c.classification_reason FROM analytics.meeting_classifications c
               JOIN raw.calendar_events e USING (connection_id, calendar_id, event_id) WHERE c.connection_id = $c""",
            {"c": maya_connection},
        )
    }
    assert reasons["Pipeline sync"] == "not a 1:1: 3 people after removing rooms"
    assert reasons["Offsite"] == "not a 1:1: all-day"
    assert reasons["Too long with Ava"] == "not a 1:1: 150 min is outside 10–120"
    assert reasons["Ava 1:1 in the Harbor Room"] == "1:1 between Maya Chen and Ava Patel, 30 min"

    metrics = {
        r["rep_id"]: r
        for r in published_rows(
            settings,
            "SELECT * FROM analytics.cadence_metrics WHERE manager_id = $m",
            {"m": f"mgr-maya-{tag}"},
        )
    }
    assert metrics[f"rep-liam-{tag}"]["held_last_30d"] == 1  # the archived one does not count
    assert metrics[f"rep-liam-{tag}"]["days_since_last_held"] == 3
    assert metrics[f"rep-ava-{tag}"]["suggestion_reason"]  # tenure unknown: biweekly, with its reason

    upcoming = published_rows(
        settings,
        "SELECT * FROM analytics.upcoming_one_on_ones WHERE manager_id = $m ORDER BY start_at",
        {"m": f"mgr-maya-{tag}"},
    )
    assert [u["one_on_one_id"] for u in upcoming] == [
        by_title["Liam 1:1 (next)"]["one_on_one_id"],
        by_title["Ava 1:1 in the Harbor Room"]["one_on_one_id"],
    ]
    briefs = published_rows(
        settings, "SELECT * FROM analytics.coaching_briefs WHERE manager_id = $m", {"m": f"mgr-maya-{tag}"}
    )
    assert {b["one_on_one_id"] for b in briefs} == {u["one_on_one_id"] for u in upcoming}
    assert any("Liam Ortiz" in b["brief_markdown"] for b in briefs)

    reminders = published_rows(settings, "SELECT * FROM analytics.prep_reminders ORDER BY remind_at")
    assert {r["one_on_one_id"] for r in reminders} == {u["one_on_one_id"] for u in upcoming}
    assert all(r["delivery_state"] == "scheduled" for r in reminders)  # no webhook configured
    next_liam = by_title["Liam 1:1 (next)"]
    assert next(r for r in reminders if r["one_on_one_id"] == next_liam["one_on_one_id"])["remind_at"] == (
        next_liam["start_at"] - DAY
    )

    # --- the dashboard, built at the end of the run from the snapshot ---------------------------
    html = (settings.home / "dashboard.html").read_text()
    for text in ("Maya Chen", "Omar Haddad", "Liam Ortiz", "Ava Patel", "Up Next", "Coaching briefs", "<svg"):
        assert text in html
    assert "<script" not in html and "<link" not in html
    assert not re.search(r'src="https?:', html)
    assert "private agenda" not in html
    store.close()
