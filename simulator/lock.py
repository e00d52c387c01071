"""A PID lock on an output folder: one ``simulate`` (per split) or ``train`` writes there at a time.

    with OutputLock(out, "simulate-Test", "simulate --out data"):
        ...   # a second run on the same folder gets a ConfigError naming this process

The lock is a file ``<folder>/.bracketire-<name>.lock`` created with ``O_EXCL`` and holding the holder's pid,
host, process start time and command. A lock whose process is gone (a ``kill -9``, a crash, a reboot) is
stale and taken over; a pid that was reused by another process is recognised by its start time (Linux).
A lock held from another host cannot be checked and is respected.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from simulator.core.errors import ConfigError


def _stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (state first), or None without /proc."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22), or None."""
    fields = _stat(pid)
    return fields[19] if fields else None


def _alive(pid: int, started: str | None) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    fields = _stat(pid)
    if fields is None:  # no /proc (or it just ended): trust kill(0)
        return True
    return fields[0] != "Z" and (started is None or fields[19] == started)


class OutputLock:
    """Exclusive use of ``folder`` under ``name`` by this process (a context manager).

    Args:
        folder: the output folder (created if missing).
        name: what is locked (``"simulate-Test"``, ``"train"``): several names may share a folder.
        command: shown to a second run so the user recognises the holder.
        wait_s: how long to wait for a live holder to finish before giving up (0: refuse at once).
    """

    def __init__(self, folder: str | os.PathLike[str], name: str, command: str = "", wait_s: float = 0.0) -> None:
        self.path = Path(folder) / f".bracketire-{name}.lock"
        self.command = command
        self.wait_s = wait_s
        self.held = False

    def _holder(self) -> dict | None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # half-written by a process killed while creating it: stale
        return data if isinstance(data, dict) else {}

    def acquire(self) -> OutputLock:
        """Take the lock, taking over a stale one, waiting up to ``wait_s`` for a live holder.

        Raises:
            ConfigError: a live process holds it (its pid, host, start and command are named).
        """
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                return self._acquire_once()
            except ConfigError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def _acquire_once(self) -> OutputLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        mine = {"pid": os.getpid(), "host": socket.gethostname(), "started": _start_time(os.getpid()),
                "since": time.strftime("%Y-%m-%d %H:%M:%S"), "command": self.command}
        for _attempt in range(5):
            try:
                handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                holder = self._holder()
                if holder is None:
                    continue  # released meanwhile
                if holder and (holder.get("host") != mine["host"] or _alive(int(holder.get("pid", -1)), holder.get("started"))):
                    where = "" if holder.get("host") == mine["host"] else f" on host {holder.get('host')}"
                    raise ConfigError(
                        f"{self.path.parent}: in use by another bracketire run (pid {holder.get('pid')}{where}, since "
                        f"{holder.get('since')}: {holder.get('command') or '?'}); wait for it to finish or choose "
                        f"another --out (a stale lock of a dead process is taken over: {self.path.name})")
                if self._holder() == holder:  # still the same stale holder: take it over
                    self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(handle, "w") as stream:
                json.dump(mine, stream)
            self.held = True
            return self
        raise ConfigError(f"{self.path}: could not take the lock (another run keeps taking it)")

    def release(self) -> None:
        """Remove the lock file if this process still holds it."""
        if self.held:
            holder = self._holder()
            if holder and holder.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
