"""The cadence dashboard as one self-contained HTML page (F18): inline CSS and SVG, no scripts.

Per manager: each rep's cadence status, days since the last held 1:1 against the suggested
interval, weekly 1:1 counts, Up Next and the coaching briefs. Every value is HTML-escaped.
"""

from __future__ import annotations

import re
from datetime import datetime
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

from smvue_core.dashboard.charts import STATUS_COLOURS, days_since_chart, weekly_chart
from smvue_core.dashboard.data import DashboardData, ManagerView, load_published
from smvue_core.security.files import write_private_text

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px; color: #222; background: #fafafa; }
h1 { margin-bottom: 4px; } .meta { color: #666; margin-top: 0; }
section.manager { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 16px 20px; margin: 20px 0; }
table { border-collapse: collapse; margin: 8px 0 16px; } th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #eee; }
th { color: #555; font-weight: 600; } .status { font-weight: 600; } .empty { color: #888; font-style: italic; }
.briefs { display: flex; flex-wrap: wrap; gap: 12px; } .brief { border: 1px solid #e0e0e0; border-radius: 6px; padding: 8px 14px; max-width: 520px; background: #fcfcff; }
.brief h4 { margin: 6px 0; } .brief ul { padding-left: 18px; margin: 4px 0; } .warning { color: #8a6d00; }
"""


def _when(moment: datetime | None, fmt: str = "%a %d %b, %H:%M UTC") -> str:
    return moment.strftime(fmt) if moment else "—"


def markdown_to_html(text: str) -> str:
    """The small Markdown subset the briefs use (### headings, - bullets, **bold**), escaped first."""
    html, in_list = [], False

    def inline(line: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escape(line))

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("- "):
            if not in_list:
                html.append("<ul>")
                in_list = True
            html.append(f"<li>{inline(stripped[2:])}</li>")
            continue
        if in_list:
            html.append("</ul>")
            in_list = False
        if stripped.startswith("#"):
            html.append(f"<h4>{inline(stripped.lstrip('#').strip())}</h4>")
        elif stripped:
            html.append(f"<p>{inline(stripped)}</p>")
    if in_list:
        html.append("</ul>")
    return "".join(html)


def _rep_table(manager: ManagerView) -> str:
    if not manager.reps:
        return '<p class="empty">No cadence metrics yet.</p>'
    rows = []
    for rep in manager.reps:
        colour = STATUS_COLOURS.get(rep.status, "#444")
        rows.append(
            "<tr>"
            f"<td>{escape(rep.rep_name)}</td>"
            f'<td class="status" style="color:{colour}">{escape(rep.status.replace("_", " "))}</td>'
            f"<td>{escape(rep.suggested_cadence or '—')}</td>"
            f"<td>{escape(_when(rep.last_held_at, '%d %b %Y'))}</td>"
            f"<td>{'—' if rep.days_since_last_held is None else rep.days_since_last_held}</td>"
            f"<td>{rep.held_last_30d} / {rep.held_last_90d}</td>"
            f"<td>{escape(_when(rep.next_scheduled_at))}</td>"
            f"<td>{escape(rep.suggestion_reason or '')}</td>"
            "</tr>"
        )
    return (
        "<table><tr><th>rep</th><th>status</th><th>suggested</th><th>last held</th><th>days since</th>"
        "<th>held 30 / 90 d</th><th>next scheduled</th><th>why this cadence</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _up_next(manager: ManagerView) -> str:
    if not manager.up_next:
        return '<p class="empty">No 1:1 in the next days.</p>'
    rows = []
    for item in manager.up_next:
        link = _video_link(item.video_link)
        rows.append(
            f"<tr><td>{escape(_when(item.start_at))}</td><td>{escape(item.rep_name)}</td>"
            f"<td>{escape(item.title or '')}</td><td>{escape(item.meeting_type or '—')}</td>"
            f"<td>{escape(item.prep_status.replace('_', ' '))}</td><td>{link}</td></tr>"
        )
    return (
        "<table><tr><th>when</th><th>rep</th><th>title</th><th>type</th><th>prep reminder</th><th>link</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _video_link(url: str | None) -> str:
    """A link only for an https URL: the value comes from calendar events anyone can invite the
    manager to, and a `javascript:` or `data:` href would run in the dashboard's origin."""
    if not url:
        return "—"
    if _is_https_link(url):
        return f'<a href="{escape(url, quote=True)}" rel="noopener noreferrer">join</a>'
    return f'<span class="link">{escape(url)}</span>'


def _is_https_link(url: str) -> bool:
    # Browsers ignore leading blanks and control characters before the scheme, and strip tabs
    # and newlines inside it ("java\tscript:"): any such character makes the value plain text.
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() == "https" and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False


def _briefs(manager: ManagerView) -> str:
    if not manager.briefs:
        return '<p class="empty">No upcoming 1:1 to brief.</p>'
    return (
        '<div class="briefs">'
        + "".join(f'<div class="brief">{markdown_to_html(b.markdown)}</div>' for b in manager.briefs)
        + "</div>"
    )


def render(data: DashboardData) -> str:
    sections = []
    for manager in data.managers:
        sections.append(
            f'<section class="manager" id="{escape(manager.manager_id, quote=True)}">'
            f"<h2>{escape(manager.name)}</h2>"
            "<h3>Team cadence</h3>"
            + _rep_table(manager)
            + days_since_chart(manager.reps)
            + "<h3>1:1s per week</h3>"
            + weekly_chart(manager.weeks)
            + "<h3>Up Next</h3>"
            + _up_next(manager)
            + "<h3>Coaching briefs</h3>"
            + _briefs(manager)
            + "</section>"
        )
    if not sections:
        sections.append('<p class="empty">No managers in the roster yet.</p>')
    missing = (
        f'<p class="warning">Not built yet: {escape(", ".join(data.missing_tables))}.</p>'
        if data.missing_tables
        else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>SMVue coaching cadence</title><style>{CSS}</style></head><body>"
        "<h1>Coaching cadence</h1>"
        f'<p class="meta">Generated {escape(_when(data.generated_at, "%Y-%m-%d %H:%M UTC"))} from the published '
        f"snapshot · {data.one_on_ones} 1:1s found in {data.events_classified} calendar events</p>"
        + missing
        + "".join(sections)
        + "</body></html>"
    )


def build_dashboard(published: str | Path, key: str | None, out: str | Path, now: datetime) -> Path:
    """Render the published snapshot to `out`, atomically (a reader never sees half a page)."""
    html = render(load_published(published, key, now))
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Names, 1:1 times and coaching briefs in plaintext, even with the warehouse encrypted.
    return write_private_text(target, html)
