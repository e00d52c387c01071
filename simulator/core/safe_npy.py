"""Reading ``.npy`` files without trusting them.

Plain arrays load with ``np.load(..., allow_pickle=False)``. The published BracketIRE datasets store their
camera metadata as ``np.save`` of a dict, i.e. a pickled 0-d object array; :func:`load_legacy_dict` reads
those through a restricted unpickler that admits numpy arrays, dtypes and plain containers only, so a
crafted file cannot run code.
"""

from __future__ import annotations

import importlib
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from simulator.core.errors import DataError

# (module, name) pairs a pickled numpy dict may reference; numpy 1 wrote numpy.core, numpy 2 numpy._core.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        if module.startswith("numpy.core") and not hasattr(np, "core"):
            module = module.replace("numpy.core", "numpy._core", 1)
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            return getattr(importlib.import_module(module.replace("numpy.core", "numpy._core", 1)), name)


def load_array(path: str | Path) -> np.ndarray:
    """``np.load`` of a plain (non-object) array; a clear error for anything else.

    Raises:
        DataError: the file is missing, not an ``.npy`` file, or holds pickled objects.
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # a FIFO or device would block open() or read forever
        raise DataError(f"{path}: not a regular file; expected a .npy array")
    try:
        with open(path, "rb") as handle:
            if handle.read(6) != b"\x93NUMPY":
                raise DataError(f"{path}: not a readable .npy array (no .npy header)")
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise DataError(f"{path}: holds pickled Python objects; expected a plain numeric array") from None
        raise DataError(f"{path}: not a readable .npy array ({err})") from None
    except (OSError, EOFError) as err:
        raise DataError(f"{path}: not a readable .npy array ({err})") from None


def load_legacy_dict(path: str | Path) -> dict[str, np.ndarray]:
    """Read a published ``metadata.npy`` (``np.save`` of a dict of arrays) without arbitrary unpickling.

    Returns:
        The dict, with string keys and numeric numpy arrays as values.

    Raises:
        DataError: naming the file, if it is not such a dict or references anything but numpy arrays.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
            if dtype != np.dtype(object) or shape != ():
                raise DataError(f"{path}: expected a pickled dict (0-d object array), got {dtype} {shape}")
            value = _RestrictedUnpickler(io.BytesIO(handle.read())).load()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (pickle.UnpicklingError, ValueError, EOFError, TypeError, AttributeError) as err:
        raise DataError(f"{path}: not a safe metadata dict ({err})") from None
    if isinstance(value, np.ndarray) and value.dtype == object and value.shape == ():
        value = value.item()
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise DataError(f"{path}: expected a dict with string keys, got {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(item, np.ndarray) or item.dtype == object:
            raise DataError(f"{path}: value of {key!r} is {type(item).__name__}; expected a numeric array")
    return value
