"""Anchoring: one commitment per period, recorded where every customer can read the same thing.

An exchange could show different commitments to different customers; each would verify alone.
`por publish --anchor CHAIN` (or `por anchor DIR`) records the commitment's digest (SHA-256 of
its canonical JSON, docs/formats/signing.md: for a signed commitment, `signature.digest`) through
the chain family's anchor backend (`chains.anchors`: the registry contract on EVM, sent by the key
that signs the commitment; an OP_RETURN spending from the declared anchor address on Bitcoin) and
writes `anchor.json` beside it. `check_anchors` reads every anchor of that exchange for that
snapshot id from every provider: the customer's commitment must be the one anchored, and there
must be no second, different one (docs/formats/anchor.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chains.anchors import AnchorBackend, AnchorRecord, anchor_backend
from chains.base import ChainConfig
from por.atomic import write_text
from por.errors import InputError
from por.liabilities.folder import ANCHOR_FILE
from por.liabilities.porjson import parse_anchor
from por.publication.attestation import embed_anchor, read_commitment
from por.signing import digest_hex
from por.strictjson import load_file

ANCHOR_FORMAT = "por-anchor"


def anchor_chains(chains: Mapping[str, ChainConfig], only: str | None = None) -> list[str]:
    """The chains of chains.toml an anchor is recorded on or looked up in: those whose family has an
    anchor backend and that are set up for it (EVM: `anchor_registry`; Bitcoin: `anchor_address`)."""
    if only is not None:
        config = chains.get(only)
        if config is None:
            raise InputError(f"chain {only!r} is not configured in chains.toml", field="--anchor")
        backend = anchor_backend(str(config.get("family")))
        if backend is None:
            raise InputError(
                f"chain {only!r} is of a family that cannot anchor (EVM and Bitcoin can)", field="--anchor"
            )
        reason = backend.missing(only, config)
        if reason is not None:
            raise InputError(f"chain {only!r} has {reason}", field="--anchor")
        return [only]
    names = [n for n, c in chains.items() if _ready(n, c)]
    if not names:
        raise InputError(
            "no chain in chains.toml is set up for anchors (an EVM anchor_registry or a Bitcoin anchor_address)",
            field="--config",
        )
    return names


def _ready(name: str, config: ChainConfig) -> bool:
    backend = anchor_backend(str(config.get("family")))
    return backend is not None and backend.missing(name, config) is None


def key_option(chain: str, chains: Mapping[str, ChainConfig]) -> str:
    """Which key sends an anchor on `chain`: `--sign-key` (EVM: the commitment's signer) or `--anchor-key`."""
    anchor_chains(chains, chain)
    return _backend(chains[chain]).KEY_OPTION


def _backend(config: ChainConfig) -> AnchorBackend:
    backend = anchor_backend(str(config.get("family")))
    assert backend is not None  # anchor_chains chose it
    return backend


def anchor_publication(folder: Path, chain: str, chains: Mapping[str, ChainConfig], key: bytes) -> dict[str, Any]:
    """Records the folder's commitment on `chain` with `key` and writes anchor.json; returns its content."""
    _, _, doc, commitment = read_commitment(folder)
    signature = doc.get("signature")
    signer = signature.get("signer") if isinstance(signature, dict) else None
    anchor_chains(chains, chain)
    backend = _backend(chains[chain])
    backend.check_key(chain, chains[chain], key, signer)
    digest = digest_hex(doc)
    record = asyncio.run(backend.send_anchor(chain, chains[chain], key, commitment.snapshot_id, bytes.fromhex(digest)))
    body = record.to_json()
    body.setdefault("exchange", commitment.exchange)  # Bitcoin: the commitment's name (EVM: the sender)
    anchor = {"format": ANCHOR_FORMAT, "version": 1, **body}
    write_text(folder / ANCHOR_FILE, json.dumps(anchor, indent=2) + "\n")
    embed_anchor(folder, anchor)  # the customers' page shows it, the manifest follows the page
    return anchor


def read_anchor_file(path: Path) -> dict[str, Any]:
    """anchor.json: what the exchange says it recorded (a claim: `check_anchors` reads the chain)."""
    return parse_anchor(load_file(path), str(path))


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
    claimed: Sequence[dict[str, Any]] = (),
) -> AnchorCheck:
    """This commitment is the one anchored for its period, and no other is, on every chain of
    chains.toml set up for anchors; each claim (anchor.json, an anchor a proof carries) must name
    one of those anchors."""
    result = AnchorCheck()
    signature = doc.get("signature")
    signer = signature.get("signer") if isinstance(signature, dict) else None
    digest = digest_hex(doc)
    names = anchor_chains(chains)
    owners: dict[str, str] = {}
    for name in names:
        owner, text = _backend(chains[name]).owner(name, chains[name], pinned or signer, pinned is not None)
        if owner is None:
            result.problems.append(text)
            return result
        owners[name] = owner
        if text and text not in result.notes:
            result.notes.append(text)
    found = asyncio.run(_find_all(names, chains, owners, snapshot_id))
    result.records = [r for records in found for r in records]
    _judge(result, digest, snapshot_id, ", ".join(sorted(set(owners.values()))), names)
    mine = [r for r in result.records if r.digest == digest]
    for claim in claimed:
        if str(claim.get("chain")) not in names:
            result.problems.append(
                f"the anchor claimed is on chain {str(claim.get('chain'))[:40]!r}, which chains.toml does not "
                "set up for anchors: it cannot be checked"
            )
        elif not any(
            r.chain == claim.get("chain") and r.transaction == str(claim.get("transaction", "")).lower() for r in mine
        ):
            result.problems.append(
                f"the anchor claimed names transaction {str(claim.get('transaction'))[:80]} on "
                f"{str(claim.get('chain'))[:40]}, which records no anchor of this commitment"
            )
        else:
            result.checked.append(
                f"the anchor claimed ({claim.get('chain')}, transaction {claim.get('transaction')}) "
                "records this commitment"
            )
    return result


def _judge(result: AnchorCheck, digest: str, snapshot_id: str, exchange: str, names: list[str]) -> None:
    others = sorted({r.digest for r in result.records} - {digest})
    held = digest in {r.digest for r in result.records}
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
            f"anchor: {len(others) + held} different commitments are anchored for snapshot {snapshot_id!r} "
            f"by {exchange}: {where}{'' if held else ', not this one'}"
        )
    mine = [r for r in result.records if r.digest == digest]
    if mine and not others:
        first = min(mine, key=lambda r: r.block)
        result.checked.append(
            f"the commitment is the one anchored for snapshot {snapshot_id!r}, and the only one "
            f"(transaction {first.transaction}, block {first.block} on {first.chain})"
        )


async def _find_all(
    names: list[str], chains: Mapping[str, ChainConfig], owners: Mapping[str, str], snapshot_id: str
) -> list[Sequence[AnchorRecord]]:
    return list(
        await asyncio.gather(*(_backend(chains[n]).find_anchors(n, chains[n], owners[n], snapshot_id) for n in names))
    )
