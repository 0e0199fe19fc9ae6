#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Plot a frame log: frame times over time and their histogram, as one SVG.

    scripts/plot-frames.py FILE [-o OUT.svg] [--bin-ms MS]

FILE is a CSV in MangoHud's log layout: `scx_gamer --monitor 1 --frame-log
FILE` writes one, and so does MangoHud. The frame columns are found by their
header row (`fps,frametime,...`), frametime in ms, elapsed in ns. Python's
standard library only. Exits 2 on a file it cannot read as such a log."""

import argparse
import math
import sys


def read_log(path):
    """(elapsed s, frame time ms) of each row, in file order."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines[:100]):
        cols = line.split(",")
        if cols[:2] == ["fps", "frametime"]:
            break
    else:
        raise ValueError("no 'fps,frametime,...' header row in its first 100 lines")
    if "elapsed" not in cols:
        raise ValueError("the header row has no 'elapsed' column")
    ft, el = cols.index("frametime"), cols.index("elapsed")
    rows = []
    for n, line in enumerate(lines[i + 1:], start=i + 2):
        if not line.strip():
            continue
        v = line.split(",")
        try:
            rows.append((float(v[el]) / 1e9, float(v[ft])))
        except (IndexError, ValueError):
            raise ValueError(f"line {n} is not a frame row: {line[:80]!r}") from None
    return rows


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def nice_step(span, ticks=5):
    """A round tick step (1, 2 or 5 times a power of ten) for `span`."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def histogram(times, bin_ms):
    counts = {}
    for t in times:
        b = int(t // bin_ms)
        counts[b] = counts.get(b, 0) + 1
    return sorted(counts.items())


def axis(out, x0, y0, w, h, xmax, ymax, xlabel, ylabel, xfmt, yfmt):
    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#444"/>')
    for val, fmt, horizontal in ((xmax, xfmt, True), (ymax, yfmt, False)):
        step = nice_step(val)
        k = 0
        while k * step <= val * 1.0001:
            v = k * step
            if horizontal:
                x = x0 + w * v / val if val else x0
                out.append(f'<line x1="{x:.1f}" y1="{y0 + h}" x2="{x:.1f}" y2="{y0 + h + 4}" stroke="#444"/>')
                out.append(f'<text x="{x:.1f}" y="{y0 + h + 16}" text-anchor="middle">{fmt(v)}</text>')
            else:
                y = y0 + h - h * v / val if val else y0 + h
                out.append(f'<line x1="{x0 - 4}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#ddd"/>')
                out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(v)}</text>')
            k += 1
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 32}" text-anchor="middle">{esc(xlabel)}</text>')
    out.append(f'<text x="{x0 - 44}" y="{y0 + h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 {x0 - 44} {y0 + h / 2})">{esc(ylabel)}</text>')


def num(v):
    return f"{v:g}"


def plot(rows, title, bin_ms):
    W, H, left, top, pw, ph = 760, 640, 70, 56, 660, 220
    times = [t for _, t in rows]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           'font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{esc(title)}</text>']
    if not rows:
        out.append(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle">no frames in the log</text>')
        return "\n".join(out + ["</svg>"])
    srt = sorted(times)
    p99 = srt[min(len(srt) - 1, math.ceil(0.99 * len(srt)) - 1)]
    avg_fps = 1000.0 * len(times) / sum(times) if sum(times) > 0 else 0.0
    out.append(f'<text x="{W / 2}" y="38" text-anchor="middle">{len(times)} frames, '
               f'average {avg_fps:.1f} fps, median {srt[len(srt) // 2]:.3f} ms, '
               f'p99 {p99:.3f} ms, max {srt[-1]:.3f} ms</text>')

    # Frame times over time.
    t0 = rows[0][0]
    xmax = max(rows[-1][0] - t0, 1e-9)
    ymax = max(times) * 1.05
    axis(out, left, top, pw, ph, xmax, ymax, "time since the log started (s)", "frame time (ms)", num, num)
    pts = " ".join(f"{left + pw * (e - t0) / xmax:.1f},{top + ph - ph * t / ymax:.1f}" for e, t in rows)
    out.append(f'<polyline points="{pts}" fill="none" stroke="#2a7ab9" stroke-width="1"/>')

    # Their histogram.
    top2 = top + ph + 70
    bins = histogram(times, bin_ms)
    hxmax = (bins[-1][0] + 1) * bin_ms
    hymax = max(c for _, c in bins) * 1.05
    axis(out, left, top2, pw, ph, hxmax, hymax, f"frame time (ms), bins of {bin_ms:g} ms", "frames", num, num)
    bw = pw * bin_ms / hxmax
    for b, c in bins:
        x = left + pw * b * bin_ms / hxmax
        hgt = ph * c / hymax
        out.append(f'<rect x="{x:.1f}" y="{top2 + ph - hgt:.1f}" width="{max(bw - 1, 1):.1f}" '
                   f'height="{hgt:.1f}" fill="#e08a2c"><title>{b * bin_ms:g}-{(b + 1) * bin_ms:g} ms: '
                   f'{c}</title></rect>')
    return "\n".join(out + ["</svg>"])


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", help="frame log (MangoHud CSV layout)")
    ap.add_argument("-o", "--out", help="SVG to write (default: FILE with .svg)")
    ap.add_argument("--bin-ms", type=float, default=1.0, help="histogram bin width, ms (default 1)")
    a = ap.parse_args(argv)
    if not (a.bin_ms > 0):
        print("plot-frames: --bin-ms must be above 0", file=sys.stderr)
        return 2
    try:
        rows = read_log(a.file)
    except (OSError, ValueError) as e:
        print(f"plot-frames: {a.file}: {e}", file=sys.stderr)
        return 2
    out = a.out or (a.file.rsplit(".", 1)[0] + ".svg")
    svg = plot(rows, f"Frame times: {a.file}", a.bin_ms)
    with open(out, "w", encoding="utf-8") as f:
        f.write(svg + "\n")
    print(f"plot-frames: {len(rows)} frames -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
