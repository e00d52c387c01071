"""Wall time of every README command, run in order on a fresh clone with a fresh HOME.

    python perf/readme.py            # the commands as written (long: trains, simulates 640x384 data)
    python perf/readme.py --quick    # at the test's small sizes (tests/test_readme.py's SMALLER table)

The clone is ``git clone`` of this repository's committed HEAD into a temporary folder; ``.venv/bin/python``
and ``.venv/bin/bracketire`` become this interpreter (the set-up, ``make install``, is skipped, as are the lines
``tests/test_readme.py`` skips). Prints one row per command: README line, seconds, exit code, the command, and
the machine's load average before and after, since the development machine is shared.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.test_readme import README, readme_steps, skipped, smaller, with_interpreter  # noqa: E402  (the one parser of README.md)


def run_readme(quick: bool, keep: Path | None = None) -> pd.DataFrame:
    """Run the README's commands in a fresh clone; one row per command (line, seconds, exit code, command)."""
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="readme_"))
    clone = work / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    env = {**os.environ, "HOME": str(work / "home"), "BRACKETIRE_OFFLINE": "1"}
    for key in ("BRACKETIRE_CACHE", "BRACKETIRE_RUNS"):
        env.pop(key, None)
    rows = []
    for step in readme_steps(README.read_text()):
        if step.file is not None:
            (clone / step.file).write_text(step.text)
            continue
        if skipped(step.text):
            continue
        command = smaller(step.text) if quick else shlex.join(shlex.split(step.text, comments=True))
        command = with_interpreter(command, sys.executable, "cli.py")
        load = os.getloadavg()[0]
        start = time.perf_counter()
        done = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        rows.append({"line": step.line, "seconds": round(seconds, 1), "exit": done.returncode,
                     "load": f"{load:.1f}-{os.getloadavg()[0]:.1f}", "command": step.text[:90]})
        print(f"{step.line:4d} {seconds:8.1f} s  exit {done.returncode}  {step.text[:100]}", flush=True)
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
            break
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the test's small sizes")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    table = run_readme(args.quick, args.keep)
    print(table.to_markdown(index=False))
    print(f"total {table['seconds'].sum():.0f} s on {os.cpu_count()} CPUs")
    sys.exit(int(table["exit"].ne(0).any()))


if __name__ == "__main__":
    main()
