"""The exceptions npae raises at its public boundary.

Every error a user can cause derives from :class:`NpaeError`, so a caller (and the command line)
can tell "you gave me something wrong" apart from a bug.  Each subclass also derives from the
built-in exception a Python user would expect (``ValueError``, ``KeyError`` ...), so existing
``except ValueError`` code keeps working.
"""


class NpaeError(Exception):
    """Base class of every error npae raises on bad input or bad use."""


class ShapeError(NpaeError, ValueError):
    """An array has the wrong rank or a size that does not match the model."""


class NonFiniteError(NpaeError, ValueError):
    """An input, a loss or a gradient holds NaN or infinity."""


class StateDictError(NpaeError, KeyError):
    """``load_state_dict`` was given missing or unexpected keys, wrong shapes or non-numeric data."""

    def __str__(self):  # KeyError would quote the message; show it plainly
        return str(self.args[0]) if self.args else ""


class DataError(NpaeError, ValueError):
    """A series, a CSV file or a configuration value cannot be used as given."""


class NotFittedError(NpaeError, RuntimeError):
    """A method that needs a trained detector (or a forward pass) was called too early."""
