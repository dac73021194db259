"""Reading operational-store tables whole, for their copy into the warehouse (`app.*`).

The warehouse side (smvue_core/warehouse/mirrors.py) names the tables and columns it copies; this
module reads them. Names are checked against the store's own schema before they reach SQL (they
are identifiers, which no database binds), and credentials and secret digests never leave.
"""

from __future__ import annotations

from collections.abc import Sequence

from smvue_core.opstore.db import OpStore

MIRRORABLE_TABLES = frozenset(
    {"connections", "managers", "team_members", "meetings", "annotations", "prep_reminders"}
)
# Encrypted tokens, OAuth flows and watch-secret digests stay in the store, whoever asks.
_NEVER_COPIED = frozenset({"secret", "flow"})


class MirrorReader:
    def __init__(self, store: OpStore) -> None:
        self.store = store

    def rows(self, table: str, columns: Sequence[str]) -> list[tuple]:
        """Every row of `table`, as tuples of `columns` in that order."""
        if table not in MIRRORABLE_TABLES:
            raise ValueError(f"table: {table!r} is not copied out of the operational store")
        present = self.store.columns(table)
        for column in columns:
            if column not in present:
                raise ValueError(f"column: {table} has no column {column!r}")
            if column in _NEVER_COPIED or column.endswith("_sha256"):
                raise ValueError(f"column: {table}.{column} never leaves the operational store")
        rows = self.store.query(f"SELECT {', '.join(columns)} FROM {table}")
        return [tuple(row) for row in rows]
