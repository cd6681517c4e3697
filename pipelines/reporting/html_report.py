"""`marketing-elt report`: one self-contained HTML page from the reporting views, for people without a BI tool.

Charts are plotly figures with plotly.js inlined once in the page: the file opens from disk, from an email
attachment or a CI artifact with no server and no network (the machines this runs on have none). Only the
views are read, through a read-only connection where the warehouse allows one, so a report never blocks
or waits for a load, and shows exactly what a BI tool would.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sources.common import clock

from .settings import CHANNELS

Query = Callable[[str], list[tuple[Any, ...]]]

# One colour per series, never reused across charts or by the page itself: the screenshot test finds each
# chart by its colours.
TRAFFIC_COLORS = {
    "HubSpot visits": "#e8590c",
    "HubSpot visitors": "#f59f00",
    "Humblytics pageviews": "#1c7ed6",
    "Humblytics unique visitors": "#0b7285",
}
ACTIVITY_COLORS = {"Leads created (HubSpot)": "#7048e8", "Conversions (AttributionHub)": "#d6336c"}
CHANNEL_COLORS = dict(
    zip(
        CHANNELS,
        ("#2b8a3e", "#5c940d", "#862e9c", "#c2255c", "#1864ab", "#e67700", "#495057", "#adb5bd"),
        strict=True,
    )
)
CONVERSION_COLORS = {
    "attributionhub / hubspot_form": "#0ca678",
    "attributionhub / html_form": "#74b816",
    "attributionhub / custom_event": "#f08c00",
    "hubspot_leads / hubspot_form": "#3b5bdb",
}
FALLBACK_COLORS = ("#868e96", "#a61e4d", "#364fc7", "#087f5b", "#5f3dc4", "#d9480f")
CHANNEL_SERIES = (
    ("hubspot_visits", "HubSpot visits"),
    ("humblytics_sessions", "Humblytics sessions"),
    ("attributionhub_sessions", "AttributionHub journey sessions"),
)
RECENT_ROWS = 15


@dataclass
class ReportData:
    """Everything the page shows, read from the views."""

    warehouse: str
    generated_at: str
    freshness: list[dict[str, Any]] = field(default_factory=list)
    daily: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)
    conversions_by_day: list[dict[str, Any]] = field(default_factory=list)
    recent_conversions: list[dict[str, Any]] = field(default_factory=list)
    leads: dict[str, Any] = field(default_factory=dict)
    recent_leads: list[dict[str, Any]] = field(default_factory=list)


def _rows(query: Query, sql: str, columns: Sequence[str]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in query(sql)]


def collect(query: Query, reporting: str, warehouse: str) -> ReportData:
    """Read the views. `query` runs one SELECT (written for DuckDB; the caller transpiles) and returns rows;
    `reporting` is the quoted schema of the views."""
    r = reporting
    data = ReportData(warehouse=warehouse, generated_at=clock.now().format("YYYY-MM-DD HH:mm") + " UTC")
    data.freshness = _rows(
        query,
        f"SELECT source, last_loaded_at, first_day, last_day, days_behind, rows_loaded FROM {r}.source_freshness "
        "ORDER BY source",
        ("source", "last_loaded_at", "first_day", "last_day", "days_behind", "rows_loaded"),
    )
    daily_columns = (
        "date",
        "hubspot_visits",
        "hubspot_visitors",
        "hubspot_raw_views",
        "humblytics_pageviews",
        "humblytics_unique_visitors",
        "leads_created",
        "conversions",
    )
    data.daily = _rows(query, f"SELECT {', '.join(daily_columns)} FROM {r}.daily_traffic ORDER BY date", daily_columns)
    channel_columns = ("date", "channel", *(column for column, _ in CHANNEL_SERIES))
    data.channels = _rows(
        query, f"SELECT {', '.join(channel_columns)} FROM {r}.channel_daily ORDER BY date, channel", channel_columns
    )
    data.conversions_by_day = _rows(
        query,
        f"SELECT date, source_system, conversion_type, COUNT(*) AS n FROM {r}.conversions "
        "GROUP BY date, source_system, conversion_type ORDER BY date",
        ("date", "source_system", "conversion_type", "n"),
    )
    data.recent_conversions = _rows(
        query,
        f"SELECT converted_at, source_system, conversion_type, page_url, email FROM {r}.conversions "
        f"ORDER BY converted_at DESC LIMIT {RECENT_ROWS}",
        ("converted_at", "source_system", "conversion_type", "page_url", "email"),
    )
    summary = query(
        "SELECT COUNT(*), SUM(CASE WHEN is_customer THEN 1 ELSE 0 END),"
        f" SUM(CASE WHEN conversions > 0 THEN 1 ELSE 0 END), SUM(conversions) FROM {r}.leads_current"
    )
    live, customers, converted, conversions = summary[0] if summary else (0, 0, 0, 0)
    data.leads = {
        "live": int(live or 0),
        "customers": int(customers or 0),
        "converted": int(converted or 0),
        "conversions": int(conversions or 0),
    }
    data.recent_leads = _rows(
        query,
        "SELECT inserted_at, first_name, last_name, company, crm_status, conversions, last_conversion_at "
        f"FROM {r}.leads_current ORDER BY inserted_at DESC LIMIT {RECENT_ROWS}",
        ("inserted_at", "first_name", "last_name", "company", "crm_status", "conversions", "last_conversion_at"),
    )
    return data


# --- charts ----------------------------------------------------------------------------------------------


def _layout(title: str, height: int) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0.01},
        "height": height,
        "template": "plotly_white",
        "margin": {"l": 60, "r": 20, "t": 60, "b": 40},
        "legend": {"orientation": "h", "y": -0.12},
        "hovermode": "x unified",
    }


def _day(value: Any) -> str:
    return value.isoformat()[:10] if hasattr(value, "isoformat") else str(value)


def _no_data(fig: Any) -> None:
    fig.add_annotation(text="no data loaded yet", showarrow=False, font={"size": 16, "color": "#868e96"})


def traffic_figure(data: ReportData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure(layout=_layout("Daily traffic by source system", 420))
    days = [_day(row["date"]) for row in data.daily]
    columns = ("hubspot_visits", "hubspot_visitors", "humblytics_pageviews", "humblytics_unique_visitors")
    for column, (name, color) in zip(columns, TRAFFIC_COLORS.items(), strict=True):
        values = [row[column] for row in data.daily]
        if any(v is not None for v in values):
            fig.add_trace(go.Scatter(x=days, y=values, name=name, mode="lines", line={"color": color, "width": 3}))
    if not fig.data:
        _no_data(fig)
    return fig


def activity_figure(data: ReportData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure(layout=_layout("Leads created and conversions per day", 360))
    days = [_day(row["date"]) for row in data.daily]
    for column, (name, color) in zip(("leads_created", "conversions"), ACTIVITY_COLORS.items(), strict=True):
        values = [row[column] for row in data.daily]
        if any(v is not None for v in values):
            fig.add_trace(go.Bar(x=days, y=values, name=name, marker={"color": color, "line": {"width": 0}}))
    fig.update_layout(barmode="group", bargap=0.15)
    if not fig.data:
        _no_data(fig)
    return fig


def channels_figure(data: ReportData) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=len(CHANNEL_SERIES),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=[title for _, title in CHANNEL_SERIES],
    )
    fig.update_layout(**_layout("Channels over time", 760), barmode="stack", bargap=0.1)
    by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in data.channels:
        by_channel[row["channel"]].append(row)
    order = [c for c in CHANNELS if c in by_channel] + sorted(set(by_channel) - set(CHANNELS))
    in_legend: set[str] = set()
    for row_index, (column, _) in enumerate(CHANNEL_SERIES, start=1):
        for channel in order:
            rows = by_channel[channel]
            values = [row[column] for row in rows]
            if not any(values):
                continue
            fig.add_trace(
                go.Bar(
                    x=[_day(row["date"]) for row in rows],
                    y=values,
                    name=channel,
                    legendgroup=channel,
                    showlegend=channel not in in_legend,
                    marker={"color": CHANNEL_COLORS.get(channel, FALLBACK_COLORS[0]), "line": {"width": 0}},
                ),
                row=row_index,
                col=1,
            )
            in_legend.add(channel)
    if not fig.data:
        _no_data(fig)
    return fig


def conversions_figure(data: ReportData) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure(layout=_layout("Conversions per day by system and type", 380))
    # the days of daily_traffic: HubSpot events of leads loaded for recent edits can reach months back
    first = _day(data.daily[0]["date"]) if data.daily else ""
    series: dict[str, dict[str, int]] = defaultdict(dict)
    for row in data.conversions_by_day:
        if _day(row["date"]) >= first:
            series[f"{row['source_system']} / {row['conversion_type']}"][_day(row["date"])] = int(row["n"])
    extra = iter(FALLBACK_COLORS * 4)
    for name in sorted(series):
        points = series[name]
        color = CONVERSION_COLORS.get(name) or next(extra)
        fig.add_trace(
            go.Bar(x=list(points), y=list(points.values()), name=name, marker={"color": color, "line": {"width": 0}})
        )
    fig.update_layout(barmode="stack", bargap=0.1)
    if not fig.data:
        _no_data(fig)
    return fig


# --- the page --------------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; background: #f8f9fa;
       color: #212529; }
main { max-width: 1180px; margin: 0 auto; padding: 24px; }
h1 { margin: 0 0 4px; font-size: 26px; } h2 { margin: 32px 0 8px; font-size: 20px; }
.meta { color: #495057; margin: 0 0 16px; }
.chart, .card { background: #fff; border: 1px solid #dee2e6; border-radius: 8px; padding: 8px; margin: 12px 0; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e9ecef; }
th { background: #f1f3f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.stale { color: #c92a2a; font-weight: 600; } .fresh { color: #2f9e44; }
.tiles { display: flex; gap: 12px; flex-wrap: wrap; }
.tile { background: #fff; border: 1px solid #dee2e6; border-radius: 8px; padding: 12px 16px; min-width: 160px; }
.tile b { display: block; font-size: 24px; }
"""


def _cell(value: Any) -> str:
    if value is None:
        return "<td>-</td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, int | float):
        return f'<td class="num">{value:,}</td>'
    if hasattr(value, "isoformat"):
        text = value.isoformat(sep=" ", timespec="minutes") if hasattr(value, "hour") else value.isoformat()
        return f"<td>{html.escape(text)}</td>"
    return f"<td>{html.escape(str(value))}</td>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f'<div class="card"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _freshness(rows: list[dict[str, Any]]) -> str:
    def behind(days: Any) -> str:
        if days is None:
            return '<td class="stale">never loaded</td>'
        css = "fresh" if days <= 1 else "stale"
        return f'<td class="num {css}">{days}</td>'

    body = "".join(
        "<tr>"
        + _cell(row["source"])
        + _cell(row["last_loaded_at"])
        + _cell(row["first_day"])
        + _cell(row["last_day"])
        + behind(row["days_behind"])
        + _cell(row["rows_loaded"])
        + "</tr>"
        for row in rows
    )
    head = "".join(f"<th>{h}</th>" for h in ("source", "last load", "data from", "data through", "days behind", "rows"))
    return f'<div class="card"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _tiles(data: ReportData) -> str:
    def total(column: str) -> int | None:
        values = [row[column] for row in data.daily if row[column] is not None]
        return sum(values) if values else None

    tiles = (
        ("HubSpot visits", total("hubspot_visits")),
        ("Humblytics pageviews", total("humblytics_pageviews")),
        ("Leads created", total("leads_created")),
        ("Conversions (AttributionHub)", total("conversions")),
        ("Live leads", data.leads.get("live")),
        ("Customers", data.leads.get("customers")),
    )
    return (
        '<div class="tiles">'
        + "".join(
            f'<div class="tile">{html.escape(label)}<b>{"-" if value is None else f"{value:,}"}</b></div>'
            for label, value in tiles
        )
        + "</div>"
    )


def render(data: ReportData) -> str:
    """The whole page; plotly.js inlined once, each figure a div with a fixed id (same data, same bytes)."""
    from plotly.offline import get_plotlyjs

    figures = (
        ("traffic", traffic_figure(data)),
        ("activity", activity_figure(data)),
        ("channels", channels_figure(data)),
        ("conversions", conversions_figure(data)),
    )
    charts = {
        name: '<div class="chart">'
        + figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{name}",
            config={"displaylogo": False, "responsive": True},
        )
        + "</div>"
        for name, figure in figures
    }
    days = [row["date"] for row in data.daily]
    period = f"{_day(days[0])} to {_day(days[-1])}" if days else "no days loaded yet"
    leads = data.leads
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>Marketing warehouse report</title>",
            f"<style>{STYLE}</style>",
            f'<script type="text/javascript">{get_plotlyjs()}</script>',
            "</head><body><main>",
            "<h1>Marketing warehouse report</h1>",
            f'<p class="meta">{html.escape(data.warehouse)} · {html.escape(period)} · generated '
            f"{html.escape(data.generated_at)} from the reporting views</p>",
            _tiles(data),
            "<h2>Freshness</h2>",
            _freshness(data.freshness),
            "<h2>Traffic</h2>",
            charts["traffic"],
            charts["activity"],
            "<h2>Channels</h2>",
            charts["channels"],
            "<h2>Conversions</h2>",
            charts["conversions"],
            _table(
                ("when", "system", "type", "page", "email"),
                [tuple(row.values()) for row in data.recent_conversions],
            ),
            "<h2>Leads</h2>",
            f'<p class="meta">{leads.get("live", 0):,} live leads, {leads.get("customers", 0):,} customers, '
            f"{leads.get('converted', 0):,} with a conversion ({leads.get('conversions', 0):,} conversions in all). "
            f"The {RECENT_ROWS} newest:</p>",
            _table(
                ("inserted", "first name", "last name", "company", "status", "conversions", "last conversion"),
                [tuple(row.values()) for row in data.recent_leads],
            ),
            f"<script>window.MARKETING_ELT_REPORT = {json.dumps({'charts': list(charts)})};</script>",
            "</main></body></html>",
        ]
    )


def write(data: ReportData, out: Path) -> Path:
    """Write atomically: a reader (a browser reloading, a mailer attaching it) never sees half a page."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(render(data), encoding="utf-8")
    tmp.replace(out)
    return out
