"""Named leases: one holder at a time across every process on the store, taken over once expired.

The gateway's replicas elect their housekeeping leader with one (`gateway_housekeeping`): the
holder renews it well within its time; a replica that dies stops renewing, and another takes the
lease over when it runs out. The take-or-renew is one conditional upsert, atomic on both backends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from smvue_core.clock import iso_utc
from smvue_core.opstore.db import OpStore

_TAKE_SQL = """INSERT INTO leases (name, owner, until, updated_at) VALUES (?1, ?2, ?3, ?4)
 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until,
     updated_at = excluded.updated_at
 WHERE leases.owner = excluded.owner OR leases.until <= ?4
 RETURNING owner"""


class Leases:
    def __init__(self, store: OpStore) -> None:
        self.store = store

    def hold(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Take or renew `name` for `owner` until now + ttl; False while someone else holds it."""
        with self.store.transaction(serial=False) as conn:
            row = conn.execute(_TAKE_SQL, (name, owner, iso_utc(now + ttl), iso_utc(now))).fetchone()
        return row is not None and row[0] == owner

    def release(self, name: str, owner: str) -> None:
        """Give it up at once (a clean shutdown), so another holder need not wait for the expiry."""
        with self.store.transaction(serial=False) as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    def holder(self, name: str, now: datetime) -> str | None:
        row = self.store.query_one("SELECT owner, until FROM leases WHERE name = ?", (name,))
        return row["owner"] if row and row["until"] > iso_utc(now) else None
