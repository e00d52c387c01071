import re
import subprocess
import sys

from tests.conftest import REPO


def test_perf_metrics_quick_reports_ratios_quiet_and_under_its_own_load_and_agreement():
    done = subprocess.run([sys.executable, "perf/metrics.py", "--quick", "--load", "1"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("metrics on a 256x256 uint16 RGB pair")
    # two conditions, each with the machine's load, the reference and our two ways as ratios to it
    assert [l for l in lines if l.startswith("[")][0].startswith("[as found] load ")
    assert [l for l in lines if l.startswith("[")][1].startswith("[+1 busy] load ")
    assert len([l for l in lines if re.search(r"ssim \(skimage\)\s+\d+\.\d ms  \(reference\)$", l)]) == 2
    for label in ("psnr+ssim (ours)", "psnr+ssim in score pool"):
        rows = [l for l in lines if l.strip().startswith(label)]
        assert len(rows) == 2 and all(re.search(r"\d+\.\d ms\s+\d+\.\dx faster$", r) for r in rows), rows
    agreement = next(l for l in lines if l.startswith("max |ssim - skimage|"))
    assert float(agreement.split()[-1]) <= 1e-9, agreement  # same numbers, not only faster
