"""Backups that restore: `pressroom backup`, `pressroom restore-backup`, `pressroom go-live`.

One dated archive holds the database (pg_dump's custom format, or SQLite's online backup), the
media directory and the settings file (with the DKIM key), readable by its owner only. A restored
copy stays isolated (its own cache keys, tasks paused) until an operator says it goes live.
"""
