"""``python -m superbrain_core`` is the ``superbrain`` command."""

from superbrain_core.cli.commands import main

main()
