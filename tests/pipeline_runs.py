"""The whole pipeline in process, as the daemon runs it: the hot path, then the cadence lane."""

from __future__ import annotations

import dagster as dg

from smvue_core.settings import Settings


class PipelineResult:
    """Both runs' results; `success` when both succeeded; events of either."""

    def __init__(self, runs: list[dg.ExecuteInProcessResult]) -> None:
        self.runs = runs

    @property
    def success(self) -> bool:
        return len(self.runs) == 2 and all(run.success for run in self.runs)

    @property
    def run_ids(self) -> list[str]:
        return [run.run_id for run in self.runs]

    def get_asset_check_evaluations(self) -> list:
        return [e for run in self.runs for e in run.get_asset_check_evaluations()]

    def asset_materializations_for_node(self, node: str) -> list:
        found = []
        for run in self.runs:
            if node in {n.name for n in run.job_def.nodes_in_topological_order}:
                found += run.asset_materializations_for_node(node)
        return found


def run_pipeline(
    settings: Settings | None,
    instance: dg.DagsterInstance,
    cadence_job: str = "cadence_reconcile_job",
    defs: dg.Definitions | None = None,
    **kwargs,
) -> PipelineResult:
    """sync_calendars_job, then (when it succeeded) `cadence_job` (default: the full test suite);
    `defs` when the caller loaded the code locations already (build_pipeline_defs)."""
    from smvue_pipeline.definitions import build_pipeline_defs

    defs = defs or build_pipeline_defs(settings)
    hot = defs.resolve_job_def("sync_calendars_job").execute_in_process(instance=instance, **kwargs)
    if not hot.success:
        return PipelineResult([hot])
    cadence = defs.resolve_job_def(cadence_job).execute_in_process(instance=instance, **kwargs)
    return PipelineResult([hot, cadence])
