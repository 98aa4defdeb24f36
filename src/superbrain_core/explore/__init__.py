"""Explore a store from a notebook: synchronous calls that return pandas DataFrames.

    from superbrain_core import explore

    with explore.open("sqlite:///superbrain.db") as ex:
        ex.messages(since="2026-11-24")

The API lives in :mod:`superbrain_core.explore.notebook`, the DataFrame
builders in :mod:`superbrain_core.explore.frames`. Needs the ``notebook`` extra.
"""

from superbrain_core.explore.notebook import Explorer, build_demo, open

__all__ = ["Explorer", "build_demo", "open"]
