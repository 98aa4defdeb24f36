"""Reviewing and correcting what the analyzer filed, and reading the archive.

The logic behind the web page (:mod:`superbrain_core.web`), usable from any
caller: what the last nights filed (:mod:`.night`), the owner's corrections
recorded in ``routing_log`` as the owner's decision (:mod:`.corrections`), the
tables as an agenda and monthly totals (:mod:`.items`), and the chats as
bubbles with albums, edits and files (:mod:`.archive`).
"""

from superbrain_core.analyzer.routing import OWNER_CLASSIFIER
from superbrain_core.review.corrections import (
    EDITABLE,
    OWNER_VERSION,
    CorrectionError,
    NotFiled,
    edit_item,
    move_item,
)
from superbrain_core.review.night import NightReview, ReviewItem, review_last, review_runs

__all__ = [
    "EDITABLE",
    "OWNER_CLASSIFIER",
    "OWNER_VERSION",
    "CorrectionError",
    "NightReview",
    "NotFiled",
    "ReviewItem",
    "edit_item",
    "move_item",
    "review_last",
    "review_runs",
]
