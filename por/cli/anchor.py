"""Anchoring on the command line: `por anchor DIR`, and the `--anchor` of publish, verify-inclusion
and history (docs/formats/anchor.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from por.cli import output
from por.errors import InputError

AnchorKey = Annotated[
    Optional[Path],
    typer.Option(
        "--anchor-key",
        metavar="FILE",
        help="Bitcoin anchors: the key of the chain's anchor_address (a file holding one key, hex or WIF).",
    ),
]
AnchorKeyEnv = Annotated[
    Optional[str],
    typer.Option(
        "--anchor-key-env", metavar="VARIABLE", help="Bitcoin anchors: an environment variable holding that key."
    ),
]


@dataclass(frozen=True)
class AnchorKeys:
    """The keys an anchor may be sent with: the backend of the chain says which one it takes."""

    sign_key: Path | None = None
    anchor_key: Path | None = None
    anchor_key_env: str | None = None

    def given(self, option: str) -> bool:
        if option == "--sign-key":
            return self.sign_key is not None
        return self.anchor_key is not None or self.anchor_key_env is not None

    def load(self, option: str) -> bytes:
        if option == "--sign-key":
            from por.signing import load_private_key

            assert self.sign_key is not None
            return load_private_key(self.sign_key)
        from por.reserves.sign import read_secrets

        files = [self.anchor_key] if self.anchor_key else []
        secrets = read_secrets(files, [self.anchor_key_env] if self.anchor_key_env else [])
        if len(secrets) != 1:
            raise InputError(f"expected one key (the anchor address's), got {len(secrets)}", field="--anchor-key")
        return secrets[0]


def register(app: typer.Typer, cls: type) -> None:
    app.command(
        "anchor", cls=cls, epilog="por anchor pub/2025-06 --chain ethereum --config chains.toml --sign-key key.hex"
    )(anchor)


def anchor(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="Publication folder written by `por publish`.")],
    chain: Annotated[
        str,
        typer.Option(
            "--chain", metavar="NAME", help="Chain of chains.toml set up for anchors (anchor_registry, anchor_address)."
        ),
    ],
    config: Annotated[Path, typer.Option(metavar="FILE", help="chains.toml.")],
    sign_key: Annotated[
        Optional[Path],
        typer.Option(
            metavar="FILE",
            help="EVM anchors: the key that signed the commitment (it pays for and sends the anchor transaction).",
        ),
    ] = None,
    anchor_key: AnchorKey = None,
    anchor_key_env: AnchorKeyEnv = None,
    quiet: output.Quiet = False,
) -> int:
    """Record a publication's commitment on chain (when `por publish --anchor` could not) and write anchor.json."""
    keys = AnchorKeys(sign_key, anchor_key, anchor_key_env)
    chains = check_publish_options(chain, config, keys)
    record_anchor(folder, chain, config, keys, quiet=quiet, chains=chains)
    return 0


def check_publish_options(chain: str | None, config: Path | None, keys: AnchorKeys):
    """`--anchor CHAIN --config FILE` and the key that chain takes, checked before any work; returns the chains."""
    if chain is None:
        if config is not None:
            raise InputError("--config is chains.toml for --anchor: give --anchor CHAIN too", field="--config")
        if keys.anchor_key is not None or keys.anchor_key_env is not None:
            raise InputError("--anchor-key is for --anchor CHAIN on a Bitcoin chain", field="--anchor-key")
        return None
    if config is None:
        raise InputError(
            "--anchor needs --config chains.toml (the chain's providers and its anchor setup)", field="--config"
        )
    from por.publication.anchor import key_option
    from por.reserves.inputs import load_chains_config

    chains = load_chains_config(config)
    option = key_option(chain, chains)
    if not keys.given(option):
        why = "the key that signs the commitment" if option == "--sign-key" else "the key of the anchor_address"
        raise InputError(f"anchoring on {chain} needs {option}: the anchor is sent by {why}", field=option)
    return chains


def record_anchor(
    folder: Path, chain: str, config: Path, keys: AnchorKeys, *, quiet: bool = False, chains=None
) -> None:
    from por.errors import ProviderError
    from por.publication.anchor import anchor_publication, key_option
    from por.reserves.inputs import load_chains_config

    chains = chains if chains is not None else load_chains_config(config)
    key = keys.load(key_option(chain, chains))
    hint = (
        f"the publication is written but not anchored: retry with `por anchor {folder} --chain {chain} "
        f"--config {config}` and the key"
    )
    try:
        anchor = anchor_publication(folder, chain, chains, key)
    except ProviderError as exc:
        raise ProviderError(exc.provider, f"{exc.reason}; {hint}", address=exc.address) from None
    except InputError as exc:
        raise InputError(f"{exc.reason}; {hint}", file=exc.file, line=exc.line, field=exc.field) from None
    if not quiet:
        where = f"registry {anchor['registry']}" if "registry" in anchor else f"from {anchor['address']}"
        print(
            f"anchored on {anchor['chain']}: transaction {anchor['transaction']}, block {anchor['block']} "
            f"({where}); wrote {folder / 'anchor.json'}"
        )


def verify_anchor(verdict, commitment: Path | None, doc: dict | None, config: Path | None, signer: str | None) -> None:
    """verify-inclusion --anchor: the pinned commitment is the one anchored for its period, and the only
    one; anchor.json beside it and the anchor the proof carries must each name one of its anchors."""
    from por.liabilities.folder import ANCHOR_FILE
    from por.liabilities.porjson import parse_commitment
    from por.publication.anchor import check_anchors, read_anchor_file
    from por.reserves.inputs import load_chains_config

    if commitment is None or doc is None:
        raise InputError("--anchor checks the commitment you hold: give --commitment", field="--anchor")
    if config is None:
        raise InputError("--anchor needs --config chains.toml (providers and anchor setup)", field="--config")
    chains = load_chains_config(config)
    claimed_file = (commitment if commitment.is_dir() else commitment.parent) / ANCHOR_FILE
    claims = [read_anchor_file(claimed_file)] if claimed_file.exists() else []
    carried = verdict.facts.get("anchor_claimed")
    if carried is not None and carried not in claims:
        claims.append(carried)
    snapshot_id = parse_commitment(doc, str(commitment)).snapshot_id
    result = check_anchors(doc, snapshot_id, chains, pinned=signer, claimed=claims)
    apply(verdict, result)


def apply(verdict, result) -> None:
    for problem in result.problems:
        verdict.fail(problem)
    for what in result.checked:
        verdict.checked(what)
    if result.records:
        verdict.facts["anchored_on_chain"] = [r.to_json() for r in result.records]
    verdict.facts.setdefault("notes", []).extend(result.notes)
