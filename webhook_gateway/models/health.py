"""GET /healthz."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"]
    opstore: Literal["writable"]
    queue_depth: int = Field(description="changes waiting for a sync run")
    workers: dict[str, bool] = Field(description="background workers and whether each is alive")
