"""The data-side user error that is also a missing file: a dataset folder, an index/id file, an
image listed by an index, or an attribute file. Catching ``FileNotFoundError`` or ``UserError``
both work; the command line reports it as one line."""
from __future__ import annotations

from ..utils.errors import UserError

__all__ = ["MissingDataError"]


class MissingDataError(UserError, FileNotFoundError):
    """A file or folder the dataset or attribute config names does not exist."""
