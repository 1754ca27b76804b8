"""Persistence with sqlmodel: tables, the repository, the store and migrations."""
