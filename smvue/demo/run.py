"""`smvue demo`: the journey a new user takes, step by step, on embedded defaults.

The emulator stands in for Google and Microsoft; the gateway and the Dagster daemon run as
`smvue up` runs them. Everything the SMVue app would do goes through the gateway's HTTP API
(roster, OAuth, Sync Now, meetings); everything users do happens in their own calendars through
the providers' APIs; every number printed is read from the published snapshot downstream readers
use. Nothing calls the pipeline directly: the daemon's sensor and runs do all the work.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from calendar_emulator.actors import EmulatorAdminClient
from calendar_emulator.server import EmulatorServer
from smvue.demo.api import GatewayClient
from smvue.demo.environment import (
    connect_manager,
    point_at_emulator,
    prepare_home,
    release_home,
    stop_on_signals,
)
from smvue.demo.live import LiveStack, free_port, run_webhook_step, wait_for
from smvue.demo.meetings import run_meeting_step
from smvue.demo.organisation import ORGANISATION, Manager, month_of_meetings
from smvue.demo.progress import wait_for_import
from smvue.demo.report import cadence_rows, format_report, status_counts
from smvue.demo.seeding import seed_manager
from smvue.errors import CliError
from smvue_core.settings import Settings

# Names bench/ imports from here.
__all__ = ["connect_manager", "point_at_emulator", "run_demo"]

SETTLE_TIMEOUT = 180.0


_STARTED = time.monotonic()


def _say(step: str) -> None:
    print(f"==> [{time.monotonic() - _STARTED:3.0f} s] {step}", flush=True)


def _show(path: Path) -> str:
    """A path relative to where the user stands, when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run_demo(keep: bool = False, ui: bool = False) -> None:
    global _STARTED
    started = _STARTED = time.monotonic()
    with stop_on_signals():
        settings = Settings.from_env()
        prepare_home(settings.home)
        try:
            _journey(settings, keep=keep, ui=ui or keep, started=started)
        except KeyboardInterrupt:
            print(
                "\nsmvue demo: interrupted; every service it started is stopped", file=sys.stderr, flush=True
            )
            raise
        except CliError:
            raise
        except Exception as exc:  # one line for the user; the details are in the logs folder
            detail = (str(exc).strip().splitlines() or [""])[0][:300]
            raise CliError(f"{type(exc).__name__}: {detail} (logs: {settings.logs_dir})") from None
        finally:
            release_home(settings.home)


def _journey(settings: Settings, *, keep: bool, ui: bool, started: float) -> None:
    home = settings.home
    _say(f"SMVue demo in {_show(home)} (a fresh folder each run; logs in {_show(settings.logs_dir)})")
    with EmulatorServer(port=free_port(8765)) as emulator:
        _say(f"calendar emulator (Google Calendar v3, Microsoft Graph and their OAuth) on {emulator.url}")
        point_at_emulator(emulator.url)
        # The privacy check also looks for the emulator's description canary in stored rows.
        os.environ["SMVUE_PRIVACY_CANARY"] = emulator.state.identity.canary
        admin = EmulatorAdminClient(emulator.url)

        _say(
            "starting the gateway and the Dagster daemon"
            + (" and webserver" if ui else "")
            + " (as `smvue up`)"
        )
        with LiveStack(ui=ui) as live:
            settings = live.settings
            api = GatewayClient(live.url, settings.api_token())
            print(
                f"    gateway     {live.url}  (API docs {live.url}/docs; bearer token in {_show(home / 'api.token')})"
            )
            print(f"    dagster     daemon with DAGSTER_HOME={_show(settings.dagster_home)}")
            if live.ui_url:
                print(f"    Dagster UI  {live.ui_url}  (watch the runs as they happen)")
            today = datetime.now(UTC).date()
            _seed_calendars(admin, emulator.url, today)
            _create_organisation(api, today)
            _connect_managers(api)

            _say("initial import, run by the daemon (change_queue_sensor → sync_calendars_job)")
            state = wait_for_import(api, live)
            events = sum(state.events.values())
            print(
                f"    {events} events from {sum(state.calendars_synced.values())} calendars, "
                f"{state.one_on_ones} 1:1s, cadence for {state.cadence_rows} manager × rep pairs"
            )

            _say("near-real-time: calendar edits flow in through webhooks (nobody triggers a run)")
            run_webhook_step(live, admin, emulator.url, ORGANISATION)

            _say(
                "SMVue schedules, moves and cancels a 1:1 (POST, PATCH, DELETE /v1/meetings); the calendar follows"
            )
            run_meeting_step(api, admin, ORGANISATION)

            _say("letting the pipeline settle (the write-back's events come back through sync)")
            admin.wait_notifications(timeout=30)
            if not wait_for(lambda: live.check() or live.idle(), timeout=SETTLE_TIMEOUT, poll=0.5):
                raise CliError(
                    f"the pipeline did not settle within {SETTLE_TIMEOUT:.0f} s (logs: {settings.logs_dir})"
                )

            _print_report(settings)
            elapsed = time.monotonic() - started
            if keep:
                _keep_running(live, emulator.url, settings, elapsed)
            else:
                _say(
                    f"done in {elapsed:.0f} s; stopping the services (`smvue demo --keep` leaves them running)"
                )


def _seed_calendars(admin: EmulatorAdminClient, emulator_url: str, today: date) -> None:
    _say(
        "a month of calendar life, put in by the managers themselves through the providers' APIs: "
        "recurring 1:1s, moved and cancelled instances, group meetings, a room booking"
    )
    for manager in ORGANISATION:
        counts = seed_manager(admin, emulator_url, manager, month_of_meetings(manager, today))
        print(
            f"    {manager.name} ({_provider(manager)}): {counts['meetings']} meetings and series, "
            f"{counts['moved']} instance moved, {counts['cancelled']} cancelled"
        )


def _create_organisation(api: GatewayClient, today: date) -> None:
    _say("the organisation, through the gateway API (PUT /v1/managers, PUT /v1/team-members)")
    for manager in ORGANISATION:
        api.put_manager(manager)
        reps = []
        for rep in manager.reps:
            api.put_team_member(manager, rep, today)
            reps.append(
                f"{rep.name} ({'tenure unknown' if rep.tenure_days is None else f'{rep.tenure_days} d'})"
            )
        print(f"    {manager.name} <{manager.email}>: {', '.join(reps)}")


def _connect_managers(api: GatewayClient) -> None:
    _say("each manager connects their calendar: OAuth authorization code with PKCE, through the gateway")
    connected = []
    for manager in ORGANISATION:
        result = api.connect(manager)
        connected.append(result)
        primary = [c["name"] for c in result["calendars"] if c["is_primary"]]
        watches = sum(w["action"] != "failed" for w in result["watches"])
        print(
            f"    {manager.email}: /oauth/{manager.provider}/start → consent → callback → "
            f"{result['connection_id']} ({len(result['calendars'])} calendars, {primary[0] if primary else '?'} "
            f"selected; {watches} watch; {result['queued']} import queued)"
        )
    # F3: the primary calendar by default, more when the manager picks them in Settings >
    # Integrations, a screen of the SMVue app that calls the gateway.
    watched = 0
    for result in connected:
        chosen = api.select_calendars(
            result["connection_id"], [c["calendar_id"] for c in result["calendars"]]
        )
        watched += sum(w["state"] == "active" for w in chosen["watches"])
    print(
        f"    each manager also picks their Coaching calendar (F3, PUT /v1/connections/{{id}}/calendars): "
        f"{watched} watches in all; its import is queued"
    )


def _print_report(settings: Settings) -> None:
    from smvue_core.dashboard.render import build_dashboard

    rows = cadence_rows(settings)
    _say(
        f"cadence report ({status_counts(rows)}), from analytics.cadence_metrics in {_show(settings.published_path)}"
    )
    for line in format_report(rows):
        print(f"    {line}")
    dashboard = settings.home / "dashboard.html"
    if not dashboard.exists():  # the sync runs build it; this covers a run that skipped the asset
        build_dashboard(settings.published_path, settings.warehouse_key, dashboard, datetime.now(UTC))
    print(f"    dashboard: {_show(dashboard)} (open it in a browser; `smvue dashboard` rebuilds it)")


def _keep_running(live: LiveStack, emulator_url: str, settings: Settings, elapsed: float) -> None:
    _say(f"done in {elapsed:.0f} s; the services keep running — Ctrl-C stops them all")
    print(f"    Dagster UI         {live.ui_url}  (assets, checks, sensors, runs)")
    print(f"    gateway API docs   {live.url}/docs  (bearer token: {_show(settings.home / 'api.token')})")
    print(f"    calendar emulator  {emulator_url}  (admin API under /_admin)")
    print(f"    status             SMVUE_HOME={_show(settings.home)} smvue status")
    try:
        assert live.stack is not None
        live.stack.wait()
    except KeyboardInterrupt:
        print("\n==> stopping the services", flush=True)
        return
    except Exception as exc:  # a child died while exploring: say which
        raise CliError(str(exc)) from None


def _provider(manager: Manager) -> str:
    return {"google": "Google Calendar", "microsoft": "Outlook"}[manager.provider]
