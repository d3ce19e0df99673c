"""The SQLite backend of the embedded defaults: Django's, with writers taking turns (base.py)."""
