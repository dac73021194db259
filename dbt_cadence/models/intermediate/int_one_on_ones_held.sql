-- Held 1:1s (ended, not cancelled, not declined, not archived; each occurrence once) up to
-- as_of, with the gap since the pair's previous held 1:1.
with occurrences as (
    select * from {{ ref('int_one_on_ones_deduplicated') }}
),

held as (
    select
        one_on_one_id,
        manager_id,
        rep_id,
        start_at,
        end_at,
        meeting_type
    from occurrences
    where is_held and start_at <= {{ cadence_as_of() }}
),

with_previous as (
    select
        *,
        -- Ties (two held 1:1s at the same instant) give the same intervals in either order.
        lag(start_at) over (partition by manager_id, rep_id order by start_at) as previous_held_at
    from held
)

select
    *,
    -- Fractional days, so a 7-day cadence at slightly different times of day still reads ~7.
    date_diff('second', previous_held_at, start_at) / 86400.0 as interval_days
from with_previous
