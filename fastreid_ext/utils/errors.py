"""The error type for mistakes the user can fix (config, data, weights, plugins).

The command line turns a :class:`UserError` into one line on stderr and exit
code 2 instead of a traceback; anything else is a bug and keeps its traceback.
It subclasses :class:`ValueError` so callers that catch ``ValueError`` keep
working.
"""
from __future__ import annotations

__all__ = ["UserError", "UserKeyError", "UserFileNotFoundError", "one_line"]


class UserError(ValueError):
    """A bad input: the message names the file/key/value and what was expected."""


class UserKeyError(UserError, KeyError):
    """A :class:`UserError` that is also a ``KeyError`` (unknown name or key), printed without quotes."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def one_line(err: BaseException) -> str:
    """The error's message and notes on one line (detail lines joined with '; ')."""
    msg = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    msg = "\n".join([msg, *getattr(err, "__notes__", [])])
    parts = [p.strip() for p in msg.splitlines() if p.strip()]
    return "; ".join(parts) or type(err).__name__


class UserFileNotFoundError(UserError, FileNotFoundError):
    """A file or folder named by the config (or a list file) is missing."""
