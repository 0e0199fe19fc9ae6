# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of bench/report.py: ranges in cells, "better" only where
ranges do not overlap, failed schedulers kept with their reason, the
clock named in every output, and kmscube runs: no audio or input shown as
a dash, scx_gamer's presentation events checked against the tracepoint. Run: python3 bench/test_report.py"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402

REPORT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report.py")
COST = {"struct_ops_ns": 4000, "struct_ops_cnt": 2, "other_ns": 1000, "other_cnt": 1, "cpu_ns": 3_000_000}


def run(sched, boot, rep, missed, ops=10.0, scenario="cpu-hogs"):
    return {"scenario": scenario, "sched": sched, "boot": boot, "rep": rep, "guest_s": 5,
            "load_ops_per_s": ops, "cost": None if sched == "eevdf" else COST,
            "game": {"frames": 100, "missed_ratio": missed, "p99_ms": 20.0, "p999_ms": 25.0,
                     "one_percent_low_fps": 40.0, "audio_missed": 1, "audio_periods": 100,
                     "input_frames_p99_ms": 30.0}}


class Report(unittest.TestCase):
    def test_cell_shows_median_and_range(self):
        self.assertEqual(report.cell(report.stats([1.0, 2.0, 9.0]), ".1f", " %"), "2.0 % (1.0–9.0)")
        self.assertEqual(report.cell(report.stats([None]), ".1f", " %"), "—")

    def test_better_only_where_ranges_do_not_overlap(self):
        a = {"missed_pct": report.stats([1, 2, 3])}
        b = {"missed_pct": report.stats([4, 5])}
        c = {"missed_pct": report.stats([3, 10])}
        self.assertEqual(report.verdict(a, b), "better")
        self.assertEqual(report.verdict(b, a), "worse")
        # Touching at 3: the ranges overlap, so no claim.
        self.assertEqual(report.verdict(a, c), "no difference")

    def test_cost_per_callback_and_load_against_eevdf_of_the_same_boot(self):
        agg, _ = report.aggregate([run("eevdf", 1, 1, 0.5, ops=10), run("eevdf", 2, 1, 0.5, ops=20),
                                   run("scx_gamer", 1, 1, 0.0, ops=10), run("scx_gamer", 2, 1, 0.0, ops=10)])
        g = agg["cpu-hogs"]["scx_gamer"]
        self.assertEqual(g["bpf_ns_per_call"]["median"], 2000)
        self.assertEqual(g["cpu_ms"]["median"], 3.0)
        self.assertEqual((g["load_pct"]["min"], g["load_pct"]["max"]), (50, 100))
        self.assertEqual(g["boots"], 2)

    def test_cross_llc_migrations_from_the_tracepoint_count_and_are_optional(self):
        with_count = run("scx_gamer", 1, 1, 0.0)
        with_count["migrations"] = {"all": 40, "cross_llc": 12, "seconds": 8.0, "cross_llc_per_s": 1.5}
        agg, _ = report.aggregate([run("eevdf", 1, 1, 0.5), with_count])
        self.assertEqual(agg["cpu-hogs"]["scx_gamer"]["xllc_per_s"]["median"], 1.5)
        self.assertIsNone(agg["cpu-hogs"]["eevdf"]["xllc_per_s"]["median"])
        self.assertIn("| 1.5/s | — |", report.table(agg["cpu-hogs"], {}))

    def test_failed_scheduler_keeps_its_row_and_reason(self):
        runs = [run("eevdf", 1, 1, 0.5), run("scx_gamer", 1, 1, 0.0),
                {"sched": "scx_cake", "failed": "failed to build: error[E0425]"},
                {"sched": "scx_lavd", "boot": 1, "rep": 1, "failed": "failed to attach: exited: verifier"}]
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "results.jsonl"), "w") as f:
                f.write("".join(json.dumps(r) + "\n" for r in runs))
            subprocess.run([sys.executable, REPORT, d, "--kernel", "k", "--clock", "virtual clock X",
                            "--command", "bench/run.sh"], check=True, capture_output=True)
            with open(os.path.join(d, "cpu-hogs.md")) as f:
                md = f.read()
            self.assertIn("| scx_cake | 0 | failed to build: error[E0425] |", md)
            self.assertIn("| scx_lavd | 0 | failed to attach: exited: verifier |", md)
            self.assertIn("virtual clock X", md)
            for svg in ("cpu-hogs.svg", "spread.svg"):
                with open(os.path.join(d, svg)) as f:
                    self.assertIn("virtual clock X", f.read())

    def test_a_sched_ext_run_without_cost_is_refused(self):
        r = run("scx_gamer", 1, 1, 0.0)
        r["cost"] = None
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "results.jsonl"), "w") as f:
                f.write(json.dumps(r) + "\n")
            p = subprocess.run([sys.executable, REPORT, d, "--kernel", "k", "--clock", "c",
                                "--command", "x"], capture_output=True, text=True)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("no cost figures", p.stderr)


def kmscube_run(sched, load, check=None):
    game = {"renderer": "kmscube", "frames": 50, "intervals": 44, "vblanks_missed": 132, "missed_ratio": 0.75,
            "p50_ms": 53.4, "p99_ms": 66.7, "p999_ms": 66.7, "fps_avg": 18.0, "one_percent_low_fps": 15.0}
    if check:
        game["present_check"] = check
    return {"scenario": f"kmscube-{load}", "load": "idle" if load == "idle" else "cpu-hogs", "sched": sched,
            "boot": 1, "rep": 1, "guest_s": 12, "load_ops_per_s": None if load == "idle" else 100.0,
            "cost": None if sched == "eevdf" else COST, "game": game}


class Kmscube(unittest.TestCase):
    def test_no_audio_or_input_is_a_dash_not_a_zero(self):
        m = report.run_metrics(kmscube_run("eevdf", "idle"), {})
        self.assertIsNone(m["audio_missed_pct"])
        self.assertIsNone(m["input_p99_ms"])
        self.assertEqual(m["missed_pct"], 75.0)

    def test_presentation_events_must_match_the_tracepoint(self):
        ok = kmscube_run("scx_gamer", "hogs", {"tracepoint": 100, "scheduler": 100, "same": 99})
        short = kmscube_run("scx_gamer", "hogs", {"tracepoint": 100, "scheduler": 100, "same": 98})
        extra = kmscube_run("scx_gamer", "hogs", {"tracepoint": 100, "scheduler": 102, "same": 100})
        self.assertEqual(report.present_mismatches([ok]), [])
        self.assertEqual(report.present_mismatches([short, extra]), [short, extra])

    def report(self, runs):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "results.jsonl"), "w") as f:
                f.write("".join(json.dumps(r) + "\n" for r in runs))
            p = subprocess.run([sys.executable, REPORT, d, "--kernel", "k", "--clock", "c", "--command", "x"],
                               capture_output=True, text=True)
            md = open(os.path.join(d, "kmscube-hogs.md")).read() if p.returncode in (0, 3) else ""
            return p, md

    def test_a_mismatch_is_reported_and_exits_3(self):
        good = {"tracepoint": 60, "scheduler": 60, "same": 60}
        p, md = self.report([kmscube_run("eevdf", "hogs"), kmscube_run("scx_gamer", "hogs", good)])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("in 1 of 1 scx_gamer runs", md)
        self.assertIn("| 75.0 % |", md)
        bad = {"tracepoint": 60, "scheduler": 30, "same": 30}
        p, md = self.report([kmscube_run("eevdf", "hogs"), kmscube_run("scx_gamer", "hogs", bad)])
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("MISMATCH in 1 run(s)", md)

    def test_an_idle_load_is_known_by_its_record_not_its_name(self):
        r = kmscube_run("eevdf", "idle")
        r["load_ops_per_s"] = 5.0
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "results.jsonl"), "w") as f:
                f.write(json.dumps(r) + "\n")
            p = subprocess.run([sys.executable, REPORT, d, "--kernel", "k", "--clock", "c", "--command", "x"],
                               capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("an idle run has one", p.stderr)


if __name__ == "__main__":
    unittest.main()
