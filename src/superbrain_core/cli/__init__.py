"""The ``superbrain`` command line: a Typer app, one module per command group.

The console script and ``python -m superbrain_core`` both enter through
:func:`main`. Nothing else in the library imports this package: it sits on top
of every capability and only reads settings and calls them.
"""

from superbrain_core.cli.commands import app, main

__all__ = ["app", "main"]
