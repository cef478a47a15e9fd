"""Every command of the CLI is in the README, by its full name (``ozgbridge data-keys usage``):
a command nobody can find is a command nobody uses."""

from __future__ import annotations

from collections.abc import Iterator

import click

from ozgbridge.cli import main
from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"


def commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[str]:
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from commands(sub, (*path, name))
    else:
        yield " ".join(("ozgbridge", *path))


def test_every_command_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    names = list(commands(main))

    assert len(names) >= 25  # the walk found the command tree
    assert [name for name in names if name not in text] == []
