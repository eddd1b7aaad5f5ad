"""`por demo`: the whole job on an embedded default, end to end."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from por.errors import InputError

# The demo's exchange, wallets and local chains are test tooling (fixtures/), kept in the source tree, not the wheel.
SOURCE_TREE = Path(__file__).resolve().parents[2]


def register(app: typer.Typer, cls: type) -> None:
    app.command("demo", cls=cls, epilog="por demo --out demo-out --insolvent")(demo)


def demo(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Folder for everything the demo writes "
            "(a folder holding anything but an earlier demo's output is "
            "refused).",
        ),
    ] = Path("demo-out"),
    accounts: Annotated[int, typer.Option(metavar="N", help="Sample customers to generate.", min=1)] = 1000,
    insolvent: Annotated[bool, typer.Option("--insolvent", help="Run the failing exchange instead.")] = False,
) -> int:
    """Sample exchange → publish → prove → verify-inclusion → verify-tree."""
    if not (SOURCE_TREE / "fixtures" / "demo.py").is_file():
        raise InputError(
            "`por demo` runs from a source checkout: it starts local hardhat and bcoin nodes from "
            "fixtures/ (Node.js and npm needed); clone the repository and run `make demo`"
        )
    if str(SOURCE_TREE) not in sys.path:
        sys.path.insert(0, str(SOURCE_TREE))
    from fixtures.demo import run_demo

    return run_demo(out, accounts=accounts, insolvent=insolvent)
