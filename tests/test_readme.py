"""Issue 13 item 10: the README's usage lines are complete: every option and argument that
`por CMD --help` lists is in the command's row of the README's table, and nothing else is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fixtures.liabilities import run_por

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
COMMANDS = [
    "publish",
    "prove",
    "verify-inclusion",
    "verify-tree",
    "reserves",
    "audit",
    "history",
    "demo",
    "anchor",
    "snapshot",
    "sign-wallets",
]


def readme_usage(command: str) -> str:
    """The command's rows (a command with two forms, as `prove DIR --all`, has a row for each), joined."""
    rows = re.findall(rf"^\| `(por {re.escape(command)}(?: [^`]*)?)` \|", README, re.M)
    assert rows, command
    return " ".join(rows).replace("\\|", "|")


def help_text(command: str | None) -> str:
    code, out, err = run_por(*([command] if command else []), "--help")
    assert code == 0, err
    return out


def options(text: str) -> set[str]:
    """Long options (and their short forms) in an options section or a usage line; --help left out."""
    found = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b", text)) - {"--help", "-h"}
    return found


def help_options(command: str | None) -> set[str]:
    text = help_text(command)
    listed = text.split("Options:", 1)[1].split("\n\n", 1)[0]
    return {
        o
        for line in listed.splitlines()
        if re.match(r"\s+-", line)
        for o in options(line.split("  ", 2)[1] if line.strip().startswith("-") else line)
    }


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_of_every_command_is_in_its_readme_usage_line(command):
    usage = readme_usage(command)
    listed = help_options(command)
    shown = options(usage)
    long_forms = {o for o in listed if o.startswith("--")}
    short_forms = {o for o in listed if not o.startswith("--")}
    for option in sorted(long_forms):  # a short form may stand for its long one (-o for --out)
        short = next((s for s in short_forms if re.search(rf"{s}, {option}\b", help_text(command))), None)
        assert option in shown or (short and short in shown), (command, option, usage)
    assert shown <= listed | {"--no-trees"}, (command, shown - listed)
    arguments = re.search(rf"usage: por {command} \[OPTIONS\](.*)", help_text(command))[1].split()
    names = {word.strip("[].") for word in usage.split()}
    for argument in arguments:  # optional arguments show as [NAME...] in --help
        assert argument.strip("[].") in names, (command, argument, usage)


def test_every_command_is_in_the_readme_table():
    listed = re.findall(r"^  ([a-z][a-z-]+)  ", help_text(None).split("Commands:", 1)[1].split("\n\n", 1)[0], re.M)
    assert listed and sorted(listed) == sorted(COMMANDS), listed


def test_the_global_options_are_in_the_readme():
    usage = next(line for line in README.splitlines() if line.startswith("| `por [--version]"))
    for option in help_options(None):
        assert option in usage, option
