"""One error tree: every exception class in ozgbridge/ and connectors/ descends from
`OzgbridgeError`, and each one of the core stands in the tree drawn in ozgbridge/errors.py,
under the parent it really has."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import textwrap
from types import ModuleType

import connectors
import ozgbridge
from ozgbridge import errors
from ozgbridge.errors import OzgbridgeError

_SKIPPED = ("ozgbridge.store.migrations",)  # Alembic scripts: they run when imported
_TREE_LINE = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z][A-Za-z0-9]+)\b")


def modules(package: ModuleType) -> list[ModuleType]:
    found = [package]
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
        if not info.name.startswith(_SKIPPED):
            found.append(importlib.import_module(info.name))
    return found


def exception_classes(package: ModuleType) -> dict[str, type[BaseException]]:
    classes = {}
    for module in modules(package):
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                classes[f"{module.__name__}.{name}"] = value
    return classes


def drawn_tree() -> dict[str, str | None]:
    """Class name → the name drawn as its parent, from the errors module's docstring."""
    assert errors.__doc__ is not None
    block = textwrap.dedent(errors.__doc__.split("::", 1)[1].split("\n\n", 2)[1])
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        match = _TREE_LINE.match(line)
        if match is None or not line.strip():
            continue
        depth = len(match["indent"])
        if depth and not match["indent"].rstrip().endswith("──"):
            continue  # a continuation line of a description
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match["name"]] = stack[-1][1] if stack else None
        stack.append((depth, match["name"]))
    return parents


def test_every_exception_descends_from_ozgbridge_error() -> None:
    found = exception_classes(ozgbridge) | exception_classes(connectors)

    outside = sorted(name for name, cls in found.items() if not issubclass(cls, OzgbridgeError))

    assert outside == []
    assert len(found) > 20  # the walk really found them


def test_the_core_errors_are_drawn_under_their_real_parent() -> None:
    tree = drawn_tree()
    core = exception_classes(ozgbridge)

    assert tree["OzgbridgeError"] is None
    for qualified, cls in core.items():
        name = cls.__name__
        assert name in tree, f"{qualified} is missing from the tree in ozgbridge/errors.py"
        drawn_parent = tree[name]
        if drawn_parent is None:
            continue
        nearest = next(base for base in cls.__mro__[1:] if base.__name__ in tree)
        assert nearest.__name__ == drawn_parent, f"{qualified} is drawn under {drawn_parent}"
    assert set(tree) == {cls.__name__ for cls in core.values()}  # nothing drawn that is gone
