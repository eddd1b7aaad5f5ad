"""Anchoring: one commitment per period, recorded where every customer can read the same thing.

An exchange could show different commitments to different customers; each would verify alone.
`por publish --anchor CHAIN` (or `por anchor DIR`) records the commitment's digest (SHA-256 of
its canonical JSON, docs/formats/signing.md: for a signed commitment, `signature.digest`) in the
registry contract on an EVM chain, sent by the key that signs the commitment, and writes
`anchor.json` beside it. `check_anchors` reads every anchor of that signer for that snapshot id
from every provider: the customer's commitment must be the one anchored, and there must be no
second, different one (docs/formats/anchor.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chains.base import ChainConfig
from chains.evm_anchor import AnchorRecord, find_anchors, send_anchor
from por.atomic import write_text
from por.errors import InputError
from por.liabilities.folder import ANCHOR_FILE
from por.publication.attestation import embed_anchor, read_commitment
from por.signing import address_of, digest_hex
from por.strictjson import Fields, load_file

ANCHOR_FORMAT = "por-anchor"


def anchor_chains(chains: Mapping[str, ChainConfig], only: str | None = None) -> list[str]:
    """The chains of chains.toml an anchor is recorded on or looked up in (EVM, with `anchor_registry`)."""
    if only is not None:
        config = chains.get(only)
        if config is None:
            raise InputError(f"chain {only!r} is not configured in chains.toml", field="--anchor")
        if config.get("family") != "evm" or "anchor_registry" not in config:
            raise InputError(f"chain {only!r} has no anchor_registry (anchoring is on EVM chains)", field="--anchor")
        return [only]
    names = [n for n, c in chains.items() if c.get("family") == "evm" and "anchor_registry" in c]
    if not names:
        raise InputError("no chain in chains.toml has an anchor_registry to look anchors up in", field="--config")
    return names


def anchor_publication(folder: Path, chain: str, chains: Mapping[str, ChainConfig], key: bytes) -> AnchorRecord:
    """Records the folder's commitment on `chain` from `key` (its signer) and writes anchor.json."""
    _, _, doc, commitment = read_commitment(folder)
    signer = (doc.get("signature") or {}).get("signer") if isinstance(doc.get("signature"), dict) else None
    if signer is None or signer.lower() != address_of(key).lower():
        raise InputError(
            "the commitment must be signed by the anchoring key (the anchor is looked up under the "
            "signer's address): publish with --sign-key",
            field="--sign-key",
        )
    anchor_chains(chains, chain)
    digest = digest_hex(doc)
    record = asyncio.run(send_anchor(chain, chains[chain], key, commitment.snapshot_id, bytes.fromhex(digest)))
    anchor = {"format": ANCHOR_FORMAT, "version": 1, **record.to_json()}
    write_text(folder / ANCHOR_FILE, json.dumps(anchor, indent=2) + "\n")
    embed_anchor(folder, anchor)  # the customers' page shows it, the manifest follows the page
    return record


def read_anchor_file(path: Path) -> dict[str, Any]:
    """anchor.json: what the exchange says it recorded (a claim: `check_anchors` reads the chain)."""
    f = Fields(load_file(path), str(path))
    f.only(
        "format",
        "version",
        "chain",
        "registry",
        "exchange",
        "snapshot_id",
        "digest",
        "transaction",
        "block",
        "block_hash",
    )
    return {k: f.data[k] for k in f.data}


@dataclass
class AnchorCheck:
    """What reading the anchors found: `problems` fail the verification, `checked` say what held."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    records: list[AnchorRecord] = field(default_factory=list)


def check_anchors(
    doc: dict[str, Any],
    snapshot_id: str,
    chains: Mapping[str, ChainConfig],
    *,
    pinned: str | None = None,
    claimed: dict[str, Any] | None = None,
) -> AnchorCheck:
    """This commitment is the one anchored for its period, and no other is (every chain with a registry)."""
    result = AnchorCheck()
    signature = doc.get("signature")
    signer = signature.get("signer") if isinstance(signature, dict) else None
    if not isinstance(signer, str):
        result.problems.append(
            "anchor: the commitment is not signed, so there is no exchange address to look its anchor up under"
        )
        return result
    exchange = pinned or signer
    if pinned is None:
        result.notes.append(
            f"anchor looked up under the signer the commitment names ({signer}); pin the "
            "exchange's key with --signer so that it is the exchange's own"
        )
    digest = digest_hex(doc)
    names = anchor_chains(chains, claimed.get("chain") if claimed else None)
    found = asyncio.run(_find_all(names, chains, exchange, snapshot_id))
    result.records = [r for records in found for r in records]
    others = sorted({r.digest for r in result.records} - {digest})
    if not result.records:
        result.problems.append(
            f"anchor: no commitment is anchored for snapshot {snapshot_id!r} by {exchange} on {', '.join(names)}"
        )
    if others:
        where = "; ".join(
            f"{r.digest} in {r.transaction} (block {r.block} on {r.chain})"
            for r in result.records
            if r.digest != digest
        )
        result.problems.append(
            f"anchor: {len(others) + (digest in {r.digest for r in result.records})} different "
            f"commitments are anchored for snapshot {snapshot_id!r} by {exchange}: {where}"
            f"{'' if digest in {r.digest for r in result.records} else ', not this one'}"
        )
    mine = [r for r in result.records if r.digest == digest]
    if mine and not others:
        first = min(mine, key=lambda r: r.block)
        result.checked.append(
            f"the commitment is the one anchored for snapshot {snapshot_id!r}, and the only one "
            f"(transaction {first.transaction}, block {first.block} on {first.chain})"
        )
    if claimed is not None and not any(
        r.transaction == str(claimed.get("transaction", "")).lower() and r.digest == digest for r in mine
    ):
        result.problems.append(
            f"anchor.json names transaction {str(claimed.get('transaction'))[:80]}, which "
            "records no anchor of this commitment"
        )
    return result


async def _find_all(
    names: list[str], chains: Mapping[str, ChainConfig], exchange: str, snapshot_id: str
) -> list[list[AnchorRecord]]:
    return list(await asyncio.gather(*(find_anchors(n, chains[n], exchange, snapshot_id) for n in names)))
