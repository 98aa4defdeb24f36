"""``python -m superbrain_core`` is the ``superbrain`` command."""

from superbrain_core.cli import main

main()
