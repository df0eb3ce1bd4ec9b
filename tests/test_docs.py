"""docs/usage.md against the CLI itself: every command and option is documented, and every
documented option exists.

The commands come from walking the click group, not from a list kept here. A ``##`` section
documents the commands its heading names ("## forget and prune" documents both); a
subcommand (``key add``) is documented in its group's section by its full name. An option
is documented when one of its spellings (``-z`` or ``--zip``) appears in its command's
section, or in the introduction above the first section (options every command takes,
such as ``--store``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from snapexport.cli import main
from tests.sitetools import cli_commands

USAGE = Path(__file__).resolve().parents[1] / "docs" / "usage.md"
_LONG_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def _sections() -> tuple[str, list[tuple[set[str], str]]]:
    """The introduction, and each ``##`` section as (words of its heading, its text)."""
    text = USAGE.read_text(encoding="utf-8")
    parts = re.split(r"^## +(.+)$", text, flags=re.MULTILINE)
    intro, rest = parts[0], parts[1:]
    sections = [
        (set(re.findall(r"[\w-]+", rest[i].lower())), rest[i + 1]) for i in range(0, len(rest), 2)
    ]
    return intro, sections


def _section_of(name: str) -> str | None:
    """The text of the sections documenting command ``name`` (None when there is none)."""
    _, sections = _sections()
    head = name.split()[0]
    texts = [body for words, body in sections if head in words]
    if not texts:
        return None
    joined = "\n".join(texts)
    if " " in name and not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", joined):
        return None  # a subcommand must be named in its group's section
    return joined


def _spelled(spelling: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(spelling)}(?![\w-])", text) is not None


def _options(cmd: click.Command) -> Iterator[click.Option]:
    for param in cmd.params:
        if isinstance(param, click.Option) and not param.hidden:
            yield param


def test_the_walk_finds_thecli_commands() -> None:
    names = set(cli_commands())
    assert {"init", "snapshot", "materialize", "diff", "prune", "check"} <= names
    assert any(" " in n for n in names), "subcommands of groups (key ...) are walked too"


@pytest.mark.parametrize("name", sorted(cli_commands()))
def test_every_command_is_documented(name: str) -> None:
    assert _section_of(name) is not None, (
        f"docs/usage.md has no '## ...' section naming {name!r}"
        + (f" that mentions {name!r}" if " " in name else "")
    )


@pytest.mark.parametrize("name", sorted(cli_commands()))
def test_every_option_is_documented(name: str) -> None:
    section = _section_of(name)
    if section is None:
        pytest.skip("the command itself is not documented (its own test fails)")
    intro, _ = _sections()
    missing = [
        "/".join(opt.opts)
        for opt in _options(cli_commands()[name])
        if not any(_spelled(s, section) or _spelled(s, intro) for s in opt.opts)
    ]
    assert not missing, f"docs/usage.md does not document {name} {', '.join(missing)}"


def test_every_documented_option_exists() -> None:
    commands = cli_commands()
    everywhere = {s for cmd in commands.values() for o in _options(cmd) for s in o.opts}
    everywhere |= {s for p in main.params if isinstance(p, click.Option) for s in p.opts}
    intro, sections = _sections()
    unknown = [f"introduction: {o}" for o in _LONG_OPTION.findall(intro) if o not in everywhere]
    for words, body in sections:
        named = [cmd for n, cmd in commands.items() if n.split()[0] in words]
        known = {s for cmd in named for o in _options(cmd) for s in o.opts} if named else everywhere
        heading = " ".join(sorted(words))
        unknown += [f"{heading}: {o}" for o in _LONG_OPTION.findall(body) if o not in known]
    assert not unknown, "documented options that no such command has:\n" + "\n".join(unknown)
