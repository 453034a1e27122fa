"""The ``npae`` command line: ``npae demo | detect | gradcheck | explain``.

Each subcommand lives in ``npae/commands/<name>.py`` with ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``.  This module only builds the parser and turns a user's mistake into one
line on stderr with exit status 2 — never a traceback.  Only the command line writes files.
"""

import argparse
import importlib
import sys

from .errors import NpaeError

COMMANDS = ("demo", "detect", "gradcheck", "explain")


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


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if not getattr(args, "_run", None):
            build_parser().print_help(sys.stderr)
            return 2
        return int(args._run(args) or 0)
    except (NpaeError, FileNotFoundError, IsADirectoryError, PermissionError) as e:
        msg = str(e) if not isinstance(e, OSError) else f"{e.strerror}: {e.filename}"
        print(f"npae: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("npae: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
