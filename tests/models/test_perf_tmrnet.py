import re
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_perf_tmrnet_quick_reports_time_memory_throughput_ratio_and_dcn_share():
    done = subprocess.run([sys.executable, "perf/tmrnet.py", "--quick"], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^conv 64->64 3x3\s+\d+\.\d GFLOP/s", done.stdout, re.M), done.stdout
    lines = [l for l in done.stdout.splitlines() if " s  peak " in l]
    assert len(lines) == 2 and all(re.search(r"\d+\.\d\d s  peak +\d+ MiB", l) for l in lines)
    for line in lines:
        share = re.search(r"\d+\.\d GFLOP/s = \d+\.\d\d x conv  DCN (\d+) % of the time$", line)
        assert share and 0 < int(share.group(1)) < 100, line  # the hooks saw the deformable convolutions run
