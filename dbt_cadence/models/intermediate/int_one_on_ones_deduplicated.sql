-- One row per 1:1 occurrence, archived ones left out (SPEC F16). Copies of one occurrence
-- (the same meeting on two calendars; a moved occurrence of a series, which keeps its original
-- start) share manager, rep, occurrence_uid and occurrence_start_at. The copy kept is the one
-- that best says what happened: held, then scheduled, then declined, then cancelled (so a
-- rescheduled meeting's live copy wins over its cancelled original), then the latest start.

-- A table, not a view like the other intermediates: four marts and a test read it, and as a
-- view each would redo the window over every 1:1 row (SPEC: recompute over a million rows
-- <= 10 s). Narrow on purpose, since writing wide text columns costs more than the window;
-- title and link are looked up for the few upcoming rows that need them.
{{ config(materialized='table') }}

with one_on_ones as (
    select * from {{ ref('stg_analytics__one_on_one_meetings') }}
),

ranked as (
    select
        *,
        count(*) over occurrence as copies_count,
        -- Archiving any copy archives the occurrence: the manager said "leave this one out".
        bool_or(is_archived) over occurrence as is_occurrence_archived
    from one_on_ones
    -- occurrence_key is the 64-bit hash of those four columns: partitioning on one integer is
    -- several times cheaper than on three strings and a timestamp, and two distinct occurrences
    -- sharing a hash is a ~1e-8 chance in a million rows.
    window occurrence as (partition by occurrence_key)
    qualify row_number() over (
        occurrence
        order by
            case status when 'held' then 1 when 'scheduled' then 2 when 'declined' then 3 else 4 end,
            start_at desc,
            one_on_one_id
    ) = 1
)

select
    one_on_one_id,
    manager_id,
    rep_id,
    occurrence_key,
    start_at,
    end_at,
    status,
    status = 'held' as is_held,
    meeting_type,
    copies_count
from ranked
where not is_occurrence_archived
