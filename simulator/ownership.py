"""What the toolkit wrote, and may therefore replace or remove: folders, result files, temporaries.

The rule (``shared/DESIGN.md``): never delete or overwrite what the toolkit did not write. So

* a folder the toolkit makes as a unit carries its marker: a sample folder its ``sample.json`` with
  ``"written_by": "bracketire"``, a run folder a ``.bracketire-run`` file. :func:`remove_ours` removes a
  folder only when it carries the marker, and never through a symbolic link;
* a result file (``--json``, ``--csv``, a runs table) is replaced only when its content is recognisably
  one of ours (:func:`check_replaceable`);
* temporaries have the toolkit's own names (``.<name>.<random>.tmp``, ``.<name>.tmp-<random>``) and are
  swept on the next start (:func:`sweep_temporaries`), under the output's lock;
* files and folders get the permissions the user's umask gives (:func:`apply_umask`): ``mkstemp`` and
  ``mkdtemp`` alone would leave them 0600 / 0700.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simulator.core.errors import ConfigError, DataError

WRITTEN_BY = "bracketire"
SAMPLE_MARKER = "sample.json"
RUN_MARKER = ".bracketire-run"


def current_umask() -> int:
    """The process umask, read from ``/proc/self/status`` where it can be (os.umask can only read by setting)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path: str | os.PathLike[str]) -> None:
    """Give ``path`` the mode ``open()`` / ``mkdir()`` would have given it under the user's umask."""
    path = Path(path)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~current_umask())


@contextmanager
def replace_atomically(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a unique temporary path beside ``path``; on success it replaces ``path`` (umask applied).

    The temporary is ``.<name>.<random>.tmp``: two processes never share one, and a killed writer's is
    swept on the next start. On any error it is removed, and an ``OSError`` (a full disk, a read-only folder)
    becomes one ``DataError`` line naming ``path``.
    """
    path = Path(path)
    try:
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(handle)
    except OSError as err:
        raise DataError(f"{path}: cannot be written ({err.strerror or err})") from None
    tmp = Path(name)
    try:
        yield tmp
        apply_umask(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise DataError(f"{path}: cannot be written ({err.strerror or err})") from None
        raise


def _json_object(path: Path) -> dict | None:
    try:
        if path.is_symlink() or not path.is_file():
            return None
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_our_sample(folder: str | os.PathLike[str]) -> bool:
    """True for a real folder (not a link) holding the ``sample.json`` that ``simulate`` writes.

    Samples written before the marker existed are recognised by the keys only ``simulate`` writes there.
    """
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    data = _json_object(folder / SAMPLE_MARKER)
    return data is not None and (data.get("written_by") == WRITTEN_BY or {"index", "scene", "frame", "sources"} <= set(data))


def mark_run(folder: Path) -> None:
    """Put the run marker into ``folder`` (a run folder ``train`` owns)."""
    (folder / RUN_MARKER).write_text(json.dumps({"written_by": WRITTEN_BY, "kind": "run"}) + "\n")


def is_our_run(folder: str | os.PathLike[str]) -> bool:
    """True for a real folder holding the run marker (or, from before the marker, our ``config.yaml``)."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        return False
    marker = _json_object(folder / RUN_MARKER)
    if marker is not None and marker.get("written_by") == WRITTEN_BY:
        return True
    config = folder / "config.yaml"
    try:
        head = config.read_text()[:200] if config.is_file() and not config.is_symlink() else ""
    except OSError:
        head = ""
    return head.startswith("toolkit:") and (folder / "checkpoints").is_dir()


def remove_ours(folder: Path, is_ours=is_our_sample) -> None:  # type: ignore[no-untyped-def]
    """Remove ``folder`` if the toolkit wrote it; otherwise refuse.

    Raises:
        ConfigError: ``folder`` is a symbolic link or does not carry the toolkit's marker (named).
    """
    if folder.is_symlink():
        raise ConfigError(f"{folder}: is a symbolic link; refusing to remove anything through it")
    if not is_ours(folder):
        raise ConfigError(f"{folder}: exists and was not written by bracketire; move it away or choose another --out")
    shutil.rmtree(folder)


def sweep_temporaries(folder: Path, pattern: str, depth: int = 0) -> list[Path]:
    """Remove the toolkit's leftover temporaries in ``folder`` (and ``depth`` levels below); never follows links.

    Args:
        folder: where to look.
        pattern: a regular expression the whole name must match: the toolkit's own temporary names only
            (e.g. ``\\.last\\.pt\\.\\w+\\.tmp``).
        depth: also sweep inside sub-folders (not hidden, not links) this many levels down.

    Call only while holding the folder's lock: a running writer's temporaries look the same.

    Returns:
        What was removed.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if entry.is_symlink():
            continue
        if re.fullmatch(pattern, entry.name):
            path = Path(entry.path)
            shutil.rmtree(path) if entry.is_dir() else path.unlink(missing_ok=True)
            removed.append(path)
        elif depth > 0 and entry.is_dir() and not entry.name.startswith("."):
            removed += sweep_temporaries(Path(entry.path), pattern, depth - 1)
    return removed


def check_output_folder(folder: Path, option: str = "--out") -> None:
    """``folder`` can be created or written: not a file, not a link to a file, a writable parent.

    Raises:
        ConfigError: naming the option and the folder.
    """
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{option} {folder}: is a file; expected a folder")
    existing = folder
    while not existing.exists():
        if existing.is_symlink():
            raise ConfigError(f"{option} {folder}: {existing} is a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{option} {folder}: {existing} is a file, so the folder cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {folder}: {existing} is not writable")


def _score_json(path: Path) -> bool:
    data = _json_object(path)
    return data is not None and {"protocol", "count", "mean"} <= set(data)


def _first_row(path: Path) -> list[str]:
    try:
        with open(path, newline="") as handle:
            return next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _score_csv(path: Path) -> bool:
    return _first_row(path)[:3] == ["name", "scene", "frame"]


def _runs_csv(path: Path) -> bool:
    return {"model", "task", "protocol", "psnr"} <= set(_first_row(path))


def _plot(path: Path) -> bool:
    """Matplotlib names itself in what it writes (PNG Software text, PDF Creator, SVG comment)."""
    try:
        with open(path, "rb") as handle:
            return b"matplotlib" in handle.read(1 << 16).lower()
    except OSError:
        return False


RESULT_KINDS = {"score json": _score_json, "score csv": _score_csv, "runs table": _runs_csv, "plot": _plot}


def check_replaceable(path: str | os.PathLike[str] | None, kind: str, option: str, create_parent: bool = False) -> None:
    """A result file may be written at ``path``: absent, or a regular file holding one of our ``kind`` results.

    Args:
        path: the target (None: nothing to check).
        kind: a key of :data:`RESULT_KINDS` (``"score json"``, ``"score csv"``, ``"runs table"``, ``"plot"``).
        option: how the user named it (``--json``), for the message.
        create_parent: the writer creates the folder: it need not exist, only be creatable.

    Raises:
        ConfigError: the target is a folder, a link, not writable, or a file the toolkit did not write.
    """
    if path is None:
        return
    path = Path(path)
    if path.is_symlink():
        raise ConfigError(f"{option} {path}: is a symbolic link; refusing to write through it")
    if path.exists():
        if not stat.S_ISREG(path.stat().st_mode):
            raise ConfigError(f"{option} {path}: is not a regular file")
        if not RESULT_KINDS[kind](path):
            raise ConfigError(f"{option} {path}: exists and is not a {kind} written by bracketire; "
                              "refusing to overwrite it (remove it or choose another file name)")
    parent = path.parent
    if create_parent:
        check_output_folder(parent, option)
    elif not parent.is_dir():
        raise ConfigError(f"{option} {path}: folder {parent} does not exist")
    if parent.is_dir() and not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: folder {parent} is not writable")
