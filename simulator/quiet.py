"""Silence what native image libraries print on their own, so a bad file gives exactly one error line.

OpenCV logs ``[ERROR:0@...] global loadsave.cpp ...`` for unreadable files, libpng writes warnings to the
C ``stderr``, and OpenEXR's C++ code writes to ``stderr`` and its Python binding warns on ``stdout`` (where it would corrupt a
command's table output). Most of that bypasses Python's streams, so the file descriptors themselves (and
``sys.stdout`` / ``sys.stderr``) are redirected while a decoder runs::

    with native_output_silenced() as captured:
        image = cv2.imread(path)
    # captured.text holds what the library printed (for an error message, if wanted)

Decoders run one at a time inside the block (a lock): file descriptors are shared by every thread.
"""

from __future__ import annotations

import ctypes
import io
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_LOCK = threading.RLock()
_LIBC = None


@dataclass
class Captured:
    """What the native code printed inside the block (stdout and stderr together)."""

    text: str = ""


def _flush_c_streams() -> None:
    global _LIBC
    try:
        if _LIBC is None:
            _LIBC = ctypes.CDLL(None)
        _LIBC.fflush(None)  # C stdio buffers (C++ iostreams are synced with them by default)
    except (OSError, AttributeError):
        pass


def quiet_opencv() -> None:
    """Turn OpenCV's own logging off (its ``[ERROR...]`` / ``[WARN...]`` lines); errors still reach us as None."""
    import cv2

    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None and hasattr(logging, "setLogLevel"):
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    elif hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(0)


@contextmanager
def native_output_silenced() -> Iterator[Captured]:
    """Redirect file descriptors 1 and 2 into a temporary file for the block; yield what was written there."""
    captured = Captured()
    with _LOCK:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (AttributeError, ValueError, OSError):
                pass
        _flush_c_streams()
        try:
            saved = (os.dup(1), os.dup(2))
        except OSError:  # no file descriptors to redirect (an embedded interpreter): run as is
            yield captured
            return
        python_streams = sys.stdout, sys.stderr
        text = io.StringIO()  # bindings that print through Python (pybind11's py::print) land here
        try:
            with tempfile.TemporaryFile() as sink:
                os.dup2(sink.fileno(), 1)
                os.dup2(sink.fileno(), 2)
                sys.stdout = sys.stderr = text
                try:
                    yield captured
                finally:
                    sys.stdout, sys.stderr = python_streams
                    _flush_c_streams()
                    os.dup2(saved[0], 1)
                    os.dup2(saved[1], 2)
                    sink.seek(0)
                    captured.text = text.getvalue() + sink.read().decode("utf-8", "replace")
        finally:
            os.close(saved[0])
            os.close(saved[1])
