-- One row per 1:1 occurrence as the 1:1 asset wrote it, typed, with the key that identifies
-- the same occurrence across calendars and reschedules.
with source as (
    select * from {{ source('analytics', 'one_on_one_meetings') }}
),

renamed as (
    select
        cast(one_on_one_id as varchar) as one_on_one_id,
        cast(manager_id as varchar) as manager_id,
        cast(rep_id as varchar) as rep_id,
        cast(connection_id as varchar) as connection_id,
        cast(calendar_id as varchar) as calendar_id,
        cast(event_id as varchar) as event_id,
        cast(smvue_meeting_id as varchar) as smvue_meeting_id,
        cast(ical_uid as varchar) as ical_uid,
        cast(recurring_event_id as varchar) as recurring_event_id,
        cast(original_start_at as timestamptz) as original_start_at,
        title,
        cast(start_at as timestamptz) as start_at,
        cast(end_at as timestamptz) as end_at,
        cast(duration_minutes as integer) as duration_minutes,
        lower(status) as status,
        coalesce(is_archived, false) as is_archived,
        meeting_type,
        source,
        classification_reason,
        is_typical_duration,
        video_link,
        -- A copy of the same meeting on another calendar shares its iCalendar UID, and a moved
        -- occurrence of a series keeps its original start: together they name the occurrence.
        coalesce(ical_uid, one_on_one_id) as occurrence_uid,
        coalesce(cast(original_start_at as timestamptz), cast(start_at as timestamptz)) as occurrence_start_at,
        -- The same four columns as one 64-bit join handle, cheap to store and to join on.
        hash(
            cast(manager_id as varchar),
            cast(rep_id as varchar),
            coalesce(ical_uid, one_on_one_id),
            coalesce(cast(original_start_at as timestamptz), cast(start_at as timestamptz))
        ) as occurrence_key
    from source
)

select * from renamed
