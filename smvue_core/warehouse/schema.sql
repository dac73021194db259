-- Tables the pipeline owns in the warehouse (CONTRACT.md, "DuckDB tables"). Written only by Dagster runs.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS app;
CREATE SCHEMA IF NOT EXISTS analytics;

-- One row per provider event instance per connection. No description or body column, ever.
CREATE TABLE IF NOT EXISTS raw.calendar_events (
    connection_id        VARCHAR NOT NULL,
    provider             VARCHAR NOT NULL,
    calendar_id          VARCHAR NOT NULL,
    calendar_name        VARCHAR,
    event_id             VARCHAR NOT NULL,
    ical_uid             VARCHAR,
    recurring_event_id   VARCHAR,
    original_start_at    TIMESTAMPTZ,
    status               VARCHAR NOT NULL,
    title                VARCHAR,
    start_at             TIMESTAMPTZ,
    end_at               TIMESTAMPTZ,
    is_all_day           BOOLEAN NOT NULL,
    time_zone            VARCHAR,
    organizer_email      VARCHAR,
    attendees            STRUCT(email VARCHAR, name VARCHAR, response_status VARCHAR,
                                is_organizer BOOLEAN, is_resource BOOLEAN)[],
    location             VARCHAR,
    video_link           VARCHAR,
    smvue_meeting_id     VARCHAR,
    provider_updated_at  TIMESTAMPTZ,
    synced_at            TIMESTAMPTZ NOT NULL
    -- Key: (connection_id, calendar_id, event_id). Not declared as a PRIMARY KEY: DuckDB keeps such
    -- an index in memory (about 1 kB per row) and pays for it on every insert. The single writer
    -- replaces rows by key inside its transaction, and the blocking `unique_event_key` check
    -- verifies the key after every sync.
);

-- Where each calendar's incremental sync resumes. Written in the same transaction as the rows it
-- covers, so a cursor never runs ahead of the data.
CREATE TABLE IF NOT EXISTS raw.sync_state (
    connection_id      VARCHAR NOT NULL,
    calendar_id        VARCHAR NOT NULL,
    provider           VARCHAR NOT NULL,
    sync_cursor        VARCHAR,
    window_start       TIMESTAMPTZ NOT NULL,
    window_end         TIMESTAMPTZ NOT NULL,
    last_full_sync_at  TIMESTAMPTZ,
    last_sync_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (connection_id, calendar_id)
);
