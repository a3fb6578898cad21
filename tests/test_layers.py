"""The shape of the code, checked: arrows point one way, no cycles, small handlers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers")
MAX_HANDLER_LINES = 30


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "build" not in path.parts
    }


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every bot.*/handlers.* module `name` imports, wherever the import statement is
    (function-local and TYPE_CHECKING imports count: they are cycles waiting to happen)."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t if t in MODULES else base for t in targets]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle() -> None:
    assert _cycles() == []


def _layer(name: str) -> str:
    parts = name.split(".")
    if parts[0] == "handlers":
        return "handlers"
    return parts[1] if len(parts) > 1 else "bot"


# The entry points: each starts the app in one mode; nothing below them may import them.
ENTRY_POINTS = ("bot.server", "bot.lifecycle", "bot.cli", "bot.local")
# Leaves import no module of ours: everything else reads them.
LEAF = ("bot", "handlers")

# What each layer must never import: arrows point handlers → services → store / kaleyra / notify,
# and entry points → deps → services. Every layer has a rule (see test_every_module_has_a_rule).
FORBIDDEN = {
    "bot": LEAF,  # the package itself: importing it must not import the app
    "phones": LEAF,
    "settings": LEAF,
    "services": ("handlers", "bot.deps", "bot.slack.app", *ENTRY_POINTS),
    "store": ("handlers", "bot.services", "bot.views", "bot.slack", "bot.kaleyra", "bot.deps"),
    "kaleyra": ("handlers", "bot.services", "bot.store", "bot.views", "bot.slack", "bot.deps"),
    "views": (
        "handlers",
        "bot.services",
        "bot.store",
        "bot.slack",
        "bot.deps",
        "bot.grammar",
        "bot.kaleyra.client",
        "bot.runtime",
    ),
    "grammar": ("handlers", "bot.services", "bot.store", "bot.views", "bot.slack", "bot.deps"),
    "runtime": ("handlers", "bot.services", "bot.store", "bot.views", "bot.deps", "bot.slack"),
    "models": ("handlers", "bot.services", "bot.store", "bot.views", "bot.slack", "bot.deps"),
    "sandbox": ("handlers", "bot.services", "bot.store", "bot.views", "bot.slack", "bot.deps"),
    # The doctor reads the account, it does not run the app.
    "doctor": ("handlers", "bot.deps", "bot.server", "bot.lifecycle", "bot.slack.app", "bot.local"),
    # Slack's client, forms and messages: used by services, so below them.
    "slack": (
        "handlers",
        "bot.deps",
        "bot.services",
        "bot.store",
        "bot.kaleyra",
        "bot.grammar",
        *ENTRY_POINTS,
    ),
    # Handlers parse, call a service, render a view: the store and the runtime are the services'.
    "handlers": ("bot.store", "bot.sandbox", "bot.runtime", "bot.slack.app", *ENTRY_POINTS),
    # The composition root builds services; the entry points build it.
    "deps": ("handlers", "bot.slack.app", *ENTRY_POINTS),
    "lifecycle": ("handlers", "bot.slack.app", "bot.server", "bot.cli", "bot.local"),
    # Entry points reach features only through deps and the Bolt app.
    "server": (
        "handlers",
        "bot.services",
        "bot.store",
        "bot.kaleyra",
        "bot.grammar",
        "bot.views",
        "bot.cli",
        "bot.local",
    ),
    # `voicebot db upgrade | copy` are the store's own commands: the CLI may reach the store.
    "cli": (
        "handlers",
        "bot.services",
        "bot.kaleyra",
        "bot.grammar",
        "bot.views",
        "bot.slack",
    ),
    "local": (
        "handlers",
        "bot.services",
        "bot.store",
        "bot.kaleyra",
        "bot.grammar",
        "bot.views",
        "bot.cli",
    ),
}
# One module whose job differs from its layer's: the Bolt app registers the handlers.
FORBIDDEN_FOR_MODULE = {
    "bot.slack.app": ("bot.services", "bot.kaleyra", "bot.grammar", *ENTRY_POINTS),
}
# Modules that may import any module of ours, each with the reason (none today). Listed here,
# they are not test cases: a case with nothing forbidden could not fail.
ANYTHING_GOES: dict[str, str] = {}


def _banned(module: str) -> tuple[str, ...]:
    return FORBIDDEN_FOR_MODULE.get(module) or FORBIDDEN.get(_layer(module), ())


def test_every_module_has_a_rule() -> None:
    bare = [m for m in sorted(MODULES) if not _banned(m) and m not in ANYTHING_GOES]
    assert bare == [], "give these a FORBIDDEN rule, or say in ANYTHING_GOES why they need none"
    assert [m for m in ANYTHING_GOES if _banned(m)] == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m not in ANYTHING_GOES))
def test_imports_point_one_way(module: str) -> None:
    banned = _banned(module)
    wrong = sorted(
        target
        for target in GRAPH[module]
        if any(target == b or target.startswith(b + ".") for b in banned)
    )
    assert wrong == [], f"{module} ({_layer(module)}) must not import {wrong}"


def test_only_entry_points_and_handlers_import_the_composition_root() -> None:
    allowed_prefixes = (
        "handlers",
        "bot.server",
        "bot.lifecycle",
        "bot.slack.app",
        "bot.local",
        "bot.cli",
    )
    importers = sorted(n for n, targets in GRAPH.items() if "bot.deps" in targets)
    assert [n for n in importers if not n.startswith(allowed_prefixes)] == []


def _handler_functions() -> list[tuple[str, int]]:
    found = []
    for path in sorted((ROOT / "handlers").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                found.append((f"{path.name}:{node.name}", length))
    return found


def test_no_handler_function_is_over_30_lines() -> None:
    long = [(name, n) for name, n in _handler_functions() if n > MAX_HANDLER_LINES]
    assert long == []


def test_every_handler_module_registers_itself() -> None:
    for path in sorted((ROOT / "handlers").glob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert "register" in names, path.name
