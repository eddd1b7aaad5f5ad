"""`por reserves`: what the exchange provably controls at the snapshot."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from por.cli import output
from por.cli.options import JsonOut, Quiet
from por.errors import InputError, UsageError


class WalletsFormat(str, enum.Enum):
    por = "por"
    okx = "okx"


def register(app: typer.Typer, cls: type) -> None:
    app.command(
        "reserves",
        cls=cls,
        epilog="por reserves wallets.csv --snapshot snapshot.json --config chains.toml "
        '--exchange "Example Exchange"\n\n'
        "por reserves okx_por_example.csv --format okx",
    )(reserves)


Wallets = Annotated[
    Path,
    typer.Argument(
        metavar="WALLETS", help="Declared wallets (CSV or JSON), or with --format okx OKX's published address file."
    ),
]
ReservesSnapshot = Annotated[
    Optional[Path],
    typer.Option(metavar="FILE", help="Snapshot file: per chain, height and block hash (required for --format por)."),
]
ReservesConfig = Annotated[
    Optional[Path],
    typer.Option(metavar="FILE", help="chains.toml: providers per chain (required for --format por)."),
]
ReservesExchange = Annotated[
    Optional[str],
    typer.Option(
        metavar="NAME",
        help="Exchange name bound into ownership messages: required unless the wallets file (JSON) names it.",
    ),
]
WalletsFormatOption = Annotated[
    WalletsFormat,
    typer.Option(
        "--format",
        metavar="por|okx",
        help="por: our wallets file "
        "(docs/formats/wallets.md); okx: OKX's address file, every "
        "row's signature checked offline.",
    ),
]
ReservesCustodians = Annotated[
    Optional[Path],
    typer.Option(
        metavar="FILE",
        help="Registry of custodians (CSV "
        "name,registration_number,registered_from,registered_until): "
        "wallets at a custodian not registered on the snapshot file's "
        "`time` are flagged and not counted.",
    ),
]


def reserves(
    wallets: Wallets,
    snapshot: ReservesSnapshot = None,
    config: ReservesConfig = None,
    exchange: ReservesExchange = None,
    format: WalletsFormatOption = WalletsFormat.por,
    custodians: ReservesCustodians = None,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> int:
    """Verify ownership proofs and read every declared address at the snapshot block."""
    import asyncio

    from por.cli.output import progress_bar
    from por.reserves.inputs import load_reserves_inputs
    from por.reserves.read import check_custodians, flag_duplicates, read_reserves

    if format == WalletsFormat.okx:
        if snapshot is not None or config is not None:
            raise InputError(
                "--format okx checks every row's ownership offline; reading OKX rows' balances at a "
                "snapshot is not supported yet: drop --snapshot and --config",
                field="--snapshot" if snapshot is not None else "--config",
            )
        return okx_reserves(wallets, json_out=json_out, quiet=quiet)
    if snapshot is None or config is None:
        missing = " and ".join(o for o, v in (("--snapshot", snapshot), ("--config", config)) if v is None)
        raise UsageError(
            f"missing option {missing} (required to read reserves; --format okx needs neither)", "por reserves"
        )
    declared, snap, chains, exchange = load_reserves_inputs(wallets, snapshot, config, exchange)
    registry = _custodian_registry(custodians, snap, snapshot)
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


def _custodian_registry(custodians: Optional[Path], snap, snapshot: Path):
    """--custodians, checked on the snapshot file's date (None without the option)."""
    from por.reserves.custodians import CustodianCheck, japan_date, load_custodians

    if custodians is None:
        return None
    if not snap.time:
        raise InputError(
            "custodian registrations are checked on the snapshot date: give `time` in the snapshot file",
            file=str(snapshot),
            field="time",
        )
    return CustodianCheck(load_custodians(custodians), japan_date(snap.time, "time"))


def print_reserves(report, *, quiet: bool = False) -> None:
    console = output.console()
    if not quiet:
        _print_reserve_tables(report, console)
    _print_ownership(report, console)


def _print_reserve_tables(report, console) -> None:
    """Every address read, then the proven reserves per asset."""
    from por.cli.output import Column, print_table

    doc = report.to_json()
    rows = []
    for row in doc["addresses"]:
        owner = {
            "verified": ("verified", "green"),
            "failed": ("not verified", "red"),
            "unsupported": ("unsupported", "yellow"),
        }[row["ownership"]["status"]]
        rows.append(
            [
                row["chain"],
                row["asset"],
                row["wallet_type"],
                row["address"],
                row["balance"] or "-",
                owner,
                "; ".join(row["flags"]),
            ]
        )
    print_table(
        [
            Column("chain", "atom"),
            Column("asset", "atom"),
            Column("type", "atom"),
            Column("address", "atom"),
            Column("balance", "amount"),
            Column("ownership"),
            Column("flags"),
        ],
        rows,
        title=f"Reserves of {report.exchange} at snapshot {report.snapshot.snapshot_id}",
        out=console,
    )
    console.print()
    print_table(
        [Column("asset", "atom"), *(Column(name, "amount") for name in ("cold", "hot", "own", "total"))],
        [[asset, v["cold"], v["hot"], v["own"], v["total"]] for asset, v in doc["assets"].items()],
        title="Proven reserves per asset",
        out=console,
    )
    console.print()


def _print_ownership(report, console) -> None:
    """The verdict on the ownership proofs: every failed and every unsupported address, and why."""
    if report.ok:
        console.print(
            "[bold green]ALL OWNERSHIP PROOFS VERIFIED[/]"
            if not report.unsupported
            else "[bold green]EVERY OWNERSHIP PROOF POR CAN CHECK VERIFIED[/]"
        )
    else:
        failed = [r for r in report.rows if not (r.ownership.ok or r.ownership.unsupported)]
        console.print(f"[bold red]{len(failed)} OWNERSHIP PROOF(S) FAILED[/]: those addresses are not counted")
        for r in failed:
            output.print_wrapped(
                f"{r.wallet.chain} {r.wallet.address} ({r.wallet.source}): {r.ownership.reason}",
                first="  [red]✗[/] ",
                out=console,
            )
    if report.unsupported:
        console.print(
            f"[bold yellow]{len(report.unsupported)} ADDRESS(ES) NOT COUNTED: UNSUPPORTED[/] "
            "(a kind por cannot check; not read)"
        )
        for r in report.unsupported:
            output.print_wrapped(
                f"{r.wallet.chain} {r.wallet.address} ({r.wallet.source}): {r.ownership.reason}",
                first="  [yellow]?[/] ",
                out=console,
            )


OKX_STYLES = {
    "verified": "green",
    "owner-verified": "yellow",
    "not checked": "yellow",
    "unsupported": "yellow",
    "failed": "red",
}


def _print_okx_tables(report, path: Path, console) -> None:
    """Every row of OKX's address file and its status, then the file's summary beside its rows."""
    from por.cli.output import Column, print_table

    print_table(
        [
            Column("line", "amount"),
            Column("coin", "atom"),
            Column("type", "atom"),
            Column("address", "atom"),
            Column("amount", "amount"),
            Column("status"),
            Column("why"),
        ],
        [
            [
                str(v.row.line),
                v.row.coin,
                v.row.type or "-",
                v.row.address,
                v.row.amount,
                (v.status, OKX_STYLES[v.status]),
                v.reason,
            ]
            for v in report.verdicts
        ],
        title=f"OKX address file {path.name}: ownership of every row, checked offline",
        out=console,
    )
    console.print()
    print_table(
        [
            Column("summary coin", "atom"),
            Column("height", "atom"),
            Column("summary amount", "amount"),
            Column("rows", "amount"),
            Column("rows' amount", "amount"),
        ],
        [
            [t["coin"], t["snapshot_height"], t["summary_amount"], str(t["rows"]), t["rows_amount"]]
            for t in report.totals()
        ],
        title="The file's summary beside its rows (information: a sample need not add up)",
        out=console,
    )
    console.print()


def okx_reserves(path: Path, *, json_out: bool, quiet: bool) -> int:
    """OKX's address file: each row's status, the summary beside the rows, exit 1 if any row failed."""
    from por.reserves.okx_addresses import check_okx_file

    report = check_okx_file(path)
    if json_out:
        output.write_json(report.to_json())
        return 0 if report.ok else 1
    if quiet and report.ok:
        return 0
    console = output.console()
    _print_okx_tables(report, path, console)
    counts = report.counts()
    for message in sorted({v.row.message for v in report.verdicts}):
        output.print_wrapped(
            f"every row signs {message!r}: it names no snapshot or period, so a signature made "
            "for another period verifies just as well",
            first="  [yellow]note[/] ",
            out=console,
        )
    line = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    if report.ok:
        console.print(f"[bold green]NO ROW FAILED[/] ({line}); only 'verified' rows are proven by signature alone")
    else:
        console.print(f"[bold red]{counts['failed']} ROW(S) FAILED[/] ({line})")
    return 0 if report.ok else 1
