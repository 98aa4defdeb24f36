"""Capture for any aiogram 3 bot, installed with one call (extra ``bot``)::

    capture = superbrain_core.aiogram.install(dp, bot, store)

The documented entry point; the implementation, with the middlewares it
installs, is :mod:`superbrain_core.bot.hooks`, beside the rest of the bot.
"""

from superbrain_core.bot.hooks import PinResponseTypes, SuperbrainCapture, install

__all__ = ["PinResponseTypes", "SuperbrainCapture", "install"]
