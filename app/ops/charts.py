"""Server-rendered inline SVG bar charts: no script, no CDN, nothing to load.

Every bar carries ``data-label`` and ``data-value`` (the exact figure, as text) and a
``<title>`` (the browser's tooltip), so a reader — or a test — gets the figures back from
the page itself.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Sequence

BAR_COLOURS = ("#3b6ea5", "#d0873a", "#5a9e6f", "#b9524f", "#7d64a8", "#8c7a5b", "#5f8fa8")


def bar_chart(
    chart_id: str,
    title: str,
    items: Sequence[tuple[str, Decimal | int, str]],
    *,
    width: int = 640,
    bar_height: int = 22,
    label_width: int = 150,
) -> str:
    """Horizontal bars: ``items`` are (label, value, value as shown)."""
    if not items:
        return (f'<figure class="chart" data-chart="{escape(chart_id)}"><figcaption>{escape(title)}</figcaption>'
                '<p class="empty">无数据</p></figure>')  # fmt: skip
    top = max((abs(Decimal(v)) for _, v, _ in items), default=Decimal(1)) or Decimal(1)
    plot = width - label_width - 110
    height = bar_height * len(items) + 10
    parts = [
        f'<figure class="chart" data-chart="{escape(chart_id)}"><figcaption>{escape(title)}</figcaption>',
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
    ]
    for n, (label, value, shown) in enumerate(items):
        y = 5 + n * bar_height
        w = int(plot * abs(Decimal(value)) / top) if value else 0
        colour = BAR_COLOURS[n % len(BAR_COLOURS)]
        parts.append(
            f'<g class="bar" data-label="{escape(label)}" data-value="{escape(str(value))}">'
            f'<title>{escape(label)}: {escape(shown)}</title>'
            f'<text x="{label_width - 6}" y="{y + bar_height - 8}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y + 2}" width="{max(w, 1)}" height="{bar_height - 6}" fill="{colour}"/>'
            f'<text x="{label_width + w + 6}" y="{y + bar_height - 8}">{escape(shown)}</text></g>'
        )
    parts.append("</svg></figure>")
    return "".join(parts)


def column_chart(
    chart_id: str,
    title: str,
    items: Sequence[tuple[str, Decimal | int, str]],
    *,
    width: int = 900,
    height: int = 180,
) -> str:
    """Vertical columns over time (e.g. one per day); labels on the first and last."""
    if not items:
        return (f'<figure class="chart" data-chart="{escape(chart_id)}"><figcaption>{escape(title)}</figcaption>'
                '<p class="empty">无数据</p></figure>')  # fmt: skip
    top = max((abs(Decimal(v)) for _, v, _ in items), default=Decimal(1)) or Decimal(1)
    plot_h = height - 30
    step = (width - 20) / len(items)
    parts = [
        f'<figure class="chart" data-chart="{escape(chart_id)}"><figcaption>{escape(title)}</figcaption>',
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>',
    ]
    for n, (label, value, shown) in enumerate(items):
        h = int(plot_h * abs(Decimal(value)) / top) if value else 0
        x = 10 + n * step
        parts.append(
            f'<g class="bar" data-label="{escape(label)}" data-value="{escape(str(value))}">'
            f'<title>{escape(label)}: {escape(shown)}</title>'
            f'<rect x="{x:.1f}" y="{plot_h - h + 5}" width="{max(step - 1, 1):.1f}" height="{max(h, 1)}" '
            f'fill="#3b6ea5"/></g>'
        )
    first, last = items[0][0], items[-1][0]
    parts.append(f'<text x="10" y="{height - 5}">{escape(first)}</text>')
    parts.append(f'<text x="{width - 10}" y="{height - 5}" text-anchor="end">{escape(last)}</text>')
    parts.append("</svg></figure>")
    return "".join(parts)
