"""Inline SVG charts, rendered in Python: the dashboard works offline, with no JS or CSS fetched."""

from __future__ import annotations

from html import escape

from smvue_core.dashboard.data import RepCadence, Week

STATUS_COLOURS = {
    "on_track": "#2e7d32",
    "due": "#f9a825",
    "overdue": "#c62828",
    "never_met": "#757575",
}
HELD, SCHEDULED, MISSED = "#1565c0", "#90caf9", "#ef9a9a"


def _text(x: float, y: float, content: str, anchor: str = "start", size: int = 12, fill: str = "#222") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}">'
        f"{escape(content)}</text>"
    )


def days_since_chart(reps: list[RepCadence]) -> str:
    """One horizontal bar per rep: days since the last held 1:1, coloured by status, with a tick at
    the suggested interval and a dashed tick at the overdue threshold."""
    if not reps:
        return '<p class="empty">No reps in the roster.</p>'
    label_w, bar_w, row_h, top = 170, 420, 26, 24
    scale_max = max(
        [r.days_since_last_held or 0 for r in reps] + [r.overdue_after_days or 0 for r in reps] + [14]
    )
    scale_max = int(scale_max * 1.1) + 1
    height = top + row_h * len(reps) + 28
    width = label_w + bar_w + 130

    def x_of(days: float) -> float:
        return label_w + bar_w * min(days, scale_max) / scale_max

    parts = [
        f'<svg role="img" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>Days since the last held 1:1 vs the suggested interval</title>',
        _text(
            label_w,
            14,
            "days since last held 1:1 (| suggested interval, ¦ overdue after)",
            size=11,
            fill="#555",
        ),
    ]
    for i, rep in enumerate(reps):
        y = top + i * row_h
        colour = STATUS_COLOURS.get(rep.status, "#444")
        parts.append(_text(label_w - 8, y + 16, rep.rep_name, anchor="end"))
        if rep.days_since_last_held is None:
            parts.append(_text(label_w + 4, y + 16, "never met", fill=colour))
        else:
            parts.append(
                f'<rect x="{label_w}" y="{y + 4}" width="{max(x_of(rep.days_since_last_held) - label_w, 1):.1f}" '
                f'height="{row_h - 10}" fill="{colour}"><title>{escape(rep.rep_name)}: '
                f"{rep.days_since_last_held} days, {escape(rep.status)}</title></rect>"
            )
        if rep.suggested_interval_days is not None:
            x = x_of(rep.suggested_interval_days)
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y + 1}" y2="{y + row_h - 3}" stroke="#111" stroke-width="2"/>'
            )
        if rep.overdue_after_days is not None:
            x = x_of(rep.overdue_after_days)
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y + 1}" y2="{y + row_h - 3}" stroke="#111" '
                'stroke-width="1.5" stroke-dasharray="3,2"/>'
            )
        label = rep.status.replace("_", " ")
        if rep.days_since_last_held is not None:
            label = f"{rep.days_since_last_held} d · {label}"
        parts.append(_text(label_w + bar_w + 8, y + 16, label, fill=colour))
    axis_y = top + row_h * len(reps) + 4
    parts.append(f'<line x1="{label_w}" x2="{label_w + bar_w}" y1="{axis_y}" y2="{axis_y}" stroke="#999"/>')
    for tick in range(0, scale_max + 1, 7):
        x = x_of(tick)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{axis_y}" y2="{axis_y + 4}" stroke="#999"/>')
        parts.append(_text(x, axis_y + 16, str(tick), anchor="middle", size=10, fill="#555"))
    parts.append("</svg>")
    return "".join(parts)


def weekly_chart(weeks: list[Week]) -> str:
    """Stacked bars per ISO week: held, scheduled, and cancelled or declined 1:1s."""
    if not weeks:
        return '<p class="empty">No weekly series yet.</p>'
    left, bottom, top, bar_gap = 36, 40, 16, 6
    col_w, plot_h = 40, 160
    width = left + col_w * len(weeks) + 150
    height = top + plot_h + bottom
    peak = max(max(w.held + w.scheduled + w.missed for w in weeks), 1)
    unit = plot_h / peak
    parts = [
        f'<svg role="img" class="chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>1:1s per week</title>'
    ]
    base_y = top + plot_h
    for step in range(0, peak + 1, max(1, peak // 4)):
        y = base_y - step * unit
        parts.append(
            f'<line x1="{left}" x2="{left + col_w * len(weeks)}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
        )
        parts.append(_text(left - 6, y + 4, str(step), anchor="end", size=10, fill="#555"))
    for i, week in enumerate(weeks):
        x = left + i * col_w + bar_gap / 2
        y = base_y
        for count, colour, label in (
            (week.held, HELD, "held"),
            (week.scheduled, SCHEDULED, "scheduled"),
            (week.missed, MISSED, "cancelled/declined"),
        ):
            if count:
                h = count * unit
                y -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{col_w - bar_gap}" height="{h:.1f}" fill="{colour}">'
                    f"<title>week of {week.week_start.isoformat()}: {count} {label}</title></rect>"
                )
        if i % 2 == 0 or len(weeks) <= 8:
            parts.append(
                _text(
                    x + (col_w - bar_gap) / 2,
                    base_y + 14,
                    week.week_start.strftime("%d %b"),
                    anchor="middle",
                    size=10,
                )
            )
    legend_x = left + col_w * len(weeks) + 16
    for j, (colour, label) in enumerate(
        ((HELD, "held"), (SCHEDULED, "scheduled"), (MISSED, "cancelled / declined"))
    ):
        y = top + 8 + j * 18
        parts.append(f'<rect x="{legend_x}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(_text(legend_x + 16, y, label, size=11))
    parts.append("</svg>")
    return "".join(parts)
