"""Terminal and JSON output shared by the commands: verdicts, tables that never cut an amount, and progress bars.

Tables: an amount, a hash or an address is never truncated nor folded. Amounts are right-aligned
with thousands separators and every digit; text folds on whole words;
a table too wide for the terminal is shown one record per block instead. Piped output (no
terminal, no COLUMNS) has no width limit: one line per row, for grep.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from por.cli.plain import PlainConsole, is_plain, is_plain_terminal, plain_text, rich_console
from por.text import terminal_text
from por.verdict import SELF_CONSISTENT, Verdict

# The options every command spells the same way are in por.cli.options (typer); their names are kept
# here too, loaded on first use: the lean customer path (por.cli.lean) prints through this module
# and must not import typer.
_OPTIONS = ("HtmlLang", "JsonOut", "Quiet", "html_lang")


def __getattr__(name: str) -> Any:
    if name in _OPTIONS:
        from por.cli import options

        return getattr(options, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def console(*, stderr: bool = False):
    """The console every command prints through: rich's as `rich_console` sets it up or, piped or
    on a plain colour terminal, the same bytes without importing rich (por.cli.plain)."""
    stream = sys.stderr if stderr else sys.stdout
    if is_plain(stream):
        return PlainConsole(stderr=stderr)
    if is_plain_terminal(stream):
        return PlainConsole(stderr=stderr, colour=True)
    return rich_console(stderr=stderr)


def terminal_width() -> int | None:
    """COLUMNS, else the terminal's width; None when piped (no limit)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        try:  # os's, not shutil's: shutil's import pulls in the compression modules
            return os.get_terminal_size(sys.stdout.fileno()).columns or 80
        except OSError:
            return 80
    return None


def write_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(_jsonable(doc), indent=2, ensure_ascii=False) + "\n")


# --- tables ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """`kind`: "text" folds on whole words; "amount" is right-aligned, grouped by thousands, never
    cut; "atom" (a hash, an address, an id) is never cut either."""

    name: str
    kind: str = "text"


Cell = str | tuple[str, str]  # text, or (text, rich style)


def group_amount(text: str) -> str:
    """'1234567.000012' → '1,234,567.000012': every digit kept, thousands marked in the whole part."""
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, frac = body.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        return text
    return f"{sign}{int(whole):,}{dot}{frac}"


def _cell_len(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def _fold(text: str, width: int) -> list[str]:
    """Whole words per line; a word longer than the line stays whole on its own line."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and _cell_len(line) + 1 + _cell_len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return lines


def table_lines(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int | None
) -> list[list[tuple[str, str]]]:
    """The table as lines of (text, style) segments, fitted to `width` (None: no limit)."""
    texts = [[c if isinstance(c, str) else c[0] for c in row] for row in rows]
    styles = [["" if isinstance(c, str) else c[1] for c in row] for row in rows]
    for i, column in enumerate(columns):
        if column.kind == "amount":
            for r in texts:
                r[i] = group_amount(r[i])
    natural = [max([_cell_len(c.name)] + [_cell_len(r[i]) for r in texts]) for i, c in enumerate(columns)]
    gap = 2
    if width is None or sum(natural) + gap * (len(columns) - 1) <= width:
        widths = natural
    else:
        least = [
            max(
                [max(_cell_len(w) for w in (c.name.split() or [""]))]
                + [max((_cell_len(w) for w in r[i].split()), default=0) for r in texts]
            )
            if c.kind == "text"
            else natural[i]
            for i, c in enumerate(columns)
        ]
        spare = width - sum(least) - gap * (len(columns) - 1)
        if spare < 0:
            return _blocks(columns, texts, styles, width)
        widths = list(least)
        for i, column in enumerate(columns):  # text columns grow back towards their natural width
            if column.kind == "text" and spare > 0:
                grow = min(spare, natural[i] - least[i])
                widths[i] += grow
                spare -= grow
    lines: list[list[tuple[str, str]]] = []
    header = [_fold(c.name, widths[i]) if c.kind == "text" else [c.name] for i, c in enumerate(columns)]
    lines += _join_cells(columns, header, ["bold"] * len(columns), widths, gap)
    for row, row_styles in zip(texts, styles):
        cells = [_fold(text, widths[i]) if columns[i].kind == "text" else [text] for i, text in enumerate(row)]
        lines += _join_cells(columns, cells, row_styles, widths, gap)
    return lines


def _join_cells(columns, cells: list[list[str]], styles: list[str], widths: list[int], gap: int):
    height = max(len(c) for c in cells)
    out = []
    for n in range(height):
        segments = []
        for i, column in enumerate(columns):
            text = cells[i][n] if n < len(cells[i]) else ""
            pad = widths[i] - _cell_len(text)
            right = column.kind == "amount"
            if i:
                segments.append((" " * gap, ""))
            if right:
                segments.append((" " * pad, ""))
            segments.append((text, styles[i] if text else ""))
            if not right and i < len(columns) - 1:
                segments.append((" " * pad, ""))
        out.append(segments)
    return out


def _blocks(columns, texts, styles, width: int) -> list[list[tuple[str, str]]]:
    """One record per block: `name  value` lines, a blank line between records."""
    label = max(_cell_len(c.name) for c in columns) + 2
    lines: list[list[tuple[str, str]]] = []
    for r, (row, row_styles) in enumerate(zip(texts, styles)):
        if r:
            lines.append([])
        for column, text, style in zip(columns, row, row_styles):
            values = _fold(text, max(width - label, 20)) if column.kind == "text" else [text]
            for n, value in enumerate(values):
                name = column.name if n == 0 else ""
                lines.append([(name.ljust(label), "bold" if name else ""), (value, style)])
    return lines


def print_wrapped(text: str, *, first: str = "  ", rest: str = "    ", style: str = "", out=None) -> None:
    """A line of prose folded on whole words to the terminal (amounts and hashes are words: never cut);
    `first` starts it (rich markup allowed), `rest` indents what follows. Piped: one line."""
    out = out or console()
    width = terminal_width()
    lead = len(plain_text(first))
    lines = [text] if width is None else _fold(text, max(width - max(lead, len(rest)), 20))
    for n, line in enumerate(lines):
        body = f"[{style}]{terminal_text(line)}[/]" if style else terminal_text(line)
        out.print((first if n == 0 else rest) + body)


def print_table(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], *, title: str | None = None, out=None
) -> None:
    out = out or console()
    if title:
        out.print(f"[bold]{terminal_text(title)}[/]")
    for line in table_lines(columns, rows, terminal_width()):
        markup = "".join(f"[{style}]{terminal_text(text)}[/]" if style else terminal_text(text) for text, style in line)
        out.print(markup.rstrip())


# --- verdicts ------------------------------------------------------------------------------------------


def emit_verdict(verdict: Verdict, *, as_json: bool, title: str, quiet: bool = False) -> int:
    """Prints a verdict (JSON on stdout, or a human summary) and returns the exit code."""
    state = verdict.state
    if as_json:
        write_json({"verified": verdict.verified, "state": state, "reasons": verdict.reasons, **verdict.facts})
        return 0 if verdict.verified else 1
    if quiet and verdict.verified:
        return 0
    out = console()
    facts = verdict.facts
    if state == "verified":
        out.print(f"[bold green]VERIFIED[/] {terminal_text(title)}")
    elif state == "self-consistent":
        out.print(f"[bold yellow]NOT VERIFIED: {SELF_CONSISTENT}[/] ({terminal_text(title)})")
        for reason in verdict.reasons:
            print_wrapped(reason.removeprefix(SELF_CONSISTENT + ": "), first="  [yellow]![/] ", out=out)
    else:
        out.print(f"[bold red]NOT VERIFIED[/] {terminal_text(title)}")
        for reason in verdict.reasons:
            print_wrapped(reason, first="  [red]✗[/] ", out=out)
    if quiet:
        return 1
    for key in ("account_id", "snapshot_id", "root", "leaf_count", "height", "signature"):
        if key in facts and facts[key] is not None:
            print_wrapped(str(facts[key]), first=f"  {key.replace('_', ' ')}: ", out=out)
    for key, label in (("balances", "balance"), ("totals", "total")):
        amounts = facts.get(key)
        if amounts:
            heading = label if verdict.verified else f"claimed {label} (unverified)"
            print_table(
                [Column("asset", "atom"), Column(heading, "amount")],
                [[str(asset), str(amount)] for asset, amount in amounts.items()],
                out=out,
            )
    for what in facts.get("checked", []):
        print_wrapped(what, first="  checked: ", out=out)
    for what in facts.get("not_checked", []):
        print_wrapped(what, first="  not checked: ", out=out)
    for note in facts.get("notes", []):
        print_wrapped(note, first="  [yellow]![/] ", out=out)
    return 0 if verdict.verified else 1


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# --- progress ------------------------------------------------------------------------------------------


def progress_shown(quiet: bool = False) -> bool:
    """Whether progress_bar will draw: worth a pass over the input for its total only then."""
    return not quiet and console(stderr=True).is_terminal


class Bar:
    """What progress_bar yields: `bar(n)` as work is done; `bar.expect(total)` once the total is known
    (a tree's records only after the book is read). Silent when the bar is not drawn."""

    def __init__(self, progress=None, task=None, total: int | None = None) -> None:
        self.progress, self.task, self.total, self.done = progress, task, total, 0

    def __call__(self, step: int) -> None:
        if self.progress is None:
            return
        self.done += step
        if self.total and self.done > self.total:  # a total that was an upper bound: grow, never overflow
            self.expect(self.done)
        self.progress.advance(self.task, step)

    def expect(self, total: int) -> None:
        if self.progress is not None:
            self.total = total
            self.progress.update(self.task, total=total)


@contextlib.contextmanager
def progress_bar(description: str, total: int | None, *, quiet: bool = False, unit: str = "") -> Iterator[Bar]:
    """A rich progress bar on stderr when it is a terminal; silent otherwise, or with --quiet.

    Without a total (yet) it counts (`12,345 rows`) instead of showing `12345/?`."""
    from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class Count(ProgressColumn):
        def render(self, task) -> Text:
            done = int(task.completed)
            return Text(f"{done:,}/{int(task.total):,}" if task.total else f"{done:,} {unit}")

    if not progress_shown(quiet):
        yield Bar()
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        Count(),
        TimeElapsedColumn(),
        console=rich_console(stderr=True),
        transient=True,
    ) as progress:
        yield Bar(progress, progress.add_task(description, total=total), total)
