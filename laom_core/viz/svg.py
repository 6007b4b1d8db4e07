"""Tiny static SVG charts for markdown reports (plotly's static export needs kaleido/Chrome).

Two shapes only: grouped bars and lines over a log-2 x axis with horizontal reference
lines. Missing values (None) are skipped, so a half-finished report still draws.
"""
from __future__ import annotations

import math
from html import escape
from typing import Sequence

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#9D755D")
W, H = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 70, 170, 40, 50


def _nice_max(value: float) -> float:
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _frame(title: str, y_label: str, y_max: float, x_label: str = "") -> list[str]:
    plot_h = H - TOP - BOTTOM
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>',
           f'<text transform="translate(16 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">{escape(y_label)}</text>']
    if x_label:
        out.append(f'<text x="{LEFT + (W - LEFT - RIGHT) / 2}" y="{H - 10}" text-anchor="middle">{escape(x_label)}</text>')
    for i in range(6):
        v = y_max * i / 5
        y = TOP + plot_h * (1 - i / 5)
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.3g}</text>')
    return out


def _y(value: float, y_max: float) -> float:
    return TOP + (H - TOP - BOTTOM) * (1 - min(max(value, 0.0), y_max) / y_max)


def _legend(names: Sequence[str], dashed: Sequence[bool] | None = None) -> list[str]:
    out = []
    for i, name in enumerate(names):
        y = TOP + 10 + 18 * i
        dash = ' stroke-dasharray="5 3"' if dashed and dashed[i] else ""
        out.append(f'<line x1="{W - RIGHT + 12}" x2="{W - RIGHT + 30}" y1="{y}" y2="{y}" '
                   f'stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="4"{dash}/>')
        out.append(f'<text x="{W - RIGHT + 36}" y="{y + 4}">{escape(name)}</text>')
    return out


def bar_chart(groups: Sequence[tuple[str, Sequence[float | None]]], series: Sequence[str], title: str,
              y_label: str) -> str:
    """Grouped bars: ``groups`` = [(group name, [value per series])]."""
    values = [v for _, vals in groups for v in vals if v is not None and math.isfinite(v)]
    y_max = _nice_max(max(values) if values else 1.0)
    out = _frame(title, y_label, y_max)
    plot_w = W - LEFT - RIGHT
    gw = plot_w / max(len(groups), 1)
    bw = gw * 0.7 / max(len(series), 1)
    for gi, (name, vals) in enumerate(groups):
        x0 = LEFT + gi * gw + gw * 0.15
        for si, v in enumerate(vals):
            if v is None or not math.isfinite(v):
                continue
            y = _y(v, y_max)
            out.append(f'<rect x="{x0 + si * bw:.1f}" y="{y:.1f}" width="{bw * 0.95:.1f}" '
                       f'height="{H - BOTTOM - y:.1f}" fill="{PALETTE[si % len(PALETTE)]}"><title>{escape(name)}, '
                       f'{escape(series[si])}: {v:.4g}</title></rect>')
        out.append(f'<text x="{LEFT + gi * gw + gw / 2:.1f}" y="{H - BOTTOM + 18}" text-anchor="middle">{escape(name)}</text>')
    out += _legend(series)
    out.append("</svg>")
    return "\n".join(out)


def line_chart(lines: Sequence[tuple[str, Sequence[tuple[float, float]]]],
               references: Sequence[tuple[str, float]], title: str, x_label: str, y_label: str) -> str:
    """Lines over a log-2 x axis plus dashed horizontal reference values."""
    xs = sorted({x for _, pts in lines for x, _ in pts if x and x > 0})
    values = [v for _, pts in lines for _, v in pts] + [v for _, v in references]
    values = [v for v in values if v is not None and math.isfinite(v)]
    y_max = _nice_max(max(values) if values else 1.0)
    out = _frame(title, y_label, y_max, x_label)
    plot_w = W - LEFT - RIGHT
    lo, hi = (math.log2(xs[0]), math.log2(xs[-1])) if xs else (0.0, 1.0)
    span = hi - lo or 1.0

    def x_of(x: float) -> float:
        return LEFT + 20 + (plot_w - 40) * (math.log2(x) - lo) / span if xs and len(xs) > 1 else LEFT + plot_w / 2

    for x in xs:
        out.append(f'<text x="{x_of(x):.1f}" y="{H - BOTTOM + 18}" text-anchor="middle">{x:g}</text>')
    names, dashed = [], []
    for i, (name, pts) in enumerate(lines):
        color = PALETTE[i % len(PALETTE)]
        pts = sorted((x, v) for x, v in pts if x and v is not None and math.isfinite(v))
        if pts:
            path = " ".join(f"{x_of(x):.1f},{_y(v, y_max):.1f}" for x, v in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2.5"/>')
            out += [f'<circle cx="{x_of(x):.1f}" cy="{_y(v, y_max):.1f}" r="4" fill="{color}">'
                    f'<title>{escape(name)} at {x:g}: {v:.4g}</title></circle>' for x, v in pts]
        names.append(name)
        dashed.append(False)
    for j, (name, v) in enumerate(references):
        color = PALETTE[(len(lines) + j) % len(PALETTE)]
        y = _y(v, y_max)
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" '
                   f'stroke-width="2" stroke-dasharray="5 3"><title>{escape(name)}: {v:.4g}</title></line>')
        names.append(name)
        dashed.append(True)
    out += _legend(names, dashed)
    out.append("</svg>")
    return "\n".join(out)
