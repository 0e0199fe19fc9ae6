#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Compare two bench/run.sh results directories: is the instrument
reproducible?

usage: compare.py DIR_A DIR_B [--points P]

For every scenario and scheduler in both, the median missed frames of each
and their difference; and per scenario whether the ranking is the same: no
two schedulers whose medians are more than P points apart in one run are
ordered the other way round in the other. Prints a markdown table and
exits 1 when a median moved by more than P points (default 3) or a ranking
changed, 2 on bad input.
"""
import argparse
import json
import os
import statistics
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plots  # noqa: E402


def medians(path):
    """{scenario: {sched: median missed %}} from DIR/results.jsonl."""
    try:
        with open(os.path.join(path, "results.jsonl")) as f:
            runs = [json.loads(line) for line in f if line.strip()]
    except OSError as e:
        print(f"compare: {e}", file=sys.stderr)
        sys.exit(2)
    groups = defaultdict(lambda: defaultdict(list))
    for r in runs:
        if "failed" not in r:
            groups[r["scenario"]][r["sched"]].append(r["game"]["missed_ratio"] * 100)
    return {sc: {s: statistics.median(v) for s, v in by.items()} for sc, by in groups.items()}


def inversions(a, b, points):
    """Pairs ordered one way by more than `points` in a or b, the other way in the other."""
    out = []
    names = plots.ordered(set(a) & set(b))
    for i, x in enumerate(names):
        for y in names[i + 1:]:
            da, db = a[x] - a[y], b[x] - b[y]
            if (abs(da) > points or abs(db) > points) and da * db < 0:
                out.append((x, y))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--points", type=float, default=3.0)
    args = ap.parse_args()
    a, b = medians(args.a), medians(args.b)
    common = [sc for sc in a if sc in b]
    if not common:
        print("compare: the two runs share no scenario", file=sys.stderr)
        sys.exit(2)
    ok = True
    rows = ["| scenario | scheduler | missed frames, A | B | difference |", "|---|---|---|---|---|"]
    verdicts = []
    for sc in common:
        for s in plots.ordered(set(a[sc]) & set(b[sc])):
            d = b[sc][s] - a[sc][s]
            far = abs(d) > args.points
            ok &= not far
            rows.append(f"| {sc} | {plots.LABEL.get(s, s)} | {a[sc][s]:.1f} % | {b[sc][s]:.1f} % "
                        f"| {d:+.1f}{' (over ' + format(args.points, 'g') + ')' if far else ''} |")
        inv = inversions(a[sc], b[sc], args.points)
        ok &= not inv
        verdicts.append(f"- {sc}: " + ("same ranking" if not inv else "ranking changed: " + ", ".join(
            f"{plots.LABEL.get(x, x)} / {plots.LABEL.get(y, y)}" for x, y in inv)))
    print("\n".join(rows) + "\n\n" + "\n".join(verdicts))
    print(f"\nreproduced: every median within {args.points:g} points, every ranking kept" if ok
          else f"\nNOT reproduced: a median moved by more than {args.points:g} points or a ranking changed")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
