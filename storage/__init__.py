"""Persistence: SQLModel tables, the engine, queries and migrations."""
