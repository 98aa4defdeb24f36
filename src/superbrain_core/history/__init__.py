"""History brought in after the fact: Bot API update dumps (``ingest``) and
Telegram Desktop exports (``desktop``, ``importer``), both stored through the
same capture path as live updates.
"""
