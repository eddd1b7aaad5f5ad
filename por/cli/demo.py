"""`por demo`: the whole job on an embedded default, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Annotated[Path, typer.Option(help="Folder for everything the demo writes.")] = Path("demo-out"),
    accounts: Annotated[int, typer.Option(help="Sample customers to generate.")] = 1000,
    insolvent: Annotated[bool, typer.Option(help="Run the failing exchange instead.")] = False,
) -> int:
    """Sample exchange → publish → prove → verify-inclusion → verify-tree."""
    from fixtures.demo import run_demo

    return run_demo(out, accounts=accounts, insolvent=insolvent)
