with source as (
    select * from {{ source('app', 'team_members') }}
),

renamed as (
    select
        cast(rep_id as varchar) as rep_id,
        cast(manager_id as varchar) as manager_id,
        name as rep_name,
        lower(trim(email)) as email,
        cast(start_date as date) as start_date
    from source
)

select * from renamed
