"""Inline SVG charts for the release report: the step timeline and the cut-over. Pure: dicts in, SVG text out."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from pipeline.report.template import FAILED_COLOUR, FLEET, INK, LINE, MUTED, STEP_BAR, STEP_FAILED, \
    VERSION_COLOURS, e, seconds
from pipeline.traffic import FAILED

WIDTH = 1000


STEPS_S = (0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def nice_ticks(top: float, *, count: int = 8) -> list[float]:
    """Time ticks from 0 to at least `top` seconds, about `count` of them, on a round step (.., 5s, 10s, 15s,
    30s, 1m, 2m, 5m, ..)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    step = next((s for s in STEPS_S if s >= raw), STEPS_S[-1] * math.ceil(raw / STEPS_S[-1]))
    n = max(1, math.ceil(top / step - 1e-9))
    return [round(i * step, 6) for i in range(n + 1)]


def _tick_label(value: float) -> str:
    if value < 60:
        return f"{value:g}s"
    minutes, secs = divmod(int(round(value)), 60)
    if minutes >= 60:
        return f"{minutes // 60}h{minutes % 60:02d}" if minutes % 60 else f"{minutes // 60}h"
    return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------- timeline


def timeline_svg(steps: Sequence[Mapping], *, total_s: float | None = None) -> str:
    """A horizontal bar per step on one time axis (offset_s .. offset_s+seconds), duration and summary."""
    label_w, right_pad, top, row_h, axis_h = 120, 70, 8, 48, 26
    end = max([float(s.get("offset_s") or 0) + float(s.get("seconds") or 0) for s in steps] + [total_s or 0, 0.001])
    ticks = nice_ticks(end, count=8)
    span = ticks[-1] or 1.0
    plot_w = WIDTH - label_w - right_pad
    x = lambda t: label_w + plot_w * (t / span)  # noqa: E731 - a local scale
    height = top + row_h * len(steps) + axis_h
    out = [f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" role="img" '
           f'aria-label="timeline of {len(steps)} steps">']
    for t in ticks:
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top - 4}" y2="{height - axis_h + 4}" '
                   f'stroke="{LINE}" stroke-width="1"/>')
        out.append(f'<text x="{x(t):.1f}" y="{height - 8}" font-size="12" fill="{MUTED}" '
                   f'text-anchor="middle">{_tick_label(t)}</text>')
    for n, s in enumerate(steps):
        y = top + n * row_h
        offset, length = float(s.get("offset_s") or 0), float(s.get("seconds") or 0)
        failed = s.get("outcome") == "failed"
        colour = STEP_FAILED if failed else STEP_BAR
        x0, w = x(offset), max(3.0, x(offset + length) - x(offset))
        said = s.get("summary") or ((s.get("error") or {}).get("message") if failed else "") or ""
        out.append(f'<g class="step{" failed" if failed else ""}"><title>{e(s.get("name"))}: {seconds(length)}'
                   f'{" (failed)" if failed else ""}&#10;{e(said)}</title>')
        out.append(f'<text x="{label_w - 12}" y="{y + 19}" font-size="14" font-weight="600" fill="{INK}" '
                   f'text-anchor="end">{e(s.get("name"))}</text>')
        out.append(f'<rect x="{x0:.1f}" y="{y + 5}" width="{w:.1f}" height="20" rx="4" fill="{colour}"/>')
        label = seconds(length) + (" ✖ failed" if failed else "")
        inside = w > 9 * len(label) + 12
        out.append(f'<text x="{(x0 + w - 8) if inside else (x0 + w + 6):.1f}" y="{y + 20}" font-size="12.5" '
                   f'font-weight="600" fill="{"#fff" if inside else colour}" '
                   f'text-anchor="{"end" if inside else "start"}">{e(label)}</text>')
        if said:
            out.append(f'<text x="{label_w:.1f}" y="{y + 41}" font-size="12" fill="{STEP_FAILED if failed else MUTED}"'
                       f'>{e(_clip(said, 128))}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------------------------------------- cut-over


def version_colours(versions: Sequence[str], *, from_version: str | None, to_version: str | None,
                    to_colour: str | None = None) -> dict[str, str]:
    """A colour per version: the fleets' blue/green when the target fleet's colour is known, else a palette in
    order of appearance (old first). Failed requests are always red."""
    colours: dict[str, str] = {}
    if to_colour in FLEET and to_version:
        colours[to_version] = FLEET[to_colour]
        if from_version:
            colours[from_version] = FLEET["green" if to_colour == "blue" else "blue"]
    spare = [c for c in VERSION_COLOURS if c not in colours.values()]
    for v in versions:
        if v not in colours:
            colours[v] = spare.pop(0) if spare else "#94a3b8"
    colours[FAILED] = FAILED_COLOUR
    return colours


def cutover_svg(cutover: Mapping, *, colours: Mapping[str, str], order: Sequence[str]) -> str:
    """Stacked bars: share of responses per version in each time bucket, failures on top in red, the swap
    and the moment every response was the new version marked; below, one tick per request."""
    shares = [(float(t), dict(s)) for t, s in cutover.get("shares") or []]
    rows = cutover.get("samples") or []
    fields = list(cutover.get("fields") or ["t", "version", "instance", "status", "error"])
    samples = [dict(zip(fields, r)) for r in rows]
    bucket = float(cutover.get("bucket_s") or 1.0)
    left, right, top, plot_h, gap, rug_h, axis_h = 56, 20, 26, 250, 16, 34, 30
    end = max([t + bucket for t, _ in shares] + [float(s.get("t") or 0) for s in samples] + [0.001])
    ticks = nice_ticks(end, count=10)
    span = ticks[-1] or 1.0
    plot_w = WIDTH - left - right
    x = lambda t: left + plot_w * (t / span)  # noqa: E731
    y = lambda share: top + plot_h * (1 - share)  # noqa: E731
    rug_top = top + plot_h + gap
    height = rug_top + rug_h + axis_h
    out = [f'<svg class="cutover" viewBox="0 0 {WIDTH} {height}" role="img" '
           f'aria-label="share of responses per version over time">']
    # grid and axes
    for share in (0, .25, .5, .75, 1):
        out.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{y(share):.1f}" y2="{y(share):.1f}" '
                   f'stroke="{LINE}"/>')
        out.append(f'<text x="{left - 8}" y="{y(share) + 4:.1f}" font-size="12" fill="{MUTED}" '
                   f'text-anchor="end">{int(share * 100)}%</text>')
    for t in ticks:
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{rug_top + rug_h}" y2="{rug_top + rug_h + 5}" '
                   f'stroke="{MUTED}"/>')
        out.append(f'<text x="{x(t):.1f}" y="{height - 8}" font-size="12" fill="{MUTED}" '
                   f'text-anchor="middle">{_tick_label(t)}</text>')
    # stacked bars, one per bucket
    stack = list(order) + [FAILED]
    out.append('<g class="shares">')
    for t, bucket_shares in shares:
        if not bucket_shares:
            continue
        x0, w = x(t), max(1.0, x(t + bucket) - x(t) - (1 if plot_w / (span / bucket) > 6 else 0))
        base = 0.0
        for key in stack + [k for k in bucket_shares if k not in stack]:
            share = float(bucket_shares.get(key, 0.0))
            if share <= 0:
                continue
            label = "failed" if key == FAILED else key
            out.append(f'<rect x="{x0:.2f}" y="{y(base + share):.2f}" width="{w:.2f}" '
                       f'height="{plot_h * share:.2f}" fill="{colours.get(key, "#94a3b8")}">'
                       f'<title>{t:g}-{t + bucket:g}s: {e(label)} {share:.0%}</title></rect>')
            base += share
    out.append("</g>")
    # every request as a tick: colour by version, failures as tall red ticks
    out.append(f'<rect x="{left}" y="{rug_top}" width="{plot_w}" height="{rug_h}" fill="#f8fafc" '
               f'stroke="{LINE}"/>')
    out.append(f'<text x="{left - 8}" y="{rug_top + rug_h / 2 + 4}" font-size="11" fill="{MUTED}" '
               f'text-anchor="end">each</text>')
    for s in samples:
        ok = s.get("error") is None and s.get("version") is not None
        key = s.get("version") if ok else FAILED
        pad = 8 if ok else 1
        out.append(f'<line class="{"req" if ok else "req failed"}" x1="{x(float(s.get("t") or 0)):.1f}" '
                   f'x2="{x(float(s.get("t") or 0)):.1f}" y1="{rug_top + pad}" y2="{rug_top + rug_h - pad}" '
                   f'stroke="{colours.get(key, "#94a3b8")}" stroke-width="{1.2 if ok else 2.5}"/>')
    # the swap and the moment the cut-over was complete
    swap = cutover.get("promoted_at_offset")
    took = cutover.get("cutover_seconds")
    if swap is not None:
        sx = x(float(swap))
        out.append(f'<line class="swap" x1="{sx:.1f}" x2="{sx:.1f}" y1="{top - 16}" y2="{rug_top + rug_h}" '
                   f'stroke="{INK}" stroke-width="2" stroke-dasharray="6 4"/>')
        left_side = sx > left + 120          # the label sits left of the line when there is room
        out.append(f'<text x="{sx + (-6 if left_side else 6):.1f}" y="{top - 8}" font-size="13" font-weight="700" '
                   f'fill="{INK}" text-anchor="{"end" if left_side else "start"}">swap @ {float(swap):.1f}s</text>')
    if took is not None:
        dx = x(float(swap or 0) + float(took))
        label = f"all on {cutover.get('to_version')} (+{float(took):.2f}s)"
        right_side = dx < WIDTH - right - 190
        near = swap is not None and not right_side and abs(dx - x(float(swap))) < 150
        out.append(f'<line class="done" x1="{dx:.1f}" x2="{dx:.1f}" y1="{top - 16}" y2="{rug_top + rug_h}" '
                   f'stroke="{INK}" stroke-width="1.5" stroke-dasharray="2 3"/>')
        out.append(f'<text x="{dx + (6 if right_side else -6):.1f}" y="{top - 8 + (16 if near else 0)}" '
                   f'font-size="13" font-weight="600" fill="{INK}" text-anchor="{"start" if right_side else "end"}"'
                   f'>{e(label)}</text>')
    out.append("</svg>")
    return "".join(out)
