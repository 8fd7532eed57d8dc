"""The store: API keys, assets and actions, behind small async interfaces (SQLite by default)."""
