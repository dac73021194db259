"""The operational store (SQLite WAL, or PostgreSQL with SMVUE_DATABASE_URL): what the gateway and
the pipeline share outside the warehouse.

Connections and their encrypted tokens, calendars, channels, roster, meetings, outbox, the change
queue. Only short transactions; every value is bound as a parameter.
"""

from smvue_core.opstore.db import OpStore

__all__ = ["OpStore"]
