"""The meetings API through a real gateway: concurrent, retried schedules make exactly one event each;
reschedule and cancel reach the calendar; bad input gets a 4xx naming the field; disconnect keeps
meetings and events."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from tests.waiting import scaled
from tests.writeback.conftest import event_times, smvue_tag

MEETINGS = 50


def slot(index: int) -> datetime:
    base = (datetime.now(UTC) + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
    return base + timedelta(days=index // 8, hours=index % 8)


def test_fifty_concurrent_schedules_each_retried_make_exactly_fifty_events(wb, api):
    teams = [wb.team("google"), wb.team("microsoft")]
    requests_ = []
    for index in range(MEETINGS):
        key = f"schedule-{uuid.uuid4()}"
        # Every request is sent twice with its Idempotency-Key, both copies racing each other.
        requests_ += [(index, key), (index, key)]

    def send(item):
        index, key = item
        answer = api.schedule(teams[index % 2], slot(index), key=key)
        return key, answer.status_code, answer.json()

    with ThreadPoolExecutor(max_workers=25) as pool:
        answers = list(pool.map(send, requests_))

    assert {status for _, status, _ in answers} == {202}
    by_key: dict[str, set[str]] = {}
    for key, _, body in answers:
        by_key.setdefault(key, set()).add(body["meeting_id"])
    assert len(by_key) == MEETINGS and all(len(ids) == 1 for ids in by_key.values())
    meeting_ids = {ids.pop() for ids in by_key.values()}
    assert wb.store.query_one("SELECT count(*) AS n FROM meetings")["n"] == MEETINGS

    states = api.wait_settled(meeting_ids, timeout=60)
    assert Counter(s["writeback"] for s in states.values()) == {"synced": MEETINGS}
    tags = Counter()
    for team in teams:
        events = wb.events(team)
        assert all(not e["deleted"] for e in events)
        assert len(events) == MEETINGS // 2  # both providers represented, half each
        tags.update(smvue_tag(e) for e in events)
    assert set(tags) == meeting_ids and set(tags.values()) == {1}
    for meeting_id, state in states.items():
        assert state["provider_event_id"], meeting_id


def test_an_idempotency_key_replays_for_a_day_then_is_pruned(wb, api):
    team = wb.team("google")
    key = f"daily-{uuid.uuid4()}"
    first = api.schedule(team, slot(0), key=key)
    assert first.status_code == 202, first.text
    meeting_id = first.json()["meeting_id"]
    services, now = api.services, datetime.now(UTC)

    services.housekeeping(now + timedelta(hours=23))  # within the retention: still replayed
    assert api.schedule(team, slot(0), key=key).json()["meeting_id"] == meeting_id

    services.housekeeping(now + timedelta(hours=25))
    kept = wb.store.query_one("SELECT count(*) AS n FROM idempotency_keys WHERE idempotency_key = ?", (key,))
    assert kept["n"] == 0
    reused = api.schedule(team, slot(1), key=key)  # a pruned key makes a new request
    assert reused.status_code == 202 and reused.json()["meeting_id"] != meeting_id
    # The gateway runs the pruning on a worker of its own.
    assert services.workers.periodic["housekeeping"].kick_and_wait(timeout=scaled(30))


def test_reschedule_and_cancel_through_the_api(wb, api):
    team = wb.team("microsoft")
    start = slot(3)
    created = api.schedule(team, start)
    assert created.status_code == 202 and created.json()["writeback"] == "pending"
    meeting_id = created.json()["meeting_id"]
    first = api.wait_settled([meeting_id])[meeting_id]
    assert (first["writeback"], first["status"], first["version"]) == ("synced", "scheduled", 1)
    event_id = first["provider_event_id"]

    moved = start + timedelta(days=1, hours=2)
    answer = api.call(
        "PATCH",
        f"/v1/meetings/{meeting_id}",
        json={"start": moved.isoformat(), "end": (moved + timedelta(minutes=50)).isoformat()},
    )
    assert answer.status_code == 202 and answer.json() == {"meeting_id": meeting_id, "writeback": "pending"}
    after = api.wait_settled([meeting_id])[meeting_id]
    assert (after["writeback"], after["version"], after["provider_event_id"]) == ("synced", 2, event_id)
    [row] = wb.events(team)
    assert event_times(row) == (moved, moved + timedelta(minutes=50))

    assert api.call("DELETE", f"/v1/meetings/{meeting_id}").status_code == 202
    gone = api.wait_settled([meeting_id])[meeting_id]
    assert (gone["status"], gone["writeback"]) == ("cancelled", "synced")
    assert wb.events(team)[0]["deleted"]
    # Cancelling again changes nothing; moving a cancelled meeting is a conflict.
    assert api.call("DELETE", f"/v1/meetings/{meeting_id}").status_code == 202
    again = api.call(
        "PATCH", f"/v1/meetings/{meeting_id}", json={"start": moved.isoformat(), "end": moved.isoformat()}
    )
    assert again.status_code == 422 and again.json()["error"].startswith("end:")
    later = moved + timedelta(hours=1)
    conflict = api.call(
        "PATCH", f"/v1/meetings/{meeting_id}", json={"start": moved.isoformat(), "end": later.isoformat()}
    )
    assert conflict.status_code == 409 and conflict.json()["error"].startswith("meeting_id:")


def test_bad_input_gets_a_4xx_naming_the_field(wb, api):
    team, other = wb.team("google"), wb.team("google")
    start = slot(1)
    good = {
        "manager_id": team.manager_id,
        "rep_id": team.rep_id,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        "title": "1:1",
    }
    cases = [
        ({"start": start.replace(tzinfo=None).isoformat()}, 422, "start:"),
        ({"end": (start - timedelta(minutes=5)).isoformat()}, 422, "end: must be after start"),
        ({"end": (start + timedelta(hours=30)).isoformat()}, 422, "end:"),
        ({"start": 1767225600}, 422, "start:"),
        ({"title": "  "}, 422, "title:"),
        ({"manager_id": "mgr_nobody"}, 422, "manager_id:"),
        ({"rep_id": "rep_nobody"}, 422, "rep_id:"),
        ({"rep_id": other.rep_id}, 422, "rep_id:"),
        ({"colour": "red"}, 422, "colour:"),
    ]
    for change, status, prefix in cases:
        answer = api.call("POST", "/v1/meetings", json=good | change)
        assert (answer.status_code, answer.json()["error"][: len(prefix)]) == (status, prefix), (
            change,
            answer.text,
        )

    # A manager without a connected calendar cannot have meetings written back.
    wb.sync.connect_service.roster.upsert_manager("mgr_offline", "Off Line", "off@smvue-test.example")
    wb.sync.connect_service.roster.upsert_team_member(
        "rep_offline", "mgr_offline", "Rep", "r@smvue-test.example", None
    )
    answer = api.call(
        "POST", "/v1/meetings", json=good | {"manager_id": "mgr_offline", "rep_id": "rep_offline"}
    )
    assert answer.status_code == 422 and "no connected calendar" in answer.json()["error"]

    key = {"Idempotency-Key": "same-key"}
    assert api.call("POST", "/v1/meetings", json=good, headers=key).status_code == 202
    reused = api.call("POST", "/v1/meetings", json=good | {"title": "Another"}, headers=key)
    assert reused.status_code == 422 and reused.json()["error"].startswith("Idempotency-Key:")
    too_long = api.call("POST", "/v1/meetings", json=good, headers={"Idempotency-Key": "k" * 300})
    assert too_long.status_code == 422 and too_long.json()["error"].startswith("Idempotency-Key:")

    for method, path, body in [
        ("GET", "/v1/meetings/mtg_unknown", None),
        ("PATCH", "/v1/meetings/mtg_unknown", {"start": good["start"], "end": good["end"]}),
        ("DELETE", "/v1/meetings/mtg_unknown", None),
        ("POST", "/v1/meetings/mtg_unknown/archive", None),
        ("PUT", "/v1/meetings/mtg_unknown/type", {"meeting_type": "Weekly"}),
    ]:
        answer = api.call(method, path, json=body)
        assert answer.status_code == 404 and answer.json()["error"].startswith("meeting_id:"), (
            method,
            answer.text,
        )
    unauthenticated = api.http.request(
        "GET", api.url + "/v1/meetings/mtg_unknown", headers={"Authorization": ""}
    )
    assert unauthenticated.status_code == 401
    assert wb.store.query_one("SELECT count(*) AS n FROM meetings")["n"] == 1


def test_openapi_describes_the_meetings_endpoints(api):
    schema = api.call("GET", "/openapi.json").json()
    paths = schema["paths"]
    assert set(paths["/v1/meetings"]) == {"post"}
    assert set(paths["/v1/meetings/{id}"]) == {"get", "patch", "delete"}
    assert "post" in paths["/v1/meetings/{id}/archive"] and "put" in paths["/v1/meetings/{id}/type"]
    post = paths["/v1/meetings"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in post["parameters"])
    assert "202" in post["responses"] and "422" in post["responses"]
    assert schema["components"]["schemas"]["MeetingIn"]["additionalProperties"] is False


def test_disconnect_keeps_meetings_in_smvue_and_events_on_the_calendar(wb, api):
    team = wb.team("google")
    meeting_id = api.schedule(team, slot(2)).json()["meeting_id"]
    api.wait_settled([meeting_id])
    before = wb.events(team, live_only=True)
    answer = api.call("DELETE", f"/v1/connections/{team.mailbox.connection_id}")
    assert answer.status_code == 200, answer.text
    assert wb.events(team, live_only=True) == before and [smvue_tag(e) for e in before] == [meeting_id]
    kept = api.meeting(meeting_id)
    assert (kept["status"], kept["writeback"]) == ("scheduled", "synced")
    # New meetings for that manager are refused up front: nothing could write them.
    refused = api.schedule(team, slot(4))
    assert refused.status_code == 422 and refused.json()["error"].startswith("manager_id:")
