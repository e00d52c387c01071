"""The toolkit's exception types: one base class and a few precise kinds.

Every error caused by the user's input (a file, a value, a name, a setting) is a :class:`BracketIREError`; the
CLI prints its message as one line and exits with code 2. Messages say *what* was wrong and *where* (file path,
key or argument name) and what was expected instead.

    BracketIREError
    ├── DataError               bad input data: a file, array, image or archive with the wrong content
    ├── ConfigError             a bad setting: an unknown key, a value of the wrong type or out of range
    │   └── UnknownNameError    a name that is not in its registry (with a did-you-mean)
    ├── WeightsNotFoundError    a weight file that is not where it was looked for
    ├── MissingDependencyError  an optional extra that is not installed
    ├── TrainingError           a training run that cannot go on (non-finite loss, a foreign checkpoint)
    └── MetricUnavailableError  a metric that cannot run here (weights or an optional package missing)
"""

from __future__ import annotations


class BracketIREError(Exception):
    """Base class of every error the toolkit raises on bad input."""


class DataError(BracketIREError, ValueError):
    """An array, image or file does not have the shape, dtype, range or content expected."""


class ConfigError(BracketIREError, ValueError):
    """A setting (configuration key, command-line option) is unknown, mistyped or out of range."""


class UnknownNameError(ConfigError, LookupError):
    """A name (demosaicer, model, metric, ...) is not in its registry."""

    def __str__(self) -> str:  # LookupError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else ""


class WeightsNotFoundError(BracketIREError, FileNotFoundError):
    """A pretrained weight file is not where it was looked for and could not be downloaded."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(BracketIREError, ImportError):
    """An optional dependency (an extra such as ``iqa``, ``dist`` or ``raw``) is not installed."""


class TrainingError(BracketIREError, RuntimeError):
    """A training or adaptation run cannot continue (non-finite loss, incompatible checkpoint, ...)."""


class MetricUnavailableError(BracketIREError):
    """A metric cannot run on this machine (weights or an optional package missing); says how to fix it."""
