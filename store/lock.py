"""One serving process per SQLite file.

SQLite has one writer and no `SKIP LOCKED`, so two processes on one file would both send every
escalation step. `serve` takes an exclusive `flock` on `<database>.lock` next to the file and
refuses to start when another process holds it. The kernel drops the lock when the process
dies, however it dies, so a crash never leaves a stale lock behind. PostgreSQL needs no lock:
replicas share the work through row leases.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from store.database import async_url


class DatabaseInUse(RuntimeError):
    """Another process already serves this SQLite file."""


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for PostgreSQL and in-memory SQLite."""
    parsed = make_url(async_url(url))
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).absolute()


class ProcessLock:
    """An exclusive lock held until `release` or the end of the process."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    def release(self) -> None:
        """Let another process serve the file."""
        if self.fd >= 0:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1


def lock_database(url: str) -> ProcessLock | None:
    """Take the single-process lock of a SQLite database; None when the URL needs none.

    Raises DatabaseInUse, naming the other process, when it is taken.
    """
    database = sqlite_file(url)
    if database is None:
        return None
    path = database.with_name(database.name + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise DatabaseInUse(
            f"{database} is already served by another process (pid {holder}, lock {path}). "
            "SQLite supports one replica: stop that process first, or use PostgreSQL "
            "(DATABASE_URL=postgresql://...) to run several replicas."
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return ProcessLock(fd, path)
