"""The core stays platform-free and storage-free: it imports no chat SDK, no ORM and nothing
from adapters/ or store/."""

from __future__ import annotations

import ast
import io
import keyword
import tokenize
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


# ---- the layout of the house (issue 10) ------------------------------------------------------

ROOT = BOT.parent
PACKAGES = ("bot", "adapters", "store")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of bot/, adapters/ and store/ it imports, anywhere in the file:
    at the top, inside functions, and under `if TYPE_CHECKING:` alike."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
                targets.append(node.module)
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    edges.add(target)
        graph[name] = edges
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_no_import_circles_anywhere_counting_type_checking_imports() -> None:
    assert import_circles(import_graph()) == []


def test_the_circle_check_catches_a_type_checking_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_circles(graph) == [["a", "b", "c"]]


def test_the_graph_sees_imports_under_type_checking() -> None:
    # adapters.slack.app imports the runtime only for type hints
    assert "adapters.runtime" in import_graph()["adapters.slack.app"]


def test_core_feature_modules_never_import_the_facade() -> None:
    graph = import_graph()
    offenders = sorted(
        m for m, edges in graph.items() if m.startswith("bot.") and "bot.service" in edges
    )
    assert offenders == []


def test_nothing_imports_the_http_routes_but_the_serve_command() -> None:
    """adapters/server.py only routes; the composition root is adapters/runtime.py. The one
    importer is the console script's `serve`, which starts it (lazily, after the registry is
    read, so the chat SDKs load after the YAML parser's peak)."""
    graph = import_graph()
    importers = sorted(m for m, edges in graph.items() if "adapters.server" in edges)
    assert importers == ["adapters.cli"]
    cli = (ROOT / "adapters" / "cli.py").read_text()
    top_level = [
        node
        for node in ast.parse(cli).body
        if isinstance(node, ast.ImportFrom) and node.module == "adapters.server"
    ]
    assert top_level == []


def test_adapters_of_one_platform_never_import_another() -> None:
    graph = import_graph()
    platforms = {p.name for p in (ROOT / "adapters").iterdir() if (p / "__init__.py").exists()}
    offenders = sorted(
        f"{module} -> {target}"
        for module, edges in graph.items()
        for target in edges
        for own in platforms
        if module.startswith(f"adapters.{own}.")
        for other in platforms - {own}
        if target == f"adapters.{other}" or target.startswith(f"adapters.{other}.")
    )
    assert offenders == []


MAX_LINES = 400
# Modules longer today would be listed here with their ceiling; the ceilings only shrink:
# split the module rather than raise one.
LONGER: dict[str, int] = {}


def test_no_module_is_over_about_400_lines() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in _modules().values()
        if (lines := len(path.read_text().splitlines()))
        > LONGER.get(str(path.relative_to(ROOT)), MAX_LINES)
    }
    assert too_long == {}


def _alike_lines(path: Path) -> list[tuple[int, str]]:
    """The file's lines with every name, string and number replaced by a placeholder, so
    lines alike but for names compare equal; imports, lines of fewer than four tokens
    (punctuation, a lone name, a docstring) and field declarations are left out."""
    rows: dict[int, list[str]] = {}
    skipped = {tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type in skipped or token.type == tokenize.ENDMARKER:
            continue
        if token.type == tokenize.NAME and not keyword.iskeyword(token.string):
            word = "N"
        elif token.type == tokenize.STRING:
            word = "S"
        elif token.type == tokenize.NUMBER:
            word = "0"
        else:
            word = token.string
        rows.setdefault(token.start[0], []).append(word)
    return [
        (row, " ".join(words))
        for row, words in sorted(rows.items())
        if len(words) >= 4
        and words[0] not in ("from", "import")
        and not (words[:2] == ["N", ":"] and "=" not in words)
    ]


def repeated_runs(a: Path, b: Path, *, length: int = 6) -> list[tuple[int, int]]:
    """(line in a, line in b) where `length` alike lines in a row appear in both files."""
    lines_a, lines_b = _alike_lines(a), _alike_lines(b)
    starts: dict[tuple[str, ...], list[int]] = {}
    for j in range(len(lines_b) - length + 1):
        starts.setdefault(tuple(t for _, t in lines_b[j : j + length]), []).append(lines_b[j][0])
    return [
        (lines_a[i][0], j)
        for i in range(len(lines_a) - length + 1)
        for j in starts.get(tuple(t for _, t in lines_a[i : i + length]), [])
    ]


def test_slack_and_teams_repeat_no_run_of_six_alike_lines() -> None:
    found = {
        f"{a.name}:{i} ~ {b.name}:{j}"
        for a in (ROOT / "adapters" / "slack").glob("*.py")
        for b in (ROOT / "adapters" / "teams").glob("*.py")
        for i, j in repeated_runs(a, b)
    }
    assert found == set()


def test_the_repeat_check_sees_code_alike_but_for_names(tmp_path: Path) -> None:
    body = "    if {x}.ok and {x}.size > 3:\n        {x}.count += 1\n        log({x}, 'seen')\n"
    one, two = tmp_path / "one.py", tmp_path / "two.py"
    one.write_text("def f(a):\n" + body.format(x="a") * 2 + "    return a.count\n")
    two.write_text("def g(b):\n" + body.format(x="b") * 2 + "    return b.count\n")
    assert repeated_runs(one, two) != []
