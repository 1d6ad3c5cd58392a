"""Charts of the ops overview as server-rendered inline SVG (no JavaScript): stacked bars per
day. Each chart is an image with a <title> and <desc> (aria-labelledby) and carries its figures
as a visually hidden table for screen readers (rendered by the template)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from markupsafe import Markup, escape

# Okabe-Ito: told apart with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 40


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | Decimal | int]
    colour: str


@dataclass(frozen=True)
class Chart:
    """A stacked bar chart of days: `svg` to show, `days`/`series` for its text alternative."""

    id: str
    title: str
    unit: str
    days: Sequence[date]
    series: Sequence[Series]
    svg: Markup

    @property
    def rows(self) -> list[tuple[date, list[str]]]:
        return [(d, [_fmt(s.values[i], self.unit) for s in self.series]) for i, d in enumerate(self.days)]


def _fmt(value: float | Decimal | int, unit: str) -> str:
    return f"€{Decimal(value):.2f}" if unit == "€" else str(int(value))


def _nice(top: float) -> float:
    """A round axis maximum at or above `top`."""
    if top <= 0:
        return 1
    step = 1.0
    while step * 10 <= top:
        step *= 10
    for m in (1, 2, 2.5, 5, 10):
        if m * step >= top:
            return m * step
    return 10 * step


def stacked_bars(
    chart_id: str, title: str, days: Sequence[date], series: Sequence[Series], unit: str = ""
) -> Chart:
    n = len(days)
    totals = [sum(float(s.values[i]) for s in series) for i in range(n)]
    top = _nice(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(n, 1)
    bar = max(slot * 0.7, 1)
    sums = {s.name: sum(float(v) for v in s.values) for s in series}
    desc = f"{title}, {days[0]:%d %b} to {days[-1]:%d %b}: " + ", ".join(
        f"{name} {_fmt(total, unit)} in all" for name, total in sums.items()
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-labelledby="{chart_id}-title {chart_id}-desc" class="chart" id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    # Axis and gridlines: 0, half and the top.
    for frac in (0, 0.5, 1):
        y = TOP + plot_h * (1 - frac)
        label = _fmt(top * frac, unit) if unit == "€" else f"{top * frac:g}"
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(
            f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" class="tick">{escape(label)}</text>'
        )
    for i, d in enumerate(days):
        x = LEFT + slot * i + (slot - bar) / 2
        base = 0.0
        for s in series:
            v = float(s.values[i])
            if v <= 0:
                continue
            h = plot_h * v / top
            y = TOP + plot_h * (1 - base / top) - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{s.colour}">'
                f"<title>{escape(f'{d:%d %b}: {s.name} {_fmt(v, unit)}')}</title></rect>"
            )
            base += v
        if i in (0, n // 2, n - 1):
            anchor, at = {0: ("start", x), n - 1: ("end", x + bar)}.get(i, ("middle", x + bar / 2))
            parts.append(
                f'<text x="{at:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="{anchor}" class="tick">'
                f"{d:%d %b}</text>"
            )
    # Legend under the axis labels.
    lx = LEFT
    for s in series:
        parts.append(f'<rect x="{lx}" y="{HEIGHT - 14}" width="10" height="10" fill="{s.colour}"/>')
        parts.append(f'<text x="{lx + 14}" y="{HEIGHT - 5}" class="legend">{escape(s.name)}</text>')
        lx += 24 + 8 * len(s.name)
    parts.append("</svg>")
    return Chart(chart_id, title, unit, list(days), list(series), Markup("".join(parts)))
