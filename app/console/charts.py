"""Charts as inline SVG, drawn on the server: no chart library, no script, nothing to fetch.

Every label that comes from data is escaped here, because the markup is inserted into pages
as is. Each chart has a ``<title>`` and ``role="img"`` with an ``aria-label`` summarising it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
ROW = 34
LEFT = 150
RIGHT = 70
PALETTE = ("#1f5fbf", "#c2571a", "#2b8a3e", "#8e44ad", "#b8860b", "#0f7c8c")


@dataclass(frozen=True, slots=True)
class Interval:
    label: str
    mean: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class Share:
    label: str
    configured: float
    observed: float | None


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    points: Sequence[tuple[str, float | None]]  # (bucket label, value)


def interval_chart(
    title: str,
    rows: Sequence[Interval],
    *,
    empty: str = "No feedback yet",
    reference: float | None = None,
) -> str:
    """Each row's mean as a dot with its interval as a bar, on one shared axis; ``reference``
    (0 for a difference) is drawn as a dashed line, so "the interval crosses it" is visible."""
    values = [v for r in rows for v in (r.mean, r.low, r.high) if v is not None]
    if not values:
        return _empty(title, empty)
    if reference is not None:
        values.append(reference)
    low, high = _padded(min(values), max(values))
    height = ROW * len(rows) + 40
    parts = [_open(title, height, f"{title}: " + "; ".join(_interval_text(r) for r in rows))]
    parts.append(_axis(low, high, height - 20))
    if reference is not None:
        x = _x(reference, low, high)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="12" y2="{height - 20:.1f}" stroke="#6b7785" stroke-dasharray="4 3"/>'
            f'<text x="{x:.1f}" y="10" text-anchor="middle">{reference:g}</text>'
        )
    for index, row in enumerate(rows):
        y = 20 + ROW * index + ROW / 2
        color = PALETTE[index % len(PALETTE)]
        parts.append(_label(row.label, y))
        if row.low is not None and row.high is not None:
            x1, x2 = _x(row.low, low, high), _x(row.high, low, high)
            parts.append(
                f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" stroke-width="4" stroke-linecap="round"/>'
            )
        if row.mean is not None:
            x = _x(row.mean, low, high)
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{color}"/>')
            parts.append(_value(f"{row.mean:.3g}", y))
    parts.append("</svg>")
    return "".join(parts)


def share_chart(title: str, rows: Sequence[Share]) -> str:
    """Configured share (outline) against the observed share of units (filled), per variant."""
    height = ROW * len(rows) + 40
    summary = "; ".join(
        f"{r.label} configured {r.configured:.0%}"
        + (f", observed {r.observed:.0%}" if r.observed is not None else "")
        for r in rows
    )
    parts = [
        _open(title, height, f"{title}: {summary}"),
        _axis(0.0, 1.0, height - 20, percent=True),
    ]
    for index, row in enumerate(rows):
        y = 20 + ROW * index
        color = PALETTE[index % len(PALETTE)]
        parts.append(_label(row.label, y + ROW / 2))
        if row.observed is not None:
            width = _x(row.observed, 0, 1) - LEFT
            parts.append(
                f'<rect x="{LEFT}" y="{y + 8:.1f}" width="{width:.1f}" height="{ROW - 16}" fill="{color}" opacity="0.8"/>'
            )
        configured = _x(row.configured, 0, 1) - LEFT
        parts.append(
            f'<rect x="{LEFT}" y="{y + 4:.1f}" width="{configured:.1f}" height="{ROW - 8}" fill="none" stroke="#16202c" stroke-dasharray="4 3"/>'
        )
        observed = f"{row.observed:.0%}" if row.observed is not None else "–"
        parts.append(_value(observed, y + ROW / 2))
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float


def usd(value: float) -> str:
    """Dollars as people read them: cents once there are any, else six decimals."""
    return f"${value:,.2f}" if value >= 0.01 else f"${value:.6f}"


def bar_chart(title: str, bars: Sequence[Bar], fmt: Callable[[float], str] = usd) -> str:
    """One horizontal bar per label (e.g. a day's spend), scaled to the largest."""
    if not bars:
        return _empty(title, "Nothing in this range")
    top = max(max(b.value for b in bars), 1e-12) * 1.25  # room for the value past the bar
    height = ROW * len(bars) + 40
    summary = "; ".join(f"{b.label} {fmt(b.value)}" for b in bars)
    parts = [_open(title, height, f"{title}: {summary}"), _axis(0.0, top, height - 20, fmt=fmt)]
    for index, bar in enumerate(bars):
        y = 20 + ROW * index
        width = _x(bar.value, 0, top) - LEFT
        parts.append(_label(bar.label, y + ROW / 2))
        parts.append(
            f'<rect x="{LEFT}" y="{y + 6:.1f}" width="{width:.1f}" height="{ROW - 12}" fill="{PALETTE[0]}"/>'
        )
        parts.append(
            f'<text x="{LEFT + width + 6:.1f}" y="{y + ROW / 2 + 4:.1f}">{escape(fmt(bar.value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(title: str, series: Sequence[Series]) -> str:
    """One line per variant over time buckets (e.g. the cumulative mean of the metric)."""
    buckets = sorted({b for s in series for b, v in s.points if v is not None})
    values = [v for s in series for _, v in s.points if v is not None]
    if len(buckets) < 1 or not values:
        return _empty(title, "No data over time yet")
    low, high = _padded(min(values), max(values))
    height = 260
    plot_w = WIDTH - LEFT - RIGHT
    step = plot_w / max(len(buckets) - 1, 1)
    position = {b: LEFT + i * step for i, b in enumerate(buckets)}
    parts = [_open(title, height, f"{title} across {len(buckets)} time buckets")]
    parts.append(_axis(low, high, height - 20, vertical=True, plot_height=height - 50))
    for index, line in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        points = [
            (position[b], 20 + (1 - (v - low) / (high - low)) * (height - 50))
            for b, v in line.points
            if v is not None
        ]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
            )
            parts.extend(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>' for x, y in points
            )
            x, y = points[-1]
            parts.append(
                f'<text x="{min(x + 4, WIDTH - RIGHT + 4):.1f}" y="{y + 4:.1f}" fill="{color}">{escape(line.label)}</text>'
            )
    parts.append(
        f'<text x="{LEFT}" y="{height - 4}">{escape(buckets[0])}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{height - 4}" text-anchor="end">{escape(buckets[-1])}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _open(title: str, height: float, label: str) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="{WIDTH}" height="{height:.0f}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    )


def _empty(title: str, text: str) -> str:
    return _open(title, 60, f"{title}: {text}") + f'<text x="20" y="35">{escape(text)}</text></svg>'


def _axis(
    low: float,
    high: float,
    y: float,
    *,
    percent: bool = False,
    vertical: bool = False,
    plot_height: float = 0,
    fmt: Callable[[float], str] | None = None,
) -> str:
    if fmt is None:
        fmt = "{:.0%}".format if percent else "{:.3g}".format

    if vertical:
        return (
            f'<line x1="{LEFT}" x2="{LEFT}" y1="20" y2="{20 + plot_height:.1f}" stroke="#b9c2cd"/>'
            f'<text x="{LEFT - 6}" y="24" text-anchor="end">{fmt(high)}</text>'
            f'<text x="{LEFT - 6}" y="{20 + plot_height:.1f}" text-anchor="end">{fmt(low)}</text>'
        )
    right = WIDTH - RIGHT
    return (
        f'<line x1="{LEFT}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#b9c2cd"/>'
        f'<text x="{LEFT}" y="{y + 14:.1f}">{fmt(low)}</text>'
        f'<text x="{right}" y="{y + 14:.1f}" text-anchor="end">{fmt(high)}</text>'
    )


def _label(text: str, y: float) -> str:
    return f'<text x="{LEFT - 10}" y="{y + 4:.1f}" text-anchor="end">{escape(text)}</text>'


def _value(text: str, y: float) -> str:
    return f'<text x="{WIDTH - RIGHT + 8}" y="{y + 4:.1f}">{escape(text)}</text>'


def _x(value: float, low: float, high: float) -> float:
    return LEFT + (value - low) / (high - low) * (WIDTH - LEFT - RIGHT)


def _padded(low: float, high: float) -> tuple[float, float]:
    if high - low < 1e-12:
        return low - 0.5, high + 0.5
    pad = (high - low) * 0.08
    return low - pad, high + pad


def _interval_text(row: Interval) -> str:
    if row.mean is None:
        return f"{row.label} no data"
    if row.low is None or row.high is None:
        return f"{row.label} {row.mean:.3g}"
    return f"{row.label} {row.mean:.3g} ({row.low:.3g} to {row.high:.3g})"
