{#- The "now" every model measures against, as a TIMESTAMPTZ SQL expression.
    var('as_of') is parsed and re-rendered, so only a well-formed timestamp ever reaches the SQL;
    unset, it is the run's start time, so all models of one run share the same "now". -#}
{% macro cadence_as_of() -%}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of is none or (as_of | string | trim) == '' -%}
        {%- set moment = run_started_at -%}
    {%- else -%}
        {%- set moment = modules.datetime.datetime.fromisoformat(as_of | string | trim) -%}
    {%- endif -%}
    {%- if moment.tzinfo is none -%}
        {%- set moment = moment.replace(tzinfo=modules.datetime.timezone.utc) -%}
    {%- endif -%}
    cast('{{ moment.isoformat() }}' as timestamptz)
{%- endmacro %}

{#- Up Next's horizon in whole days (var lookahead_days, default 7), validated as an integer. -#}
{% macro cadence_lookahead_days() -%}
    {%- set days = var('lookahead_days', 7) | string | trim -%}
    {%- if not days.isdigit() -%}
        {{ exceptions.raise_compiler_error("var lookahead_days must be a whole number of days, got " ~ days) }}
    {%- endif -%}
    {{ days | int }}
{%- endmacro %}
