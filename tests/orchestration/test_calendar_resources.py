"""The calendar resources wrap the core clients: the same fields, secrets shown by name, and a run
gets a configured `CalendarProvider` from the resource its asset type-hints."""

from __future__ import annotations

import dagster as dg
import pytest
from pydantic import ValidationError

from smvue_core.providers.base import CalendarProvider
from smvue_core.providers.google.client import GoogleCalendarClient
from smvue_core.providers.outlook.client import OutlookCalendarClient
from smvue_core.settings import Settings
from smvue_pipeline.resources.calendars import (
    CalendarResource,
    GoogleCalendarResource,
    OutlookCalendarResource,
    calendar_resources,
)

PAIRS = [(GoogleCalendarResource, GoogleCalendarClient), (OutlookCalendarResource, OutlookCalendarClient)]


@pytest.mark.parametrize(("resource", "client"), PAIRS, ids=["google", "outlook"])
def test_resource_fields_are_the_client_fields(resource, client):
    resource_fields, client_fields = resource.model_fields, client.model_fields
    assert set(resource_fields) == set(client_fields)
    for name, field in client_fields.items():
        assert resource_fields[name].default == field.default, name
        assert resource_fields[name].metadata == field.metadata, name  # bounds such as page_size's


def test_overrides_reach_the_clients(monkeypatch):
    monkeypatch.delenv("SMVUE_GOOGLE_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("SMVUE_MS_CLIENT_SECRET", raising=False)
    settings = Settings.from_env()
    resources = calendar_resources(
        settings, google={"page_size": 7, "max_attempts": 2}, microsoft={"delta_page_size": 9}
    )
    google, outlook = resources["google_calendar"].client(), resources["outlook_calendar"].client()
    assert isinstance(google, GoogleCalendarClient) and isinstance(outlook, OutlookCalendarClient)
    assert (google.page_size, google.max_attempts, google.api_base) == (7, 2, settings.google_api_base)
    assert (outlook.delta_page_size, outlook.authority) == (9, settings.ms_authority)
    assert google.client_secret == settings.google_client_secret


def test_out_of_range_values_are_refused_when_bound():
    with pytest.raises(ValidationError, match="page_size"):
        calendar_resources(Settings.from_env(), google={"page_size": 0})


def test_a_run_gets_the_secret_the_ui_shows_by_name(monkeypatch):
    monkeypatch.setenv("SMVUE_GOOGLE_CLIENT_SECRET", "from-the-environment")
    resources = calendar_resources(Settings.from_env())
    assert isinstance(resources["google_calendar"].client_secret, dg.EnvVar)
    seen: dict[str, CalendarProvider] = {}

    @dg.asset
    def uses_google(google_calendar: CalendarResource) -> None:
        seen["client"] = google_calendar.client()

    assert dg.materialize([uses_google], resources={"google_calendar": resources["google_calendar"]}).success
    assert isinstance(seen["client"], GoogleCalendarClient)
    assert seen["client"].client_secret == "from-the-environment"
    # Outside a run (the demo connecting in-process) the variable is read as well.
    assert resources["google_calendar"].client().client_secret == "from-the-environment"
