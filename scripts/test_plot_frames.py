# SPDX-License-Identifier: GPL-2.0-only
"""Checks of scripts/plot-frames.py: it finds the frame rows of a MangoHud
layout log (ours, and MangoHud's own with its versioning lines), draws one
point per frame and a histogram whose bars hold every frame, and refuses a
file that is no such log."""

import os
import re
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plot-frames.py")
COLS = ("fps,frametime,cpu_load,cpu_power,gpu_load,cpu_temp,gpu_temp,gpu_core_clock,gpu_mem_clock,"
        "gpu_vram_used,gpu_power,ram_used,swap_used,process_rss,cpu_mhz,elapsed")


def row(ms, elapsed_ns):
    return f"{1000 / ms:.3f},{ms:.6f}" + ",0" * 13 + f",{elapsed_ns}"


class PlotFrames(unittest.TestCase):
    def run_plot(self, text, *args):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "log.csv")
        with open(path, "w") as f:
            f.write(text)
        out = os.path.join(d, "out.svg")
        p = subprocess.run([sys.executable, SCRIPT, path, "-o", out, *args], capture_output=True, text=True)
        svg = open(out).read() if os.path.exists(out) else None
        return p, svg

    def test_points_and_histogram_hold_every_frame(self):
        times = [16.0] * 10 + [33.5] * 3 + [50.2]
        rows, t = [], 0
        for ms in times:
            t += int(ms * 1e6)
            rows.append(row(ms, t))
        head = "os,cpu,gpu,ram,kernel,driver,cpuscheduler\nDebian,cpu,,1,7.3,,\n" + COLS + "\n"
        p, svg = self.run_plot(head + "\n".join(rows) + "\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        pts = re.search(r'<polyline points="([^"]*)"', svg).group(1).split()
        self.assertEqual(len(pts), len(times))
        counts = [int(c) for c in re.findall(r"ms: (\d+)</title>", svg)]
        self.assertEqual(sorted(counts), [1, 3, 10])
        self.assertIn("14 frames", svg)

    def test_mangohuds_own_versioned_log(self):
        head = ("v1\n0.7.2\n---------------------SYSTEM INFO---------------------\n"
                "os,cpu,gpu,ram,kernel,driver,cpuscheduler\nArch,cpu,gpu,1,6.9,mesa,performance\n"
                "--------------------FRAME METRICS--------------------\n" + COLS + "\n")
        p, svg = self.run_plot(head + row(8.0, 8_000_000) + "\n" + row(9.0, 17_000_000) + "\n", "--bin-ms", "0.5")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(int(c) for c in re.findall(r"ms: (\d+)</title>", svg)), [1, 1])

    def test_a_file_that_is_no_frame_log_is_refused(self):
        p, svg = self.run_plot("a,b,c\n1,2,3\n")
        self.assertEqual(p.returncode, 2)
        self.assertIn("no 'fps,frametime,...' header", p.stderr)
        self.assertIsNone(svg)
        p, _ = self.run_plot("fps,frametime,elapsed\n60,16.6,x\n")
        self.assertEqual(p.returncode, 2)
        self.assertIn("line 2 is not a frame row", p.stderr)


if __name__ == "__main__":
    unittest.main()
