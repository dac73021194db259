"""The demo's handle on the pipeline: roster, connect service and runs of the Dagster jobs."""

from __future__ import annotations

from smvue_pipeline.connect import ConnectService
from smvue_pipeline.demo.organisation import Manager
from smvue_pipeline.instance import ensure_dagster_home
from smvue_pipeline.opstore import OpStore
from smvue_pipeline.opstore.roster import RosterRepository
from smvue_pipeline.security.cipher import TokenCipher
from smvue_pipeline.settings import Settings
from smvue_pipeline.warehouse.database import open_database


class DemoPipeline:
    def __init__(self, settings: Settings) -> None:
        from smvue_pipeline.resources.bindings import build_resources

        self.settings = settings
        self.store = OpStore(settings.opstore_path)
        self.roster = RosterRepository(self.store)
        resources = build_resources(settings)
        providers = {"google": resources["google_calendar"], "microsoft": resources["outlook_calendar"]}
        self.connect = ConnectService(
            self.store, TokenCipher(settings.secret_key()), providers, settings.public_url
        )

    def add_to_roster(self, manager: Manager, today) -> None:
        self.roster.upsert_manager(manager.manager_id, manager.name, manager.email)
        for rep in manager.reps:
            self.roster.upsert_team_member(
                rep.rep_id, manager.manager_id, rep.name, rep.email, rep.start_date(today)
            )

    def sync(self) -> None:
        import os

        import dagster as dg

        from smvue_pipeline.definitions import build_defs

        os.environ["DAGSTER_HOME"] = str(ensure_dagster_home(self.settings))
        defs = build_defs(self.settings)
        job = defs.resolve_job_def("sync_calendars_job")
        with dg.DagsterInstance.get() as instance:
            result = job.execute_in_process(
                instance=instance,
                tags={"trigger": "demo"},
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
        if not result.success:
            raise RuntimeError("sync_calendars_job failed")

    def rows_per_connection(self) -> list[str]:
        con = open_database(self.settings.published_path, self.settings.warehouse_key, read_only=True)
        try:
            rows = con.execute(
                """SELECT c.account_email, c.provider, count(*) FILTER (WHERE e.status <> 'cancelled'),
                          count(*) FILTER (WHERE e.status = 'cancelled'), count(DISTINCT e.calendar_id)
                   FROM app.connections c LEFT JOIN raw.calendar_events e USING (connection_id)
                   GROUP BY ALL ORDER BY 1"""
            ).fetchall()
        finally:
            con.close()
        return [
            f"{email} ({provider}): {live} events, {gone} cancelled, {cals} calendars"
            for email, provider, live, gone, cals in rows
        ]
