# SPDX-License-Identifier: GPL-2.0-only
"""The SVG plots of bench/report.py: per-scenario medians as bars, and the
spread of every cell as a range bar (min to max, median tick, one dot per
run). Every plot's title names the clock that made it."""

ORDER = ["eevdf", "scx_gamer", "scx_gamer_nohint", "scx_gamer_nopolicy", "scx_bpfland", "scx_lavd",
         "scx_cake", "scx_cosmos", "scx_flash"]
LABEL = {"eevdf": "EEVDF (kernel default)", "scx_gamer": "scx_gamer --game-comm gamesim",
         "scx_gamer_nohint": "scx_gamer (no flags)", "scx_gamer_nopolicy": "scx_gamer --no-policy",
         "scx_bpfland": "scx_bpfland", "scx_lavd": "scx_lavd", "scx_cake": "scx_cake",
         "scx_cosmos": "scx_cosmos", "scx_flash": "scx_flash"}
COLOUR = {"eevdf": "#888888", "scx_gamer": "#2a7ab9", "scx_gamer_nohint": "#5f9fd1",
          "scx_gamer_nopolicy": "#9cc3e4", "scx_bpfland": "#e08a2c", "scx_lavd": "#5aa35a",
          "scx_cake": "#b5487f", "scx_cosmos": "#7a5cc4", "scx_flash": "#c9a227"}


def ordered(names):
    """Known schedulers in the report's order, then any others by name."""
    return [s for s in ORDER if s in names] + sorted(set(names) - set(ORDER))


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def header(w, h, title, clock):
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
            f'<rect width="{w}" height="{h}" fill="white"/>',
            f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="14">{esc(title)}</text>',
            f'<text x="{w / 2}" y="34" text-anchor="middle" font-size="10">{esc(clock)}</text>']


def bars(scenario, metrics, clock):
    """Bar groups of medians: missed frames (%) and, where there was a load,
    its throughput vs EEVDF (%)."""
    scheds = ordered(metrics)
    w, h, pad, bar = 680, 340, 70, 24
    groups = [("missed frames %", "missed_pct", 100.0)]
    if any(metrics[s]["load_pct"]["median"] is not None for s in scheds):
        groups.append(("load vs EEVDF %", "load_pct", 150.0))
    parts = header(w, h, f"{scenario}: medians", clock)
    plot_h = h - 2 * pad
    gw = (w - 2 * pad) / len(groups)
    for gi, (title, key, top) in enumerate(groups):
        x0 = pad + gi * gw + (gw - bar * len(scheds)) / 2
        parts.append(f'<text x="{pad + gi * gw + gw / 2}" y="{h - 12}" text-anchor="middle">{title}</text>')
        for si, s in enumerate(scheds):
            v = metrics[s][key]["median"] or 0.0
            bh = plot_h * min(v, top) / top
            x, y = x0 + si * bar, pad + plot_h - bh
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 4}" height="{bh:.1f}" fill="{COLOUR.get(s, "#444")}"/>')
            parts.append(f'<text x="{x + (bar - 4) / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="10">{v:.0f}</text>')
    parts.append(f'<line x1="{pad}" y1="{pad + plot_h}" x2="{w - pad}" y2="{pad + plot_h}" stroke="black"/>')
    for si, s in enumerate(scheds):
        lx, ly = pad + (si % 3) * 190, 40 + (si // 3) * 13
        parts.append(f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{COLOUR.get(s, "#444")}"/>')
        parts.append(f'<text x="{lx + 14}" y="{ly + 9}" font-size="10">{esc(LABEL.get(s, s))}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def spread(per_scenario, clock):
    """One panel per scenario, one row per scheduler: the range of missed
    frames over its runs (bar), the median (tick) and each run (dot).
    per_scenario: [(scenario, {sched: [missed % of each run]})]."""
    w, left, right, row, top_pad = 720, 200, 30, 18, 50
    panels = []
    y = top_pad
    for scenario, runs in per_scenario:
        scheds = ordered(runs)
        panels.append((scenario, scheds, runs, y))
        y += 34 + row * len(scheds)
    parts = header(w, y + 10, "missed frames %: range over runs (bar), median (tick), each run (dot)", clock)
    span = w - left - right
    for scenario, scheds, runs, y0 in panels:
        xs = [v for s in scheds for v in runs[s]]
        # Each panel's own scale, so a 2 % spread is visible next to a 90 % one.
        top = max(5.0, max(xs, default=0) * 1.1)
        top = min(100.0, float(int(top + 4.999) // 5 * 5))
        parts.append(f'<text x="10" y="{y0 + 12}" font-weight="bold">{esc(scenario)}</text>')
        axis_y = y0 + 20 + row * len(scheds)
        for tick in (0, top / 2, top):
            tx = left + span * tick / top
            parts.append(f'<line x1="{tx:.1f}" y1="{y0 + 16}" x2="{tx:.1f}" y2="{axis_y}" stroke="#ddd"/>')
            parts.append(f'<text x="{tx:.1f}" y="{axis_y + 11}" text-anchor="middle" font-size="9">{tick:g} %</text>')
        for i, s in enumerate(scheds):
            vs = sorted(runs[s])
            cy = y0 + 20 + row * i + row / 2
            colour = COLOUR.get(s, "#444")
            parts.append(f'<text x="{left - 6}" y="{cy + 4:.1f}" text-anchor="end" font-size="10">{esc(LABEL.get(s, s))}</text>')
            if not vs:
                parts.append(f'<text x="{left + 4}" y="{cy + 4:.1f}" font-size="10" fill="#b00">no run (failed)</text>')
                continue
            x = [left + span * min(v, top) / top for v in vs]
            med = vs[len(vs) // 2] if len(vs) % 2 else (vs[len(vs) // 2 - 1] + vs[len(vs) // 2]) / 2
            mx = left + span * min(med, top) / top
            parts.append(f'<rect x="{x[0]:.1f}" y="{cy - 4:.1f}" width="{max(x[-1] - x[0], 1.5):.1f}" height="8" '
                         f'fill="{colour}" fill-opacity="0.35" stroke="{colour}"/>')
            parts.append(f'<line x1="{mx:.1f}" y1="{cy - 7:.1f}" x2="{mx:.1f}" y2="{cy + 7:.1f}" stroke="black" stroke-width="2"/>')
            for px in x:
                parts.append(f'<circle cx="{px:.1f}" cy="{cy:.1f}" r="2" fill="{colour}"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
