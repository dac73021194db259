"""Meeting annotations (F16): archive flags and meeting types, keyed by one_on_one_id.

They live in the operational store, not in the warehouse, so no resync — a 410 full resync
included — can touch them; `analytics.one_on_one_meetings` joins them back in by id (an SMVue
meeting's one_on_one_id is its meeting_id; a calendar 1:1's is stable per event).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from smvue_core.clock import iso_utc, now_utc
from smvue_core.opstore.db import OpStore


@dataclass(frozen=True)
class Annotation:
    one_on_one_id: str
    is_archived: bool
    meeting_type: str | None
    updated_at: str


def _annotation(row: sqlite3.Row) -> Annotation:
    return Annotation(row["one_on_one_id"], bool(row["is_archived"]), row["meeting_type"], row["updated_at"])


class AnnotationRepository:
    def __init__(self, store: OpStore) -> None:
        self.store = store

    def get(self, one_on_one_id: str, conn: sqlite3.Connection | None = None) -> Annotation | None:
        row = (
            (conn or self.store.connection())
            .execute("SELECT * FROM annotations WHERE one_on_one_id = ?", (one_on_one_id,))
            .fetchone()
        )
        return _annotation(row) if row else None

    def all(self) -> dict[str, Annotation]:
        return {r["one_on_one_id"]: _annotation(r) for r in self.store.query("SELECT * FROM annotations")}

    def set_archived(
        self,
        one_on_one_id: str,
        archived: bool = True,
        now: datetime | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> Annotation:
        return self._upsert(conn, one_on_one_id, "is_archived", int(archived), now)

    def set_type(
        self,
        one_on_one_id: str,
        meeting_type: str | None,
        now: datetime | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> Annotation:
        return self._upsert(conn, one_on_one_id, "meeting_type", meeting_type, now)

    def _upsert(self, conn, one_on_one_id: str, column: str, value, now: datetime | None) -> Annotation:
        # `column` is one of two names fixed in this module, never input.
        sql = (
            f"INSERT INTO annotations (one_on_one_id, {column}, updated_at) VALUES (?, ?, ?) "
            f"ON CONFLICT (one_on_one_id) DO UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at"
        )
        params = (one_on_one_id, value, iso_utc(now or now_utc()))
        if conn is not None:
            conn.execute(sql, params)
            return self.get(one_on_one_id, conn)  # type: ignore[return-value]
        with self.store.transaction() as tx:
            tx.execute(sql, params)
            return self.get(one_on_one_id, tx)  # type: ignore[return-value]
