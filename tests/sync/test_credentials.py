"""Issue 3, tests 6, 8 and 9: a dead refresh token, token refresh mid-sync, key rotation."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import google.auth._exponential_backoff
import msal
import pytest

from smvue import cli
from smvue_core.security.cipher import SecretDecryptError, TokenCipher
from tests.sync import scenario
from tests.sync.test_retries import seed_one

TOKEN_ROUTES = ("POST /google/oauth2/token", "POST /microsoft/{tenant}/oauth2/v2.0/token")


def other(provider: str) -> str:
    return "microsoft" if provider == "google" else "google"


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_invalid_grant_needs_reconnect_while_others_sync(harness, provider):
    dead = harness.connect(provider)
    healthy = harness.connect(other(provider), name="Hal Healthy")
    seed_one(dead)
    assert harness.materialize().success
    fresh_event = seed_one(healthy)
    # The user withdraws consent; every access token is expired, so a refresh is needed.
    harness.admin.revoke(dead.email, provider)
    harness.expire_access_tokens(dead, healthy)

    result = harness.materialize()

    assert result.success
    connection = harness.connection(dead.connection_id)
    assert connection.status == "needs_reconnect"
    assert "invalid_grant" in connection.last_error
    ok = harness.connection(healthy.connection_id)
    assert ok.status == "connected" and ok.last_error is None
    assert fresh_event in harness.rows(healthy.connection_id)
    mirrored = harness.query(
        "SELECT connection_id, status, last_error FROM app.connections ORDER BY created_at"
    )
    assert [(r["connection_id"], r["status"], r["last_error"]) for r in mirrored] == [
        (dead.connection_id, "needs_reconnect", connection.last_error),
        (healthy.connection_id, "connected", None),
    ]
    # Rows already synced stay; later runs leave the dead connection alone until it reconnects.
    assert harness.rows(dead.connection_id)
    harness.admin.reset_stats()
    assert harness.materialize().success
    assert dead.email not in harness.admin.stats()["requests_by_user"]

    # Reconnecting (OAuth again) keeps the connection and resumes from the stored cursors.
    states = harness.sync_state(dead.connection_id)
    outcome = harness.authorize(dead.manager_id, provider)
    assert outcome.reconnected and outcome.connection.connection_id == dead.connection_id
    late = seed_one(dead)
    assert harness.materialize().success
    assert harness.connection(dead.connection_id).status == "connected"
    assert late in harness.rows(dead.connection_id)
    resumed = harness.sync_state(dead.connection_id)
    assert {c: s["last_full_sync_at"] for c, s in resumed.items()} == {
        c: s["last_full_sync_at"] for c, s in states.items()
    }, "no full resync after a reconnect with valid cursors"


def _google_token(credentials: str) -> str:
    return json.loads(credentials)["token"]


def _msal_tokens(credentials: str) -> tuple[str, str]:
    bundle = json.loads(credentials)
    cache = json.loads(bundle["msal_cache"])
    [access] = cache["AccessToken"].values()
    [refresh] = cache["RefreshToken"].values()
    return access["secret"], refresh["secret"]


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_token_refresh_mid_sync_is_transparent_and_persisted_encrypted(harness, provider):
    mailbox = harness.connect(provider)
    seed_one(mailbox)
    assert harness.materialize().success
    blob_before = harness.stored_secret(mailbox.connection_id)
    before = harness.connections.credentials(mailbox.connection_id)
    old_token = _google_token(before) if provider == "google" else _msal_tokens(before)[0]
    # The first calendar syncs with the old token; the second calendar's request is refused as
    # expired, in the middle of the run.
    start = scenario.local(datetime.now(UTC).date() + timedelta(days=2), 12)
    actor = mailbox.actor()
    if provider == "google":
        late = actor.insert(scenario.google_event("Late add", start, 30), mailbox.second_calendar_id)["id"]
    else:
        late = actor.create(scenario.graph_event("Late add", start, 30), mailbox.second_calendar_id)["id"]
    harness.admin.faults(
        {
            "rules": [
                {
                    "kind": "unauthorized",
                    "user": mailbox.email,
                    "path": re.escape(mailbox.second_calendar_id),
                    "count": 1,
                }
            ]
        }
    )
    harness.admin.reset_stats()

    result = harness.materialize()

    assert result.success
    assert harness.connection(mailbox.connection_id).status == "connected"
    assert late in harness.rows(mailbox.connection_id)
    stats = harness.admin.stats()
    assert stats["faults"] == {"unauthorized": 1}
    assert sum(stats["requests"].get(route, 0) for route in TOKEN_ROUTES) == 1
    blob_after = harness.stored_secret(mailbox.connection_id)
    assert blob_after != blob_before
    after = harness.connections.credentials(mailbox.connection_id)
    issued = set(harness.admin.secrets()["tokens"])
    if provider == "google":
        new_token = _google_token(after)
        assert json.loads(after)["refresh_token"] in issued
    else:
        new_token, refresh_token = _msal_tokens(after)
        assert refresh_token in issued
    assert new_token != old_token and new_token in issued
    assert new_token.encode() not in blob_after and old_token.encode() not in blob_after
    if provider == "microsoft":
        # The msal cache round-trips: a new session serves the stored access token from the
        # deserialized cache, with no call to the token endpoint.
        cache = msal.SerializableTokenCache()
        cache.deserialize(json.loads(after)["msal_cache"])
        assert cache.find(msal.TokenCache.CredentialType.ACCESS_TOKEN)[0]["secret"] == new_token
        harness.admin.reset_stats()
        assert harness.session(mailbox).list_calendars()
        assert not any(route in harness.admin.stats()["requests"] for route in TOKEN_ROUTES)
        assert harness.stored_secret(mailbox.connection_id) == blob_after


def test_rotate_key_then_sync_with_only_the_new_key(harness, monkeypatch, capsys):
    google = harness.connect("google")
    outlook = harness.connect("microsoft")
    assert harness.materialize().success
    old_key = harness.settings.secret_key()
    new_key = TokenCipher.generate_key()
    blobs = {m.connection_id: harness.stored_secret(m.connection_id) for m in (google, outlook)}

    # A key list that cannot decrypt what is stored: a one-line error, nothing changed.
    monkeypatch.setenv("SMVUE_SECRET_KEY", TokenCipher.generate_key())
    capsys.readouterr()
    assert cli.main(["rotate-key"]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert {c: harness.stored_secret(c) for c in blobs} == blobs

    monkeypatch.setenv("SMVUE_SECRET_KEY", f"{new_key},{old_key}")
    assert cli.main(["rotate-key"]) == 0
    assert "re-encrypted 2 stored secrets" in capsys.readouterr().out

    monkeypatch.setenv("SMVUE_SECRET_KEY", new_key)
    for connection_id in blobs:
        rotated = harness.stored_secret(connection_id)
        assert TokenCipher(new_key).decrypt(rotated)
        with pytest.raises(SecretDecryptError):
            TokenCipher(old_key).decrypt(rotated)
    added = {m.connection_id: seed_one(m) for m in (google, outlook)}
    result = harness.materialize()
    assert result.success
    for connection_id, event_id in added.items():
        assert harness.connection(connection_id).status == "connected"
        assert event_id in harness.rows(connection_id)


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_token_endpoint_down_is_an_error_not_a_reconnect(harness, provider, monkeypatch):
    mailbox = harness.connect(provider)
    event_id = seed_one(mailbox)
    harness.expire_access_tokens(mailbox)
    harness.admin.faults(
        {
            "rules": [
                {"kind": "server_error", "status": 503, "retry_after": 0, "path": "/oauth2/(v2.0/)?token$"}
            ]
        }
    )
    # google-auth backs off between its own token retries (1 s, 2 s); record instead of sleeping.
    waits = []
    monkeypatch.setattr(google.auth._exponential_backoff, "time", SimpleNamespace(sleep=waits.append))

    assert harness.materialize().success

    connection = harness.connection(mailbox.connection_id)
    assert connection.status == "error", "a token endpoint outage is not a dead grant"
    assert connection.last_error.startswith("ProviderUnavailable: token refresh failed")
    assert harness.rows(mailbox.connection_id) == {}
    # Once the endpoint is back the next run refreshes and syncs, with no reconnect.
    harness.admin.clear_faults()
    assert harness.materialize().success
    assert harness.connection(mailbox.connection_id).status == "connected"
    assert event_id in harness.rows(mailbox.connection_id)
