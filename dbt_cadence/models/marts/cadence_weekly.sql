-- Weekly 1:1 counts per manager x rep for dashboards (SPEC F10, F18): the 13 ISO weeks
-- (Monday starts, UTC) ending with as_of's week, every week present even when it is all zeros.
with roster as (
    select manager_id, rep_id from {{ ref('int_team_members_tenured') }}
),

occurrences as (
    select * from {{ ref('int_one_on_ones_deduplicated') }}
),

weeks as (
    select cast(week_start as date) as week_start
    from generate_series(
        date_trunc('week', {{ cadence_as_of() }}) - interval 12 week,
        date_trunc('week', {{ cadence_as_of() }}),
        interval 1 week
    ) as series(week_start)
),

weekly_counts as (
    select
        manager_id,
        rep_id,
        cast(date_trunc('week', start_at) as date) as week_start,
        count(*) filter (where status = 'held') as held_count,
        count(*) filter (where status = 'scheduled') as scheduled_count,
        count(*) filter (where status = 'cancelled') as cancelled_count,
        count(*) filter (where status = 'declined') as declined_count
    from occurrences
    where start_at >= (select min(week_start) from weeks)
        and start_at < (select max(week_start) from weeks) + interval 1 week
    group by all
)

select
    roster.manager_id,
    roster.rep_id,
    weeks.week_start,
    coalesce(weekly_counts.held_count, 0) as held_count,
    coalesce(weekly_counts.scheduled_count, 0) as scheduled_count,
    coalesce(weekly_counts.cancelled_count, 0) as cancelled_count,
    coalesce(weekly_counts.declined_count, 0) as declined_count
from roster
cross join weeks
left join weekly_counts
    on roster.manager_id = weekly_counts.manager_id
    and roster.rep_id = weekly_counts.rep_id
    and weeks.week_start = weekly_counts.week_start
