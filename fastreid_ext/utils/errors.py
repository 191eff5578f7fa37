"""The error type for mistakes the user can fix (config, data, weights, plugins).

The command line turns a :class:`UserError` into one line on stderr and exit
code 2 instead of a traceback; anything else is a bug and keeps its traceback.
It subclasses :class:`ValueError` so callers that catch ``ValueError`` keep
working.
"""


class UserError(ValueError):
    """A bad input: the message names the file/key/value and what was expected."""
