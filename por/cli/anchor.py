"""Anchoring on the command line: `por anchor DIR`, and the `--anchor` of publish, verify-inclusion
and history (docs/formats/anchor.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from por.cli import output
from por.errors import InputError


def register(app: typer.Typer, cls: type) -> None:
    app.command(
        "anchor", cls=cls, epilog="por anchor pub/2025-06 --chain ethereum --config chains.toml --sign-key key.hex"
    )(anchor)


def anchor(
    folder: Annotated[
        Path, typer.Argument(metavar="DIR", help="Publication folder written by `por publish`, its commitment signed.")
    ],
    chain: Annotated[
        str, typer.Option("--chain", metavar="NAME", help="EVM chain of chains.toml with an anchor_registry.")
    ],
    config: Annotated[Path, typer.Option(metavar="FILE", help="chains.toml.")],
    sign_key: Annotated[
        Path,
        typer.Option(
            metavar="FILE", help="The key that signed the commitment (it pays for and sends the anchor transaction)."
        ),
    ],
    quiet: output.Quiet = False,
) -> int:
    """Record a publication's commitment on chain (when `por publish --anchor` could not) and write anchor.json."""
    record_anchor(folder, chain, config, sign_key, quiet=quiet)
    return 0


def check_publish_options(chain: str | None, config: Path | None, sign_key: Path | None):
    """`publish --anchor CHAIN --config FILE` checked before any work; returns the chains table (or None)."""
    if chain is None:
        if config is not None:
            raise InputError("--config is chains.toml for --anchor: give --anchor CHAIN too", field="--config")
        return None
    if config is None:
        raise InputError(
            "--anchor needs --config chains.toml (the chain's providers and anchor_registry)", field="--config"
        )
    if sign_key is None:
        raise InputError(
            "--anchor needs --sign-key: the anchor is sent by the key that signs the commitment", field="--sign-key"
        )
    from por.publication.anchor import anchor_chains
    from por.reserves.inputs import load_chains_config

    chains = load_chains_config(config)
    anchor_chains(chains, chain)
    return chains


def record_anchor(folder: Path, chain: str, config: Path, sign_key: Path, *, quiet: bool = False, chains=None) -> None:
    from por.errors import ProviderError
    from por.publication.anchor import anchor_publication
    from por.reserves.inputs import load_chains_config
    from por.signing import load_private_key

    chains = chains if chains is not None else load_chains_config(config)
    key = load_private_key(sign_key)
    hint = (
        f"the publication is written but not anchored: retry with `por anchor {folder} --chain {chain} "
        f"--config {config} --sign-key FILE`"
    )
    try:
        record = anchor_publication(folder, chain, chains, key)
    except ProviderError as exc:
        raise ProviderError(exc.provider, f"{exc.reason}; {hint}", address=exc.address) from None
    except InputError as exc:
        raise InputError(f"{exc.reason}; {hint}", file=exc.file, line=exc.line, field=exc.field) from None
    if not quiet:
        print(
            f"anchored on {record.chain}: transaction {record.transaction}, block {record.block} "
            f"(registry {record.registry}); wrote {folder / 'anchor.json'}"
        )


def verify_anchor(verdict, commitment: Path | None, doc: dict | None, config: Path | None, signer: str | None) -> None:
    """verify-inclusion --anchor: the pinned commitment is the one anchored for its period, and the only one."""
    from por.liabilities.folder import ANCHOR_FILE
    from por.liabilities.porjson import parse_commitment
    from por.publication.anchor import check_anchors, read_anchor_file
    from por.reserves.inputs import load_chains_config

    if commitment is None or doc is None:
        raise InputError("--anchor checks the commitment you hold: give --commitment", field="--anchor")
    if config is None:
        raise InputError("--anchor needs --config chains.toml (providers and anchor_registry)", field="--config")
    chains = load_chains_config(config)
    claimed_file = (commitment if commitment.is_dir() else commitment.parent) / ANCHOR_FILE
    claimed = read_anchor_file(claimed_file) if claimed_file.exists() else None
    snapshot_id = parse_commitment(doc, str(commitment)).snapshot_id
    result = check_anchors(doc, snapshot_id, chains, pinned=signer, claimed=claimed)
    apply(verdict, result)


def apply(verdict, result) -> None:
    for problem in result.problems:
        verdict.fail(problem)
    for what in result.checked:
        verdict.checked(what)
    if result.records:
        verdict.facts["anchored_on_chain"] = [r.to_json() for r in result.records]
    verdict.facts.setdefault("notes", []).extend(result.notes)
