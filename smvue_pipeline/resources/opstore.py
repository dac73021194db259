"""The operational store as a Dagster resource."""

from __future__ import annotations

from functools import cached_property

import dagster as dg
from pydantic import Field

from smvue_core.opstore import OpStore
from smvue_core.opstore.connections import ConnectionRepository
from smvue_core.opstore.queue import ChangeQueue
from smvue_core.opstore.roster import RosterRepository
from smvue_core.security.cipher import TokenCipher
from smvue_core.settings import Settings


class OperationalStoreResource(dg.ConfigurableResource):
    """The store shared with the gateway (SQLite WAL, or PostgreSQL); secrets in it are encrypted
    with SMVUE_SECRET_KEY."""

    path: str = Field(description="the operational store's SQLite file, or its postgresql:// URL")

    @cached_property
    def store(self) -> OpStore:
        return OpStore(self.path)

    @cached_property
    def cipher(self) -> TokenCipher:
        # The key is read when first needed (env or the generated key file), never at import time.
        return TokenCipher(Settings.from_env().secret_key())

    @property
    def connections(self) -> ConnectionRepository:
        return ConnectionRepository(self.store, self.cipher)

    @property
    def queue(self) -> ChangeQueue:
        return ChangeQueue(self.store)

    @property
    def roster(self) -> RosterRepository:
        return RosterRepository(self.store)
