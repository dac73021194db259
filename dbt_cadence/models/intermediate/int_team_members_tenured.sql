-- Each rep with their tenure as of the run and the cadence the policy suggests for it; a
-- per-rep override replaces the policy row whole (cadence, thresholds and reason).
with team_members as (
    select * from {{ ref('stg_app__team_members') }}
),

policy as (
    select * from {{ ref('cadence_policy') }}
),

overrides as (
    select * from {{ ref('cadence_overrides') }}
),

tenured as (
    select
        team_members.*,
        -- Whole calendar days (UTC) from the start date to as_of; NULL when the start date is unknown.
        date_diff('day', start_date, cast({{ cadence_as_of() }} as date)) as tenure_days
    from team_members
),

with_policy as (
    select
        tenured.*,
        policy.tenure_bucket,
        policy.suggested_cadence as policy_cadence,
        policy.suggested_interval_days as policy_interval_days,
        policy.overdue_after_days as policy_overdue_after_days,
        policy.reason as policy_reason
    from tenured
    left join policy
        on (tenured.tenure_days is null and policy.min_tenure_days is null and policy.max_tenure_days is null)
        -- A start date in the future counts as day 0: the rep is about to ramp.
        or (
            tenured.tenure_days is not null
            and greatest(tenured.tenure_days, 0) >= policy.min_tenure_days
            and (policy.max_tenure_days is null or greatest(tenured.tenure_days, 0) <= policy.max_tenure_days)
        )
),

final as (
    select
        with_policy.rep_id,
        with_policy.manager_id,
        with_policy.rep_name,
        with_policy.email,
        with_policy.start_date,
        with_policy.tenure_days,
        with_policy.tenure_bucket,
        overrides.rep_id is not null as is_cadence_overridden,
        coalesce(overrides.suggested_cadence, with_policy.policy_cadence) as suggested_cadence,
        coalesce(overrides.suggested_interval_days, with_policy.policy_interval_days) as suggested_interval_days,
        coalesce(overrides.overdue_after_days, with_policy.policy_overdue_after_days) as overdue_after_days,
        case
            when overrides.rep_id is not null then overrides.reason
            else with_policy.policy_reason
        end as suggestion_reason
    from with_policy
    left join overrides on with_policy.rep_id = overrides.rep_id
)

select * from final
