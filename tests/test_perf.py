import re
import subprocess
import sys

from tests.conftest import REPO


def test_perf_isp_quick_reports_every_stage():
    done = subprocess.run([sys.executable, "perf/isp.py", "--quick"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    for stage in ("unprocess", "process[bilinear]", "process[menon2007]", "process[demosaicnet]"):
        line = next(l for l in done.stdout.splitlines() if l.startswith(stage))
        assert re.search(r"\d+\.\d ms\s+\d+\.\d MP/s$", line), line
