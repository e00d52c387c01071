import re
import subprocess
import sys

from tests.conftest import REPO


def test_perf_render_quick_reports_demosaicnet_against_the_conv_throughput_and_batched_rendering():
    done = subprocess.run([sys.executable, "perf/render.py", "--quick", "--batch", "2"], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^DemosaicNet render at 256x256, .* load [\d.]+/[\d.]+/[\d.]+ on \d+ CPU", out, re.M), out
    assert re.search(r"^conv 64->64 3x3\s+\d+\.\d GFLOP/s", out, re.M), out
    # the network's FLOPs per megapixel are a property of the network, not of the machine: ~285 GFLOP/MP
    flops = re.search(r"^demosaicnet pass\s+\d+\.\d ms/MP\s+(\d+) GFLOP/MP\s+\d+\.\d GFLOP/s = \d+\.\d\d x the conv", out, re.M)
    assert flops and 250 <= int(flops.group(1)) <= 320, out
    assert re.search(r"^render in batches of 2\s+\d+\.\d ms/image\s+\d+\.\d\dx one by one", out, re.M), out
