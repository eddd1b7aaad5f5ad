"""Terminal and JSON output shared by the commands, and progress bars."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any, Callable, Iterator

from por.text import terminal_text
from por.verdict import SELF_CONSISTENT, Verdict


def console(*, stderr: bool = False, soft_wrap: bool = True, piped_width: int | None = None):
    """The one rich Console every command prints through. No highlighting: amounts and hashes are
    shown as they are. Piped output gets `piped_width` columns, room for whole amounts."""
    from rich.console import Console

    out = Console(stderr=stderr, highlight=False, soft_wrap=soft_wrap)
    if piped_width and not out.is_terminal:
        out = Console(stderr=stderr, highlight=False, soft_wrap=soft_wrap, width=piped_width)
    return out


def emit_verdict(verdict: Verdict, *, as_json: bool, title: str) -> int:
    """Prints a verdict (JSON on stdout, or a human summary) and returns the exit code."""
    state = verdict.state
    if as_json:
        doc = {"verified": verdict.verified, "state": state, "reasons": verdict.reasons, **_jsonable(verdict.facts)}
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return 0 if verdict.verified else 1
    from rich.table import Table

    out = console()
    facts = verdict.facts
    if state == "verified":
        out.print(f"[bold green]VERIFIED[/] {terminal_text(title)}")
    elif state == "self-consistent":
        out.print(f"[bold yellow]NOT VERIFIED: {SELF_CONSISTENT}[/] ({terminal_text(title)})")
        for reason in verdict.reasons:
            out.print(f"  [yellow]![/] {terminal_text(reason.removeprefix(SELF_CONSISTENT + ': '))}")
    else:
        out.print(f"[bold red]NOT VERIFIED[/] {terminal_text(title)}")
        for reason in verdict.reasons:
            out.print(f"  [red]✗[/] {terminal_text(reason)}")
    for key in ("account_id", "snapshot_id", "root", "leaf_count", "height", "signature"):
        if key in facts and facts[key] is not None:
            out.print(f"  {key.replace('_', ' ')}: {terminal_text(str(facts[key]))}")
    for key, label in (("balances", "balance"), ("totals", "total")):
        amounts = facts.get(key)
        if amounts:
            table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
            table.add_column("asset")
            table.add_column(label if verdict.verified else f"claimed {label} (unverified)", justify="right")
            for asset, amount in amounts.items():
                table.add_row(terminal_text(str(asset)), terminal_text(str(amount)))
            out.print(table)
    for what in facts.get("checked", []):
        out.print(f"  checked: {terminal_text(what)}")
    for what in facts.get("not_checked", []):
        out.print(f"  not checked: {terminal_text(what)}")
    for note in facts.get("notes", []):
        out.print(f"  [yellow]![/] {terminal_text(note)}")
    return 0 if verdict.verified else 1


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@contextlib.contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    err = console(stderr=True)
    if not err.is_terminal:
        yield lambda advance: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda advance: progress.advance(task, advance)
