"""Shared fixtures: real stores (SQLite temp file, local PostgreSQL), the in-memory platform,
a hand-moved clock and the service wired from them."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings
from sqlalchemy import text

from adapters.actions import ActionRunner
from adapters.fake import InMemoryPlatform, ManualClock
from bot.registry import Registry, load_registry
from bot.service import AccountabilityService
from store.database import SqlStore, make_engine, migrate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "ownership.yaml"
SHARED_EXAMPLE = ROOT.parent / "shared" / "examples" / "ownership.yaml"
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")

# A shared 2-core machine makes wall-clock deadlines flaky; CI explores the same examples on
# every run so that a red build is reproducible, while a local run keeps finding new ones.
settings.register_profile("local", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "local")

PEOPLE = {
    "U0ALICE01": "alice@example.com",
    "U0BOB0002": "bob@example.com",
    "U0CAROL03": "carol@example.com",
    "U0DANA004": "dana@example.com",
    "U0MALLORY": "mallory@example.com",
}


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else why not."""

    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return f"{exc.__class__.__name__}: {exc}"
    return None


_PG_PROBLEM: str | bool | None = False


def unavailable(message: str) -> None:
    """A part of the machine a test needs is missing: skip with the reason locally, fail under
    CI=true (CI installs everything, so there an absence is a broken build, not a skip)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_postgres() -> None:
    """Skip (locally) or fail (under CI=true) when PostgreSQL is unreachable."""
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = postgres_available()
    if _PG_PROBLEM:
        unavailable(f"PostgreSQL at {PG_URL} is unreachable: {_PG_PROBLEM}")


def shared_example(path: Path = SHARED_EXAMPLE) -> Path:
    """The shared reference registry (../shared beside the clone). A newcomer's plain clone
    has no ../shared: skip with the reason there; under CI=true its absence fails."""
    if not path.is_file():
        unavailable(
            f"the shared reference registry {path} is absent (../shared is not beside this clone)"
        )
    return path


async def sqlite_store(path: Path) -> SqlStore:
    """A migrated store on a SQLite file."""
    engine = make_engine(f"sqlite:///{path}")
    await migrate(engine)
    return SqlStore(engine)


async def postgres_store(schema: str) -> SqlStore:
    """A migrated store in a fresh PostgreSQL schema of its own."""
    admin = make_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    engine = make_engine(PG_URL, connect_args={"options": f"-c search_path={schema}"}, pool_size=10)
    await migrate(engine)
    return SqlStore(engine)


async def drop_schema(schema: str) -> None:
    """Remove a test schema."""
    admin = make_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """The real store on each backend."""
    if request.param == "sqlite":
        s = await sqlite_store(tmp_path / "bot.db")
        yield s
        await s.close()
        return
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    s = await postgres_store(schema)
    try:
        yield s
    finally:
        await s.close()
        await drop_schema(schema)


@pytest.fixture
def registry() -> Registry:
    """The repository's example registry (the same format as the shared reference)."""
    return load_registry(EXAMPLE)


@pytest.fixture
def clock() -> ManualClock:
    """Time that moves only when a test says so."""
    return ManualClock()


@pytest.fixture
def slack() -> InMemoryPlatform:
    """An in-memory Slack-like workspace with the example's people and one stranger."""
    platform = InMemoryPlatform(name="slack")
    for uid, email in PEOPLE.items():
        platform.add_user(uid, email)
    return platform


@pytest.fixture
def make_service(
    registry: Registry, store: SqlStore, slack: InMemoryPlatform, clock: ManualClock, tmp_path: Path
) -> Callable[..., AccountabilityService]:
    """Build a service over the fixtures; keyword overrides for anything else."""

    def build(**overrides: object) -> AccountabilityService:
        kwargs: dict[str, object] = {
            "registry": registry,
            "store": store,
            "platforms": {"slack": slack},
            "clock": clock,
            "stop_runner": ActionRunner(workdir=tmp_path, environ={}),
        }
        kwargs.update(overrides)
        return AccountabilityService(**kwargs)  # type: ignore[arg-type]

    return build


@pytest.fixture
def service(make_service: Callable[..., AccountabilityService]) -> AccountabilityService:
    """The service wired to the default fixtures."""
    return make_service()
