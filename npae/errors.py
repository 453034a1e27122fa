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


class TrainingDivergedError(NonFiniteError):
    """Training blew up: the loss became NaN or infinite, or grew far beyond the loss of the
    untrained model (a learning rate too large for the data)."""


class StateDictError(NpaeError, KeyError):
    """``load_state_dict`` was given missing or unexpected keys, wrong shapes or non-numeric data."""

    def __str__(self):  # KeyError would quote the message; show it plainly
        return str(self.args[0]) if self.args else ""


class DataError(NpaeError, ValueError):
    """A series, a CSV file or a configuration value cannot be used as given."""


class InvalidTypeError(NpaeError, TypeError):
    """An argument or an array has a type npae cannot use: text, object or complex data given to
    a model, a size that is not an integer, a dtype other than float32 / float64."""


class OutputError(DataError):
    """An output file cannot be written where it was asked (a folder in the way, a missing or
    read-only folder, a path that is one of the inputs); nothing was left half-written."""


class NotFittedError(NpaeError, RuntimeError):
    """A method that needs a trained detector (or a forward pass) was called too early."""


class MissingDependencyError(NpaeError, ImportError):
    """What was asked needs an optional dependency (PyTorch for ``backend="torch"``) that is not
    installed."""


def __getattr__(name):
    """``import_reference`` moved to :mod:`npae.backends` (the one module that imports torch or
    ``reference``); ``from npae.errors import import_reference`` keeps working, resolved lazily so
    this module imports nothing but the exceptions above."""
    if name == "import_reference":
        from .backends import import_reference

        return import_reference
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
