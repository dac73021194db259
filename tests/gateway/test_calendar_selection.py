"""Choosing the calendars SMVue syncs (F3) through PUT /v1/connections/{id}/calendars: a newly
selected calendar is watched at once and queued for its import; a deselected one stops being
watched and is queued so the next run drops its rows. Bad input gets a 4xx naming the field."""

from __future__ import annotations

import uuid

import pytest


def _connect_with_two_calendars(gateway, provider: str):
    email = f"{provider[:1]}-{uuid.uuid4().hex[:10]}@example.com"
    primary = gateway.admin.create_user(email, provider, "Manager")["primary_calendar_id"]
    coaching = gateway.admin.add_calendar(email, provider, "Coaching")
    return gateway.connect(provider, email=email), primary, coaching


def _selection(gateway, connection_id: str, calendar_ids) -> object:
    return gateway.api.put(
        f"{gateway.url}/v1/connections/{connection_id}/calendars", json={"calendar_ids": calendar_ids}
    )


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_selecting_and_deselecting_a_calendar(gateway, provider):
    connected, primary, coaching = _connect_with_two_calendars(gateway, provider)
    cid = connected.connection_id
    assert {w.calendar_id for w in gateway.watches(cid)} == {primary}  # the primary alone by default
    initial_rows = len(gateway.queue_rows(cid))

    answer = _selection(gateway, cid, [primary, coaching])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {c["calendar_id"]: c["is_selected"] for c in body["calendars"]} == {primary: True, coaching: True}
    assert {w.calendar_id for w in gateway.watches(cid)} == {primary, coaching}
    assert {(w["calendar_id"], w["state"]) for w in body["watches"]} == {
        (primary, "active"),
        (coaching, "active"),
    }
    queued = gateway.queue_rows(cid)[initial_rows:]
    assert [(r["calendar_id"], r["reason"]) for r in queued] == [(coaching, "calendars_selected")]

    # Selecting the same again changes nothing and queues nothing.
    assert _selection(gateway, cid, [coaching, primary]).status_code == 200
    assert len(gateway.queue_rows(cid)) == initial_rows + 1

    (coaching_watch,) = [w for w in gateway.watches(cid) if w.calendar_id == coaching]
    answer = _selection(gateway, cid, [primary])
    assert answer.status_code == 200, answer.text
    assert {c["calendar_id"]: c["is_selected"] for c in answer.json()["calendars"]} == {
        primary: True,
        coaching: False,
    }
    assert {w.calendar_id for w in gateway.watches(cid)} == {primary}
    assert gateway.services.watches.get(coaching_watch.watch_id).state == "stopped"
    stopped = {w["id"]: w for w in gateway.emulator_watches(provider)}[coaching_watch.watch_id]
    assert stopped["active"] is False  # stopped at the provider too
    last = gateway.queue_rows(cid)[-1]
    assert (last["calendar_id"], last["reason"]) == (None, "calendars_selected")  # the run drops its rows


def test_bad_selections_are_refused_naming_the_field(gateway):
    connected, primary, _ = _connect_with_two_calendars(gateway, "google")
    cid = connected.connection_id
    before = gateway.queue_rows(cid)
    for body, status in [
        ({"calendar_ids": []}, 422),
        ({"calendar_ids": ["not-a-calendar@example.com"]}, 422),
        ({"calendar_ids": [primary, "has space"]}, 422),
        ({"calendar_ids": [primary], "extra": 1}, 422),
        ({}, 422),
    ]:
        answer = gateway.api.put(f"{gateway.url}/v1/connections/{cid}/calendars", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["error"].split(":")[0].split(".")[0] in ("calendar_ids", "extra"), answer.text
    assert gateway.queue_rows(cid) == before  # nothing queued by a refused request
    assert _selection(gateway, "conn_nope", [primary]).status_code == 404

    assert gateway.api.delete(f"{gateway.url}/v1/connections/{cid}").status_code == 200
    refused = _selection(gateway, cid, [primary])
    assert refused.status_code == 409 and refused.json()["error"].startswith("connection_id:")
