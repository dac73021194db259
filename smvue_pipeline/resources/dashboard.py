"""Where the dashboard is written, and the snapshot it reads, as a Dagster resource."""

import dagster as dg
from pydantic import Field


class DashboardResource(dg.ConfigurableResource):
    path: str = Field(description="the HTML file to write ($SMVUE_HOME/dashboard.html)")
    published_path: str = Field(description="the published snapshot to read (SMVUE_PUBLISHED)")
    encryption_key: str | None = Field(
        default=None, description="SMVUE_WAREHOUSE_KEY, when the snapshot is encrypted"
    )
