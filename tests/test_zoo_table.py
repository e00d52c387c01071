"""The committed zoo table (leaderboards/runs/) is only rewritten by an explicit --write-table, never by --quick."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from tests.conftest import REPO

COMMITTED = REPO / "leaderboards" / "runs"


def _digests():
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(COMMITTED.iterdir()) if p.is_file()}


def test_quick_runs_never_rewrite_the_committed_table():
    before = _digests()
    for args, message in ((["--quick", "--write-table"], "--write-table with --quick"),
                          (["--quick", "--runs", str(COMMITTED)], "is the committed table folder; pass --write-table")):
        done = subprocess.run([sys.executable, "perf/zoo.py", *args], cwd=REPO, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 2 and done.stderr.splitlines()[-1].startswith("zoo.py: error: ") and message in done.stderr
        assert "Traceback" not in done.stderr
    assert _digests() == before


def test_write_table_targets_the_committed_folder_and_runs_elsewhere_are_untouched(tmp_path):
    sys.path.insert(0, str(REPO / "perf"))
    try:
        import zoo
    finally:
        sys.path.remove(str(REPO / "perf"))
    assert zoo.table_folder_for(quick=False, write_table=True, runs=None) == str(COMMITTED)
    assert zoo.table_folder_for(quick=False, write_table=False, runs=str(tmp_path)) == str(tmp_path)
    assert zoo.table_folder_for(quick=False, write_table=False, runs=None) is None  # bench's default: ./runs
