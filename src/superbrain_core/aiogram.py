"""Capture for any aiogram 3 bot, installed with one call (extra ``bot``)::

    capture = superbrain_core.aiogram.install(dp, bot, store)

The documented entry point; the implementation is
:mod:`superbrain_core.bot.hooks`, beside the rest of the bot.
"""

from superbrain_core.bot.hooks import (
    CAPTURED,
    CaptureMiddleware,
    PinResponseTypes,
    ResponseRecorder,
    SuperbrainCapture,
    install,
)

__all__ = [
    "CAPTURED",
    "CaptureMiddleware",
    "PinResponseTypes",
    "ResponseRecorder",
    "SuperbrainCapture",
    "install",
]
