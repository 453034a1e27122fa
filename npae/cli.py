"""The ``npae`` command line: ``npae demo | detect | score | gradcheck | explain``.

Each subcommand lives in ``npae/commands/<name>.py`` with ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``.  This module only builds the parser and turns a user's mistake into one
line on stderr with exit status 2 — never a traceback.  Only the command line writes files.
"""

import argparse
import importlib
import sys

from .errors import NpaeError

COMMANDS = ("demo", "detect", "score", "gradcheck", "explain")


class UsageError(NpaeError):
    """Bad command-line usage (unknown option, bad value)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's own prints the usage too)
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser():
    parser = _Parser(prog="npae", description="RNN/LSTM autoencoders for time-series anomaly detection, in NumPy.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"npae {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"npae.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"npae.commands.{name}":
                continue  # not built yet
            raise
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _one_line(e: BaseException) -> str:
    """The message of a user-caused error, on one line."""
    if isinstance(e, NpaeError):
        msg = str(e)
    elif isinstance(e, MemoryError):
        msg = (f"not enough memory ({e or 'the allocation failed'}); use smaller sizes "
               f"(--hidden, --latent, --window, --batch-size) or a shorter series")
    else:  # OSError
        where = " ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
        msg = f"{e.strerror or e}" + (f": {where}" if where else "")
    return " ".join(msg.split())


def main(argv=None) -> int:
    """Run one command; a user's mistake (an :class:`NpaeError`, an OS error such as a
    read-only disk, running out of memory) is one line on stderr and exit status 2, Ctrl-C is
    exit status 130 — never a traceback."""
    try:
        args = build_parser().parse_args(argv)
        if not getattr(args, "_run", None):
            build_parser().print_help(sys.stderr)
            return 2
        return int(args._run(args) or 0)
    except (NpaeError, OSError, MemoryError) as e:
        print(f"npae: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("npae: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
