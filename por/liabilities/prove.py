"""Cutting one customer's inclusion proof out of a publication folder."""

from __future__ import annotations

import json
from pathlib import Path

from por.errors import InputError
from por.liabilities.folder import ANCHOR_FILE, COMMITMENT_FILE, INDEX_FILE, SECRETS_FILE, TREE_FILE
from por.liabilities.porjson import (
    MAX_COMMITMENT_BYTES,
    Commitment,
    InclusionProof,
    PathStep,
    ProofLeaf,
    parse_anchor,
    parse_commitment,
)
from por.liabilities.secretsindex import SecretsIndex
from por.liabilities.tree import VERSION, sibling_positions
from por.liabilities.treefile import TreeFile
from por.strictjson import load_file


def lookup_secret(folder: Path, account_id: str) -> tuple[bytes, list[int]]:
    """One account's nonce and leaves: through private/index.bin when the publication has one
    (log2(accounts) reads), else by scanning the secrets. An id the index does not find is
    looked for in the secrets too: found there, the index is stale and is reported."""
    secrets, index = folder / SECRETS_FILE, folder / INDEX_FILE
    if not index.exists():
        return find_secret(secrets, account_id)
    with SecretsIndex(index, secrets) as lookup:
        entry = lookup.find(account_id)
    if entry is None:
        find_secret(secrets, account_id)  # raises "not in this publication" when it is not
        raise InputError(
            f"does not list account {account_id!r}, which the secrets hold: the index is stale or "
            "damaged (delete it, and prove reads the secrets; or publish again)",
            file=str(index),
        )
    return _entry(entry, str(secrets), None)


def _entry(entry, source: str, line: int | None) -> tuple[bytes, list[int]]:
    try:
        nonce, leaves = bytes.fromhex(entry["nonce"]), entry["leaves"]
        if len(nonce) != 32 or not leaves or not all(type(i) is int and i >= 0 for i in leaves):
            raise ValueError
        return nonce, leaves
    except (ValueError, KeyError, TypeError):
        raise InputError("malformed secrets entry", file=source, line=line) from None


def find_secret(path: Path, account_id: str) -> tuple[bytes, list[int]]:
    """Scans the private secrets file for one account (streamed: no full load)."""
    needle = json.dumps(account_id, ensure_ascii=False)
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read secrets: {exc.strerror}", file=str(path)) from None
    with handle:
        for number, line in enumerate(handle, 1):
            if number == 1 or needle not in line:
                continue
            try:
                entry = json.loads(line)
                found = entry["account_id"] == account_id
            except (ValueError, KeyError, TypeError):
                raise InputError("malformed secrets entry", file=str(path), line=number) from None
            if found:
                return _entry(entry, str(path), number)
    raise InputError(f"account {account_id!r} is not in this publication", file=str(path))


def open_publication(folder: str | Path) -> tuple[Commitment, TreeFile]:
    """The commitment and its tree file, checked to belong together (close the tree when done)."""
    folder = Path(folder)
    commitment: Commitment = parse_commitment(
        load_file(folder / COMMITMENT_FILE, MAX_COMMITMENT_BYTES), str(folder / COMMITMENT_FILE)
    )
    tree = TreeFile(folder / (commitment.tree_file or TREE_FILE))
    if tree.header != commitment.header():
        tree.close()
        raise InputError("tree file does not belong to this commitment", file=str(tree.path))
    commitment.carried_anchor = carried_anchor(folder)
    return commitment, tree


def carried_anchor(folder: Path) -> dict | None:
    """anchor.json of the publication, if it is anchored: every proof cut from it carries it."""
    path = folder / ANCHOR_FILE
    return parse_anchor(load_file(path), str(path)) if path.exists() else None


def cut_proof(folder: str | Path, account_id: str) -> InclusionProof:
    folder = Path(folder)
    commitment, tree = open_publication(folder)
    with tree:
        nonce, indices = lookup_secret(folder, account_id)
        if any(i >= commitment.leaf_count for i in indices):
            raise InputError(f"account {account_id!r} has a leaf outside the tree", file=str(folder / SECRETS_FILE))
        leaves = []
        for piece, index in enumerate(indices):
            leaf = tree.node(0, index)
            path = []
            for height, sibling, is_padding in sibling_positions(index, commitment.leaf_count):
                node = tree.node(height, sibling)
                path.append(PathStep(height, node.hash, list(node.sums), is_padding))
            leaves.append(ProofLeaf(index, piece, list(leaf.sums), path))
        root = tree.root()
    return InclusionProof(
        snapshot_id=commitment.snapshot_id,
        account_id=account_id,
        nonce=nonce,
        assets=commitment.assets,
        leaves=leaves,
        root=root.hash,
        root_height=commitment.height,
        root_sums=list(root.sums),
        leaf_count=commitment.leaf_count,
        version=commitment.version,
        exchange=commitment.exchange if commitment.version >= VERSION else None,
        snapshot_time=commitment.snapshot_time if commitment.version >= VERSION else None,
        anchor=commitment.carried_anchor,
    )
