"""The `por` command line: the command groups, `--version`, completion, and help as plain text.

Help is written here rather than by typer's rich panels: metavars say what a value is (FILE, DIR,
N, a list of choices), flags show none, and every command ends with one example.
"""

from __future__ import annotations

import inspect
import re
import shutil
import textwrap
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

import por
from por.cli import anchor, audit, demo, history, liabilities, reserves, snapshot
from por.errors import UsageError

if TYPE_CHECKING:
    # The types TyperCommand and TyperGroup declare: typer (0.26+) carries its own click and names
    # these only there (typer.Context is a subclass, too narrow for an override).
    from typer._click import Context, HelpFormatter


def _width() -> int:
    return max(40, min(shutil.get_terminal_size((80, 24)).columns, 100))


def _wrap(text: str, indent: int, width: int) -> list[str]:
    return textwrap.wrap(
        " ".join(text.split()), width=width - indent, break_on_hyphens=False, break_long_words=False
    ) or [""]


def _rows(rows: list[tuple[str, str]], width: int) -> list[str]:
    """Two columns, the second folded on whole words; a long first column puts the text below it."""
    left = min(max((len(name) for name, _ in rows), default=0), 28) + 4
    lines = []
    for name, text in rows:
        wrapped = _wrap(text, left, width)
        if len(name) + 4 > left:
            lines.append(f"  {name}")
            lines.extend(" " * left + w for w in wrapped)
        else:
            lines.append(f"  {name:<{left - 2}}{wrapped[0]}")
            lines.extend(" " * left + w for w in wrapped[1:])
    return lines


def _metavar(param: Any) -> str:
    if param.metavar:
        return param.metavar
    return (param.name or "value").upper()


def _option_row(param: Any) -> tuple[str, str]:
    shorts = [o for o in param.opts if not o.startswith("--")]
    longs = [o for o in param.opts if o.startswith("--")]
    name = ", ".join([*shorts, *longs])
    if param.secondary_opts:
        name += " / " + ", ".join(param.secondary_opts)
    if not param.is_flag:
        name += f" {_metavar(param)}"
        if param.multiple:
            name += " (repeatable)"
    text = param.help or ""
    default = param.default
    if default not in (None, False, (), []) and not param.is_flag and not param.required and param.show_default:
        shown = getattr(default, "value", default)
        text += f" (default: {shown})"
    if param.is_flag and param.secondary_opts and default:
        text += f" (default: {param.opts[0]})"
    if param.required:
        text += " (required)"
    return name, text


def _argument_usage(param: Any) -> str:
    name = _metavar(param)
    if param.nargs != 1:
        name += "..."
    return name if param.required else f"[{name}]"


def _help(command: Any, ctx: Context, *, commands: list[tuple[str, str]] | None = None) -> str:
    width = _width()
    arguments = [p for p in command.get_params(ctx) if p.param_type_name == "argument"]
    options = [p for p in command.get_params(ctx) if p.param_type_name == "option" and not p.hidden]
    usage = f"usage: {ctx.command_path} [OPTIONS]"
    if commands is not None:
        usage += " COMMAND [ARGS]..."
    usage += "".join(f" {_argument_usage(p)}" for p in arguments)
    lines = [usage, ""]
    for paragraph in inspect.cleandoc(command.help or "").split("\n\n"):
        lines.extend(_wrap(paragraph, 0, width))
        lines.append("")
    if commands:
        lines.append("Commands:")
        lines.extend(_rows(commands, width))
        lines.append("")
    if arguments:
        lines.append("Arguments:")
        lines.extend(_rows([(_metavar(p) + ("..." if p.nargs != 1 else ""), p.help or "") for p in arguments], width))
        lines.append("")
    lines.append("Options:")
    lines.extend(_rows([_option_row(p) for p in options], width))
    if command.epilog:
        lines.extend(["", "Example:" if commands is None else "Next:"])
        for line in command.epilog.strip().splitlines():
            lines.extend(_example_lines(line, width))
    return "\n".join(lines) + "\n"


def _example_lines(line: str, width: int) -> list[str]:
    """A long example broken before its options, with shell line continuations: still runnable."""
    out, current = [], ""
    for piece in re.split(r" (?=-)", line):
        if current and len(current) + 1 + len(piece) + 4 > width:
            out.append(current + " \\")
            current = "    " + piece
        else:
            current = f"{current} {piece}" if current else piece
    out.append(current)
    return [f"  {text}" for text in out]


class PorCommand(TyperCommand):
    """A por subcommand: plain-text help."""

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        formatter.write(_help(self, ctx))


class PorGroup(TyperGroup):
    """The `por` group: plain-text help listing the commands; a bare `por` is a usage error naming them."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:  # resilient: shell completion asking
            raise UsageError(f"missing command: one of {', '.join(self.list_commands(ctx))}")
        return super().parse_args(ctx, args)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                first = inspect.cleandoc(command.help or "").split("\n\n")[0]
                rows.append((name, " ".join(first.split())))
        formatter.write(_help(self, ctx, commands=rows))


def _print_version(value: bool) -> None:
    if value:
        print(f"por {por.__version__}")
        raise typer.Exit(0)


app = typer.Typer(
    name="por",
    cls=PorGroup,
    help="Proof of reserves: publish and verify liabilities commitments, read reserves at a snapshot, audit.\n\n"
    "Exit codes: 0 verified, 1 verification failed (every reason printed), 2 bad input.",
    epilog="por demo                 the whole job on local chains\n"
    "por COMMAND --help       a command's options and an example",
    no_args_is_help=False,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print por's version and exit.")
    ] = False,
) -> None:
    """Proof of reserves."""


for _group in (liabilities, anchor, reserves, snapshot, audit, history, demo):
    _group.register(app, PorCommand)


def run(argv: list[str] | None) -> Any:
    """Parses `argv` and runs the command; returns its exit code (typer's exceptions propagate)."""
    return app(args=argv, prog_name="por", standalone_mode=False)
