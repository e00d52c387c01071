import re
import subprocess
import sys

from tests.conftest import REPO


def test_perf_tmrnet_quick_reports_time_and_memory():
    done = subprocess.run([sys.executable, "perf/tmrnet.py", "--quick"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [l for l in done.stdout.splitlines() if " s  peak " in l]
    assert len(lines) == 2 and all(re.search(r"\d+\.\d\d s  peak +\d+ MiB", l) for l in lines)
