# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of bench/compare.py: a median moved by more than the
tolerance, or two schedulers swapped beyond it, fails; noise within it
passes. Run: python3 bench/test_compare.py"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402

COMPARE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare.py")


def write(d, cells):
    with open(os.path.join(d, "results.jsonl"), "w") as f:
        for (scenario, sched), missed in cells.items():
            f.write(json.dumps({"scenario": scenario, "sched": sched, "rep": 1,
                                "game": {"missed_ratio": missed / 100}}) + "\n")


class Compare(unittest.TestCase):
    def test_swap_within_tolerance_is_a_tie_beyond_it_an_inversion(self):
        self.assertEqual(compare.inversions({"x": 1.0, "y": 2.0}, {"x": 2.0, "y": 1.0}, 3), [])
        self.assertEqual(compare.inversions({"x": 1.0, "y": 9.0}, {"x": 9.0, "y": 1.0}, 3), [("x", "y")])

    def exit_code(self, a, b):
        with tempfile.TemporaryDirectory() as da, tempfile.TemporaryDirectory() as db:
            write(da, a)
            write(db, b)
            return subprocess.run([sys.executable, COMPARE, da, db], capture_output=True).returncode

    def test_exit_code(self):
        base = {("cpu-hogs", "eevdf"): 70.0, ("cpu-hogs", "scx_gamer"): 0.0}
        self.assertEqual(self.exit_code(base, {("cpu-hogs", "eevdf"): 72.5, ("cpu-hogs", "scx_gamer"): 0.4}), 0)
        self.assertEqual(self.exit_code(base, {("cpu-hogs", "eevdf"): 66.0, ("cpu-hogs", "scx_gamer"): 0.0}), 1)


if __name__ == "__main__":
    unittest.main()
