"""The toolkit's exception types.

Every error caused by the user's input (a file, a value, a name) is a :class:`BracketIREError`; the CLI
prints its message as one line and exits with code 2. Messages say *what* was wrong and *where*
(file path or argument name) and what was expected instead.
"""

from __future__ import annotations


class BracketIREError(Exception):
    """Base class of every error the toolkit raises on bad input."""


class DataError(BracketIREError, ValueError):
    """An array, image or file does not have the shape, dtype, range or content expected."""


class UnknownNameError(BracketIREError, LookupError):
    """A name (demosaicer, model, metric, ...) is not in its registry."""

    def __str__(self) -> str:  # LookupError would otherwise print the repr of the message
        return str(self.args[0]) if self.args else ""


class WeightsNotFoundError(BracketIREError, FileNotFoundError):
    """A pretrained weight file is not where it was looked for and could not be downloaded."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
