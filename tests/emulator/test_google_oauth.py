"""Google OAuth under /google/oauth2/: the code flow with PKCE, refresh through google-auth,
revoke, userinfo, and the authorize/token errors."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import google.oauth2.credentials
import pytest
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request

from tests.emulator.google_client import (
    GOOGLE_CLIENT,
    REDIRECT_URI,
    authorize,
    calendar_service,
    http_session,
    oauth_tokens,
    pkce_pair,
)

SCOPE = "openid email profile https://www.googleapis.com/auth/calendar.events"


@pytest.fixture
def user(admin):
    return admin.new_user("google", name="Olivia Owner")


def _token_url(emulator) -> str:
    return f"{emulator.url}/google/oauth2/token"


def _code(response) -> str:
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0]


def _exchange(emulator, code, verifier, **overrides):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": GOOGLE_CLIENT[0],
        "client_secret": GOOGLE_CLIENT[1],
        "code_verifier": verifier,
        **overrides,
    }
    return http_session().post(_token_url(emulator), data={k: v for k, v in data.items() if v is not None})


def _claims(id_token: str) -> dict:
    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _credentials(emulator, refresh_token):
    return google.oauth2.credentials.Credentials(
        token=None,
        refresh_token=refresh_token,
        token_uri=_token_url(emulator),
        client_id=GOOGLE_CLIENT[0],
        client_secret=GOOGLE_CLIENT[1],
    )


def test_code_flow_with_pkce(emulator, user):
    response, verifier = authorize(emulator.url, user["email"], SCOPE)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["st-123"] and query["scope"] == [SCOPE]
    token = _exchange(emulator, query["code"][0], verifier)
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["scope"] == SCOPE
    assert body["access_token"].startswith("ya29.") and body["refresh_token"]
    claims = _claims(body["id_token"])
    assert claims["email"] == user["email"] and claims["sub"] == user["user_id"]
    assert claims["aud"] == GOOGLE_CLIENT[0]
    service = calendar_service(emulator.url, body["access_token"])
    assert service.events().list(calendarId="primary").execute()["items"] == []
    # A code is good once.
    again = _exchange(emulator, query["code"][0], verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_online_access_gets_no_refresh_token(emulator, user):
    body = oauth_tokens(
        emulator.url, user["email"], "https://www.googleapis.com/auth/calendar", access_type="online"
    )
    assert "refresh_token" not in body and "id_token" not in body


def test_verifier_mismatch_is_invalid_grant(emulator, user):
    response, _ = authorize(emulator.url, user["email"], SCOPE)
    wrong, _ = pkce_pair()
    token = _exchange(emulator, _code(response), wrong)
    assert token.status_code == 400 and token.json()["error"] == "invalid_grant"
    response, _ = authorize(emulator.url, user["email"], SCOPE)
    missing = _exchange(emulator, _code(response), None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"


def test_refresh_through_google_auth_and_revoke(emulator, user):
    tokens = oauth_tokens(emulator.url, user["email"], SCOPE)
    credentials = _credentials(emulator, tokens["refresh_token"])
    credentials.refresh(Request())
    assert credentials.token.startswith("ya29.") and credentials.token != tokens["access_token"]
    assert credentials.valid
    service = calendar_service(emulator.url, credentials=credentials)
    service.events().list(calendarId="primary").execute()

    revoked = http_session().post(
        f"{emulator.url}/google/oauth2/revoke", params={"token": tokens["refresh_token"]}
    )
    assert revoked.status_code == 200
    with pytest.raises(RefreshError) as caught:
        _credentials(emulator, tokens["refresh_token"]).refresh(Request())
    assert "invalid_grant" in str(caught.value)
    raw = http_session().post(
        _token_url(emulator),
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": GOOGLE_CLIENT[0],
            "client_secret": GOOGLE_CLIENT[1],
        },
    )
    assert raw.status_code == 400
    assert raw.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    unknown = http_session().post(f"{emulator.url}/google/oauth2/revoke", data={"token": "nope"})
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_token"


def test_google_auth_refreshes_an_expired_access_token(emulator, user):
    tokens = oauth_tokens(emulator.url, user["email"], SCOPE)
    credentials = google.oauth2.credentials.Credentials(
        token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        token_uri=_token_url(emulator),
        client_id=GOOGLE_CLIENT[0],
        client_secret=GOOGLE_CLIENT[1],
    )
    service = calendar_service(emulator.url, credentials=credentials)
    service.events().list(calendarId="primary").execute()
    with emulator.state.lock:
        emulator.state.identity.expire_access_tokens("google", user["email"])
    service.events().list(calendarId="primary").execute()  # 401, refresh, retry
    assert credentials.token != tokens["access_token"]


def test_access_tokens_die_with_their_grant(emulator, user):
    tokens = oauth_tokens(emulator.url, user["email"], SCOPE)
    http_session().post(f"{emulator.url}/google/oauth2/revoke", data={"token": tokens["access_token"]})
    response = http_session().get(
        f"{emulator.url}/google/calendar/v3/calendars/primary/events",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert response.status_code == 401
    with pytest.raises(RefreshError):
        _credentials(emulator, tokens["refresh_token"]).refresh(Request())


def test_userinfo(emulator, user):
    tokens = oauth_tokens(emulator.url, user["email"], SCOPE)
    info = http_session().get(
        f"{emulator.url}/google/oauth2/v3/userinfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert info.status_code == 200
    assert info.json() == {
        "sub": user["user_id"],
        "name": "Olivia Owner",
        "email": user["email"],
        "email_verified": True,
    }
    bad = http_session().get(
        f"{emulator.url}/google/oauth2/v3/userinfo", headers={"Authorization": "Bearer x"}
    )
    assert bad.status_code == 401 and bad.json()["error"]


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"login_hint": "nobody@example.com"}, 400, "invalid_request"),
        ({"login_hint": None}, 400, "invalid_request"),
        ({"code_challenge": "too-short"}, 400, "invalid_request"),
        ({"code_challenge_method": "plain"}, 400, "invalid_request"),
        ({"redirect_uri": "https://evil.example.com/callback"}, 400, "redirect_uri_mismatch"),
        ({"redirect_uri": None}, 400, "redirect_uri_mismatch"),
        ({"response_type": "token"}, 400, "unsupported_response_type"),
        ({"scope": None}, 400, "invalid_request"),
        ({"scope": "https://www.googleapis.com/auth/drive"}, 400, "invalid_scope"),
        ({"access_type": "forever"}, 400, "invalid_request"),
        ({"client_id": "unknown-client"}, 401, "invalid_client"),
    ],
)
def test_authorize_errors(emulator, user, overrides, status, error):
    scope = overrides.pop("scope", SCOPE)
    response, _ = authorize(emulator.url, user["email"], scope, **overrides)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and body["error_description"]
    assert "location" not in response.headers


def test_token_errors(emulator, user):
    response, verifier = authorize(emulator.url, user["email"], SCOPE)
    code = _code(response)
    wrong_secret = _exchange(emulator, code, verifier, client_secret="wrong")
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    wrong_redirect = _exchange(emulator, code, verifier, redirect_uri="http://127.0.0.1:1/other")
    assert wrong_redirect.status_code == 400
    unsupported = _exchange(emulator, code, verifier, grant_type="password")
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    missing = _exchange(emulator, code, verifier, grant_type=None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    basic = http_session().post(
        _token_url(emulator),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=GOOGLE_CLIENT,
    )
    assert basic.status_code == 200 and basic.json()["access_token"]


def test_google_auth_oauthlib_flow(emulator, user, monkeypatch):
    from google_auth_oauthlib.flow import Flow

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the emulator speaks plain http on loopback
    flow = Flow.from_client_config(
        {
            "web": {
                "client_id": GOOGLE_CLIENT[0],
                "client_secret": GOOGLE_CLIENT[1],
                "auth_uri": f"{emulator.url}/google/oauth2/v2/auth",
                "token_uri": _token_url(emulator),
            }
        },
        scopes=["openid", "https://www.googleapis.com/auth/calendar"],
        redirect_uri=REDIRECT_URI,
        autogenerate_code_verifier=True,
    )
    flow.oauth2session.trust_env = False
    url, state = flow.authorization_url(access_type="offline", prompt="consent", login_hint=user["email"])
    response = http_session().get(url, allow_redirects=False)
    assert response.status_code == 302
    flow.fetch_token(authorization_response=response.headers["location"])
    credentials = flow.credentials
    assert credentials.refresh_token and credentials.token
    calendar_service(emulator.url, credentials=credentials).calendarList().list().execute()


def test_consent_as_another_account_reports_that_account(emulator, admin, user):
    """The consent screen signs in whoever `login_hint` names: a flow started for one mailbox can
    be completed as another, and the id_token says who actually consented."""
    other = admin.new_user("google", name="Oscar Other")
    response, verifier = authorize(emulator.url, other["email"], SCOPE)
    body = _exchange(emulator, _code(response), verifier).json()
    claims = _claims(body["id_token"])
    assert (claims["sub"], claims["email"], claims["email_verified"]) == (
        other["user_id"],
        other["email"],
        True,
    )
    assert claims["sub"] != user["user_id"]


def test_an_unverified_address_is_reported_unverified(emulator, admin):
    email = admin.new_user("google", email_verified=False)["email"]
    tokens = oauth_tokens(emulator.url, email, SCOPE)
    assert _claims(tokens["id_token"])["email_verified"] is False
    info = http_session().get(
        f"{emulator.url}/google/oauth2/v3/userinfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert info.json()["email"] == email and info.json()["email_verified"] is False


def test_include_granted_scopes_adds_what_the_user_granted_before(emulator, user):
    broad = "openid email https://www.googleapis.com/auth/calendar"
    oauth_tokens(emulator.url, user["email"], broad)
    narrow = "openid email https://www.googleapis.com/auth/calendar.events.owned"
    response, verifier = authorize(emulator.url, user["email"], narrow, include_granted_scopes="true")
    widened = _exchange(emulator, _code(response), verifier).json()["scope"].split()
    assert set(widened) == set(broad.split()) | set(narrow.split())
    # Without it (the default, and what SMVue asks for) the token carries only what was requested.
    response, verifier = authorize(emulator.url, user["email"], narrow, include_granted_scopes="false")
    assert _exchange(emulator, _code(response), verifier).json()["scope"] == narrow
    bad, _ = authorize(emulator.url, user["email"], narrow, include_granted_scopes="yes")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
