"""The bot: capture installed on aiogram, the deployed webhook/polling server,
the durable spool that keeps acknowledged updates through a database outage,
and the file pipeline that downloads what updates carry.

Needs the ``bot`` extra (aiogram); importing this package alone does not.
"""
