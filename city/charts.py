"""Server-rendered SVG bar charts for the report page (no script, no external asset)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from city.presentation import format_tick, nice_ticks, quantity

__all__ = ["bar_chart"]

_W, _H = 720, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 12, 28, 36


def bar_chart(
    figure: str, title: str, unit: str, points: Sequence[tuple[datetime, float]], label_fmt: str
) -> str:
    """An accessible SVG bar chart of ``points`` (bucket start, value).

    ``figure`` names the chart in ``data-figure`` (what a browser test looks for).
    """
    ticks = nice_ticks(max((v for _, v in points), default=0.0))
    top, step = ticks[-1], ticks[1] - ticks[0]
    inner_w = _W - _LEFT - _RIGHT
    inner_h = _H - _TOP - _BOTTOM
    n = max(len(points), 1)
    bar_w = inner_w / n
    parts = [
        f'<svg class="chart" data-figure="{escape(figure)}" role="img" '
        f'viewBox="0 0 {_W} {_H}" xmlns="http://www.w3.org/2000/svg" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{_LEFT}" y="16" class="chart-title">{escape(title)} ({escape(unit)})</text>',
    ]
    for value in ticks:
        y = _TOP + inner_h - inner_h * value / top
        parts.append(
            f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">'
            f"{format_tick(value, step)}</text>"
        )
    label_every = max(1, n // 8)
    for i, (when, value) in enumerate(points):
        h = inner_h * value / top if top else 0.0
        x = _LEFT + i * bar_w
        label = when.strftime(label_fmt)
        parts.append(
            f'<rect x="{x + bar_w * 0.1:.2f}" y="{_TOP + inner_h - h:.2f}" '
            f'width="{max(bar_w * 0.8, 0.5):.2f}" height="{h:.2f}" class="bar" '
            f'data-value="{value:.6g}"><title>{escape(label)}: {quantity(value, unit)}'
            f"</title></rect>"
        )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{_H - _BOTTOM + 16}" text-anchor="middle" '
                f'class="tick">{escape(label)}</text>'
            )
    if not points:
        parts.append(
            f'<text x="{_W / 2}" y="{_H / 2}" text-anchor="middle" class="empty">'
            "no trips in this window</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
