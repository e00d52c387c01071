"""The run folder of ``train``: whose it is, one writer at a time, no leftovers, a log that matches the checkpoint.

    with open_run_folder(run_dir, resume):   # refuses foreign folders, locks, sweeps, marks
        ...                                  # the runner writes config.yaml, log.csv, checkpoints/

A run folder is the toolkit's when it carries the run marker (``simulator.ownership``). ``train`` writes into
a new or empty folder, or resumes one of its own; a folder holding anything else is refused, never written
into. On resume ``log.csv`` is cut back to the checkpoint's step (:func:`roll_back_log`), so the rows of the
steps that are trained again are not there twice. Rows are appended with :func:`append_log_rows` (one
``write`` call, flushed and synced), and a line torn by a crash mid-write is dropped on resume.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simulator.core.errors import ConfigError, DataError
from simulator.lock import OutputLock
from simulator.ownership import (
    RUN_MARKER,
    check_output_folder,
    is_our_run,
    mark_run,
    replace_atomically,
    sweep_temporaries,
)


@contextmanager
def open_run_folder(run_dir: Path, resume: bool, rank: int = 0) -> Iterator[None]:
    """Make ``run_dir`` ready for a run and hold its lock while the block runs (rank 0 only).

    Raises:
        ConfigError: ``run_dir`` is a file, not writable, holds files the toolkit did not write, or another
            live run holds its lock (named).
        DataError: nothing to resume, or a run already there without ``resume``.
    """
    run_dir = Path(run_dir)
    last = run_dir / "checkpoints" / "last.pt"
    if resume and not last.is_file():
        raise DataError(f"{run_dir}: nothing to resume (no checkpoints/last.pt)")
    if rank != 0:  # rank 0 owns the folder; the others would race its marker
        yield
        return
    check_output_folder(run_dir)
    if run_dir.is_dir() and any(run_dir.iterdir()) and not is_our_run(run_dir):
        raise ConfigError(f"--out {run_dir}: holds files bracketire did not write (no {RUN_MARKER}); "
                          "choose a new or empty folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    with OutputLock(run_dir, "train", f"train --out {run_dir}"):
        if not resume and last.exists():  # checked under the lock: a concurrent second run meets the lock first
            raise DataError(f"{run_dir}: already holds a run; pass --resume to continue it or choose another --out")
        if not (run_dir / RUN_MARKER).exists():
            mark_run(run_dir)
        sweep_temporaries(run_dir, r"\.(config\.yaml|log\.csv)\.\w+\.tmp")
        if (run_dir / "checkpoints").is_dir():
            sweep_temporaries(run_dir / "checkpoints", r"\.last\.pt\.\w+\.tmp")
        if not resume:  # our own run that stopped before its first checkpoint: its log starts again
            (run_dir / "log.csv").unlink(missing_ok=True)
        yield


LOG_HEADER = ["key", "step", "value"]


def append_log_rows(path: Path, rows: list[list[str]]) -> None:
    """Append CSV ``rows`` (and the header, when ``path`` is new) to the run log in a single ``write`` call.

    The bytes go out through one ``O_APPEND`` write, then ``fsync``: a crash can tear at most the last line,
    never interleave or lose earlier ones (:func:`roll_back_log` drops a torn line on resume).

    Raises:
        DataError: the log cannot be written (a full disk, a read-only folder), naming it.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    fd = None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # mode 0666 & ~umask
        if os.fstat(fd).st_size == 0:
            writer.writerow(LOG_HEADER)
        writer.writerows(rows)
        data = memoryview(buffer.getvalue().encode())
        while data:  # a regular file takes it all at once; loop only in case the kernel says otherwise
            data = data[os.write(fd, data):]
        os.fsync(fd)
    except OSError as err:
        raise DataError(f"{path}: cannot be written ({err.strerror or err})") from None
    finally:
        if fd is not None:
            os.close(fd)


def _is_log_row(row: list[str]) -> bool:
    """A complete ``key,step,value`` row: three fields, a whole step and a number (``nan`` allowed)."""
    if len(row) != 3 or not row[1].isdigit():
        return False
    try:
        float(row[2])
    except ValueError:
        return False
    return True


def roll_back_log(run_dir: Path, step: int) -> int:
    """Drop the rows of ``run_dir/log.csv`` logged after ``step`` (the checkpoint the run resumes from).

    A last line without its line end was torn by a crash mid-write and is dropped too, as is any row that is
    not a complete ``key,step,value``.

    Returns:
        How many rows (torn lines included) were dropped.
    """
    path = Path(run_dir) / "log.csv"
    if not path.is_file():
        return 0
    data = path.read_bytes()
    torn = 0
    if data and not data.endswith(b"\n"):  # the crash came mid-line: keep only the whole lines
        data, torn = data[: data.rfind(b"\n") + 1], 1
    try:
        rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: not a readable run log ({err})") from None
    if not rows:  # empty, or torn in its first write: the log starts again
        kept = []
    elif rows[0] != LOG_HEADER:
        raise DataError(f"{path}: not a run log of this toolkit (expected the header key,step,value)")
    else:
        kept = [rows[0]] + [r for r in rows[1:] if _is_log_row(r) and int(r[1]) <= step]
    if len(kept) == len(rows) and not torn:
        return 0
    with replace_atomically(path) as tmp:
        with open(tmp, "w", newline="") as handle:
            csv.writer(handle).writerows(kept)
    return len(rows) - len(kept) + torn
