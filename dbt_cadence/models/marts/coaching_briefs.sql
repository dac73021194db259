-- A coaching brief per upcoming 1:1 (SPEC F13): who, tenure, cadence status and suggestion,
-- the last meetings and their types, the longest gap and what is overdue, plus a Markdown
-- rendering for the app and the notification.
with upcoming as (
    select * from {{ ref('upcoming_one_on_ones') }}
),

metrics as (
    select * from {{ ref('cadence_metrics') }}
),

occurrences as (
    select * from {{ ref('int_one_on_ones_deduplicated') }}
),

upcoming_pairs as (
    select distinct manager_id, rep_id from upcoming
),

-- The pair's last five 1:1s before as_of, whatever became of them, newest first.
recent as (
    select
        occurrences.manager_id,
        occurrences.rep_id,
        -- max_by with a count keeps only the top five per pair, newest first, without
        -- building the whole history into a list.
        max_by(
            struct_pack(
                start_at := occurrences.start_at,
                status := occurrences.status,
                meeting_type := occurrences.meeting_type
            ),
            occurrences.start_at,
            5
        ) as recent_meetings
    from occurrences
    semi join upcoming_pairs
        on occurrences.manager_id = upcoming_pairs.manager_id
        and occurrences.rep_id = upcoming_pairs.rep_id
    where occurrences.start_at < {{ cadence_as_of() }}
    group by all
),

assembled as (
    select
        upcoming.one_on_one_id,
        upcoming.manager_id,
        upcoming.rep_id,
        upcoming.rep_name,
        upcoming.start_at,
        upcoming.meeting_type,
        upcoming.prep_status,
        metrics.tenure_days,
        metrics.cadence_status,
        metrics.suggested_cadence,
        metrics.suggested_interval_days,
        metrics.overdue_after_days,
        metrics.suggestion_reason,
        metrics.held_last_30d,
        metrics.held_last_90d,
        metrics.last_held_at,
        metrics.days_since_last_held,
        coalesce(recent.recent_meetings, []) as recent_meetings,
        metrics.longest_gap_90d_days as longest_gap_days,
        -- Said even when the upcoming 1:1 already puts the pair back on track: the brief is
        -- where the manager learns how far behind they were.
        case
            when metrics.days_since_last_held > metrics.overdue_after_days then format(
                'Last held 1:1 was {} days ago: {} days past the {}-day limit of the {} cadence.',
                metrics.days_since_last_held,
                metrics.days_since_last_held - metrics.overdue_after_days,
                metrics.overdue_after_days,
                metrics.suggested_cadence
            )
            when metrics.last_held_at is null
                and coalesce(metrics.tenure_days, metrics.overdue_after_days + 1) > metrics.overdue_after_days
                then format(
                    'No held 1:1 on record; the {} cadence expects one every {} days.',
                    metrics.suggested_cadence,
                    metrics.suggested_interval_days
                )
        end as overdue_note
    from upcoming
    left join metrics on upcoming.manager_id = metrics.manager_id and upcoming.rep_id = metrics.rep_id
    left join recent on upcoming.manager_id = recent.manager_id and upcoming.rep_id = recent.rep_id
)

select
    *,
    concat_ws(
        chr(10),
        format('### 1:1 with {} — {}', coalesce(rep_name, rep_id), strftime(start_at, '%a %d %b %Y, %H:%M UTC')),
        '',
        -- No metrics row: the rep is not (or no longer) on this manager's team in the roster.
        case
            when cadence_status is null then '- **Team:** not on this manager''s team in SMVue; no cadence data'
            when tenure_days is null then '- **Tenure:** unknown (no start date)'
            else format('- **Tenure:** {} days', tenure_days)
        end,
        format('- **Suggested cadence:** {} ({})', suggested_cadence, suggestion_reason),
        case
            when cadence_status is null then null
            when cadence_status = 'never_met' then '- **Cadence:** never met: no held 1:1 on record'
            else format(
                '- **Cadence:** {}: last held {} ({} days ago); {} held in the last 30 days, {} in the last 90',
                replace(cadence_status, '_', ' '),
                strftime(last_held_at, '%d %b %Y'),
                days_since_last_held,
                held_last_30d,
                held_last_90d
            )
        end,
        case when overdue_note is not null then '- **Overdue:** ' || overdue_note end,
        case when longest_gap_days is not null then format('- **Longest gap (90 days):** {} days', longest_gap_days) end,
        case
            when len(recent_meetings) = 0 then '- **Recent 1:1s:** none yet'
            else '- **Recent 1:1s:** ' || array_to_string(
                list_transform(
                    recent_meetings,
                    lambda meeting: strftime(meeting.start_at, '%d %b') || ' ' || meeting.status
                        || coalesce(' (' || meeting.meeting_type || ')', '')
                ),
                '; '
            )
        end,
        format('- **Prep reminder:** {}', replace(prep_status, '_', ' '))
    ) as brief_markdown
from assembled
