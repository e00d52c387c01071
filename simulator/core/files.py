"""Writing and reading files safely: atomic writes, weights-only checkpoint loading, YAML reading.

Every file the toolkit writes goes through :func:`write_atomic` (a temporary file in the same folder, then
``os.replace``), so an interrupted run never leaves a half-written file under the final name. Every
``torch.load`` goes through :func:`load_torch_file` (``weights_only=True``: no code in the file is run).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from simulator.core.errors import ConfigError, DataError
from simulator.ownership import apply_umask

__all__ = ["load_torch_file", "read_yaml", "runs_dir", "save_torch_atomic", "write_atomic", "write_json_atomic",
           "write_text_atomic"]



def runs_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where results (bench rows, zoo tables) go: ``explicit``, ``$BRACKETIRE_RUNS``, or ``./runs`` in the working
    directory; never the installed package's folder."""
    return Path(explicit or os.environ.get("BRACKETIRE_RUNS") or Path.cwd() / "runs")


def write_atomic(path: str | os.PathLike[str], data: bytes | str | Callable[[IO[bytes]], None]) -> Path:
    """Write ``data`` (bytes, text as UTF-8, or a function writing to a binary handle) to ``path`` atomically.

    The file appears under its name complete or not at all, with the usual permissions (``0666 & ~umask``).

    Raises:
        DataError: the folder does not exist or is not writable (nothing is left behind).
    """
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise DataError(f"{target}: cannot be written ({err.strerror or err})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data.encode() if isinstance(data, str) else data)
        apply_umask(tmp)  # mkstemp creates 0600; the umask is read now, not at import
        os.replace(tmp, target)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise DataError(f"{target}: cannot be written ({err.strerror or err})") from None
        raise
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """:func:`write_atomic` for text (UTF-8)."""
    return write_atomic(path, text)


def write_json_atomic(path: str | os.PathLike[str], data: Any, **dump_options: Any) -> Path:
    """``json.dump(data)`` to ``path`` atomically (``dump_options`` as for :func:`json.dumps`)."""
    return write_atomic(path, json.dumps(data, **dump_options))


def save_torch_atomic(path: str | os.PathLike[str], payload: Any) -> Path:
    """``torch.save(payload)`` to ``path`` atomically (the folder is created): never a half-written checkpoint."""
    import torch

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, lambda handle: torch.save(payload, handle))


def load_torch_file(path: str | os.PathLike[str], what: str = "PyTorch checkpoint") -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with one-line errors naming the file.

    Args:
        path: the file.
        what: what the file should be, for the message ("PyTorch state dict", ...).

    Raises:
        DataError: the file is missing, or is not a ``what`` readable with ``weights_only=True``.
    """
    import re

    import torch

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found (expected a {what})")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror or err})") from None
    except Exception as err:  # torch raises several types for files that are not weights-only checkpoints
        text = str(err)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        if found:  # a pickled object (posix.system, a class): name it, never pass on torch's advice to turn weights_only off
            raise DataError(f"{path}: holds non-tensor objects ({found.group(1)}); refusing to load") from None
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        useful = [line for line in lines if not line.startswith(("Weights only load failed", "Please file an issue",
                                                                   "Check the documentation", "WeightsUnpickler error"))]
        reason = (useful or lines or [type(err).__name__])[0]
        raise DataError(f"{path}: not a {what} readable with weights_only=True ({reason[:200]})") from None


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """The YAML document at ``path`` (``yaml.safe_load``; an empty file is ``{}``).

    Raises:
        ConfigError: the file cannot be read or is not valid YAML.
    """
    import yaml

    try:
        text = Path(path).read_text()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read config ({err.strerror})") from None
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
