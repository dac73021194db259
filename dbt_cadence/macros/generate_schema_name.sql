{#- Use each folder's schema verbatim (analytics, dbt_staging, ...), not dbt's
    "<target schema>_<custom>" default: downstream readers query analytics.* by name. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
