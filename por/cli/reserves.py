"""`por reserves`: what the exchange provably controls at the snapshot."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from por.cli import output
from por.text import terminal_text


def register(app: typer.Typer) -> None:
    app.command("reserves")(reserves)


def reserves(
    wallets: Annotated[Path, typer.Argument(help="Declared wallets (CSV or JSON).")],
    snapshot: Annotated[Path, typer.Option(help="Snapshot file: per chain, height and block hash.")],
    config: Annotated[Path, typer.Option(help="chains.toml: providers per chain.")],
    exchange: Annotated[Optional[str], typer.Option(help="Exchange name bound into ownership messages.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> int:
    """Verify ownership proofs and read every declared address at the snapshot block."""
    import asyncio

    from por.cli.output import progress_bar
    from por.reserves.inputs import load_reserves_inputs
    from por.reserves.read import flag_duplicates, read_reserves

    declared, snap, chains, exchange = load_reserves_inputs(wallets, snapshot, config, exchange)
    with progress_bar("reading reserves", len(declared)) as advance:
        report = asyncio.run(read_reserves(declared, snap, chains, exchange, progress=advance))
    flag_duplicates(report.rows)
    if json_out:
        sys.stdout.write(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        print_reserves(report)
    return 0 if report.ok else 1


def print_reserves(report) -> None:
    from rich.table import Table

    console = output.console()
    doc = report.to_json()
    table = Table(title=f"Reserves of {terminal_text(report.exchange)} at snapshot {terminal_text(report.snapshot.snapshot_id)}")
    for column in ("chain", "asset", "type", "address", "balance", "ownership"):
        table.add_column(column, justify="right" if column == "balance" else "left")
    for row in doc["addresses"]:
        owner = "[green]verified[/]" if row["ownership"]["verified"] else f"[red]{terminal_text(row['ownership']['reason'])}[/]"
        flags = "".join(f"\n[yellow]{terminal_text(f)}[/]" for f in row["flags"])
        table.add_row(terminal_text(row["chain"]), terminal_text(row["asset"]), row["wallet_type"], terminal_text(row["address"]),
                      row["balance"] or "-", owner + flags)
    console.print(table)
    totals = Table(title="Proven reserves per asset")
    for column in ("asset", "cold", "hot", "own", "total"):
        totals.add_column(column, justify="left" if column == "asset" else "right")
    for asset, values in doc["assets"].items():
        totals.add_row(terminal_text(asset), values["cold"], values["hot"], values["own"], values["total"])
    console.print(totals)
    if report.ok:
        console.print("[bold green]ALL OWNERSHIP PROOFS VERIFIED[/]")
    else:
        failed = [r for r in report.rows if not r.ownership.ok]
        console.print(f"[bold red]{len(failed)} OWNERSHIP PROOF(S) FAILED[/]: those addresses are not counted")
        for r in failed:   # one unwrapped line each: table cells wrap long reasons
            console.print(f"  [red]✗[/] {terminal_text(r.wallet.chain)} {terminal_text(r.wallet.address)} "
                          f"({terminal_text(r.wallet.source)}): {terminal_text(r.ownership.reason)}")
