"""`por demo`: the whole job on an embedded default, end to end."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from por.errors import InputError

# The demo's exchange, wallets and local chains are test tooling (fixtures/), kept in the source tree, not the wheel.
SOURCE_TREE = Path(__file__).resolve().parents[2]


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Annotated[Path, typer.Option(help="Folder for everything the demo writes.")] = Path("demo-out"),
    accounts: Annotated[int, typer.Option(help="Sample customers to generate.")] = 1000,
    insolvent: Annotated[bool, typer.Option(help="Run the failing exchange instead.")] = False,
) -> int:
    """Sample exchange → publish → prove → verify-inclusion → verify-tree."""
    if not (SOURCE_TREE / "fixtures" / "demo.py").is_file():
        raise InputError("`por demo` runs from a source checkout: it starts local hardhat and bcoin nodes from "
                         "fixtures/ (Node.js and npm needed); clone the repository and run `make demo`")
    if str(SOURCE_TREE) not in sys.path:
        sys.path.insert(0, str(SOURCE_TREE))
    from fixtures.demo import run_demo

    return run_demo(out, accounts=accounts, insolvent=insolvent)
