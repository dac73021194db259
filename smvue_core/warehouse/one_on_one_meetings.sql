-- F8 1:1 detection and the 1:1 table, recomputed whole from raw.calendar_events and app.*.
--
-- Run by smvue_core.warehouse.one_on_ones.recompute inside one transaction, after it filled the
-- one-row temp table oo_params (as_of, min_minutes, max_minutes, typical_min, typical_max).
-- Statements are separated by a line holding only `;;`. No values are spliced into this text.

-- Who "the manager" is on each connection: the roster email and the connected account's email,
-- both normalized (a manager may connect a calendar under another address).
CREATE OR REPLACE TEMP TABLE oo_connection_managers AS
SELECT
    c.connection_id,
    c.manager_id,
    coalesce(m.name, c.manager_id) AS manager_name,
    m.manager_id IS NOT NULL AS is_manager_in_roster,
    coalesce(nullif(lower(trim(m.email)), ''), '') AS roster_email,
    coalesce(nullif(lower(trim(c.account_email)), ''), '') AS account_email
FROM app.connections c
LEFT JOIN app.managers m ON m.manager_id = c.manager_id
;;

-- Reps by normalized email within their manager's team.
CREATE OR REPLACE TEMP TABLE oo_reps AS
SELECT rep_id, manager_id, coalesce(name, rep_id) AS rep_name, lower(trim(email)) AS email
FROM app.team_members
WHERE nullif(trim(email), '') IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY manager_id, lower(trim(email)) ORDER BY rep_id) = 1
;;

-- SMVue meetings whose rep is still on that manager's team.
CREATE OR REPLACE TEMP TABLE oo_smvue_meetings AS
SELECT mt.*, r.rep_name, coalesce(mg.name, mt.manager_id) AS manager_name,
       coalesce(nullif(lower(trim(mg.email)), ''), '') AS manager_email, r.email AS rep_email
FROM app.meetings mt
JOIN oo_reps r ON r.rep_id = mt.rep_id AND r.manager_id = mt.manager_id
LEFT JOIN app.managers mg ON mg.manager_id = mt.manager_id
;;

-- Who attends each event (by rowid, stable inside this transaction): rooms removed, emails
-- normalized (case, surrounding spaces) and counted once, the manager told apart from the others.
-- The calendar's owner takes part in every event on their calendar, listed or not (write-back
-- events list only the rep), so an event's people are its others plus the manager.
-- (Unnest + group by rowid is ~3x faster here than list lambdas; distinct counts run on hashes.)
CREATE OR REPLACE TEMP VIEW oo_attendance AS
WITH attendees AS (
    SELECT e.rowid AS ev, e.connection_id, unnest(e.attendees, recursive := true)
    FROM raw.calendar_events e
),
people AS (
    SELECT ev, connection_id, lower(trim(email)) AS email, coalesce(response_status = 'declined', false) AS is_declined
    FROM attendees
    WHERE NOT coalesce(is_resource, false)
),
marked AS (
    SELECT
        p.ev,
        p.email,
        hash(p.email) AS email_hash,
        p.is_declined,
        p.email <> '' AND (p.email = cm.roster_email OR p.email = cm.account_email) AS is_manager,
        p.email <> '' AS is_person
    FROM people p
    JOIN oo_connection_managers cm ON cm.connection_id = p.connection_id
)
SELECT
    ev,
    count(DISTINCT email_hash) FILTER (WHERE is_person AND NOT is_manager) AS others_count,
    any_value(email) FILTER (WHERE is_person AND NOT is_manager) AS other_email,
    bool_or(is_declined AND is_manager) AS is_declined_by_manager,
    bool_or(is_declined AND is_person AND NOT is_manager) AS is_declined_by_other
FROM marked
GROUP BY ev
;;

-- Events that came back through sync for an SMVue meeting: by SMVue's tag, or by the provider
-- event id write-back recorded; each event links to one meeting.
CREATE OR REPLACE TEMP TABLE oo_links AS
WITH candidates AS (
    SELECT m.meeting_id, e.rowid AS ev
    FROM raw.calendar_events e
    JOIN app.meetings m ON e.smvue_meeting_id = m.meeting_id
    UNION
    SELECT m.meeting_id, e.rowid AS ev
    FROM raw.calendar_events e
    JOIN app.meetings m
      ON e.event_id = m.provider_event_id AND (m.connection_id IS NULL OR m.connection_id = e.connection_id)
)
SELECT ev, min(meeting_id) AS meeting_id FROM candidates GROUP BY ev
;;

-- F8 for every event: the rule that decided and the reason, in words.
CREATE OR REPLACE TABLE analytics.meeting_classifications AS
WITH facts AS (
    SELECT
        e.connection_id, e.calendar_id, e.event_id, e.status, e.start_at, e.is_all_day,
        cm.manager_id, cm.manager_name, coalesce(cm.is_manager_in_roster, false) AS is_manager_in_roster,
        coalesce(a.others_count, 0) + 1 AS people_count,
        CASE WHEN a.others_count = 1 THEN a.other_email END AS other_email,
        coalesce(a.is_declined_by_manager, false) OR coalesce(a.others_count = 1 AND a.is_declined_by_other, false)
            AS is_declined,
        (epoch_us(e.end_at) - epoch_us(e.start_at)) // 1000000 AS duration_seconds,
        l.meeting_id AS linked_meeting_id
    FROM raw.calendar_events e
    LEFT JOIN oo_connection_managers cm ON cm.connection_id = e.connection_id
    LEFT JOIN oo_attendance a ON a.ev = e.rowid
    LEFT JOIN oo_links l ON l.ev = e.rowid
),
decided AS (
    SELECT
        f.*,
        r.rep_id,
        r.rep_name,
        CAST(round(f.duration_seconds / 60.0) AS INTEGER) AS duration_minutes,
        p.min_minutes,
        p.max_minutes,
        CASE
            WHEN f.linked_meeting_id IS NOT NULL THEN 'smvue_meeting'
            WHEN f.manager_id IS NULL OR NOT f.is_manager_in_roster THEN 'no_manager'
            WHEN f.is_all_day THEN 'all_day'
            WHEN f.start_at IS NULL OR f.duration_seconds IS NULL THEN 'no_time'
            WHEN f.people_count <> 2 THEN 'people_count'
            WHEN r.rep_id IS NULL THEN 'not_on_team'
            WHEN f.duration_seconds < p.min_minutes * 60 OR f.duration_seconds > p.max_minutes * 60 THEN 'duration'
            ELSE 'one_on_one'
        END AS reason_class
    FROM facts f
    CROSS JOIN oo_params p
    LEFT JOIN oo_reps r ON r.email = f.other_email AND r.manager_id = f.manager_id
)
SELECT
    d.connection_id,
    d.calendar_id,
    d.event_id,
    CASE
        WHEN d.reason_class = 'one_on_one' THEN 'cal_' || md5(concat_ws(chr(31), d.connection_id, d.calendar_id, d.event_id))
        ELSE sm.meeting_id
    END AS one_on_one_id,
    d.reason_class = 'one_on_one' OR sm.meeting_id IS NOT NULL AS is_one_on_one,
    d.reason_class,
    CASE d.reason_class
        WHEN 'one_on_one' THEN format('1:1 between {} and {}, {} min', d.manager_name, d.rep_name, d.duration_minutes)
        WHEN 'people_count' THEN format(
            'not a 1:1: {} {} after removing rooms', d.people_count, CASE WHEN d.people_count = 1 THEN 'person' ELSE 'people' END)
        WHEN 'not_on_team' THEN format('not a 1:1: {} is not on {}''s team', d.other_email, d.manager_id)
        WHEN 'duration' THEN format('not a 1:1: {} min is outside {}–{}', d.duration_minutes, d.min_minutes, d.max_minutes)
        WHEN 'all_day' THEN 'not a 1:1: all-day'
        WHEN 'no_time' THEN 'not a 1:1: no start or end time'
        WHEN 'no_manager' THEN 'not a 1:1: the calendar''s manager is not in the roster'
        ELSE CASE WHEN sm.meeting_id IS NULL
            THEN format('not a 1:1: linked to SMVue meeting {}, whose rep is not on the team', d.linked_meeting_id)
            ELSE format('1:1 scheduled in SMVue (meeting {}) between {} and {}', d.linked_meeting_id, sm.manager_name, sm.rep_name)
        END
    END AS classification_reason,
    d.manager_id,
    CASE WHEN d.reason_class = 'one_on_one' THEN d.rep_id ELSE sm.rep_id END AS rep_id,
    d.people_count,
    d.duration_minutes,
    d.is_declined,
    d.linked_meeting_id AS smvue_meeting_id
FROM decided d
LEFT JOIN oo_smvue_meetings sm ON sm.meeting_id = d.linked_meeting_id
;;

CREATE OR REPLACE TABLE analytics.one_on_one_meetings AS
WITH classified_one_on_ones AS (
    SELECT * FROM analytics.meeting_classifications WHERE is_one_on_one
),
events AS (
    SELECT c.one_on_one_id, c.manager_id, c.rep_id, c.is_declined, c.classification_reason, c.smvue_meeting_id,
           c.reason_class, e.*
    FROM classified_one_on_ones c
    JOIN raw.calendar_events e USING (connection_id, calendar_id, event_id)
),
calendar_one_on_ones AS (
    SELECT
        one_on_one_id, manager_id, rep_id, connection_id, calendar_id, event_id,
        CAST(NULL AS VARCHAR) AS smvue_meeting_id,
        ical_uid, recurring_event_id, original_start_at, title, start_at, end_at,
        status = 'cancelled' AS is_cancelled,
        is_declined,
        CAST(NULL AS VARCHAR) AS own_meeting_type,
        'calendar' AS source,
        classification_reason,
        video_link
    FROM events
    WHERE reason_class = 'one_on_one'
),
-- A meeting's event: the one write-back recorded, else a live one, else the latest synced.
linked_events AS (
    SELECT e.*
    FROM events e
    JOIN oo_smvue_meetings m ON m.meeting_id = e.smvue_meeting_id
    WHERE e.reason_class = 'smvue_meeting'
    QUALIFY row_number() OVER (
        PARTITION BY e.smvue_meeting_id
        ORDER BY coalesce(e.event_id = m.provider_event_id, false) DESC, e.status = 'cancelled', e.synced_at DESC, e.event_id
    ) = 1
),
smvue_one_on_ones AS (
    SELECT
        m.meeting_id AS one_on_one_id,
        m.manager_id, m.rep_id, e.connection_id, e.calendar_id, e.event_id,
        m.meeting_id AS smvue_meeting_id,
        e.ical_uid, e.recurring_event_id, e.original_start_at, m.title,
        -- Once write-back has put SMVue's version on the calendar, the calendar is the truth
        -- (a move made there flows back); before that, the calendar has not caught up yet.
        CASE WHEN e.event_id IS NOT NULL AND m.writeback_state = 'synced' THEN e.start_at ELSE m.start_at END AS start_at,
        CASE WHEN e.event_id IS NOT NULL AND m.writeback_state = 'synced' THEN e.end_at ELSE m.end_at END AS end_at,
        m.status = 'cancelled' OR coalesce(e.status = 'cancelled', false) AS is_cancelled,
        coalesce(e.is_declined, false) AS is_declined,
        m.meeting_type AS own_meeting_type,
        'smvue' AS source,
        CASE
            WHEN e.event_id IS NULL
                THEN format('1:1 scheduled in SMVue between {} and {}; calendar event not synced yet', m.manager_name, m.rep_name)
            ELSE format('1:1 scheduled in SMVue between {} and {}; calendar event {}', m.manager_name, m.rep_name, e.event_id)
        END AS classification_reason,
        e.video_link
    FROM oo_smvue_meetings m
    LEFT JOIN linked_events e ON e.smvue_meeting_id = m.meeting_id
),
unioned AS (
    SELECT * FROM calendar_one_on_ones
    UNION ALL BY NAME
    SELECT * FROM smvue_one_on_ones
)
SELECT
    u.one_on_one_id,
    u.manager_id,
    u.rep_id,
    u.connection_id,
    u.calendar_id,
    u.event_id,
    u.smvue_meeting_id,
    u.ical_uid,
    u.recurring_event_id,
    u.original_start_at,
    u.title,
    u.start_at,
    u.end_at,
    CAST(round((epoch_us(u.end_at) - epoch_us(u.start_at)) // 1000000 / 60.0) AS INTEGER) AS duration_minutes,
    CASE
        WHEN u.is_cancelled THEN 'cancelled'
        WHEN u.is_declined THEN 'declined'
        WHEN u.end_at <= p.as_of THEN 'held'
        ELSE 'scheduled'
    END AS status,
    coalesce(a.is_archived, false) AS is_archived,
    coalesce(a.meeting_type, u.own_meeting_type) AS meeting_type,
    u.source,
    u.classification_reason,
    (epoch_us(u.end_at) - epoch_us(u.start_at)) // 1000000 BETWEEN p.typical_min * 60 AND p.typical_max * 60 AS is_typical_duration,
    u.video_link
FROM unioned u
CROSS JOIN oo_params p
LEFT JOIN app.annotations a ON a.one_on_one_id = u.one_on_one_id
