"""Small explicit registries: a readable table of name -> ``"module:attribute"``, imported on demand.

Every pluggable part of the toolkit (demosaicers, cameras, noise models, models, metrics, protocols)
is found through one of these, so ``cli.py info`` can list them all and a typo gets a did-you-mean.
Nothing is imported until an entry is asked for, so one broken optional entry never breaks the others.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from simulator.errors import UnknownNameError


class Registry(Mapping[str, Any]):
    """A read-only mapping from a name to a lazily imported object.

    Args:
        kind: what the entries are, for messages ("demosaicer", "model", ...).
        entries: name -> ``"package.module:attribute"``.
    """

    def __init__(self, kind: str, entries: Mapping[str, str]) -> None:
        for name, target in entries.items():
            if target.count(":") != 1:
                raise ValueError(f"registry {kind!r}: entry {name!r} -> {target!r} is not 'module:attribute'")
        self.kind = kind
        self._entries = dict(entries)

    def __getitem__(self, name: str) -> Any:
        try:
            target = self._entries[name]
        except KeyError:
            raise unknown_name(self.kind, name, self._entries) from None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        """The registered names, in table order."""
        return list(self._entries)

    def summary(self, name: str) -> str:
        """First line of the entry's docstring (imports the entry)."""
        doc = (self[name].__doc__ or "").strip()
        return doc.splitlines()[0].strip() if doc else ""


def unknown_name(kind: str, name: object, choices: Iterable[str]) -> UnknownNameError:
    """The error for a name not in ``choices``, with a did-you-mean and the list of valid names."""
    choices = list(choices)
    hint = difflib.get_close_matches(str(name), choices, n=1)
    message = f"no {kind} named {name!r}"
    if hint:
        message += f"; did you mean {hint[0]!r}?"
    return UnknownNameError(message + f" (available: {', '.join(choices)})")
