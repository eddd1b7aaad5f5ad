"""`por demo`: the whole job on an embedded default, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from por.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Annotated[Path, typer.Option(help="Folder for everything the demo writes.")] = Path("demo-out"),
    accounts: Annotated[int, typer.Option(help="Sample customers to generate.")] = 1000,
    insolvent: Annotated[bool, typer.Option(help="Run the failing exchange instead.")] = False,
) -> int:
    """Sample exchange → publish → prove → verify-inclusion → verify-tree."""
    try:
        from fixtures.demo import run_demo  # the demo's local chains live in the source tree, not in the wheel
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("fixtures"):
            raise
        raise InputError("`por demo` runs from a source checkout: it starts local hardhat and bcoin nodes from "
                         "fixtures/ (Node.js and npm needed); clone the repository and run `make demo`") from None
    return run_demo(out, accounts=accounts, insolvent=insolvent)
