{#- Fails with one row per duplicated key: the model-level stand-in for dbt_utils'
    test of the same name (dbt packages cannot be downloaded here). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {%- set key = combination_of_columns | join(', ') -%}
    select {{ key }}, count(*) as duplicate_rows
    from {{ model }}
    group by {{ key }}
    having count(*) > 1
{% endtest %}
