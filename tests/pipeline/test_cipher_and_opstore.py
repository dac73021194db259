"""Token encryption, key rotation and the operational store's repositories."""

from __future__ import annotations

import pytest

from smvue_core.opstore import OpStore
from smvue_core.opstore.connections import AccountMismatch, ConnectionRepository
from smvue_core.opstore.queue import ChangeQueue
from smvue_core.providers.base import CalendarInfo
from smvue_core.security.cipher import SecretDecryptError, TokenCipher

SECRET = "refresh-token-PLAINTEXT-CANARY"


def test_secrets_are_encrypted_at_rest_and_rotate(opstore_backend):
    old, new = TokenCipher.generate_key(), TokenCipher.generate_key()
    store = OpStore(opstore_backend)
    repo = ConnectionRepository(store, TokenCipher(old))
    conn = repo.connect("m1", "google", "m@x.com", SECRET)
    store.close()
    if store.is_postgres:  # the stored bytes, as the server keeps them
        (secret,) = store.query_one("SELECT secret FROM connections")
        assert SECRET.encode() not in bytes(secret)
    else:
        for path in store.path.parent.iterdir():
            assert SECRET.encode() not in path.read_bytes(), path

    rotated = ConnectionRepository(OpStore(opstore_backend), TokenCipher(f"{new},{old}"))
    assert rotated.rotate_secrets() == 1
    only_new = ConnectionRepository(OpStore(opstore_backend), TokenCipher(new))
    assert only_new.credentials(conn.connection_id) == SECRET
    only_old = ConnectionRepository(OpStore(opstore_backend), TokenCipher(old))
    with pytest.raises(SecretDecryptError):
        only_old.credentials(conn.connection_id)


def test_bad_key_is_a_clear_error():
    with pytest.raises(ValueError, match="Fernet keys"):
        TokenCipher("not-a-key")


def test_reconnect_keeps_the_connection_id_and_disconnect_forgets_tokens(opstore_backend):
    repo = ConnectionRepository(OpStore(opstore_backend), TokenCipher(TokenCipher.generate_key()))
    first = repo.connect("m1", "microsoft", "m@x.com", "a")
    repo.disconnect(first.connection_id)
    assert repo.credentials(first.connection_id) is None
    repo.set_status(first.connection_id, "connected", synced=True)  # a late sync cannot revive it
    assert repo.get(first.connection_id).status == "disconnected"
    again = repo.connect("m1", "microsoft", "m@x.com", "b")
    assert again.connection_id == first.connection_id and again.status == "connected"
    assert repo.credentials(first.connection_id) == "b"


def test_primary_calendar_selected_by_default(opstore_backend):
    repo = ConnectionRepository(OpStore(opstore_backend), TokenCipher(TokenCipher.generate_key()))
    conn = repo.connect("m1", "google", "m@x.com", "a")
    repo.save_calendars(
        conn.connection_id, [CalendarInfo("p", "Primary", True), CalendarInfo("s", "Side", False)]
    )
    assert [c.calendar_id for c in repo.calendars(conn.connection_id)] == ["p"]
    repo.select_calendars(conn.connection_id, {"p", "s"})
    repo.save_calendars(
        conn.connection_id, [CalendarInfo("p", "Primary 2", True), CalendarInfo("s", "Side", False)]
    )
    assert [(c.calendar_id, c.name) for c in repo.calendars(conn.connection_id)] == [
        ("p", "Primary 2"),
        ("s", "Side"),
    ]


def test_queue_settles_only_what_a_sync_covered(opstore_backend):
    queue = ChangeQueue(OpStore(opstore_backend))
    a = queue.enqueue("c1", "cal1", "google:exists")
    queue.enqueue("c1", "cal2", "google:exists")
    queue.enqueue("c1", None, "connect")
    later = queue.enqueue("c1", "cal1", "google:exists")
    assert (
        queue.settle("c1", ["cal1"], up_to_id=later - 1) == 2
    )  # cal1's first row and the connection-wide row
    assert [q.calendar_id for q in queue.pending()] == ["cal2", "cal1"]
    assert queue.oldest(later).queue_id > a


def test_a_live_connection_keeps_its_account_and_older_stores_migrate(tmp_path):
    """A store made before accounts were kept (no account_subject / browser_sha256 columns) opens,
    and its connections keep their account by address until a reconnect records the subject."""
    import sqlite3

    path = tmp_path / "op.sqlite"
    legacy = sqlite3.connect(path)
    legacy.executescript(
        """CREATE TABLE connections (connection_id TEXT PRIMARY KEY, manager_id TEXT NOT NULL,
               provider TEXT NOT NULL, account_email TEXT, status TEXT NOT NULL, last_synced_at TEXT,
               last_error TEXT, secret BLOB, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
               disconnected_at TEXT, UNIQUE (manager_id, provider));
           CREATE TABLE oauth_states (state TEXT PRIMARY KEY, provider TEXT NOT NULL,
               manager_id TEXT NOT NULL, flow BLOB NOT NULL, created_at TEXT NOT NULL,
               expires_at TEXT NOT NULL);
           INSERT INTO connections VALUES ('conn_old', 'm1', 'google', 'Ann@x.com', 'connected', NULL,
               NULL, NULL, '2024-01-01', '2024-01-01', NULL);"""
    )
    legacy.close()
    repo = ConnectionRepository(OpStore(path), TokenCipher(TokenCipher.generate_key()))
    assert repo.get("conn_old").account_subject is None
    with pytest.raises(AccountMismatch):
        repo.connect("m1", "google", "bob@x.com", "t", account_subject="google:2")
    assert repo.get("conn_old").account_email == "Ann@x.com"
    kept = repo.connect("m1", "google", "ann@x.com", "t", account_subject="google:1")
    assert (kept.connection_id, kept.account_subject) == ("conn_old", "google:1")
    # Now the subject decides, whatever the address says.
    with pytest.raises(AccountMismatch):
        repo.connect("m1", "google", "ann@x.com", "t", account_subject="google:2")
    # A disconnected connection may take another account.
    repo.disconnect("conn_old")
    switched = repo.connect("m1", "google", "bob@x.com", "u", account_subject="google:2")
    assert (switched.account_email, switched.account_subject) == ("bob@x.com", "google:2")
