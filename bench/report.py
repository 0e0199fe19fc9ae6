#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Turn bench/run.sh's results.jsonl into per-scenario tables and plots.

Every cell is the median over runs with the min–max beside it: the missed
frame ratio, frame-time percentiles, 1 % low FPS, audio misses, input to
frame latency, the background load's throughput (absolute, and as a share
of EEVDF's in the same boot and repetition), and what the scheduler cost:
BPF time per sched_ext callback (struct_ops run_time_ns / run_cnt), the BPF
time of all its programs, and its own process's CPU time over the scenario.
One scheduler is called better than another only where their ranges of
missed frames do not overlap; otherwise "no difference". A scheduler that
failed to build, attach or stay attached stays in the table with the reason.

usage: report.py DIR --kernel VERSION --clock TEXT --command "bench/run.sh ..."
Writes DIR/<scenario>.md, DIR/<scenario>.svg, DIR/spread.svg, DIR/summary.md.
Exits 3, after writing them, when in a kmscube run scx_gamer's own
presentation events disagreed with the kernel's tracepoint.
"""
import argparse
import json
import os
import statistics
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plots  # noqa: E402

SCENARIO = {
    "idle-60": "60 Hz, 4 ms of work per frame, no load: the frames the VM itself loses",
    "cpu-hogs": "60 Hz, 4 ms of work per frame, 4 CPU hogs per CPU (stress-ng --cpu)",
    "idle-144": "144 Hz, 2 ms of work per frame, no load: the frames the VM itself loses",
    "hackbench": "144 Hz, 2 ms of work per frame, hackbench -g 2N on N CPUs (-g 4 on 2) rerun",
    "build-storm": "60 Hz, 4 ms of work per frame, fork/exec storm (2 jobs per CPU of short shell processes)",
    "kmscube-idle": "Debian's kmscube (Mesa llvmpipe) on virtio-gpu at 320x240, no load; frames timed "
                    "by the kernel's vblank tracepoints, missed = refreshes that showed no new frame",
    "kmscube-hogs": "kmscube as in kmscube-idle, 4 CPU hogs per CPU (stress-ng --cpu)",
    "kmscube-hackbench": "kmscube as in kmscube-idle, hackbench -g 2N on N CPUs (-g 4 on 2) rerun",
    "kmscube-build-storm": "kmscube as in kmscube-idle, fork/exec storm (2 jobs per CPU of short shell processes)",
}


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return {"median": None, "min": None, "max": None, "all": []}
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "all": xs}


def cell(st, spec, unit):
    """median (min–max), or a dash where there is nothing to show."""
    if st["median"] is None:
        return "—"
    if st["min"] == st["max"]:
        return f"{st['median']:{spec}}{unit}"
    return f"{st['median']:{spec}}{unit} ({st['min']:{spec}}–{st['max']:{spec}})"


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def run_metrics(r, eevdf_ops):
    g, c = r["game"], r.get("cost")
    ops = r["load_ops_per_s"]
    base = eevdf_ops.get((r.get("boot"), r["rep"]))
    return {
        "missed_pct": g["missed_ratio"] * 100,
        "p99_ms": g["p99_ms"],
        "p999_ms": g["p999_ms"],
        "low1_fps": g["one_percent_low_fps"],
        # kmscube has no audio and no input: a dash, not a zero.
        "audio_missed_pct": (100 * g["audio_missed"] / g["audio_periods"] if g["audio_periods"] else 0.0)
        if "audio_periods" in g else None,
        "input_p99_ms": g.get("input_frames_p99_ms"),
        "load_ops": ops,
        "load_pct": 100 * ops / base if ops is not None and base else None,
        "bpf_ns_per_call": c["struct_ops_ns"] / c["struct_ops_cnt"] if c and c["struct_ops_cnt"] else None,
        "bpf_ms": (c["struct_ops_ns"] + c["other_ns"]) / 1e6 if c else None,
        "cpu_ms": c["cpu_ns"] / 1e6 if c else None,
        # The game's threads moving between last-level caches, from the
        # kernel's sched_migrate_task tracepoint (bench/in-vm.sh); absent
        # for kmscube runs and results older than the count.
        "xllc_per_s": r["migrations"]["cross_llc_per_s"] if r.get("migrations") else None,
    }


def aggregate(runs):
    """({scenario: {sched: {metric: stats}}}, {sched: [failure reasons]})."""
    failures = defaultdict(list)
    groups = defaultdict(lambda: defaultdict(list))
    for r in runs:
        if "failed" in r:
            failures[r["sched"]].append(r["failed"])
        else:
            groups[r["scenario"]][r["sched"]].append(r)
    out = {}
    for scenario, by_sched in groups.items():
        eevdf_ops = {(r.get("boot"), r["rep"]): r["load_ops_per_s"] for r in by_sched.get("eevdf", [])}
        out[scenario] = {}
        for sched, rs in by_sched.items():
            ms = [run_metrics(r, eevdf_ops) for r in rs]
            out[scenario][sched] = {k: stats([m[k] for m in ms]) for k in ms[0]}
            out[scenario][sched]["runs"] = len(rs)
            out[scenario][sched]["boots"] = len({r.get("boot") for r in rs})
        for sched in failures:
            out[scenario].setdefault(sched, None)
    return out, failures


def present_mismatches(runs):
    """Runs where scx_gamer's presentation events and the kernel's tracepoint
    disagree: fewer than 99 % of the tracepoint's frames (crtc, sequence,
    timestamp) among scx_gamer's, or more than 101 % as many events."""
    bad = []
    for r in runs:
        c = r.get("game", {}).get("present_check") if "failed" not in r else None
        if c and (c["same"] * 100 < c["tracepoint"] * 99 or c["scheduler"] * 100 > c["tracepoint"] * 101):
            bad.append(r)
    return bad


def present_note(runs, scenario):
    """One line on the cross-check of scenario's runs, or None if it had none."""
    checked = [r for r in runs if "failed" not in r and r["scenario"] == scenario
               and "present_check" in r["game"]]
    if not checked:
        return None
    bad = present_mismatches(checked)
    k = sum(r["game"]["present_check"]["tracepoint"] for r in checked)
    same = sum(r["game"]["present_check"]["same"] for r in checked)
    return (f"Cross-check: in {len(checked) - len(bad)} of {len(checked)} scx_gamer runs its own presentation "
            f"events matched the drm_vblank_event tracepoints within 1 % ({same} of {k} frames with the same "
            f"CRTC, vblank sequence and timestamp)." + (f" MISMATCH in {len(bad)} run(s)." if bad else ""))


def verdict(a, b):
    """a against b on missed frames: better, worse or no difference."""
    if a["missed_pct"]["max"] < b["missed_pct"]["min"]:
        return "better"
    if a["missed_pct"]["min"] > b["missed_pct"]["max"]:
        return "worse"
    return "no difference"


def table(metrics, failures):
    ref = "scx_gamer" if metrics.get("scx_gamer") else next((s for s in plots.ordered(metrics) if metrics[s]), None)
    rows = [f"| scheduler | runs (boots) | missed frames | frame p99 | p99.9 | 1 % low | audio missed "
            f"| input→frame p99 | load throughput | load vs EEVDF | BPF per callback | BPF time "
            f"| scheduler CPU | game cross-LLC migrations | missed frames vs {ref} |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in plots.ordered(metrics):
        m = metrics[s]
        name = plots.LABEL.get(s, s)
        if m is None:
            rows.append(f"| {name} | 0 | {'; '.join(sorted(set(failures[s])))} |" + " |" * 12)
            continue
        runs = f"{m['runs']} ({m['boots']})" + (f", {len(failures[s])} failed" if failures.get(s) else "")
        vs = "—" if s == ref else verdict(m, metrics[ref])
        rows.append(
            f"| {name} | {runs} | {cell(m['missed_pct'], '.1f', ' %')} | {cell(m['p99_ms'], '.1f', ' ms')} "
            f"| {cell(m['p999_ms'], '.1f', ' ms')} | {cell(m['low1_fps'], '.1f', ' FPS')} "
            f"| {cell(m['audio_missed_pct'], '.1f', ' %')} | {cell(m['input_p99_ms'], '.1f', ' ms')} "
            f"| {cell(m['load_ops'], '.1f', '/s')} | {cell(m['load_pct'], '.0f', ' %')} "
            f"| {cell(m['bpf_ns_per_call'], '.0f', ' ns')} | {cell(m['bpf_ms'], '.1f', ' ms')} "
            f"| {cell(m['cpu_ms'], '.1f', ' ms')} | {cell(m['xllc_per_s'], '.1f', '/s')} | {vs} |")
    notes = [f"- {plots.LABEL.get(s, s)}: {r}" for s in plots.ordered(failures) if metrics.get(s)
             for r in sorted(set(failures[s]))]
    return "\n".join(rows) + ("\n\nFailed runs:\n" + "\n".join(notes) if notes else "")


def differences(metrics):
    """Every pair whose missed-frame ranges do not overlap, best first."""
    ok = [s for s in plots.ordered(metrics) if metrics[s]]
    pairs = [f"{plots.LABEL.get(a, a)} < {plots.LABEL.get(b, b)}" for a in ok for b in ok
             if a != b and verdict(metrics[a], metrics[b]) == "better"]
    return ("Missed frames, ranges apart (fewer < more): " + "; ".join(pairs) + "." if pairs
            else "Missed frames: no difference between any two schedulers (every pair of ranges overlaps).")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--clock", required=True, help="which clock the runs were timed on, as text")
    ap.add_argument("--command", required=True)
    ap.add_argument("--took", help="how long the command ran, as text")
    ap.add_argument("--host-load", help="what the host was doing, as text")
    ap.add_argument("--vm", default="2-vCPU VMs", help="the guests' CPUs and caches, as text")
    a = ap.parse_args()
    runs = load(os.path.join(a.dir, "results.jsonl"))
    if not [r for r in runs if "failed" not in r]:
        raise SystemExit("report: results.jsonl holds no completed runs")
    for r in runs:
        if "failed" in r:
            continue
        if r["game"]["frames"] == 0:
            raise SystemExit(f"report: a run produced no frames: {r}")
        idle = r.get("load", "idle" if r["scenario"].startswith("idle-") else None) == "idle"
        if (r["load_ops_per_s"] is None) != idle:
            raise SystemExit(f"report: a load's throughput is missing, or an idle run has one: {r}")
        if not idle and r["load_ops_per_s"] <= 0:
            raise SystemExit(f"report: a load did no work, so the run measured nothing: {r}")
        if r["sched"] != "eevdf" and not r.get("cost"):
            raise SystemExit(f"report: a sched_ext run has no cost figures: {r}")
    agg, failures = aggregate(runs)
    summary = ["# Benchmark results\n",
               f"Clock: **{a.clock}**. Command: `{a.command}`. Kernel {a.kernel}, {a.vm}, each boot "
               f"running every scheduler in rotated order. Each cell: median (min–max) over runs."
               + (f" The command took {a.took}." if a.took else "")
               + (f" Host load: {a.host_load}." if a.host_load else "") + "\n"]
    known = [s for s in SCENARIO if s in agg]
    order = known + sorted(set(agg) - set(known))
    for scenario in order:
        t = table(agg[scenario], failures)
        d = differences(agg[scenario])
        note = present_note(runs, scenario)
        if note:
            d += "\n\n" + note
        head = f"## {scenario}: {SCENARIO.get(scenario, '')}\n\nClock: {a.clock}.\n\n"
        with open(os.path.join(a.dir, f"{scenario}.md"), "w") as f:
            f.write(f"{head}{t}\n\n{d}\n")
        with open(os.path.join(a.dir, f"{scenario}.svg"), "w") as f:
            f.write(plots.bars(scenario, {s: m for s, m in agg[scenario].items() if m}, a.clock))
        summary.append(f"{head}{t}\n\n{d}\n\n![{scenario}]({scenario}.svg)\n")
    with open(os.path.join(a.dir, "spread.svg"), "w") as f:
        f.write(plots.spread([(sc, {s: (m["missed_pct"]["all"] if m else []) for s, m in agg[sc].items()})
                              for sc in order], a.clock))
    summary.append("## Spread\n\n![missed frames, every run](spread.svg)\n")
    with open(os.path.join(a.dir, "summary.md"), "w") as f:
        f.write("\n".join(summary))
    print("\n".join(summary))
    if present_mismatches(runs):
        print("report: scx_gamer's presentation events disagree with the tracepoint", file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    main()
