"""The OAuth callback binds the right account (security issue #13, item 1): a flow is finished only
by the browser that started it, only the manager's own account is accepted (403, nothing stored,
otherwise), a reconnect never swaps the account, and a reconnect stops the old watches with the old
credentials before the new ones are opened."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from tests.waiting import scaled
from webhook_gateway.routers.oauth import binding_cookie


def _mailbox(gateway, provider: str, email_verified: bool = True) -> str:
    email = f"{provider[:1]}-{uuid.uuid4().hex[:10]}@example.com"
    gateway.admin.create_user(email, provider, "Somebody Else", email_verified=email_verified)
    return email


def _manager(gateway, email: str) -> str:
    manager_id = f"mgr-{uuid.uuid4().hex[:8]}"
    put = gateway.api.put(f"{gateway.url}/v1/managers/{manager_id}", json={"name": "Manager", "email": email})
    assert put.status_code in (200, 201), put.text
    return manager_id


def _active_at_provider(gateway, provider: str) -> dict[str, dict]:
    return {w["id"]: w for w in gateway.emulator_watches(provider) if w["active"]}


def _browser() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def test_microsoft_reconnect_with_another_mailbox_is_refused_and_changes_nothing(gateway):
    """The issue's repro: a reconnect started for Olga, consented as another mailbox."""
    olga = gateway.connect("microsoft")
    cid = olga.connection_id
    repo = gateway.services.connect.connections
    (watch,) = gateway.watches(cid)
    before, credentials = repo.get(cid), repo.credentials(cid)
    queued = gateway.queue_rows(cid)

    answer = gateway.oauth("microsoft", olga.manager_id, consent_as=_mailbox(gateway, "microsoft"))

    assert answer.status_code == 403, answer.text
    assert answer.json()["error"].startswith("account: this microsoft connection belongs to another account")
    assert repo.get(cid) == before and repo.credentials(cid) == credentials
    assert before.account_email == olga.email and before.account_subject.startswith("microsoft:")
    assert gateway.watches(cid) == [watch]
    # Nothing was replaced, so the subscription is still live at Graph (and still ours).
    assert watch.watch_id in _active_at_provider(gateway, "microsoft")
    assert gateway.queue_rows(cid) == queued


def test_google_first_connect_with_another_account_is_refused_and_stores_nothing(gateway):
    manager_email, other = _mailbox(gateway, "google"), _mailbox(gateway, "google")
    manager_id = _manager(gateway, manager_email)
    repo = gateway.services.connect.connections

    answer = gateway.oauth("google", manager_id, consent_as=other)

    assert answer.status_code == 403, answer.text
    assert answer.json()["error"].startswith(f"account: {other} signed in, which is not the email of manager")
    assert repo.of_manager(manager_id, "google") is None
    assert [w for w in gateway.emulator_watches("google") if w["owner"] == other] == []
    # The manager's own account still connects.
    own = gateway.oauth("google", manager_id)
    assert own.status_code == 200, own.text
    assert own.json()["account_email"] == manager_email and own.json()["reconnected"] is False


def test_google_account_without_a_verified_address_is_refused(gateway):
    email = _mailbox(gateway, "google", email_verified=False)
    manager_id = _manager(gateway, email)

    answer = gateway.oauth("google", manager_id)

    assert answer.status_code == 403, answer.text
    assert answer.json()["error"].startswith(
        "account: the google account that signed in has no verified email"
    )
    assert gateway.services.connect.connections.of_manager(manager_id, "google") is None


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_the_callback_is_refused_without_the_starting_browsers_cookie(gateway, provider):
    manager_id = _manager(gateway, _mailbox(gateway, provider))
    start = gateway.start_oauth(provider, manager_id)
    set_cookie = start.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    assert f"path=/oauth/{provider}/callback" in set_cookie
    callback = gateway.consent(provider, start.headers["location"])
    state = dict(parse_qsl(urlsplit(callback).query))["state"]

    # Another browser that was handed the callback URL: it has no cookie for this flow...
    stranger = _browser()
    without = stranger.get(callback, allow_redirects=False, timeout=scaled(30))
    assert without.status_code == 400, without.text
    assert without.json()["error"].startswith("state: this connection was started in another browser")
    # ...nor does its own flow's cookie, put under this flow's name, pass.
    own_flow = gateway.start_oauth(provider, manager_id)
    (other_value,) = own_flow.cookies.values()
    forged = stranger.get(
        callback, cookies={binding_cookie(state): other_value}, allow_redirects=False, timeout=scaled(30)
    )
    assert forged.status_code == 400 and forged.json()["error"].startswith("state: this connection")
    assert gateway.services.connect.connections.of_manager(manager_id, provider) is None

    # The refusals did not burn the flow: the browser that started it finishes it.
    genuine = gateway.http.get(callback, cookies=start.cookies, allow_redirects=False, timeout=scaled(60))
    assert genuine.status_code == 200, genuine.text
    assert binding_cookie(state) in genuine.headers["set-cookie"]  # cleared once used


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_reconnect_with_the_same_account_stops_the_old_watch_with_the_old_token_first(
    gateway, provider, monkeypatch
):
    connected = gateway.connect(provider)
    cid = connected.connection_id
    repo = gateway.services.connect.connections
    (old,) = gateway.watches(cid)
    old_credentials = repo.credentials(cid)
    seen: dict = {}
    stop_connection = gateway.services.watches.stop_connection

    def observed(connection_id, now=None):
        # What the stop runs with: the credentials stored then, and the watches already open.
        seen["credentials"] = repo.credentials(connection_id)
        seen["active"] = [w.watch_id for w in gateway.watches(connection_id)]
        return stop_connection(connection_id, now)

    monkeypatch.setattr(gateway.services.watches, "stop_connection", observed)

    again = gateway.oauth(provider, connected.manager_id)

    assert again.status_code == 200, again.text
    body = again.json()
    assert body["connection_id"] == cid and body["reconnected"] is True
    assert body["account_email"] == connected.email
    assert seen == {"credentials": old_credentials, "active": [old.watch_id]}
    stopped = gateway.services.watches.get(old.watch_id)
    assert stopped.state == "stopped" and stopped.last_error is None  # really stopped, not given up
    live = _active_at_provider(gateway, provider)
    assert old.watch_id not in live
    (new,) = gateway.watches(cid)
    assert new.watch_id != old.watch_id and new.watch_id in live
    assert repo.credentials(cid) != old_credentials


def test_google_token_carries_only_the_requested_scopes(gateway):
    """`include_granted_scopes` off: an account that once granted this client the broad `calendar`
    scope does not bring it back into SMVue's token."""
    from smvue_core.providers.google.client import GOOGLE_SCOPES
    from tests.emulator.google_client import oauth_tokens

    email = _mailbox(gateway, "google")
    oauth_tokens(gateway.emulator_url, email, "openid email https://www.googleapis.com/auth/calendar")
    start = gateway.start_oauth("google", _manager(gateway, email))
    assert dict(parse_qsl(urlsplit(start.headers["location"]).query))["include_granted_scopes"] == "false"
    callback = gateway.consent("google", start.headers["location"])
    assert dict(parse_qsl(urlsplit(callback).query))["scope"].split() == list(GOOGLE_SCOPES)
    finished = gateway.http.get(callback, cookies=start.cookies, allow_redirects=False, timeout=scaled(60))
    assert finished.status_code == 200, finished.text


def test_switching_accounts_takes_a_disconnect_and_the_old_watches_stopped_first(gateway, clear_faults):
    """After a disconnect the manager may connect another mailbox (the roster says so), but only
    once the old mailbox's subscription is stopped, with the old mailbox's token."""
    first = gateway.connect("microsoft")
    cid = first.connection_id
    repo = gateway.services.connect.connections
    (old,) = gateway.watches(cid)
    gateway.admin.wait_notifications()
    rule = {"kind": "server_error", "provider": "microsoft", "method": "DELETE", "path": "subscriptions/"}
    clear_faults.faults({"rules": [{**rule, "user": first.email}]})
    assert gateway.api.delete(f"{gateway.url}/v1/connections/{cid}").json()["pending_watch_stops"] == 1
    second = _mailbox(gateway, "microsoft")
    put = gateway.api.put(
        f"{gateway.url}/v1/managers/{first.manager_id}", json={"name": "Manager", "email": second}
    )
    assert put.status_code in (200, 201), put.text
    held, old_subject = repo.credentials(cid), repo.get(cid).account_subject

    blocked = gateway.oauth("microsoft", first.manager_id)
    assert blocked.status_code == 409, blocked.text
    assert blocked.json()["error"].startswith("connection: 1 watch(es) of the previous account")
    assert repo.get(cid).account_email == first.email and repo.credentials(cid) == held
    assert old.watch_id in _active_at_provider(gateway, "microsoft")

    clear_faults.clear_faults()
    switched = gateway.oauth("microsoft", first.manager_id)
    assert switched.status_code == 200, switched.text
    assert switched.json()["connection_id"] == cid and switched.json()["account_email"] == second
    assert gateway.services.watches.get(old.watch_id).state == "stopped"
    assert old.watch_id not in _active_at_provider(gateway, "microsoft")
    assert repo.get(cid).account_subject not in (None, old_subject)
