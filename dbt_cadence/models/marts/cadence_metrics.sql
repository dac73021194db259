-- Cadence per manager x rep in the roster (SPEC F10), reps who never met included.
-- Status rules (boundaries in cadence_metrics.yml): never_met, on_track, overdue, due.
with roster as (
    select * from {{ ref('int_team_members_tenured') }}
),

held as (
    select * from {{ ref('int_one_on_ones_held') }}
),

occurrences as (
    select * from {{ ref('int_one_on_ones_deduplicated') }}
),

held_stats as (
    select
        manager_id,
        rep_id,
        count(*) filter (where start_at >= {{ cadence_as_of() }} - interval 30 day) as held_last_30d,
        count(*) filter (where start_at >= {{ cadence_as_of() }} - interval 90 day) as held_last_90d,
        max(start_at) as last_held_at,
        round(avg(interval_days), 1) as mean_interval_days,
        round(median(interval_days), 1) as median_interval_days,
        -- gaps that ended in the last 90 days, however long ago they began
        max(interval_days) filter (where start_at >= {{ cadence_as_of() }} - interval 90 day) as longest_closed_gap_days
    from held
    group by manager_id, rep_id
),

next_scheduled as (
    select
        manager_id,
        rep_id,
        min(start_at) as next_scheduled_at
    from occurrences
    where status = 'scheduled' and start_at > {{ cadence_as_of() }}
    group by manager_id, rep_id
),

measured as (
    select
        roster.manager_id,
        roster.rep_id,
        roster.rep_name,
        roster.tenure_days,
        roster.tenure_bucket,
        roster.is_cadence_overridden,
        roster.suggested_cadence,
        roster.suggested_interval_days,
        roster.overdue_after_days,
        roster.suggestion_reason,
        coalesce(held_stats.held_last_30d, 0) as held_last_30d,
        coalesce(held_stats.held_last_90d, 0) as held_last_90d,
        held_stats.last_held_at,
        next_scheduled.next_scheduled_at,
        held_stats.mean_interval_days,
        held_stats.median_interval_days,
        held_stats.longest_closed_gap_days,
        -- Whole days elapsed, rounded down: 6 days 23 hours is 6.
        cast(floor(date_diff('second', held_stats.last_held_at, {{ cadence_as_of() }}) / 86400) as integer)
            as days_since_last_held
    from roster
    left join held_stats
        on roster.manager_id = held_stats.manager_id and roster.rep_id = held_stats.rep_id
    left join next_scheduled
        on roster.manager_id = next_scheduled.manager_id and roster.rep_id = next_scheduled.rep_id
)

select
    * exclude (longest_closed_gap_days),
    -- The stretch still open since the last held 1:1 is a gap too; whole days, rounded down.
    greatest(cast(floor(longest_closed_gap_days) as integer), days_since_last_held) as longest_gap_90d_days,
    case
        when last_held_at is null then 'never_met'
        when days_since_last_held <= suggested_interval_days
            or next_scheduled_at <= {{ cadence_as_of() }} + to_days(suggested_interval_days)
            then 'on_track'
        when days_since_last_held > overdue_after_days then 'overdue'
        else 'due'
    end as cadence_status
from measured
