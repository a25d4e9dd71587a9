"""The layers: every package's ``__init__`` names its layer and what it may import, and no module imports more.

A package's docstring ends with a line such as ``Layer: records. May import: base, engine, model.``
(the base is ``harness/__init__.py`` and ``harness/errors.py``; a package may always import itself
and the base). The declared layers must form no circle, so they stack; an import that is not
declared is an arrow running up, and fails here with the file, the line and the fix.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "harness"
LAYER_LINE = re.compile(r"^Layer: (?P<name>[\w-]+)\. May import: (?P<allowed>[^.]*)\.", re.MULTILINE)
# The base: what every layer may import.
BASE_MODULES = {"__init__.py", "errors.py"}


@dataclass(frozen=True)
class Layer:
    """A top-level package of ``harness`` (or the base) and what its docstring allows it to import."""

    name: str
    room: str
    allowed: frozenset[str]


def declared_layers(root: Path) -> dict[str, Layer]:
    """Each room (``base`` or a top-level package's folder name) and its declared layer."""
    layers: dict[str, Layer] = {}
    for init in [root / "__init__.py", *sorted(root.glob("*/__init__.py"))]:
        room = "base" if init.parent == root else init.parent.name
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        found = LAYER_LINE.search(doc)
        if found is None:
            continue
        text = re.sub(r"\([^)]*\)", "", " ".join(found["allowed"].split())).strip()
        allowed = {part.strip() for part in text.split(",")} - {
            "nothing of harness",
            "",
        }
        layers[room] = Layer(found["name"], room, frozenset(allowed))
    return layers


def unnamed_packages(root: Path) -> list[str]:
    """Top-level packages whose ``__init__`` docstring has no ``Layer:`` line."""
    named = declared_layers(root)
    return [init.parent.name for init in sorted(root.glob("*/__init__.py")) if init.parent.name not in named]


def circle(layers: dict[str, Layer]) -> list[str] | None:
    """A circle among the declared layers (by name), or ``None`` when they stack."""
    edges = {layer.name: set(layer.allowed) for layer in layers.values()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for below in sorted(edges.get(name, ())):
            if state.get(below) == 1:
                return [*path[path.index(below) :], below]
            if below not in state and (found := visit(below)) is not None:
                return found
        path.pop()
        state[name] = 2
        return None

    for name in sorted(edges):
        if name not in state and (found := visit(name)) is not None:
            return found
    return None


def _room_of_module(root: Path, dotted: str) -> str | None:
    """The room a ``harness...`` module name lies in; ``None`` for a name outside harness."""
    parts = dotted.split(".")
    if parts[0] != root.name:
        return None
    if len(parts) == 1:
        return "base"
    return parts[1] if (root / parts[1]).is_dir() else "base"


# An import statement's first line; the statement is then parsed alone (parsing every module whole
# would cost the fast tier seconds). A real import statement inside a string would count too: none is.
IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+\w[\w.]*[ \t]+import\b|import[ \t]+\w)", re.MULTILINE)


def _statement(text: str, start: int) -> str:
    """The import statement starting at ``start``, through its closing parenthesis or its last backslash."""
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    statement = text[start:end]
    while (statement.count("(") > statement.count(")") or statement.rstrip().endswith("\\")) and end < len(text):
        following = text.find("\n", end + 1)
        following = len(text) if following < 0 else following
        statement, end = text[start:following], following
    return statement.strip()


def imported_rooms(root: Path, path: Path) -> list[tuple[int, str, str]]:
    """``(line, module named, room)`` for each import of a harness module in a file (lazy ones too)."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in IMPORT_LINE.finditer(text):
        try:
            node = ast.parse(_statement(text, match.start())).body[0]
        except SyntaxError:
            continue  # prose in a docstring that starts with "import"
        line = text.count("\n", 0, match.start()) + 1
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # ``from harness import lab`` names a package, ``from harness.x import y`` a module.
            names = [f"{node.module}.{a.name}" for a in node.names] if node.module == root.name else [node.module]
        else:
            continue
        for name in names:
            room = _room_of_module(root, name)
            if room is not None:
                found.append((line, name, room))
    return found


def violations(root: Path) -> list[str]:
    """Every import of a room its layer may not import, and every module that lies in no layer."""
    layers = declared_layers(root)
    problems = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent)
        inside = path.relative_to(root).parts
        room = "base" if len(inside) == 1 else inside[0]
        if room == "base" and inside[0] not in BASE_MODULES:
            problems.append(f"{relative}: lies in no layer; move it into the package of its layer")
            continue
        layer = layers.get(room)
        if layer is None:
            continue  # reported by unnamed_packages
        for line, name, target in imported_rooms(root, path):
            if target in (room, "base"):
                continue
            target_layer = layers.get(target)
            if target_layer is None or target_layer.name not in layer.allowed:
                wanted = target_layer.name if target_layer else target
                may = ", ".join(sorted(layer.allowed)) or "nothing of harness"
                problems.append(
                    f"{relative}:{line}: imports {name} (layer {wanted}); layer {layer.name} may import: {may}"
                )
    return problems


def test_every_package_names_its_layer() -> None:
    assert unnamed_packages(HARNESS) == [], "add 'Layer: NAME. May import: A, B.' to each package's docstring"


def test_the_layers_stack_without_a_circle() -> None:
    layers = declared_layers(HARNESS)
    assert "base" in layers and layers["base"].allowed == frozenset()
    names = {layer.name for layer in layers.values()}
    unknown = sorted({f"{layer.name} -> {a}" for layer in layers.values() for a in layer.allowed if a not in names})
    assert unknown == [], "a layer may import only layers that exist"
    assert circle(layers) is None


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    assert violations(HARNESS) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "from harness.top.thing import X\n",
            "imports harness.top.thing (layer top); layer low may import",
        ),
        ("import harness.top\n", "imports harness.top (layer top)"),
        ("from harness import top\n", "imports harness.top (layer top)"),
        (
            "def late():\n    from harness.top import thing\n",
            "low/mod.py:2: imports harness.top",
        ),
    ],
)
def test_an_arrow_running_up_is_found(tmp_path: Path, source: str, expected: str) -> None:
    root = tmp_path / "harness"
    for folder, line in (
        ("", "base. May import: nothing of harness"),
        ("low", "low. May import: base"),
        ("top", "top. May import: base, low"),
    ):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "__init__.py").write_text(f'"""A layer.\n\nLayer: {line}.\n"""\n', encoding="utf-8")
    (root / "errors.py").write_text("", encoding="utf-8")
    (root / "low" / "mod.py").write_text(source, encoding="utf-8")
    (root / "top" / "thing.py").write_text("from harness.low import mod\nX = 1\n", encoding="utf-8")
    found = violations(root)
    assert len(found) == 1 and expected in found[0], found


def test_a_module_outside_the_layers_and_a_circle_are_found(tmp_path: Path) -> None:
    root = tmp_path / "harness"
    for folder, line in (
        ("", "base. May import: nothing of harness"),
        ("a", "a. May import: base, b"),
        ("b", "b. May import: base, a"),
    ):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "__init__.py").write_text(f'"""Layer: {line}.\n"""\n', encoding="utf-8")
    (root / "stray.py").write_text("", encoding="utf-8")
    (root / "c").mkdir()
    (root / "c" / "__init__.py").write_text('"""No layer named."""\n', encoding="utf-8")
    assert violations(root) == ["harness/stray.py: lies in no layer; move it into the package of its layer"]
    assert unnamed_packages(root) == ["c"]
    assert circle(declared_layers(root)) in (["a", "b", "a"], ["b", "a", "b"])
