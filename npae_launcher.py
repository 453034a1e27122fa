"""The ``npae`` command's entry point, outside the ``npae`` package on purpose.

Importing ``npae`` (and NumPy under it) takes a noticeable moment; a Ctrl-C in that moment would
otherwise end in a traceback, because the package is imported before :func:`npae.cli.main` can
catch anything.  This module imports nothing of npae until it can catch the interrupt, so Ctrl-C
at any time is one line on stderr and exit status 130.
"""

import sys


def main() -> int:
    try:
        from npae.cli import main as cli_main
    except KeyboardInterrupt:
        print("npae: interrupted", file=sys.stderr)
        return 130
    return cli_main()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
