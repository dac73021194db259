"""Microsoft identity through msal 1.39 (routed http_client) and the raw v2.0 endpoints."""

from __future__ import annotations

import base64
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import msal
import pytest
import requests

from smvue_core.providers.http_routing import RoutedHttpClient
from tests.emulator.microsoft_support import READ_WRITE, Graph, graph_error

CLIENT_ID = "smvue-microsoft-dev"
SECRET = "smvue-microsoft-dev-secret"
REDIRECT = "http://127.0.0.1:8780/oauth/microsoft/callback"
# msal recommends form_post on every auth-code flow; the query mode is what these tests exercise.
pytestmark = pytest.mark.filterwarnings("ignore:response_mode:UserWarning")


def _http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def _routes(emulator) -> dict[str, str]:
    return {"https://login.microsoftonline.com/": f"{emulator.url}/microsoft/"}


def _app(
    emulator, authority: str = "https://login.microsoftonline.com/common"
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=SECRET,
        authority=authority,
        http_client=RoutedHttpClient(_routes(emulator)),
        token_cache=msal.SerializableTokenCache(),
    )


def _sign_in(emulator, app, email: str, scopes=(READ_WRITE,)) -> dict:
    flow = app.initiate_auth_code_flow(list(scopes), redirect_uri=REDIRECT, login_hint=email)
    consent = _http().get(RoutedHttpClient(_routes(emulator)).route(flow["auth_uri"]), allow_redirects=False)
    assert consent.status_code == 302, consent.text
    location = urlsplit(consent.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    answer = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert answer["state"] == flow["state"] and answer["code"] and answer["session_state"]
    result = app.acquire_token_by_auth_code_flow(flow, answer)
    assert "access_token" in result, result
    return result


def _decode(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_msal_auth_code_flow_refresh_and_revoke(emulator, admin):
    user = admin.new_user("microsoft", name="Dana Manager")
    app = _app(emulator)
    result = _sign_in(emulator, app, user["email"])
    assert result["scope"] and result["refresh_token"].startswith("M.R3_")
    claims = result["id_token_claims"]
    assert claims["preferred_username"] == user["email"] and claims["oid"] == user["user_id"]
    assert claims["aud"] == CLIENT_ID and claims["tid"] and claims["name"] == "Dana Manager"
    assert claims["iss"] == f"https://login.microsoftonline.com/{claims['tid']}/v2.0"

    accounts = app.get_accounts()
    assert [a["username"] for a in accounts] == [user["email"]]
    assert accounts[0]["home_account_id"] == f"{user['user_id']}.{claims['tid']}"

    # The scope is echoed as requested, so a silent call is served from msal's cache...
    cached = app.acquire_token_silent([READ_WRITE], account=accounts[0])
    assert cached["access_token"] == result["access_token"] and cached["token_source"] == "cache"
    # ...and a forced refresh really goes to the token endpoint, rotating the refresh token.
    refreshed = app.acquire_token_silent([READ_WRITE], account=accounts[0], force_refresh=True)
    assert refreshed["token_source"] == "identity_provider"
    assert refreshed["access_token"] != result["access_token"]
    me = Graph(emulator.url, refreshed["access_token"]).get("me")
    assert me.status_code == 200 and me.json()["userPrincipalName"] == user["email"]

    admin.revoke("microsoft", user["email"])
    failed = app.acquire_token_silent_with_error([READ_WRITE], account=accounts[0], force_refresh=True)
    assert failed["error"] == "invalid_grant" and failed["suberror"] == "bad_token"
    assert 50173 in failed["error_codes"] and failed["error_description"].startswith("AADSTS50173")
    graph_error(Graph(emulator.url, refreshed["access_token"]).get("me"), 401, "InvalidAuthenticationToken")


def test_id_token_carries_the_nonce_and_client_info(emulator, admin):
    user = admin.new_user("microsoft")
    app = _app(emulator)
    flow = app.initiate_auth_code_flow([READ_WRITE], redirect_uri=REDIRECT, login_hint=user["email"])
    consent = _http().get(RoutedHttpClient(_routes(emulator)).route(flow["auth_uri"]), allow_redirects=False)
    answer = {k: v[0] for k, v in parse_qs(urlsplit(consent.headers["Location"]).query).items()}
    # Redeem the code by hand to see the raw token response msal consumes.
    authorize = parse_qs(urlsplit(flow["auth_uri"]).query)
    token = _http().post(
        f"{emulator.url}/microsoft/common/oauth2/v2.0/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "code": answer["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": flow["code_verifier"],
            "scope": authorize["scope"][0],
        },
    )
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "Bearer" and body["scope"] == authorize["scope"][0]
    assert body["expires_in"] > 0 and body["ext_expires_in"] > 0
    header, payload, _ = body["id_token"].split(".")
    assert _decode(header)["alg"] == "RS256"
    assert _decode(payload)["nonce"] == authorize["nonce"][0]
    assert _decode(body["client_info"]) == {"uid": user["user_id"], "utid": _decode(payload)["tid"]}
    keys = _http().get(f"{emulator.url}/microsoft/common/discovery/v2.0/keys").json()["keys"]
    assert keys[0]["kid"] == _decode(header)["kid"]


def test_discovery_documents(emulator):
    http = _http()
    config = http.get(f"{emulator.url}/microsoft/common/v2.0/.well-known/openid-configuration").json()
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "issuer"):
        assert config[key].startswith("https://login.microsoftonline.com/")
    assert config["token_endpoint"] == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    instance = http.get(
        f"{emulator.url}/microsoft/common/discovery/instance",
        params={
            "api-version": "1.1",
            "authorization_endpoint": "https://login.microsoftonline.com/common/oauth2/authorize",
        },
    ).json()
    assert "login.microsoftonline.com" in instance["metadata"][0]["aliases"]
    bad = http.get(f"{emulator.url}/microsoft/not_a_tenant/v2.0/.well-known/openid-configuration")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_tenant"


def test_msal_with_instance_discovery_and_a_tenant_authority(emulator, admin):
    user = admin.new_user("microsoft")
    # A tenant-specific authority on a non-"known" code path: msal consults instance discovery.
    result = _sign_in(emulator, _app(emulator), user["email"])
    tenant = result["id_token_claims"]["tid"]
    app = msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=SECRET,
        authority=f"https://login.microsoftonline.com/{tenant}",
        http_client=RoutedHttpClient(_routes(emulator)),
    )
    assert _sign_in(emulator, app, user["email"])["id_token_claims"]["tid"] == tenant
    other = admin.new_user("microsoft")
    other_tenant_app = _app(
        emulator, "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555"
    )
    flow = other_tenant_app.initiate_auth_code_flow(
        [READ_WRITE], redirect_uri=REDIRECT, login_hint=other["email"]
    )
    denied = _http().get(RoutedHttpClient(_routes(emulator)).route(flow["auth_uri"]), allow_redirects=False)
    assert denied.status_code == 400 and 50020 in denied.json()["error_codes"]


def _authorize(emulator, **overrides) -> requests.Response:
    params = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": f"{READ_WRITE} offline_access openid profile",
        "state": "s1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        **overrides,
    }
    params = {k: v for k, v in params.items() if v is not None}
    return _http().get(
        f"{emulator.url}/microsoft/common/oauth2/v2.0/authorize?{urlencode(params)}", allow_redirects=False
    )


def test_authorize_rejects_bad_requests(emulator, admin):
    user = admin.new_user("microsoft")
    cases = {
        "unknown user": {"login_hint": "nobody@example.com"},
        "no login_hint": {"login_hint": None},
        "bad PKCE method": {"login_hint": user["email"], "code_challenge_method": "plain"},
        "short PKCE challenge": {"login_hint": user["email"], "code_challenge": "abc"},
        "foreign redirect": {"login_hint": user["email"], "redirect_uri": "https://evil.example.com/cb"},
        "unknown client": {"login_hint": user["email"], "client_id": "nope"},
        "token response type": {"login_hint": user["email"], "response_type": "token"},
    }
    for name, overrides in cases.items():
        response = _authorize(emulator, **overrides)
        assert response.status_code in (400, 401), (name, response.status_code, response.text)
        body = response.json()
        assert body["error"] and body["error_description"].startswith("AADSTS"), (name, body)
        assert isinstance(body["error_codes"], list), name
    ok = _authorize(emulator, login_hint=user["email"])
    assert ok.status_code == 302 and "code=" in ok.headers["Location"]


def test_token_endpoint_errors(emulator, admin):
    user = admin.new_user("microsoft")
    verifier = secrets.token_urlsafe(48)
    import hashlib

    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    location = _authorize(emulator, login_hint=user["email"], code_challenge=challenge).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    token_url = f"{emulator.url}/microsoft/common/oauth2/v2.0/token"
    form = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "code": code,
        "redirect_uri": REDIRECT,
    }
    wrong = _http().post(token_url, data={**form, "code_verifier": "x" * 43})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert wrong.json()["error_codes"] == [501481]
    good = _http().post(token_url, data={**form, "code_verifier": verifier})
    assert good.status_code == 200, good.text
    replay = _http().post(token_url, data={**form, "code_verifier": verifier})
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    bad_secret = _http().post(
        token_url,
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": "nope",
            "refresh_token": good.json()["refresh_token"],
        },
    )
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    garbage = _http().post(
        token_url, data={"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": "junk"}
    )
    assert garbage.status_code == 400 and garbage.json()["error"] == "invalid_grant"
    more_scope = _http().post(
        token_url,
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "refresh_token": good.json()["refresh_token"],
            "scope": "https://graph.microsoft.com/Mail.Read offline_access",
        },
    )
    assert more_scope.status_code == 400 and more_scope.json()["suberror"] == "consent_required"
    unsupported = _http().post(token_url, data={"grant_type": "password", "client_id": CLIENT_ID})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"


def test_scopes_limit_graph_calls(emulator, admin):
    user = admin.new_user("microsoft")
    read_only = _sign_in(
        emulator, _app(emulator), user["email"], scopes=["https://graph.microsoft.com/Calendars.Read"]
    )
    graph = Graph(emulator.url, read_only["access_token"])
    assert graph.get("me/calendars").status_code == 200
    denied = graph.post("me/events", json={"subject": "x"})
    graph_error(denied, 403, "ErrorAccessDenied")
    no_calendar = _sign_in(emulator, _app(emulator), user["email"], scopes=["User.Read"])
    graph_error(
        Graph(emulator.url, no_calendar["access_token"]).get("me/calendars"), 403, "ErrorAccessDenied"
    )
    assert Graph(emulator.url, no_calendar["access_token"]).get("me").status_code == 200
    write = _sign_in(emulator, _app(emulator), user["email"], scopes=["Calendars.ReadWrite"])
    created = Graph(emulator.url, write["access_token"]).post(
        "me/events",
        json={
            "subject": "ok",
            "start": {"dateTime": "2030-01-02T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2030-01-02T11:00:00", "timeZone": "UTC"},
        },
    )
    assert created.status_code == 201, created.text


def test_routed_http_client_rewrites_prefixes_and_passes_through(emulator):
    client = RoutedHttpClient(
        {
            "https://login.microsoftonline.com/": "http://127.0.0.1:1/ms/",
            "https://login.microsoftonline.com/common/": f"{emulator.url}/microsoft/common/",
        }
    )
    assert client.route("https://login.microsoftonline.com/common/x") == f"{emulator.url}/microsoft/common/x"
    assert client.route("https://login.microsoftonline.com/t1/x") == "http://127.0.0.1:1/ms/t1/x"
    assert client.route("https://example.com/a") == "https://example.com/a"
    response = client.get("https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration")
    assert response.status_code == 200 and "token_endpoint" in json.loads(response.text)
    response.raise_for_status()
    plain = RoutedHttpClient()
    assert plain.route(f"{emulator.url}/x") == f"{emulator.url}/x"
    posted = plain.post(f"{emulator.url}/microsoft/common/oauth2/v2.0/token", data={"grant_type": "nope"})
    assert posted.status_code == 400
    with pytest.raises(requests.HTTPError):
        posted.raise_for_status()
    plain.close()
    client.close()


def test_consent_as_another_mailbox_reports_that_mailbox(emulator, admin):
    """A flow started for one mailbox (login_hint) and completed as another: the id_token names
    the mailbox that consented (oid, tid, preferred_username), as Entra does."""
    started_for, other = admin.new_user("microsoft"), admin.new_user("microsoft")
    app = _app(emulator)
    flow = app.initiate_auth_code_flow([READ_WRITE], redirect_uri=REDIRECT, login_hint=started_for["email"])
    url = urlsplit(RoutedHttpClient(_routes(emulator)).route(flow["auth_uri"]))
    query = {k: v[0] for k, v in parse_qs(url.query).items()} | {"login_hint": other["email"]}
    consent = _http().get(url._replace(query=urlencode(query)).geturl(), allow_redirects=False)
    answer = {k: v[0] for k, v in parse_qs(urlsplit(consent.headers["Location"]).query).items()}
    claims = app.acquire_token_by_auth_code_flow(flow, answer)["id_token_claims"]
    assert claims["oid"] == other["user_id"] and claims["preferred_username"] == other["email"]
    assert claims["tid"] and claims["oid"] != started_for["user_id"]
