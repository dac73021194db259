"""The app API through FastAPI's TestClient: bearer auth, the roster, connections, Sync Now, OAuth
start, error bodies that name the field, and an OpenAPI document that matches."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from smvue_core.opstore.connections import ConnectionRepository
from smvue_core.providers.base import CalendarInfo
from smvue_core.settings import Settings
from tests.gateway.conftest import API_TOKEN, emulator_env
from webhook_gateway.app import create_app

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def client(emulator, tmp_path):
    app = create_app(Settings.from_env(emulator_env(emulator.url, tmp_path)), maintenance_interval=3600)
    with TestClient(app) as test_client:
        yield test_client


def _repo(client) -> ConnectionRepository:
    services = client.app.state.services
    return ConnectionRepository(services.store, services.cipher)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/connections"),
        ("get", "/v1/connections/c1"),
        ("post", "/v1/connections/c1/sync"),
        ("delete", "/v1/connections/c1"),
        ("put", "/v1/managers/m1"),
        ("put", "/v1/team-members/r1"),
        ("delete", "/v1/team-members/r1"),
        ("get", "/oauth/google/start?manager_id=m1"),
    ],
)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}])
def test_app_api_requires_the_bearer_token(client, method, path, headers):
    answer = getattr(client, method)(path, headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"error": "authorization: a valid bearer token is required"}
    assert answer.headers["www-authenticate"] == "Bearer"


def test_unauthenticated_routes(client):
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["opstore"] == "writable"
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/oauth/google/callback?state=forged").status_code == 400


def test_roster_upserts(client):
    assert client.put(
        "/v1/managers/m1", json={"name": " Ann ", "email": " Ann@Example.com "}, headers=AUTH
    ).json() == {
        "manager_id": "m1",
        "name": "Ann",
        "email": "Ann@Example.com",
        "created": True,
    }
    put = client.put(
        "/v1/team-members/r1",
        json={"manager_id": "m1", "name": "Rep", "email": "  rep@example.com\t", "start_date": "2024-02-29"},
        headers=AUTH,
    )
    assert put.status_code == 201
    assert put.json()["email"] == "rep@example.com" and put.json()["start_date"] == "2024-02-29"
    again = client.put(
        "/v1/team-members/r1",
        json={"manager_id": "m1", "name": "Rep", "email": "rep2@example.com", "start_date": None},
        headers=AUTH,
    )
    assert (
        again.status_code == 200 and again.json()["created"] is False and again.json()["start_date"] is None
    )
    roster = client.app.state.services.connections.services.store.query_one(
        "SELECT email, start_date FROM team_members WHERE rep_id = 'r1'"
    )
    assert (roster["email"], roster["start_date"]) == ("rep2@example.com", None)
    assert client.delete("/v1/team-members/r1", headers=AUTH).status_code == 204
    gone = client.delete("/v1/team-members/r1", headers=AUTH)
    assert gone.status_code == 404 and gone.json()["error"].startswith("id:")


def test_team_member_of_an_unknown_manager_is_404_naming_manager_id(client):
    answer = client.put(
        "/v1/team-members/r1", json={"manager_id": "ghost", "name": "R", "email": "r@x.io"}, headers=AUTH
    )
    assert answer.status_code == 404
    assert answer.json()["error"].startswith("manager_id: unknown manager 'ghost'")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"manager_id": "m1", "name": "R", "email": "not-an-email"}, "email"),
        ({"manager_id": "m1", "name": "R", "email": "   "}, "email"),
        ({"manager_id": "m1", "name": "", "email": "r@x.io"}, "name"),
        ({"name": "R", "email": "r@x.io"}, "manager_id"),
        ({"manager_id": "m1", "name": "R", "email": "r@x.io", "start_date": "2024-13-01"}, "start_date"),
        ({"manager_id": "m1", "name": "R", "email": "r@x.io", "start_date": 1700000000}, "start_date"),
        ({"manager_id": "m1", "name": "R", "email": "r@x.io", "start_date": "next week"}, "start_date"),
        ({"manager_id": "m1", "name": "R", "email": "r@x.io", "role": "boss"}, "role"),
        ({"manager_id": 7, "name": "R", "email": "r@x.io"}, "manager_id"),
        ([], "body"),
    ],
)
def test_invalid_team_member_names_the_field(client, body, field):
    answer = client.put("/v1/team-members/r1", json=body, headers=AUTH)
    assert answer.status_code == 422
    assert answer.json()["error"].split(":")[0] == field, answer.json()


def test_malformed_json_and_bad_path_ids_are_4xx(client):
    answer = client.put(
        "/v1/managers/m1", content=b"{nope", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422 and answer.json()["error"].startswith("body:")
    too_long = client.put("/v1/managers/" + "m" * 201, json={"name": "A", "email": "a@b.c"}, headers=AUTH)
    assert too_long.status_code == 422 and too_long.json()["error"].startswith("id:")
    assert (
        client.get("/oauth/yahoo/start?manager_id=m1", headers=AUTH).json()["error"].startswith("provider:")
    )
    assert client.get("/oauth/google/start", headers=AUTH).json()["error"].startswith("manager_id:")
    assert client.get("/no/such/route").json() == {"error": "Not Found"}


def test_connections_listing_sync_now_and_conflicts(client):
    repo = _repo(client)
    conn = repo.connect("m1", "google", "ann@example.com", '{"token": "t", "refresh_token": "r"}')
    repo.save_calendars(
        conn.connection_id,
        [CalendarInfo("ann@example.com", "Ann", True), CalendarInfo("side", "Side", False)],
    )
    listing = client.get("/v1/connections", headers=AUTH).json()["connections"]
    assert [c["connection_id"] for c in listing] == [conn.connection_id]
    shown = client.get(f"/v1/connections/{conn.connection_id}", headers=AUTH).json()
    assert shown["status"] == "connected" and shown["last_synced_at"] is None and shown["last_error"] is None
    assert [(c["calendar_id"], c["is_selected"]) for c in shown["calendars"]] == [
        ("ann@example.com", True),
        ("side", False),
    ]
    assert "refresh_token" not in str(shown)

    queued = client.post(f"/v1/connections/{conn.connection_id}/sync", headers=AUTH)
    assert queued.status_code == 202
    row = client.app.state.services.store.query_one(
        "SELECT * FROM change_queue WHERE queue_id = ?", (queued.json()["queue_id"],)
    )
    assert (row["connection_id"], row["calendar_id"], row["reason"]) == (conn.connection_id, None, "sync_now")

    repo.set_status(conn.connection_id, "needs_reconnect", error="invalid_grant")
    conflict = client.post(f"/v1/connections/{conn.connection_id}/sync", headers=AUTH)
    assert conflict.status_code == 409 and "needs_reconnect" in conflict.json()["error"]
    assert client.get("/v1/connections/conn_missing", headers=AUTH).status_code == 404
    assert client.post("/v1/connections/conn_missing/sync", headers=AUTH).status_code == 404


def test_oauth_start_redirects_to_the_provider_with_login_hint(client, emulator):
    client.put("/v1/managers/m1", json={"name": "Ann", "email": "ann@example.com"}, headers=AUTH)
    for provider in ("google", "microsoft"):
        answer = client.get(f"/oauth/{provider}/start?manager_id=m1", headers=AUTH, follow_redirects=False)
        assert answer.status_code == 302
        location = answer.headers["location"]
        assert location.startswith(emulator.url)
        query = parse_qs(urlsplit(location).query)
        assert query["login_hint"] == ["ann@example.com"]
        assert query["code_challenge_method"] == ["S256"]
        assert query["redirect_uri"] == [f"http://127.0.0.1:8780/oauth/{provider}/callback"]
    unknown = client.get("/oauth/google/start?manager_id=ghost", headers=AUTH, follow_redirects=False)
    assert unknown.status_code == 404 and unknown.json()["error"].startswith("manager_id:")


def test_openapi_documents_every_route_with_models(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    expected = {
        "/healthz": {"get"},
        "/oauth/{provider}/start": {"get"},
        "/oauth/{provider}/callback": {"get"},
        "/v1/connections": {"get"},
        "/v1/connections/{id}": {"get", "delete"},
        "/v1/connections/{id}/sync": {"post"},
        "/v1/managers/{id}": {"put"},
        "/v1/team-members/{id}": {"put", "delete"},
        "/webhooks/google": {"post"},
        "/webhooks/microsoft": {"post"},
        "/webhooks/microsoft/lifecycle": {"post"},
    }
    for path, operations in expected.items():  # (other features add their own routes)
        assert set(paths[path]) == operations, path
    schemas = spec["components"]["schemas"]
    for name in (
        "ErrorBody",
        "WebhookAck",
        "GraphNotificationBatch",
        "GraphLifecycleBatch",
        "TeamMemberIn",
        "ConnectionOut",
    ):
        assert name in schemas, name
    google = paths["/webhooks/google"]["post"]
    assert {p["name"] for p in google["parameters"]} >= {
        "X-Goog-Channel-ID",
        "X-Goog-Resource-ID",
        "X-Goog-Channel-Token",
    }
    assert google["responses"]["403"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "bearer" in str(spec["components"]["securitySchemes"]).lower()
    assert "security" in paths["/v1/connections"]["get"] and "security" not in google
