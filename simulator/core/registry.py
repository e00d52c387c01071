"""Small explicit registries: a readable table of name -> ``"module:attribute"`` (imported on demand) or object.

Every pluggable part of the toolkit (models, metrics, noise models and level samplers, demosaicers, cameras,
scene sources, motion models, interpolators, protocols, weight files) is found through one of these, so
``cli.py info`` can list them all and a typo gets a did-you-mean. Nothing is imported until an entry is asked
for, so one broken optional entry never breaks the others. Registries are open: a user adds an entry from
their own code with :meth:`Registry.register` (as a call or a decorator)::

    from simulator.noise import NOISE_MODELS

    @NOISE_MODELS.register("my_sensor")
    def my_sensor(...): ...
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from simulator.core.errors import ConfigError, UnknownNameError


class Registry(Mapping[str, Any]):
    """A mapping from a name to an object: a ``"package.module:attribute"`` string is imported when asked for.

    Args:
        kind: what the entries are, for messages ("demosaicer", "model", ...).
        entries: name -> ``"package.module:attribute"`` or the object itself.
    """

    def __init__(self, kind: str, entries: Mapping[str, Any] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = {}
        for name, target in (entries or {}).items():
            self.register(name, target)

    def register(self, name: str, target: Any = None, *, replace: bool = False) -> Any:
        """Add ``name`` -> ``target`` (an object, or ``"module:attribute"`` imported on first use).

        Without ``target`` it returns a decorator: ``@REGISTRY.register("name")`` over a function or class.

        Raises:
            ConfigError: ``name`` is taken (unless ``replace``), or a string target is not ``module:attribute``.
        """
        if target is None:
            def decorate(obj: Any) -> Any:
                self.register(name, obj, replace=replace)
                return obj

            return decorate
        if not isinstance(name, str) or not name:
            raise ConfigError(f"registry {self.kind!r}: a name must be a non-empty string, not {name!r}")
        if isinstance(target, str) and target.count(":") != 1:
            raise ConfigError(f"registry {self.kind!r}: entry {name!r} -> {target!r} is not 'module:attribute'")
        if name in self._entries and not replace:
            raise ConfigError(f"registry {self.kind!r}: {name!r} is already registered (pass replace=True to replace it)")
        self._entries[name] = target
        return target

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a did-you-mean error when it is not there)."""
        if name not in self._entries:
            raise unknown_name(self.kind, name, self._entries)
        del self._entries[name]

    def target(self, name: str) -> Any:
        """The entry as registered (a ``"module:attribute"`` string is not imported)."""
        try:
            return self._entries[name]
        except KeyError:
            raise unknown_name(self.kind, name, self._entries) from None

    def __getitem__(self, name: str) -> Any:
        target = self.target(name)
        if isinstance(target, str):
            module, attr = target.split(":")
            return getattr(importlib.import_module(module), attr)
        return target

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        """The registered names, in table order (built-in entries first, then registered ones)."""
        return list(self._entries)

    def summary(self, name: str) -> str:
        """First line of the entry's docstring (imports the entry)."""
        return first_doc_line(self[name])

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def first_doc_line(obj: object) -> str:
    """The first line of ``obj``'s docstring, or ``""``."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


def unknown_name(kind: str, name: object, choices: Iterable[str]) -> UnknownNameError:
    """The error for a name not in ``choices``, with a did-you-mean and the list of valid names."""
    choices = list(choices)
    hint = difflib.get_close_matches(str(name), choices, n=1)
    message = f"no {kind} named {name!r}"
    if hint:
        message += f"; did you mean {hint[0]!r}?"
    return UnknownNameError(message + f" (available: {', '.join(choices)})")


