"""Connecting (F1, F2, F3): the OAuth round trip stores encrypted tokens, records the calendars and
queues the initial import; replayed, forged and failed callbacks are refused with a clear error."""

from __future__ import annotations

import json

import pytest

from smvue_core.connect import ConnectError, new_browser_binding
from smvue_core.opstore.queue import ChangeQueue


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_connect_stores_encrypted_tokens_calendars_and_queues_the_import(harness, provider):
    manager_id, email = harness.new_manager(provider)
    params = harness.consent(manager_id, provider)

    outcome = harness.connect_service.finish(provider, params)

    connection = outcome.connection
    assert (connection.manager_id, connection.account_email, connection.status) == (
        manager_id,
        email,
        "connected",
    )
    assert not outcome.reconnected and outcome.calendars == 2
    blob = harness.stored_secret(connection.connection_id)
    credentials = harness.connections.credentials(connection.connection_id)
    issued = set(harness.admin.secrets()["tokens"])
    stored_tokens = {t for t in issued if t in credentials}
    assert len(stored_tokens) >= 2, "access and refresh token, decryptable"
    assert not any(t.encode() in blob for t in stored_tokens)
    assert params["code"].encode() not in blob
    # F3: the primary calendar is selected by default; the other is known, not selected.
    every = harness.connections.calendars(connection.connection_id, selected_only=False)
    selected = harness.connections.calendars(connection.connection_id)
    assert {c.name for c in every} >= {"Coaching"} and [c.is_primary for c in selected] == [True]
    [queued] = ChangeQueue(harness.store).pending()
    assert (queued.connection_id, queued.calendar_id, queued.reason) == (
        connection.connection_id,
        None,
        "connect",
    )
    assert harness.store.query("SELECT * FROM oauth_states") == []
    if provider == "microsoft":
        assert set(json.loads(credentials)) == {"msal_cache", "home_account_id", "account_email"}


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_replayed_forged_and_failed_callbacks_are_refused(harness, provider):
    manager_id, _ = harness.new_manager(provider)
    params = harness.consent(manager_id, provider)
    with pytest.raises(ConnectError, match="^state: unknown"):
        harness.connect_service.finish(provider, {**params, "state": params["state"] + "x"})
    harness.connect_service.finish(provider, params)
    with pytest.raises(ConnectError, match="^state: unknown or already used"):
        harness.connect_service.finish(provider, params)  # a replayed callback
    with pytest.raises(ConnectError, match="^provider: must be one of"):
        harness.connect_service.finish("yahoo", params)
    with pytest.raises(ConnectError, match="^manager_id: unknown manager"):
        harness.connect_service.start("mgr_nobody", provider)

    # The token endpoint down during the code exchange: a clear error, no connection, no secret.
    other_id, _ = harness.new_manager(provider)
    params = harness.consent(other_id, provider)
    harness.admin.faults(
        {"rules": [{"kind": "server_error", "status": 503, "retry_after": 0, "path": "/token$"}]}
    )
    with pytest.raises(ConnectError, match="code exchange failed"):
        harness.connect_service.finish(provider, params)
    assert [c.manager_id for c in harness.connections.list()] == [manager_id]


def test_a_flow_bound_to_a_browser_finishes_only_with_its_binding(harness):
    """The in-process path of the gateway's cookie: the binding given to `start` must come back."""
    manager_id, email = harness.new_manager("google")
    binding = new_browser_binding()
    params = harness.consent(manager_id, "google", binding)
    for wrong in (None, "", new_browser_binding()):
        with pytest.raises(ConnectError, match="^state: this connection was started in another browser"):
            harness.connect_service.finish("google", params, wrong)
    outcome = harness.connect_service.finish("google", params, binding)
    assert outcome.connection.account_email == email
    assert outcome.connection.account_subject.startswith("google:")
    # A flow started without a binding cannot be finished with one (nor through the gateway).
    params = harness.consent(manager_id, "google")
    with pytest.raises(ConnectError, match="^state: this connection was started in another browser"):
        harness.connect_service.finish("google", params, binding)
