with source as (
    select * from {{ source('app', 'prep_reminders') }}
),

renamed as (
    select
        cast(reminder_id as varchar) as reminder_id,
        cast(one_on_one_id as varchar) as one_on_one_id,
        cast(manager_id as varchar) as manager_id,
        cast(rep_id as varchar) as rep_id,
        cast(remind_at as timestamptz) as remind_at,
        lower(state) as reminder_state,
        cast(sent_at as timestamptz) as sent_at
    from source
)

select * from renamed
