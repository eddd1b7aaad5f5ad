"""Cutting one customer's inclusion proof out of a publication folder."""

from __future__ import annotations

import json
from pathlib import Path

from por.errors import InputError
from por.liabilities.porjson import (
    MAX_COMMITMENT_BYTES,
    Commitment,
    InclusionProof,
    PathStep,
    ProofLeaf,
    parse_commitment,
)
from por.liabilities.publish import COMMITMENT_FILE, SECRETS_FILE, TREE_FILE
from por.liabilities.tree import VERSION, sibling_positions
from por.liabilities.treefile import TreeFile
from por.strictjson import load_file


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
                if entry["account_id"] == account_id:
                    return bytes.fromhex(entry["nonce"]), [int(i) for i in entry["leaves"]]
            except (ValueError, KeyError, TypeError):
                raise InputError("malformed secrets entry", file=str(path), line=number) from None
    raise InputError(f"account {account_id!r} is not in this publication", file=str(path))


def open_publication(folder: str | Path) -> tuple[Commitment, TreeFile]:
    """The commitment and its tree file, checked to belong together (close the tree when done)."""
    folder = Path(folder)
    commitment: Commitment = parse_commitment(load_file(folder / COMMITMENT_FILE, MAX_COMMITMENT_BYTES),
                                              str(folder / COMMITMENT_FILE))
    tree = TreeFile(folder / (commitment.tree_file or TREE_FILE))
    if tree.header != commitment.header():
        tree.close()
        raise InputError("tree file does not belong to this commitment", file=str(tree.path))
    return commitment, tree


def cut_proof(folder: str | Path, account_id: str) -> InclusionProof:
    folder = Path(folder)
    commitment, tree = open_publication(folder)
    with tree:
        nonce, indices = find_secret(folder / SECRETS_FILE, account_id)
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
        snapshot_id=commitment.snapshot_id, account_id=account_id, nonce=nonce, assets=commitment.assets,
        leaves=leaves, root=root.hash, root_height=commitment.height, root_sums=list(root.sums),
        leaf_count=commitment.leaf_count, version=commitment.version,
        exchange=commitment.exchange if commitment.version >= VERSION else None,
        snapshot_time=commitment.snapshot_time if commitment.version >= VERSION else None)
