-- The operational store's schema. Timestamps are ISO-8601 UTC strings; ids are strings.
CREATE TABLE IF NOT EXISTS managers (
    manager_id   TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    email        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS team_members (
    rep_id       TEXT PRIMARY KEY,
    manager_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    email        TEXT NOT NULL,
    start_date   TEXT,            -- NULL: tenure unknown
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS connections (
    connection_id    TEXT PRIMARY KEY,
    manager_id       TEXT NOT NULL,
    provider         TEXT NOT NULL CHECK (provider IN ('google', 'microsoft')),
    account_email    TEXT,
    status           TEXT NOT NULL CHECK (status IN
                        ('connected', 'syncing', 'needs_reconnect', 'disconnected', 'error')),
    last_synced_at   TEXT,
    last_error       TEXT,
    secret           BLOB,        -- encrypted credentials; NULL once disconnected
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    disconnected_at  TEXT,
    -- the token revoke of the last disconnect: NULL (none yet), pending, revoked, not_supported, given_up
    revoke_state     TEXT,
    revoke_attempts  INTEGER NOT NULL DEFAULT 0,
    revoke_error     TEXT,
    -- The provider's stable id of the account ("google:<sub>", "microsoft:<tid>/<oid>"): a
    -- reconnect must bring back this same account (disconnect first to switch accounts).
    account_subject  TEXT,
    UNIQUE (manager_id, provider)
);

CREATE TABLE IF NOT EXISTS calendars (
    connection_id  TEXT NOT NULL,
    calendar_id    TEXT NOT NULL,
    name           TEXT NOT NULL,
    is_primary     INTEGER NOT NULL DEFAULT 0,
    is_selected    INTEGER NOT NULL DEFAULT 0,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (connection_id, calendar_id)
);

-- Google channels and Graph subscriptions. Only a SHA-256 of the channel token / clientState is
-- kept: enough to verify a notification, useless to forge one.
CREATE TABLE IF NOT EXISTS watches (
    watch_id        TEXT PRIMARY KEY,      -- Google channel id / Graph subscription id
    connection_id   TEXT NOT NULL,
    calendar_id     TEXT NOT NULL,
    provider        TEXT NOT NULL,
    resource_id     TEXT,                  -- Google resourceId
    secret_sha256   TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('active', 'stopping', 'stopped')),
    stop_attempts   INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    -- Graph: the tenant and user the subscription was created for; each notification must name
    -- both (NULL for watches created before they were recorded: not checked).
    tenant_id       TEXT,
    owner_id        TEXT,
    -- Google: the highest X-Goog-Message-Number accepted; an older or equal one is a replay.
    last_message_number INTEGER
);
CREATE INDEX IF NOT EXISTS watches_by_calendar ON watches (connection_id, calendar_id, state);

CREATE TABLE IF NOT EXISTS oauth_states (
    state        TEXT PRIMARY KEY,
    provider     TEXT NOT NULL,
    manager_id   TEXT NOT NULL,
    flow         BLOB NOT NULL,            -- encrypted: holds the PKCE verifier / msal flow
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    browser_sha256 TEXT                    -- SHA-256 of the cookie given to the browser that started it
);

-- Verified notifications and other sync requests, durable before they are acknowledged.
-- A row is deleted only by the sync run that covered it, after that run committed.
CREATE TABLE IF NOT EXISTS change_queue (
    queue_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id  TEXT NOT NULL,
    calendar_id    TEXT,                   -- NULL: every selected calendar of the connection
    reason         TEXT NOT NULL,
    full_sync      INTEGER NOT NULL DEFAULT 0,
    received_at    TEXT NOT NULL
);
-- No secondary index: every notification would dirty a random index page (a 4 KB WAL frame each),
-- and the queue stays short (a sync run drains it), so settle's scan of the covered ids is cheap.
DROP INDEX IF EXISTS change_queue_by_calendar;

CREATE TABLE IF NOT EXISTS counters (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS meetings (
    meeting_id         TEXT PRIMARY KEY,
    manager_id         TEXT NOT NULL,
    rep_id             TEXT NOT NULL,
    connection_id      TEXT,
    calendar_id        TEXT,
    title              TEXT NOT NULL,
    meeting_type       TEXT,
    start_at           TEXT NOT NULL,
    end_at             TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('scheduled', 'cancelled')),
    provider_event_id  TEXT,
    writeback_state    TEXT NOT NULL CHECK (writeback_state IN ('pending', 'synced', 'failed')),
    writeback_error    TEXT,
    version            INTEGER NOT NULL DEFAULT 1,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    -- The provider's `updated` stamp of SMVue's last write: a synced row older than it is stale,
    -- not a change made in the calendar (meeting_backflow).
    calendar_updated_at TEXT
);

CREATE TABLE IF NOT EXISTS outbox (
    outbox_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id       TEXT NOT NULL,
    action           TEXT NOT NULL CHECK (action IN ('create', 'update', 'cancel')),
    meeting_version  INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed', 'refused', 'superseded')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    -- Who is working on the row and until when; a lease past its time belongs to a dead worker.
    lease_owner      TEXT,
    lease_until      TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_by_meeting ON outbox (meeting_id, state);

CREATE TABLE IF NOT EXISTS idempotency_keys (
    idempotency_key  TEXT PRIMARY KEY,
    request_hash     TEXT NOT NULL,
    status_code      INTEGER NOT NULL,
    response_json    TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_keys_by_age ON idempotency_keys (created_at);

-- Archive flags and meeting types, keyed by one_on_one_id so they survive every resync.
CREATE TABLE IF NOT EXISTS annotations (
    one_on_one_id  TEXT PRIMARY KEY,
    is_archived    INTEGER NOT NULL DEFAULT 0,
    meeting_type   TEXT,
    updated_at     TEXT NOT NULL
);

-- Prep reminders (F12): one per 1:1 occurrence, planned by the prep_reminders asset, delivered by
-- deliver_prep_reminders_job under a lease (opstore/reminders.py). A sent row is final.
CREATE TABLE IF NOT EXISTS prep_reminders (
    reminder_id      TEXT PRIMARY KEY,
    one_on_one_id    TEXT NOT NULL UNIQUE,
    manager_id       TEXT NOT NULL,
    rep_id           TEXT NOT NULL,
    meeting_start_at TEXT NOT NULL,
    remind_at        TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('scheduled', 'sent', 'withdrawn', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    sent_at          TEXT,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    -- Why it was withdrawn (cancelled, archived, ...); the delivery's JSON body, built at planning.
    state_reason     TEXT,
    payload          TEXT,
    -- The sender holding the row, and until when: a lease past its time belongs to a dead sender.
    lease_owner      TEXT,
    lease_until      TEXT
);
CREATE INDEX IF NOT EXISTS prep_reminders_due ON prep_reminders (state, remind_at);

-- Per-manager reminder lead time (F12); managers without a row get the asset's default (24 h).
CREATE TABLE IF NOT EXISTS reminder_settings (
    manager_id    TEXT PRIMARY KEY,
    lead_minutes  INTEGER NOT NULL CHECK (lead_minutes BETWEEN 0 AND 20160),
    updated_at    TEXT NOT NULL
);
