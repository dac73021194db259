"""Two gateway processes on one PostgreSQL database behave as one gateway (behind one public
address): an OAuth flow started on one finishes on the other, a notification acknowledged by
either is in the one queue, and the housekeeping runs on the lease holder only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from smvue_core.opstore.leases import Leases
from smvue_core.settings import Settings
from tests.gateway.conftest import emulator_env, serve_gateway
from tests.waiting import scaled
from webhook_gateway.services import LEADER_LEASE


@pytest.fixture
def shared_settings(emulator, tmp_path, postgres_server) -> Iterator[Settings]:
    with postgres_server.database() as url:
        yield Settings.from_env({**emulator_env(emulator.url, tmp_path), "SMVUE_DATABASE_URL": url})


@pytest.fixture
def replicas(emulator, shared_settings):
    # Replica a's address stands for the load balancer's: both hand it out as their public URL.
    with (
        serve_gateway(emulator, shared_settings) as a,
        serve_gateway(emulator, shared_settings, public_url=a.url) as b,
    ):
        yield a, b


def test_oauth_started_on_one_replica_finishes_on_the_other_and_both_take_notifications(replicas):
    a, b = replicas
    email = f"g-{uuid.uuid4().hex[:10]}@example.com"
    a.admin.create_user(email, "google", "Manager")
    manager_id = f"mgr-{uuid.uuid4().hex[:8]}"
    put = b.api.put(f"{b.url}/v1/managers/{manager_id}", json={"name": "Manager", "email": email})
    assert put.status_code in (200, 201), put.text

    start = a.start_oauth("google", manager_id)
    location = a.consent("google", start.headers["location"])
    # The load balancer sends the browser's callback to the other replica.
    callback = b.http.get(
        location.replace(a.url, b.url, 1), cookies=start.cookies, allow_redirects=False, timeout=scaled(60)
    )
    assert callback.status_code == 200, callback.text
    connection_id = callback.json()["connection_id"]
    assert a.api.get(f"{a.url}/v1/connections/{connection_id}").status_code == 200

    (watch,) = b.watches(connection_id)
    token = b.secret_of(watch)
    for replica in (a, b, a):
        number = a.next_message_number(watch.watch_id)  # one sender, whichever replica it reaches
        answer = replica.google_notify(watch.watch_id, watch.resource_id, token, number=number)
        assert answer.status_code in (200, 202, 204), answer.text
    reasons = [r["reason"] for r in a.queue_rows(connection_id)]
    assert reasons.count("google:exists") == 3, reasons


def test_housekeeping_runs_on_the_lease_holder_only(replicas, monkeypatch):
    a, b = replicas
    runs = {"a": 0, "b": 0}
    for name, replica in (("a", a), ("b", b)):
        monkeypatch.setattr(
            replica.services.connect,
            "finish_disconnects",
            lambda now=None, name=name: runs.__setitem__(name, runs[name] + 1) or 0,
        )
    a.kick_maintenance()
    b.kick_maintenance()
    b.kick_maintenance()
    assert runs == {"a": 1, "b": 0}
    leases = Leases(a.services.store)
    assert leases.holder(LEADER_LEASE, a.services.workers.clock()) == a.services.replica_id

    # The holder stops (cleanly: it hands the lease back); the other takes over at its next run.
    a.services.stop()
    b.kick_maintenance()
    assert runs == {"a": 1, "b": 1}
    assert leases.holder(LEADER_LEASE, b.services.workers.clock()) == b.services.replica_id
