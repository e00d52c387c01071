"""Typed configuration: frozen dataclasses, read from YAML, changed by dotted overrides.

    cfg = load_config(SimulationConfig, preset_path, overrides=["noise.model=poisson_gaussian"])

Values are checked against the dataclass field types (``bool``, ``int``, ``float``, ``str``, ``X | None``,
``tuple[...]``, ``Literal[...]`` and nested dataclasses). An unknown key is an error that lists the valid
ones; a value of the wrong type is an error that names the key, the value and the expected type.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from simulator.core.errors import ConfigError
from simulator.core.files import read_yaml
from simulator.core.registry import unknown_name

T = TypeVar("T")


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    """Check ``value`` against the type ``hint`` (converting lists to tuples and ints to floats)."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: {key} must be a mapping of {hint.__name__} fields, got {value!r}")
        return from_dict(hint, value, source, prefix=f"{key}.")
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _coerce(value, option, key, source)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{source}: {key}={value!r} matches none of {hint}")
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"{source}: {key}={value!r}; expected one of {list(typing.get_args(hint))}")
        return value
    if origin in (list, Sequence):  # list[X] / Sequence[X]: any list, kept as a tuple (configs are frozen)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: {key}={value!r}; expected a list")
        (item,) = typing.get_args(hint) or (Any,)
        return tuple(_coerce(v, item, key, source) for v in value)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: {key}={value!r}; expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key, source) for v in value)
        if len(args) != len(value):
            raise ConfigError(f"{source}: {key}={value!r}; expected {len(args)} values")
        return tuple(_coerce(v, a, key, source) for v, a in zip(value, args))
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):  # YAML 1.1 reads "1e-5" (no dot) as text
        try:
            return float(value)
        except ValueError:
            pass
    if hint is Any or (isinstance(hint, type) and isinstance(value, hint) and not (hint is int and isinstance(value, bool))):
        return value
    name = getattr(hint, "__name__", str(hint))
    raise ConfigError(f"{source}: {key}={value!r}; expected {name}")


def from_dict(cls: type[T], data: Mapping[str, Any], source: str = "config", prefix: str = "") -> T:
    """Build the dataclass ``cls`` from a (nested) mapping; missing keys keep their defaults.

    Raises:
        ConfigError: unknown keys (with the valid ones) or values of the wrong type, naming ``source``.
    """
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise ConfigError(f"{source}: unknown key {prefix + unknown[0]!r}; valid keys: {', '.join(prefix + n for n in names)}")
    return cls(**{k: _coerce(v, hints[k], prefix + k, source) for k, v in data.items()})


def to_dict(obj: Any) -> dict[str, Any]:
    """Plain nested dict of a dataclass instance (tuples become lists), ready for YAML or JSON."""
    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(obj))


def apply_overrides(obj: T, overrides: Sequence[str], source: str = "--set") -> T:
    """Return a copy of the dataclass ``obj`` with dotted overrides applied.

    Args:
        obj: a (nested) frozen dataclass instance.
        overrides: ``"section.key=value"`` strings; values are read as YAML scalars or lists
            (``5``, ``0.1``, ``true``, ``null``, ``[1920, 1080]``) and checked against the field type.
    """
    data = to_dict(obj)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{source}: {item!r} is not KEY=VALUE (e.g. noise.model=poisson_gaussian)")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        node, cls, parts = data, type(obj), key.split(".")
        for depth, part in enumerate(parts):
            field_names = [f.name for f in dataclasses.fields(cls)]
            if part not in field_names:
                raise unknown_name(f"setting in {'.'.join(parts[:depth]) or 'the config'}", key, [
                    ".".join(parts[:depth] + [n]) for n in field_names])
            if depth < len(parts) - 1:
                cls = typing.get_type_hints(cls)[part]
                if not dataclasses.is_dataclass(cls):
                    raise ConfigError(f"{source}: {'.'.join(parts[:depth + 1])} has no sub-keys")
                node = node[part]
        hint = typing.get_type_hints(cls)[parts[-1]]
        if hint is str and not isinstance(value, str):
            value = text  # a name such as "2x" or "1e3" stays text where text is expected
        node[parts[-1]] = value
    return from_dict(type(obj), data, source)


def load_config(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """Defaults of ``cls``, then the YAML file at ``path`` (if any), then the overrides."""
    data: Mapping[str, Any] = {}
    if path is not None:
        path = Path(path)
        data = read_yaml(path)
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: expected a mapping of config sections at the top level")
    return apply_overrides(from_dict(cls, data, str(path or "config")), overrides)
