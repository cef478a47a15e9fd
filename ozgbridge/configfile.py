"""YAML configuration files read together with the line of every field.

A configuration problem is only useful if it says where to look, so each file is parsed into its
data *and* a map from field path (``("routes", 1, "options", "url")``) to the 1-based line where
that field is written. Validation errors from pydantic carry the same kind of path, which makes
them locatable without any bookkeeping in the models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ozgbridge.errors import ConfigProblem, InvalidValue, Severity

Loc = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class FieldValueError(InvalidValue):
    """Raised by a validator that knows which part *below* the validated value is wrong.

    pydantic locates a validator's error at the validated field (or model); ``at`` extends that
    location, e.g. to the offending list item, so the problem points at the right line.
    """

    def __init__(self, message: str, *at: str | int) -> None:
        super().__init__(message)
        self.at: Loc = at


def near(loc: Loc, skipped: set[Loc]) -> bool:
    """Whether an error at ``loc`` may be caused by a value in ``skipped`` (one that could not be
    judged, such as an unresolved secret): it is at, above or below that value."""
    return any(loc == s[: len(loc)] or s == loc[: len(s)] for s in skipped)


def format_loc(loc: Loc) -> str:
    """``("routes", 1, "options", "url")`` → ``routes[1].options.url`` (indexes are 0-based)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class YamlDocument:
    """One parsed YAML file: its data, and where each field of it is written."""

    file: str
    data: Any
    lines: Mapping[Loc, int]

    def line(self, loc: Loc) -> int | None:
        """The line of ``loc``, or of its nearest written ancestor (a missing field has none)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None

    def has(self, loc: Loc) -> bool:
        return loc in self.lines

    def problem(self, loc: Loc, message: str, severity: Severity = "error") -> ConfigProblem:
        return ConfigProblem(
            file=self.file,
            field=format_loc(loc),
            message=message,
            line=self.line(loc),
            severity=severity,
        )

    def validation_problems(
        self,
        exc: ValidationError,
        *,
        prefix: Loc = (),
        skip: Callable[[Loc], bool] | None = None,
    ) -> list[ConfigProblem]:
        """One located problem per pydantic error; ``skip`` drops errors at chosen locations."""
        problems = []
        for error in exc.errors(include_url=False):
            loc: Loc = prefix + tuple(error["loc"])
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, FieldValueError):
                loc += cause.at
                message = str(cause)
            else:
                message = _message(error["type"], error["msg"], error.get("input"))
            if skip is not None and skip(loc):
                continue
            problems.append(self.problem(loc, message))
        return problems


def _message(kind: str, text: str, value: Any) -> str:
    if kind == "value_error":
        return text.removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return "unknown field (misspelt, or not supported here)"
    if kind == "missing":
        return "required field is missing"
    # YAML turns unquoted 05370004 into an (octal!) number and `no` into False.
    if kind == "string_type" and isinstance(value, bool):
        return "must be text, but YAML read it as true/false: put the value in quotes"
    if kind == "string_type" and isinstance(value, int | float):
        return "must be text, but YAML read it as a number: put the value in quotes"
    return text


def read_yaml(path: Path, shown_as: str) -> tuple[YamlDocument | None, list[ConfigProblem]]:
    """Parse one file; on failure ``None`` and the problem, located at the broken line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, [ConfigProblem(shown_as, "", "is not UTF-8 text")]
    except OSError as exc:
        return None, [ConfigProblem(shown_as, "", f"cannot be read: {exc.strerror or exc}")]
    return parse_yaml(text, shown_as)


def parse_yaml(text: str, shown_as: str) -> tuple[YamlDocument | None, list[ConfigProblem]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {}
        duplicates: list[tuple[Loc, int, int]] = []
        if node is not None:
            # Walk before constructing: construction flattens merge keys (<<) in place, which
            # would make every overridden merged key look like a duplicate.
            _walk(node, (), lines, duplicates, set())
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = " ".join(part for part in (exc.context, exc.problem) if part)
        line = mark.line + 1 if mark is not None else None
        return None, [ConfigProblem(shown_as, "", f"invalid YAML: {detail}", line)]
    except yaml.YAMLError as exc:
        return None, [ConfigProblem(shown_as, "", f"invalid YAML: {exc}")]
    finally:
        loader.dispose()
    document = YamlDocument(file=shown_as, data=data, lines=lines)
    problems = [
        document.problem(
            loc,
            f"duplicate key {loc[-1]!r} (first on line {first}); YAML would silently keep the last",
        )
        for loc, _line, first in duplicates
    ]
    return document, problems


def _walk(
    node: yaml.Node,
    loc: Loc,
    lines: dict[Loc, int],
    duplicates: list[tuple[Loc, int, int]],
    active: set[int],
) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if id(node) in active:  # a recursive alias (&a [*a]) would otherwise never end
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.tag == _MERGE_TAG:
                merged = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in merged:
                    if isinstance(source, yaml.MappingNode):
                        for sub_key, sub_value in source.value:
                            if isinstance(sub_key, yaml.ScalarNode):
                                sub_loc = (*loc, sub_key.value)
                                _walk(sub_value, sub_loc, lines, duplicates, active)
                continue
            key = key_node.value
            key_line = key_node.start_mark.line + 1
            if key in seen:
                duplicates.append(((*loc, key), key_line, seen[key]))
            else:
                seen[key] = key_line
            lines[(*loc, key)] = key_line
            # The value's own line is the key's line; nested items record theirs below.
            _walk(value_node, (*loc, key), lines, duplicates, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*loc, index)] = item.start_mark.line + 1
            _walk(item, (*loc, index), lines, duplicates, active)
    active.discard(id(node))
