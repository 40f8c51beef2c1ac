"""Bar charts as inline SVG, rendered on the server (pure: values in, markup out).

Accessible: `role="img"` with a title and a text description listing every value, each bar
with its own `<title>` tooltip, and colours that pass WCAG contrast on white.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from html import escape

__all__ = ["Bar", "bar_chart"]

_W, _H = 640, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 16, 40


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # short axis label ("Mar")
    value: Decimal
    caption: str  # full text for the tooltip and description ("March 2026: 42.1 kWh")


def _nice_max(value: Decimal) -> Decimal:
    """A round axis maximum at or above `value` (1, 2, 2.5 or 5 × a power of ten)."""
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        top = step.scaleb(exponent)
        if top >= value:
            return top
    return Decimal(10).scaleb(exponent)  # pragma: no cover - the loop always returns


def _tick(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def bar_chart(bars: Sequence[Bar], *, title: str, unit: str, chart_id: str) -> str:
    """An SVG bar chart; `unit` labels the value axis ("kWh", "EUR")."""
    top = _nice_max(max((b.value for b in bars), default=Decimal(0)))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    n = max(len(bars), 1)
    slot = Decimal(plot_w) / n
    width = slot * Decimal("0.66")
    desc = "; ".join(b.caption for b in bars) or "no data"
    out = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]
    for i in range(5):  # grid lines and value labels
        value = top * i / 4
        y = _TOP + plot_h - (plot_h * i / 4)  # float: a pixel position
        out.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   'class="grid"/>')
        out.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
                   f'{escape(_tick(value.quantize(Decimal("0.01"), ROUND_CEILING)))}</text>')
    out.append(f'<text x="12" y="{_TOP + plot_h / 2:.1f}" class="axis unit" '
               f'transform="rotate(-90 12 {_TOP + plot_h / 2:.1f})" text-anchor="middle">'
               f'{escape(unit)}</text>')
    for i, bar in enumerate(bars):
        h = Decimal(plot_h) * bar.value / top if top else Decimal(0)
        x = Decimal(_LEFT) + slot * i + (slot - width) / 2
        top_y = Decimal(_TOP + plot_h) - h
        out.append(f'<g class="bar"><title>{escape(bar.caption)}</title>'
                   f'<rect x="{x:.1f}" y="{top_y:.1f}" width="{width:.1f}" height="{h:.1f}" '
                   f'rx="2"/></g>')
        out.append(f'<text x="{x + width / 2:.1f}" y="{_H - _BOTTOM + 18}" class="axis" '
                   f'text-anchor="middle">{escape(bar.label)}</text>')
    out.append("</svg>")
    return "".join(out)
