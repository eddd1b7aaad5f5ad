"""`por reserves`: what the exchange provably controls at the snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from por.cli import output
from por.errors import InputError


def register(app: typer.Typer, cls: type) -> None:
    app.command("reserves", cls=cls, epilog="por reserves wallets.csv --snapshot snapshot.json --config chains.toml "
                                            "--exchange \"Example Exchange\"")(reserves)


def reserves(
    wallets: Annotated[Path, typer.Argument(metavar="WALLETS", help="Declared wallets (CSV or JSON).")],
    snapshot: Annotated[Path, typer.Option(metavar="FILE", help="Snapshot file: per chain, height and block "
                                           "hash.")],
    config: Annotated[Path, typer.Option(metavar="FILE", help="chains.toml: providers per chain.")],
    exchange: Annotated[Optional[str], typer.Option(metavar="NAME", help="Exchange name bound into ownership "
                                                    "messages: required unless the wallets file (JSON) names "
                                                    "it.")] = None,
    custodians: Annotated[Optional[Path], typer.Option(metavar="FILE", help="Registry of custodians (CSV "
                                                       "name,registration_number,registered_from,registered_until): "
                                                       "wallets at a custodian not registered on the snapshot file's "
                                                       "`time` are flagged and not counted.")] = None,
    json_out: output.JsonOut = False,
    quiet: output.Quiet = False,
) -> int:
    """Verify ownership proofs and read every declared address at the snapshot block."""
    import asyncio

    from por.cli.output import progress_bar
    from por.reserves.custodians import CustodianCheck, japan_date, load_custodians
    from por.reserves.inputs import load_reserves_inputs
    from por.reserves.read import check_custodians, flag_duplicates, read_reserves

    declared, snap, chains, exchange = load_reserves_inputs(wallets, snapshot, config, exchange)
    registry = None
    if custodians is not None:
        if not snap.time:
            raise InputError("custodian registrations are checked on the snapshot date: give `time` in the "
                             "snapshot file", file=str(snapshot), field="time")
        registry = CustodianCheck(load_custodians(custodians), japan_date(snap.time, "time"))
    with progress_bar("reading reserves", len(declared), quiet=quiet or json_out) as advance:
        report = asyncio.run(read_reserves(declared, snap, chains, exchange, progress=advance))
    flag_duplicates(report.rows)
    if registry is not None:
        check_custodians(report, registry)
    if json_out:
        output.write_json(report.to_json())
    elif not (quiet and report.ok):
        print_reserves(report, quiet=quiet)
    return 0 if report.ok else 1


def print_reserves(report, *, quiet: bool = False) -> None:
    from por.cli.output import Column, print_table

    console = output.console()
    doc = report.to_json()
    if not quiet:
        rows = []
        for row in doc["addresses"]:
            owner = ("verified", "green") if row["ownership"]["verified"] else ("not verified", "red")
            rows.append([row["chain"], row["asset"], row["wallet_type"], row["address"], row["balance"] or "-",
                         owner, "; ".join(row["flags"])])
        print_table([Column("chain", "atom"), Column("asset", "atom"), Column("type", "atom"),
                     Column("address", "atom"), Column("balance", "amount"), Column("ownership"),
                     Column("flags")], rows,
                    title=f"Reserves of {report.exchange} at snapshot {report.snapshot.snapshot_id}", out=console)
        console.print()
        print_table([Column("asset", "atom"), *(Column(name, "amount") for name in ("cold", "hot", "own", "total"))],
                    [[asset, v["cold"], v["hot"], v["own"], v["total"]] for asset, v in doc["assets"].items()],
                    title="Proven reserves per asset", out=console)
        console.print()
    if report.ok:
        console.print("[bold green]ALL OWNERSHIP PROOFS VERIFIED[/]")
    else:
        failed = [r for r in report.rows if not r.ownership.ok]
        console.print(f"[bold red]{len(failed)} OWNERSHIP PROOF(S) FAILED[/]: those addresses are not counted")
        for r in failed:
            output.print_wrapped(f"{r.wallet.chain} {r.wallet.address} ({r.wallet.source}): {r.ownership.reason}",
                                 first="  [red]✗[/] ", out=console)
