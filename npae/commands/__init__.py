"""Subcommands of the ``npae`` command line (see :mod:`npae.cli`)."""
