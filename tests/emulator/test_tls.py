"""`smvue emulator --tls`: a local CA and server certificate under SMVUE_HOME, the emulator over
https, and msal using the https emulator as its real authority (no routing client)."""

from __future__ import annotations

import os
import ssl
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import msal
import pytest
import requests

from calendar_emulator.server import EmulatorServer
from calendar_emulator.tls import ensure_certificates
from tests.conftest import EmulatorAdmin
from tests.emulator.microsoft_support import READ_WRITE
from tests.file_modes import group_or_world_accessible
from tests.processes import Output, running
from tests.waiting import free_port, scaled, wait_until

CLIENT_ID = "smvue-microsoft-dev"
SECRET = "smvue-microsoft-dev-secret"
REDIRECT = "http://127.0.0.1:8780/oauth/microsoft/callback"
pytestmark = pytest.mark.filterwarnings("ignore:response_mode:UserWarning")


SESSIONS: list[requests.Session] = []


def _session(ca_file: Path | None) -> requests.Session:
    session = requests.Session()
    SESSIONS.append(session)
    session.trust_env = False
    if ca_file is not None:
        session.verify = str(ca_file)
    return session


@pytest.fixture
def tls_emulator(tmp_path):
    files = ensure_certificates(tmp_path)
    with EmulatorServer(tls=files) as server:
        admin = EmulatorAdmin(server.url)
        admin.http.verify = str(files.ca_file)
        SESSIONS.append(admin.http)
        yield server, admin, files
        # Closed before the server stops: it waits for open connections to go first.
        while SESSIONS:
            SESSIONS.pop().close()


def test_certificates_are_made_once_with_private_keys_and_renewed_before_expiry(tmp_path):
    files = ensure_certificates(tmp_path)
    directory = files.ca_file.parent
    assert directory == tmp_path / "emulator-tls"
    keys = [files.key_file, directory / "ca-key.pem"]
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert not group_or_world_accessible(directory)
    ca, cert = files.ca_file.read_bytes(), files.cert_file.read_bytes()
    again = ensure_certificates(tmp_path)
    assert again == files and files.ca_file.read_bytes() == ca and files.cert_file.read_bytes() == cert
    # Close to the server certificate's expiry it is re-issued under the same CA.
    later = ensure_certificates(tmp_path, now=datetime.now(UTC) + timedelta(days=360))
    assert later.ca_file.read_bytes() == ca and later.cert_file.read_bytes() != cert
    assert stat.S_IMODE(files.key_file.stat().st_mode) == 0o600
    # The certificate verifies against the CA for the loopback names.
    context = ssl.create_default_context(cafile=str(files.ca_file))
    context.load_cert_chain(files.cert_file, files.key_file)  # key and certificate belong together


def test_https_needs_the_printed_ca_and_links_stay_https(tls_emulator):
    server, admin, files = tls_emulator
    assert server.url.startswith("https://127.0.0.1:")
    with pytest.raises(requests.exceptions.SSLError):
        _session(None).get(f"{server.url}/_admin/stats", timeout=scaled(10))
    user = admin.new_user("microsoft")
    token = admin.token("microsoft", user["email"])
    graph = _session(files.ca_file)
    graph.headers["Authorization"] = f"Bearer {token}"
    for day in (3, 4):
        body = {
            "subject": f"Day {day}",
            "start": {"dateTime": f"2030-01-0{day}T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"2030-01-0{day}T10:00:00", "timeZone": "UTC"},
        }
        assert graph.post(f"{server.url}/microsoft/v1.0/me/events", json=body, timeout=10).status_code == 201
    page = graph.get(
        f"{server.url}/microsoft/v1.0/me/calendarView/delta()",
        params={"startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2030-02-01T00:00:00Z"},
        headers={"Prefer": "odata.maxpagesize=1"},
        timeout=10,
    ).json()
    assert page["@odata.nextLink"].startswith(f"{server.url}/microsoft/v1.0/me/calendarView/delta()?")


def test_msal_with_the_https_emulator_as_its_real_authority(tls_emulator):
    server, admin, files = tls_emulator
    user = admin.new_user("microsoft", name="Dana Manager")
    http = _session(files.ca_file)
    app = msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=SECRET,
        authority=f"{server.url}/common",
        http_client=http,
        instance_discovery=False,  # a custom authority: nothing to ask login.microsoftonline.com
        token_cache=msal.SerializableTokenCache(),
    )
    flow = app.initiate_auth_code_flow([READ_WRITE], redirect_uri=REDIRECT, login_hint=user["email"])
    assert flow["auth_uri"].startswith(f"{server.url}/common/oauth2/v2.0/authorize?")
    consent = http.get(flow["auth_uri"], allow_redirects=False, timeout=10)
    assert consent.status_code == 302, consent.text
    answer = {k: v[0] for k, v in parse_qs(urlsplit(consent.headers["Location"]).query).items()}
    result = app.acquire_token_by_auth_code_flow(flow, answer)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == user["email"]
    refreshed = app.acquire_token_silent([READ_WRITE], account=app.get_accounts()[0], force_refresh=True)
    assert refreshed["token_source"] == "identity_provider"
    me = http.get(
        f"{server.url}/microsoft/v1.0/me",
        headers={"Authorization": f"Bearer {refreshed['access_token']}"},
        timeout=10,
    )
    assert me.status_code == 200 and me.json()["userPrincipalName"] == user["email"]


def test_cli_emulator_tls_prints_its_ca_file(tmp_path):
    port = free_port()
    smvue = str(Path(sys.executable).with_name("smvue"))
    env = {**os.environ, "SMVUE_HOME": str(tmp_path)}
    argv = [smvue, "emulator", "--tls", "--port", str(port)]
    with running(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        output = Output(process)
        line = output.wait_for("emulator CA file:", timeout=60, what="the CA line")
        ca_file = Path(line.split("emulator CA file:", 1)[1].strip())
        assert ca_file == tmp_path / "emulator-tls" / "ca.pem" and ca_file.exists()
        session = _session(ca_file)

        def answers():
            try:
                return session.get(f"https://127.0.0.1:{port}/_admin/stats", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(answers, timeout=scaled(30))
        session.close()  # before the server is stopped: it waits for open connections
