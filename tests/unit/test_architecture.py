"""The core stays platform-free and storage-free: it imports no chat SDK, no ORM and nothing
from adapters/ or store/."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = (
    "slack_bolt",
    "slack_sdk",
    "botbuilder",
    "botframework",
    "sqlmodel",
    "sqlalchemy",
    "adapters",
    "store",
    "aiohttp",
)
BOT = Path(__file__).resolve().parents[2] / "bot"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_core_imports_no_platform_or_storage() -> None:
    offenders = {
        f"{path.name}: {module}"
        for path in BOT.rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in FORBIDDEN
    }
    assert offenders == set()


def test_the_check_catches_a_leak(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky.py"
    leaky.write_text("import os\nfrom slack_sdk.web import WebClient\nimport store.tables\n")
    assert {m.split(".")[0] for m in imported_modules(leaky)} & set(FORBIDDEN) == {
        "slack_sdk",
        "store",
    }
