import re
import subprocess
import sys

from tests.conftest import REPO


def test_perf_metrics_quick_reports_times_speedup_and_agreement():
    done = subprocess.run([sys.executable, "perf/metrics.py", "--quick"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("metrics on a 256x256 uint16 RGB pair")
    for label in ("psnr (ours)", "ssim (ours)", "psnr+ssim (ours)", "ssim (skimage)"):
        line = next(l for l in lines if l.startswith(label))
        assert re.search(r"\d+\.\d ms$", line), line
    speedup = next(l for l in lines if l.startswith("speed-up"))
    assert re.search(r"\d+\.\d x  \(skimage ssim / our psnr\+ssim\)$", speedup), speedup
    agreement = next(l for l in lines if l.startswith("max |ssim - skimage|"))
    assert float(agreement.split()[-1]) <= 1e-9, agreement  # same numbers, not only faster
