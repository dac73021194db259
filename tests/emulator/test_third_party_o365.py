"""The emulator driven by O365 (python-o365, requests-based) through its Schedule/Calendar/Event
API: save (which sends `"isOnlineMeeting": "false"`, a quoted Edm.Boolean), update, list with
recurrence expanded (calendarView) and delete. Its token comes from the admin API, set on the
session O365 would otherwise build from its msal token cache."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
import requests
from O365 import Account
from O365.connection import MSGraphProtocol

UTC = ZoneInfo("UTC")


@pytest.fixture
def o365(emulator, admin):
    user = admin.new_user("microsoft")

    class EmulatedGraph(MSGraphProtocol):
        _protocol_url = f"{emulator.url}/microsoft/"

    account = Account(("smvue-test-client", "unused"), protocol=EmulatedGraph())
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {admin.token('microsoft', user['email'])}"
    sent: list[dict] = []

    def record(response, *args, **kwargs):
        if response.request.body and response.request.method in ("POST", "PATCH"):
            sent.append(json.loads(response.request.body))

    session.hooks["response"].append(record)
    account.con.session = session
    return account.schedule().get_default_calendar(), sent


def test_save_update_list_and_delete(o365):
    calendar, sent = o365
    event = calendar.new_event()
    event.subject = "O365 1:1"
    event.start = dt.datetime(2030, 1, 5, 9, tzinfo=UTC)
    event.end = dt.datetime(2030, 1, 5, 10, tzinfo=UTC)
    assert event.save() and event.object_id
    assert sent[0]["isOnlineMeeting"] == "false"  # what O365 sends: the difference this guards
    weekly = calendar.new_event()
    weekly.subject = "Weekly"
    weekly.start = dt.datetime(2030, 1, 7, 15, tzinfo=UTC)
    weekly.end = dt.datetime(2030, 1, 7, 15, 30, tzinfo=UTC)
    weekly.recurrence.set_weekly(
        1, days_of_week=["monday"], first_day_of_week="sunday", end=dt.date(2030, 1, 21)
    )
    assert weekly.save()
    event.subject = "O365 1:1 (renamed)"
    assert event.save()
    listed = list(
        calendar.get_events(
            include_recurring=True,
            start_recurring=dt.datetime(2030, 1, 1, tzinfo=UTC),
            end_recurring=dt.datetime(2030, 2, 1, tzinfo=UTC),
        )
    )
    assert sorted((e.subject, e.start.date().isoformat()) for e in listed) == [
        ("O365 1:1 (renamed)", "2030-01-05"),
        ("Weekly", "2030-01-07"),
        ("Weekly", "2030-01-14"),
        ("Weekly", "2030-01-21"),
    ]
    renamed = next(e for e in listed if e.subject.startswith("O365"))
    assert renamed.is_online_meeting is False
    assert renamed.delete()
    after = calendar.get_events(
        include_recurring=True,
        start_recurring=dt.datetime(2030, 1, 1, tzinfo=UTC),
        end_recurring=dt.datetime(2030, 2, 1, tzinfo=UTC),
    )
    assert {e.subject for e in after} == {"Weekly"}
