-- Up Next (SPEC F11): scheduled, non-archived 1:1s starting in [as_of, as_of + lookahead_days),
-- with the rep, the link, the meeting type and where the prep reminder stands.
with occurrences as (
    select * from {{ ref('int_one_on_ones_deduplicated') }}
),

one_on_ones as (
    select * from {{ ref('stg_analytics__one_on_one_meetings') }}
),

team_members as (
    select * from {{ ref('stg_app__team_members') }}
),

reminders as (
    select * from {{ ref('stg_app__prep_reminders') }}
),

upcoming as (
    select *
    from occurrences
    where status = 'scheduled'
        and start_at >= {{ cadence_as_of() }}
        and start_at < {{ cadence_as_of() }} + to_days({{ cadence_lookahead_days() }})
),

-- A reminder may name any copy of the occurrence, so reminders are matched through the
-- occurrence key. Best news first: sent, then scheduled, then failed; withdrawn ones (moved or
-- cancelled meetings) say nothing about this occurrence.
prep_by_occurrence as (
    select
        one_on_ones.occurrence_key,
        min(case reminders.reminder_state when 'sent' then 1 when 'scheduled' then 2 else 3 end) as prep_rank
    from reminders
    inner join one_on_ones on reminders.one_on_one_id = one_on_ones.one_on_one_id
    where reminders.reminder_state in ('sent', 'scheduled', 'failed')
    group by all
)

select
    upcoming.manager_id,
    upcoming.rep_id,
    team_members.rep_name,
    upcoming.one_on_one_id,
    upcoming.start_at,
    upcoming.end_at,
    one_on_ones.title,
    one_on_ones.video_link,
    upcoming.meeting_type,
    case prep_by_occurrence.prep_rank
        when 1 then 'sent'
        when 2 then 'scheduled'
        when 3 then 'failed'
        else 'not_scheduled'
    end as prep_status
from upcoming
left join one_on_ones on upcoming.one_on_one_id = one_on_ones.one_on_one_id
left join team_members on upcoming.rep_id = team_members.rep_id
left join prep_by_occurrence on upcoming.occurrence_key = prep_by_occurrence.occurrence_key
