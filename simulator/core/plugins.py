"""Users' own registrations: import a Python file that calls ``register()`` on the toolkit's registries.

    python cli.py --plugin my_models.py train --model my_net --data DIR --out RUN

The file is an ordinary module (it may import the toolkit and torch); it is imported once per process, so
loading it again is harmless.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from simulator.core.errors import ConfigError

__all__ = ["load_plugin"]


def load_plugin(path: str | os.PathLike[str]) -> ModuleType:
    """Import the Python file at ``path`` (once per process) and return the module.

    Raises:
        ConfigError: the file does not exist or is not a ``.py`` file.
    """
    file = Path(path).expanduser().resolve()
    if not file.is_file() or file.suffix != ".py":
        raise ConfigError(f"--plugin {path}: not a Python file (expected an existing .py file that registers entries)")
    name = f"bracketire_plugin_{file.stem}_{hashlib.sha256(str(file).encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
