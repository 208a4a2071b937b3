"""The one exception type for mistakes a user can fix (bad input, unknown names, missing files).

The CLI prints these as a single line and exits non-zero, without a traceback; anything else is a bug
and keeps its traceback.
"""


class LraError(Exception):
    """A user-facing error: the message says what was wrong, where, and what was expected."""
