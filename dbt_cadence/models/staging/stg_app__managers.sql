with source as (
    select * from {{ source('app', 'managers') }}
),

renamed as (
    select
        cast(manager_id as varchar) as manager_id,
        name as manager_name,
        lower(trim(email)) as email
    from source
)

select * from renamed
