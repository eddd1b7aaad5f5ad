"""The exchange's reserves tooling: `por snapshot` (the block per chain for a time) and
`por sign-wallets` (ownership proofs from keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from por.cli import output


def register(app: typer.Typer, cls: type) -> None:
    app.command(
        "snapshot", cls=cls, epilog="por snapshot --at 2025-06-30T00:00:00Z --config chains.toml --out snapshot.json"
    )(snapshot)
    app.command(
        "sign-wallets",
        cls=cls,
        epilog="por sign-wallets declared.csv --snapshot snapshot.json "
        '--config chains.toml --exchange "Example Exchange" '
        "--keys keys.txt --out wallets.json",
    )(sign_wallets)


def _write(doc: dict, out: Path | None) -> None:
    import json

    from por.atomic import check_output_file, write_text

    if out is None:
        output.write_json(doc)
        return
    check_output_file(out)
    write_text(out, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def snapshot(
    at: Annotated[
        str,
        typer.Option(
            "--at",
            metavar="TIME",
            help="Snapshot time, UTC (2025-06-30T00:00:00Z): "
            "per chain the last block at or before it (EVM: timestamp; Bitcoin: "
            "median-time-past).",
        ),
    ],
    config: Annotated[
        Path, typer.Option(metavar="FILE", help="chains.toml: every provider of a chain is asked and must agree.")
    ],
    snapshot_id: Annotated[
        Optional[str],
        typer.Option("--id", metavar="ID", help="Snapshot id bound into ownership messages (default: the time)."),
    ] = None,
    chain: Annotated[
        Optional[list[str]],
        typer.Option("--chain", metavar="NAME", help="Only these chains (default: all in chains.toml)."),
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", metavar="FILE", help="Write the snapshot file here (default: standard output)."),
    ] = None,
    quiet: output.Quiet = False,
) -> int:
    """Find the snapshot block of every chain for a time and write the snapshot file."""
    import asyncio

    from por.reserves.at_time import snapshot_at
    from por.reserves.inputs import load_chains_config

    if snapshot_id is not None and not 0 < len(snapshot_id) <= 200:
        from por.errors import InputError

        raise InputError("must be 1 to 200 characters", field="--id")
    chains = load_chains_config(config)
    doc = asyncio.run(snapshot_at(at, chains, snapshot_id=snapshot_id, only=chain))
    _write(doc, out)
    if out is not None and not quiet:
        for name, entry in doc["chains"].items():
            output.console(stderr=True).print(
                f"{name}: height {entry['height']} {entry['block_hash']} ({entry['time']})", markup=False
            )
    return 0


def sign_wallets(
    declaration: Annotated[
        Path,
        typer.Argument(
            metavar="DECLARATION",
            help="Addresses to prove (CSV or JSON): chain,asset,address,wallet_type,scheme[,script,signers].",
        ),
    ],
    snapshot_file: Annotated[
        Path, typer.Option("--snapshot", metavar="FILE", help="Snapshot file: its snapshot_id goes into every message.")
    ],
    config: Annotated[
        Path, typer.Option(metavar="FILE", help="chains.toml: each chain's family (and chain id, network).")
    ],
    exchange: Annotated[str, typer.Option(metavar="NAME", help="Exchange name bound into every message.")],
    keys: Annotated[
        Optional[list[Path]], typer.Option("--keys", metavar="FILE", help="Private keys, one a line (hex or WIF).")
    ] = None,
    keys_env: Annotated[
        Optional[list[str]],
        typer.Option(
            "--keys-env", metavar="VARIABLE", help="Environment variable holding keys (whitespace-separated)."
        ),
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", metavar="FILE", help="Write the wallets file here (default: standard output)."),
    ] = None,
) -> int:
    """Sign every declared address with the keys behind it: the wallets file `por reserves` verifies."""
    from por.errors import InputError
    from por.reserves.inputs import load_chains_config, load_snapshot
    from por.reserves.sign import read_declaration, read_secrets, sign_wallets

    if not exchange.strip() or len(exchange) > 200:
        raise InputError("must be 1 to 200 characters", field="--exchange")
    rows = read_declaration(declaration)
    snap = load_snapshot(snapshot_file)
    chains = load_chains_config(config)
    secrets = read_secrets(list(keys or []), list(keys_env or []))
    _write(sign_wallets(rows, secrets, chains, exchange=exchange, snapshot_id=snap.snapshot_id), out)
    return 0
