"""What keeps a training run from losing work: stop requests by signal, checkpoints by wall time, the estimate.

* :class:`StopRequest`: while a run trains, SIGINT (Ctrl-C) or SIGTERM (a scheduler's pre-emption) only
  *asks* the loop to stop; the runner then finishes the step in flight, writes ``checkpoints/last.pt`` and
  raises :class:`TrainingInterrupted`. A second signal aborts at once (``KeyboardInterrupt``), without saving.
* :func:`due_by_time`: a checkpoint is also due every ``train.save_minutes`` of wall time, whatever
  ``train.save_every`` says, so a slow machine never loses more than those minutes.
* :func:`estimate_line`: the one line printed after the first few timed steps (seconds per step, time to go,
  clock time of the end).
* :func:`ignore_stop_signals`: the DataLoader workers' ``worker_init_fn``; the terminal sends Ctrl-C to the
  whole process group, and a worker killed by it would fail the batch the runner still has to finish.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from simulator.core.errors import TrainingError

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
ESTIMATE_AFTER_STEPS = 5  # timed steps (the first, worker start-up, is not timed) before the estimate
ESTIMATE_AFTER_SECONDS = 30.0  # or this much training time, whichever comes first


class TrainingInterrupted(TrainingError):
    """A run stopped by SIGINT/SIGTERM after saving its checkpoint; ``signal_number`` is the signal."""

    def __init__(self, message: str, signal_number: int) -> None:
        super().__init__(message)
        self.signal_number = signal_number


class StopRequest:
    """Context manager: SIGINT/SIGTERM set :attr:`signal_number` instead of stopping the process.

    Handlers are installed only in the main thread (Python's rule), and the previous ones are restored on
    exit. A second signal restores the default handlers and raises ``KeyboardInterrupt`` at once.
    """

    def __init__(self, announce: bool = True) -> None:
        self.signal_number: int | None = None
        self.announce = announce
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {number: signal.signal(number, self._handle) for number in STOP_SIGNALS}
        return self

    def __exit__(self, *_exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def _handle(self, number: int, _frame: FrameType | None) -> None:
        if self.signal_number is not None:
            self.__exit__()
            raise KeyboardInterrupt(f"second {signal_name(number)}: aborted without saving")
        self.signal_number = number
        if self.announce:
            from tqdm.auto import tqdm

            tqdm.write(f"{signal_name(number)}: saving a checkpoint after this step, then stopping "
                       "(Ctrl-C again aborts without saving)", file=sys.stderr)


def signal_name(number: int) -> str:
    """``"SIGINT"`` for 2."""
    return signal.Signals(number).name


def ignore_stop_signals(_worker_id: int) -> None:
    """``worker_init_fn`` of the training DataLoader: its workers leave SIGINT/SIGTERM to the main process."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


def due_by_time(saved_at: float, save_minutes: float, now: float | None = None) -> bool:
    """Whether ``save_minutes`` (> 0; 0 turns this off) of wall time have passed since ``saved_at``
    (``time.monotonic()`` seconds)."""
    now = time.monotonic() if now is None else now
    return save_minutes > 0 and now - saved_at >= 60.0 * save_minutes


def estimate_due(timed_steps: int, timed_seconds: float) -> bool:
    """Whether enough steps have been timed for the start-of-run estimate."""
    return timed_steps >= ESTIMATE_AFTER_STEPS or (timed_steps > 0 and timed_seconds >= ESTIMATE_AFTER_SECONDS)


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"7.5 min"``, ``"3.2 h"``, ``"2.1 days"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def estimate_line(model: str, seconds_per_step: float, step: int, stop: int, save_every: int,
                  save_minutes: float, now: dt.datetime | None = None) -> str:
    """The start-of-run estimate: measured seconds per step, time left for steps ``step .. stop``, end time."""
    left = max(stop - step, 0) * seconds_per_step
    end = (now or dt.datetime.now().astimezone()) + dt.timedelta(seconds=left)
    saves = f"every {save_every} steps" + (f" and every {save_minutes:g} min" if save_minutes > 0 else "")
    return (f"train {model}: {seconds_per_step:.3f} s/step, {stop - step} steps to go: about {format_duration(left)} "
            f"(ends near {end:%Y-%m-%d %H:%M}); checkpoints {saves}, and on Ctrl-C")
