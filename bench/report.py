#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Turn bench/run.sh's results.jsonl into per-scenario tables and plots.

For each scenario and scheduler: the median over repetitions of the missed
frame ratio, frame-time percentiles, 1 % low FPS, audio misses, input to
frame latency, and the background load's throughput, also as a share of what
it got under the kernel's default scheduler (EEVDF): the median over
repetitions of each run's throughput over EEVDF's in the same repetition.
Under TCG a load's throughput drifts over the life of one VM boot by more
than the schedulers differ, so a ratio within a repetition is steadier than
a ratio of medians.

usage: report.py DIR --kernel VERSION --command "bench/run.sh ..."
Writes DIR/<scenario>.md, DIR/<scenario>.svg and DIR/summary.md.
"""
import argparse
import json
import os
import statistics
from collections import defaultdict

ORDER = ["eevdf", "scx_gamer", "scx_gamer_nohint", "scx_gamer_nopolicy", "scx_bpfland", "scx_lavd"]
LABEL = {"eevdf": "EEVDF (kernel default)", "scx_gamer": "scx_gamer --game-comm gamesim",
         "scx_gamer_nohint": "scx_gamer (no flags)",
         "scx_gamer_nopolicy": "scx_gamer --no-policy",
         "scx_bpfland": "scx_bpfland", "scx_lavd": "scx_lavd"}
COLOUR = {"eevdf": "#888888", "scx_gamer": "#2a7ab9", "scx_gamer_nohint": "#5f9fd1",
          "scx_gamer_nopolicy": "#9cc3e4",
          "scx_bpfland": "#e08a2c", "scx_lavd": "#5aa35a"}
SCENARIO = {
    "idle-60": "60 Hz, 4 ms of work per frame, no load: the frames the VM itself loses",
    "cpu-hogs": "60 Hz, 4 ms of work per frame, 4 CPU hogs per CPU (stress-ng --cpu)",
    "idle-144": "144 Hz, 2 ms of work per frame, no load: the frames the VM itself loses",
    "hackbench": "144 Hz, 2 ms of work per frame, hackbench -g 4 (2 groups per CPU) rerun",
    "build-storm": "60 Hz, 4 ms of work per frame, fork/exec storm (2 jobs per CPU of short shell processes)",
}


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt(v, spec, unit):
    """v formatted, or a dash where there is nothing to show (no load)."""
    return "—" if v is None or v != v else f"{v:{spec}}{unit}"


def load(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))
    return runs


def aggregate(runs):
    """{scenario: {sched: {metric: median}}} plus the repetition counts."""
    groups = defaultdict(lambda: defaultdict(list))
    for r in runs:
        groups[r["scenario"]][r["sched"]].append(r)
    out = {}
    for scenario, by_sched in groups.items():
        out[scenario] = {}
        for sched, rs in by_sched.items():
            g = [r["game"] for r in rs]
            out[scenario][sched] = {
                "reps": len(rs),
                "missed_pct": median([x["missed_ratio"] * 100 for x in g]),
                "p50_ms": median([x["p50_ms"] for x in g]),
                "p99_ms": median([x["p99_ms"] for x in g]),
                "p999_ms": median([x["p999_ms"] for x in g]),
                "low1_fps": median([x["one_percent_low_fps"] for x in g]),
                "audio_missed_pct": median(
                    [100 * x["audio_missed"] / x["audio_periods"] if x["audio_periods"] else 0 for x in g]),
                "input_p99_ms": median([x["input_frames_p99_ms"] for x in g]),
                "load_ops": median([r["load_ops_per_s"] for r in rs if r["load_ops_per_s"] is not None]),
            }
        eevdf = {r["rep"]: r["load_ops_per_s"] for r in by_sched.get("eevdf", [])}
        for sched, rs in by_sched.items():
            out[scenario][sched]["load_pct"] = median(
                [100 * r["load_ops_per_s"] / eevdf[r["rep"]] for r in rs
                 if r["load_ops_per_s"] is not None and eevdf.get(r["rep"])])
    return out


def table(metrics):
    rows = ["| scheduler | runs | missed frames | frame p50 | p99 | p99.9 | 1 % low | audio missed "
            "| input→frame p99 | load throughput | load vs EEVDF |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in [s for s in ORDER if s in metrics]:
        m = metrics[s]
        rows.append(
            f"| {LABEL[s]} | {m['reps']} | {m['missed_pct']:.1f} % | {m['p50_ms']:.1f} ms "
            f"| {m['p99_ms']:.1f} ms | {m['p999_ms']:.1f} ms | {m['low1_fps']:.1f} FPS "
            f"| {m['audio_missed_pct']:.1f} % | {m['input_p99_ms']:.1f} ms | {fmt(m['load_ops'], '.1f', '/s')} "
            f"| {fmt(m['load_pct'], '.0f', ' %')} |")
    return "\n".join(rows)


def svg(scenario, metrics):
    """Bar groups: missed frames (%) and, where there was a load, its throughput vs EEVDF (%)."""
    scheds = [s for s in ORDER if s in metrics]
    w, h, pad, bar = 680, 320, 60, 24
    groups = [("missed frames %", "missed_pct", 100.0)]
    if any(metrics[s]["load_pct"] == metrics[s]["load_pct"] for s in scheds):
        groups.append(("load vs EEVDF %", "load_pct", 150.0))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="14">{scenario}</text>']
    plot_h = h - 2 * pad
    gw = (w - 2 * pad) / len(groups)
    for gi, (title, key, top) in enumerate(groups):
        x0 = pad + gi * gw + (gw - bar * len(scheds)) / 2
        parts.append(f'<text x="{pad + gi * gw + gw / 2}" y="{h - 12}" text-anchor="middle">{title}</text>')
        for si, s in enumerate(scheds):
            v = metrics[s][key]
            v = 0.0 if v != v else v
            bh = plot_h * min(v, top) / top
            x, y = x0 + si * bar, pad + plot_h - bh
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 4}" height="{bh:.1f}" fill="{COLOUR[s]}"/>')
            parts.append(f'<text x="{x + (bar - 4) / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="10">{v:.0f}</text>')
    parts.append(f'<line x1="{pad}" y1="{pad + plot_h}" x2="{w - pad}" y2="{pad + plot_h}" stroke="black"/>')
    for si, s in enumerate(scheds):
        lx, ly = pad + (si % 3) * 190, 26 + (si // 3) * 13
        parts.append(f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{COLOUR[s]}"/>')
        parts.append(f'<text x="{lx + 14}" y="{ly + 9}" font-size="10">{LABEL[s]}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--took", help="how long the command ran, as text")
    a = ap.parse_args()
    runs = load(os.path.join(a.dir, "results.jsonl"))
    if not runs:
        raise SystemExit("report: results.jsonl holds no runs")
    for r in runs:
        if r["game"]["frames"] == 0:
            raise SystemExit(f"report: a run produced no frames: {r}")
        idle = r["scenario"].startswith("idle-")
        if (r["load_ops_per_s"] is None) != idle:
            raise SystemExit(f"report: a load's throughput is missing, or an idle run has one: {r}")
        if not idle and r["load_ops_per_s"] <= 0:
            raise SystemExit(f"report: a load did no work, so the run measured nothing: {r}")
    agg = aggregate(runs)
    summary = [f"# Benchmark results\n",
               f"Command: `{a.command}`. Kernel {a.kernel}, in a 2-vCPU VM (TCG unless KVM "
               f"was usable); all schedulers in the same VM boot. Medians over repetitions."
               + (f" The command took {a.took}." if a.took else "") + "\n"]
    known = [s for s in SCENARIO if s in agg]
    for scenario in known + sorted(set(agg) - set(known)):
        t = table(agg[scenario])
        with open(os.path.join(a.dir, f"{scenario}.md"), "w") as f:
            f.write(f"## {scenario}: {SCENARIO.get(scenario, '')}\n\n{t}\n")
        with open(os.path.join(a.dir, f"{scenario}.svg"), "w") as f:
            f.write(svg(scenario, agg[scenario]))
        summary.append(f"## {scenario}: {SCENARIO.get(scenario, '')}\n\n{t}\n\n![{scenario}]({scenario}.svg)\n")
    with open(os.path.join(a.dir, "summary.md"), "w") as f:
        f.write("\n".join(summary))
    print("\n".join(summary))


if __name__ == "__main__":
    main()
