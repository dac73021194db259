"""The roster (F9): managers and their reps, as SMVue sends them."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

from webhook_gateway.models.common import Strict

Email = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ManagerIn(Strict):
    name: Name
    email: Email


class ManagerOut(BaseModel):
    manager_id: str
    name: str
    email: str
    created: bool = Field(description="true when this request added the manager")


class TeamMemberIn(Strict):
    manager_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    name: Name
    email: Email
    start_date: date | None = Field(
        None, description="YYYY-MM-DD; null or absent when unknown (tenure unknown)"
    )

    @field_validator("start_date", mode="before")
    @classmethod
    def _calendar_date(cls, value: object) -> object:
        # Only an ISO calendar date: pydantic alone would also take numbers as Unix timestamps.
        if value is None or isinstance(value, date):
            return value
        if not isinstance(value, str) or not _DATE.match(value):
            raise ValueError("must be a date as YYYY-MM-DD, or null")
        return value


class TeamMemberOut(BaseModel):
    rep_id: str
    manager_id: str
    name: str
    email: str
    start_date: date | None
    created: bool = Field(description="true when this request added the rep")
