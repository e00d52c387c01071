"""An output folder that ``predict`` and ``bench --save`` write into: atomic, resumable, never destructive.

::

    <out>/png16/<name>.png      16-bit RGB, the protocol's PNG: the folder is a submission ``score`` accepts
    <out>/preview/<name>.png    8-bit sRGB view of the same result
    <out>/hdr/<name>.npy        optional: the linear HDR RAW result, float32 (h, w, 4) like raw_gt.npy
    <out>/predict.json          what was run (model, weights, options), the SHA-256 of every file written
                                and notes (seconds per bracket)

Every file is written to a temporary sibling and renamed into place. A file is *ours* when ``predict.json``
lists it with its current checksum; a file at a target path that is not ours is never overwritten (an error
names it). A run into a folder made by a different run (another model, weights or options) is refused, so
results of two runs never mix; the same run skips the outputs already written and verified (resume).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmark.images import write_bytes_atomic
from simulator.core.errors import DataError
from simulator.core.weights import sha256_of

MANIFEST = "predict.json"
FOLDERS = ("png16", "preview", "hdr")


class OutputFolder:
    """The output folder of one run (see the module docstring).

    Args:
        root: the folder; created when missing.
        run: JSON-serialisable facts that identify the run (model, weights checksum, options).

    Raises:
        DataError: ``root`` holds the outputs of a different run, or an unreadable ``predict.json``.
    """

    def __init__(self, root: str | os.PathLike[str], run: dict[str, Any]) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise DataError(f"{self.root}: exists and is not a folder; expected an output folder")
        self.root.mkdir(parents=True, exist_ok=True)
        self.run = json.loads(json.dumps(run))  # normalised as it will be read back
        self.files: dict[str, str] = {}
        self.notes: dict[str, Any] = {}  # facts kept across resumed runs (e.g. seconds per bracket)
        manifest = self.root / MANIFEST
        if manifest.exists():
            try:
                saved = json.loads(manifest.read_text())
                files, previous = saved["files"], saved["run"]
                assert isinstance(files, dict) and isinstance(previous, dict)
            except (ValueError, KeyError, TypeError, AssertionError, OSError):
                raise DataError(f"{manifest}: not a predict manifest ({{'run': ..., 'files': ...}}); "
                                "choose another output folder") from None
            if previous != self.run:
                changed = sorted(k for k in {*previous, *self.run} if previous.get(k) != self.run.get(k))
                raise DataError(f"{self.root}: holds the outputs of another run (different {', '.join(changed)}: "
                                f"{ {k: previous.get(k) for k in changed} }); choose another output folder")
            self.files = {str(k): str(v) for k, v in files.items()}
            self.notes = saved.get("notes", {}) if isinstance(saved.get("notes"), dict) else {}

    def path(self, relative: str) -> Path:
        """The absolute path of ``relative`` (e.g. ``"png16/a-1.png"``)."""
        return self.root / relative

    def ours(self, relative: str) -> bool:
        """True when ``relative`` exists and is the file this toolkit wrote there (checksum verified)."""
        target = self.path(relative)
        return relative in self.files and target.is_file() and sha256_of(target) == self.files[relative]

    def done(self, relatives: list[str]) -> bool:
        """True when every one of ``relatives`` was written and verified (a resumed run skips them)."""
        return all(self.ours(r) for r in relatives)

    def write(self, relative: str, data: bytes) -> Path:
        """Write ``data`` at ``relative`` atomically and record it.

        Raises:
            DataError: a file is there that this toolkit did not write (or that changed since).
        """
        target = self.path(relative)
        if (target.exists() or target.is_symlink()) and not self.ours(relative):
            raise DataError(f"{target}: exists and was not written by this run of bracketire; refusing to overwrite "
                            "it (move it away or choose another output folder)")
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(target, data)
        self.files[relative] = sha256_of(target)
        return target

    def save_manifest(self) -> Path:
        """Write ``predict.json`` atomically (after every bracket, so an interrupted run resumes)."""
        body = {"run": self.run, "files": dict(sorted(self.files.items())), "notes": self.notes}
        path = self.root / MANIFEST
        write_bytes_atomic(path, (json.dumps(body, indent=1) + "\n").encode("utf-8"))
        return path


def encode_png(image: np.ndarray) -> bytes:
    """``(H, W, 3)`` uint8 or uint16 RGB -> PNG file bytes (RGB on disk, as ``benchmark.images`` writes)."""
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise DataError(f"OpenCV could not encode a {image.dtype} {image.shape} image as PNG")
    return encoded.tobytes()


def preview_of(png: np.ndarray, padding: int) -> np.ndarray:
    """The 8-bit preview of a protocol PNG: its ``(H, W, 3)`` uint16 content without the zero border, rounded
    to 8 bits (the protocol's mu-law tonemap of linear sRGB-primaries RGB, viewable as it is)."""
    inner = png[padding:-padding, padding:-padding] if padding else png
    return np.round(inner.astype(np.float64) / 257).astype(np.uint8)
