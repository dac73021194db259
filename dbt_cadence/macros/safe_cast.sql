{#- Unit tests read a seed's CSV as strings, so an empty cell arrives as '' and cast('' as
    integer) fails, while `dbt seed` loads that same cell as NULL. Cast an empty string literal
    to a non-text type as NULL, so unit tests can use the real cadence_policy seed. -#}
{% macro duckdb__safe_cast(field, type) -%}
    {%- set type_name = type | lower -%}
    {%- set is_text = 'char' in type_name or 'text' in type_name or 'string' in type_name -%}
    {%- if (field | trim) == "''" and not is_text -%}
        cast(null as {{ type }})
    {%- else -%}
        cast({{ field }} as {{ type }})
    {%- endif -%}
{%- endmacro %}
