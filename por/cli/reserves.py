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
        "por reserves okx_por_example.csv --format okx\n\n"
        "por reserves okx_por_example.csv --format okx --snapshot snapshot.json --config chains.toml "
        "--okx-chain ETH=ethereum",
    )(reserves)


WalletsArg = Annotated[
    Path,
    typer.Argument(
        metavar="WALLETS", help="Declared wallets (CSV or JSON), or with --format okx OKX's published address file."
    ),
]
SnapshotOpt = Annotated[
    Optional[Path],
    typer.Option(
        metavar="FILE",
        help="Snapshot file: per chain, height and block hash (required for --format por; "
        "with --format okx, balances are read at it).",
    ),
]
ConfigOpt = Annotated[
    Optional[Path],
    typer.Option(metavar="FILE", help="chains.toml: providers per chain (required with --snapshot)."),
]
ExchangeOpt = Annotated[
    Optional[str],
    typer.Option(
        metavar="NAME",
        help="Exchange name bound into ownership messages: required unless the wallets file (JSON) names it.",
    ),
]
FormatOpt = Annotated[
    WalletsFormat,
    typer.Option(
        "--format",
        metavar="por|okx",
        help="por: our wallets file (docs/formats/wallets.md); okx: OKX's address file, every row's "
        "signature checked offline (and with --snapshot/--config every row's balance read).",
    ),
]
CustodiansOpt = Annotated[
    Optional[Path],
    typer.Option(
        metavar="FILE",
        help="Registry of custodians (CSV "
        "name,registration_number,registered_from,registered_until): "
        "wallets at a custodian not registered on the snapshot file's "
        "`time` are flagged and not counted.",
    ),
]
CustodySystemsOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--custody-systems",
        metavar="FILE",
        help="Custody-system providers' notifications (CSV "
        "name,notification_number,notified_from,notified_until): "
        "wallets run on a provider not notified on the snapshot file's "
        "`time` are flagged and not counted.",
    ),
]
OkxChainOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        "--okx-chain",
        metavar="NETWORK=CHAIN",
        help="With --format okx --snapshot: read OKX's rows of NETWORK (its Network column; the coin in "
        "its 2023 layout) on chains.toml's CHAIN, e.g. ETH=ethereum. Repeatable; default: the chain named "
        "like the network.",
    ),
]


def reserves(
    wallets: WalletsArg,
    snapshot: SnapshotOpt = None,
    config: ConfigOpt = None,
    exchange: ExchangeOpt = None,
    format: FormatOpt = WalletsFormat.por,
    custodians: CustodiansOpt = None,
    custody_systems: CustodySystemsOpt = None,
    okx_chain: OkxChainOpt = None,
    json_out: JsonOut = False,
    quiet: Quiet = False,
) -> int:
    """Verify ownership proofs and read every declared address at the snapshot block."""
    if format == WalletsFormat.okx:
        given = [o for o, v in (("--exchange", exchange), ("--custodians", custodians)) if v is not None]
        given += ["--custody-systems"] if custody_systems is not None else []
        if given:
            raise InputError(
                "--format okx takes neither --exchange (OKX's rows sign a fixed text that names no exchange) "
                "nor --custodians/--custody-systems (OKX's file names no custodian): drop it",
                field=given[0],
            )
        if (snapshot is None) != (config is None):
            missing = "--config" if config is None else "--snapshot"
            raise UsageError(
                f"missing option {missing} (--format okx reads balances with both, or neither)", "por reserves"
            )
        if snapshot is None or config is None:
            if okx_chain:
                raise InputError("--okx-chain needs --snapshot and --config", field="--okx-chain")
            return okx_reserves(wallets, json_out=json_out, quiet=quiet)
        return okx_reserves_at(wallets, snapshot, config, okx_networks(okx_chain), json_out=json_out, quiet=quiet)
    if snapshot is None or config is None:
        missing = " and ".join(o for o, v in (("--snapshot", snapshot), ("--config", config)) if v is None)
        raise UsageError(
            f"missing option {missing} (required to read reserves; --format okx needs neither)", "por reserves"
        )
    return por_reserves(
        wallets, snapshot, config, exchange, (custodians, custody_systems), json_out=json_out, quiet=quiet
    )


def por_reserves(
    wallets: Path,
    snapshot: Path,
    config: Path,
    exchange: str | None,
    lists: tuple[Path | None, Path | None],
    *,
    json_out: bool,
    quiet: bool,
) -> int:
    """Our wallets file: every proof checked, every balance read at the snapshot, what counts."""
    import asyncio

    from por.cli.output import progress_bar
    from por.reserves.inputs import load_reserves_inputs
    from por.reserves.read import check_custodians, flag_duplicates, read_reserves

    declared, snap, chains, exchange = load_reserves_inputs(wallets, snapshot, config, exchange)
    registry = _custodian_registry(lists, snap, snapshot)
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


def _custodian_registry(lists: tuple[Path | None, Path | None], snap, snapshot: Path):
    """--custodians and --custody-systems, checked on the snapshot file's date (None without either)."""
    from por.reserves.custodians import CustodianCheck, japan_date, load_custodians, load_custody_systems

    custodians, systems = lists
    if custodians is None and systems is None:
        return None
    if not snap.time:
        raise InputError(
            "custodian registrations and providers' notifications are checked on the snapshot date: give `time` "
            "in the snapshot file",
            file=str(snapshot),
            field="time",
        )
    return CustodianCheck(
        None if custodians is None else load_custodians(custodians),
        japan_date(snap.time, "time"),
        None if systems is None else load_custody_systems(systems),
    )


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


def okx_networks(pairs: list[str] | None) -> dict[str, str]:
    """`--okx-chain NETWORK=CHAIN`, each given once: OKX's network (any case) -> a chains.toml chain."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        network, sep, chain = pair.partition("=")
        if not sep or not network.strip() or not chain.strip():
            raise InputError(f"{pair!r} is not NETWORK=CHAIN (e.g. ETH=ethereum)", field="--okx-chain")
        if network.strip().upper() in out:
            raise InputError(f"network {network.strip()} is mapped twice", field="--okx-chain")
        out[network.strip().upper()] = chain.strip()
    return out


def okx_reserves(path: Path, *, json_out: bool, quiet: bool) -> int:
    """OKX's address file offline: each row's status, the summary beside the rows, exit 1 if any row failed."""
    from por.reserves.okx_addresses import check_okx_file

    report = check_okx_file(path)
    return show_okx(path, report, None, json_out=json_out, quiet=quiet)


def okx_reserves_at(
    path: Path, snapshot: Path, config: Path, networks: dict[str, str], *, json_out: bool, quiet: bool
) -> int:
    """OKX's address file with every row a configured chain reads, at the snapshot; exit 1 if any row failed."""
    import asyncio

    from por.reserves.inputs import load_chains_config, load_snapshot
    from por.reserves.okx_addresses import check_okx_file
    from por.reserves.okx_reserves import read_okx

    report = check_okx_file(path)
    snap, chains = load_snapshot(snapshot), load_chains_config(config)
    at = asyncio.run(read_okx(report, snap, chains, networks))
    return show_okx(path, report, at, json_out=json_out, quiet=quiet)


def show_okx(path: Path, report, at, *, json_out: bool, quiet: bool) -> int:
    """Prints (or writes as JSON) the offline report and, when read at a snapshot, the balances."""
    code = 0 if report.ok else 1
    if json_out:
        output.write_json((at or report).to_json())
        return code
    if quiet and report.ok:
        return code
    console = output.console()
    print_okx_rows(path, report, at, console)
    print_okx_summary(report, at, console)
    counts = report.counts()
    for message in sorted({v.row.message for v in report.verdicts}):
        output.print_wrapped(
            f"every row signs {message!r}: it names no snapshot or period, so a signature made "
            "for another period verifies just as well",
            first="  [yellow]note[/] ",
            out=console,
        )
    line = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    if at is not None:
        read = sum(1 for r in at.readings if r.reserve is not None)
        line += f"; {read} read at snapshot {at.snapshot.snapshot_id}, {sum(r.counted for r in at.readings)} counted"
    if report.ok:
        console.print(f"[bold green]NO ROW FAILED[/] ({line}); only 'verified' rows are proven by signature alone")
    else:
        console.print(f"[bold red]{counts['failed']} ROW(S) FAILED[/] ({line})")
    return code


def print_okx_rows(path: Path, report, at, console) -> None:
    from por.cli.output import Column, print_table

    columns = [Column("line", "amount"), Column("coin", "atom"), Column("type", "atom"), Column("address", "atom")]
    columns += [Column("amount", "amount"), Column("status"), Column("why")]
    rows = [
        [str(v.row.line), v.row.coin, v.row.type or "-", v.row.address, v.row.amount, (v.status, OKX_STYLES[v.status])]
        + [v.reason]
        for v in report.verdicts
    ]
    title = f"OKX address file {path.name}: ownership of every row, checked offline"
    if at is not None:
        columns[5:5] = [Column("chain", "atom"), Column("balance", "amount"), Column("counted")]
        for row, reading in zip(rows, at.readings, strict=True):
            got = reading.to_json()
            counted = ("yes", "green") if got["counted"] else ("no", "yellow")
            row[5:5] = [got["chain"] or "-", got["balance"] or "-", counted]
            why = [got["why"]] if got["why"] and got["why"].rsplit(": ", 1)[-1] not in row[-1] else []
            row[-1] = "; ".join([row[-1], *why, *got["flags"]])
        title += f", balances at snapshot {at.snapshot.snapshot_id}"
    print_table(columns, rows, title=title, out=console)
    console.print()


def print_okx_summary(report, at, console) -> None:
    from por.cli.output import Column, print_table

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
    if at is not None:
        assets = at.to_json()["assets"]
        print_table(
            [Column("asset", "atom"), Column("rows counted", "amount"), Column("total at the snapshot", "amount")],
            [[asset, str(v["rows"]), v["total"]] for asset, v in assets.items()],
            title="Proven reserves per asset (verified rows only; OKX does not say hot or cold)",
            out=console,
        )
        console.print()
