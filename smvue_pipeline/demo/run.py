"""The demo journey, step by step, printing what it does."""

from __future__ import annotations

import os
import shutil
import socket
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import requests

from calendar_emulator.actors import EmulatorAdminClient
from calendar_emulator.server import EmulatorServer
from smvue_pipeline.cli import CliError
from smvue_pipeline.demo.organisation import ORGANISATION, month_of_meetings
from smvue_pipeline.demo.seeding import seed_manager
from smvue_pipeline.settings import Settings

DEMO_MARKER = ".smvue-demo"


def _say(step: str) -> None:
    print(f"==> {step}", flush=True)


def prepare_home(home: Path) -> None:
    """Start from a clean demo home; refuse to wipe a folder the demo did not create."""
    if home.exists() and any(home.iterdir()):
        if not (home / DEMO_MARKER).exists():
            raise CliError(f"{home} holds data the demo did not create; set SMVUE_HOME to an empty folder")
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    (home / DEMO_MARKER).write_text("created by smvue demo; the next demo run wipes this folder\n")


def _port(preferred: int) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return 0


def point_at_emulator(url: str) -> None:
    os.environ.update(
        {
            "SMVUE_GOOGLE_API_BASE": f"{url}/google/calendar/v3/",
            "SMVUE_GOOGLE_AUTH_BASE": f"{url}/google/oauth2/",
            "SMVUE_GRAPH_API_BASE": f"{url}/microsoft/v1.0/",
            "SMVUE_MS_AUTHORITY": f"{url}/microsoft/common",
        }
    )


def connect_manager(connect, manager) -> str:
    """The OAuth round trip: authorize (the emulator's consent screen approves the login_hint user at
    once), then the callback parameters go to the connect service, as the gateway would pass them."""
    url = connect.start(manager.manager_id, manager.provider)
    http = requests.Session()
    http.trust_env = False
    answer = http.get(url, allow_redirects=False, timeout=30)
    if answer.status_code != 302:
        raise CliError(f"authorize for {manager.email} failed: {answer.status_code} {answer.text[:200]}")
    params = dict(parse_qsl(urlsplit(answer.headers["Location"]).query))
    outcome = connect.finish(manager.provider, params)
    connect.connections.select_calendars(
        outcome.connection.connection_id,
        {
            c.calendar_id
            for c in connect.connections.calendars(outcome.connection.connection_id, selected_only=False)
        },
    )
    return outcome.connection.connection_id


def run_demo(keep: bool = False) -> None:
    settings = Settings.from_env()
    prepare_home(settings.home)
    with EmulatorServer(port=_port(8765)) as emulator:
        _say(f"calendar emulator on {emulator.url}")
        point_at_emulator(emulator.url)
        os.environ["SMVUE_PRIVACY_CANARY"] = emulator.state.identity.canary
        settings = Settings.from_env()
        admin = EmulatorAdminClient(emulator.url)
        today = datetime.now(UTC).date()

        _say("creating the organisation: managers on Google and Outlook, reps, a month of meetings")
        from smvue_pipeline.demo.pipeline import DemoPipeline

        pipeline = DemoPipeline(settings)
        for manager in ORGANISATION:
            counts = seed_manager(admin, emulator.url, manager, month_of_meetings(manager, today))
            pipeline.add_to_roster(manager, today)
            print(
                f"    {manager.name} ({manager.provider}): {len(manager.reps)} reps, {counts['meetings']} meetings "
                f"({counts['moved']} instance moved, {counts['cancelled']} cancelled)"
            )

        _say("connecting each manager through the OAuth authorization-code flow (PKCE)")
        for manager in ORGANISATION:
            connection_id = connect_manager(pipeline.connect, manager)
            print(f"    {manager.email} -> {connection_id}")

        _say("initial import (Dagster job sync_calendars_job)")
        pipeline.sync()
        for line in pipeline.rows_per_connection():
            print(f"    {line}")

        _say("scheduling, moving and cancelling a 1:1 in SMVue; the manager's calendar follows (write-back)")
        from smvue_pipeline.demo.meetings import run_meeting_step

        run_meeting_step(settings, admin, ORGANISATION)

        _say("near-real-time updates: the gateway and the Dagster daemon (smvue up), a calendar change")
        from smvue_pipeline.demo.live import run_live_step

        run_live_step(admin, emulator.url, ORGANISATION)
        _say("done")
