"""Customer inclusion proofs: recompute the leaf from what only the customer knows,
walk the path with its sums, and land on the published root.
"""

from __future__ import annotations

from por.amounts import format_amount
from por.liabilities.porjson import Commitment, InclusionProof
from por.liabilities.tree import (
    MAX_UNITS,
    TreeError,
    add_sums,
    encode_sums,
    inner_hash,
    leaf_hash,
    padding_hash,
    sibling_positions,
    tree_height,
    user_hash,
)
from por.verdict import Verdict


def verify_inclusion(proof: InclusionProof, *, commitment: Commitment | None = None,
                     root: bytes | None = None) -> Verdict:
    """Every check a customer needs; reasons name the leaf and height that failed."""
    verdict = Verdict.start(
        format="por",
        account_id=proof.account_id,
        snapshot_id=proof.snapshot_id,
        balances={a.symbol: format_amount(v, a.decimals) for a, v in zip(proof.assets, _safe(proof.balances()))},
        root=proof.root.hex(),
        anchored=commitment is not None or root is not None,
        steps=[],
    )
    try:
        expected_height = tree_height(proof.leaf_count)
    except TreeError as exc:
        return verdict.fail(f"leaf_count: {exc}")
    if proof.root_height != expected_height:
        verdict.fail(f"root height {proof.root_height} does not match {proof.leaf_count} leaves "
                     f"(expected {expected_height})")
    _check_pieces(proof, verdict)
    user = user_hash(proof.nonce, proof.account_id)
    for number, leaf in enumerate(proof.leaves):
        where = f"leaf {number} (index {leaf.index})"
        if leaf.index >= proof.leaf_count:
            verdict.fail(f"{where}: index beyond the {proof.leaf_count} leaves")
            continue
        if len(leaf.path) != expected_height:
            verdict.fail(f"{where}: path has {len(leaf.path)} steps, the tree has height {expected_height}")
            continue
        try:
            node_hash, node_sums = _walk(user, leaf, expected_height, proof.leaf_count, verdict, where)
        except TreeError as exc:
            verdict.fail(f"{where}: {exc}")
            continue
        if node_hash is None:
            continue
        if node_hash != proof.root:
            verdict.fail(f"{where}: path does not recompute the root (got {node_hash.hex()[:16]}…)")
        elif node_sums != proof.root_sums:
            verdict.fail(f"{where}: path sums do not add up to the root's sums")
    if commitment is not None:
        _against_commitment(proof, commitment, verdict)
    elif root is not None and root != proof.root:
        verdict.fail(f"root {proof.root.hex()} is not the pinned root {root.hex()}")
    return verdict


def _walk(user: bytes, leaf, height: int, leaf_count: int, verdict: Verdict, where: str):
    node_hash = leaf_hash(user, leaf.piece, encode_sums(leaf.sums))
    node_sums = list(leaf.sums)
    index = leaf.index
    for step, (level, sibling_index, is_padding) in zip(leaf.path, sibling_positions(leaf.index, leaf_count)):
        if step.height != level:
            verdict.fail(f"{where}: step at height {level} says height {step.height}")
            return None, None
        if step.padding != is_padding:
            verdict.fail(f"{where}: height {level}: sibling {'must' if is_padding else 'must not'} be padding")
            return None, None
        if is_padding and (step.hash != padding_hash(level, sibling_index) or any(step.sums)):
            verdict.fail(f"{where}: height {level}: malformed padding node")
            return None, None
        sib_sums = encode_sums(step.sums)
        own_sums = encode_sums(node_sums)
        if index % 2 == 0:
            parent = inner_hash(level + 1, node_hash, own_sums, step.hash, sib_sums)
        else:
            parent = inner_hash(level + 1, step.hash, sib_sums, node_hash, own_sums)
        verdict.facts["steps"].append({"height": level, "side": "right" if index % 2 == 0 else "left",
                                       "hash": step.hash.hex(), "padding": step.padding})
        node_sums = add_sums(node_sums, step.sums)
        node_hash = parent
        index //= 2
    return node_hash, node_sums


def _check_pieces(proof: InclusionProof, verdict: Verdict) -> None:
    pieces = [leaf.piece for leaf in proof.leaves]   # in order too: one proof, one spelling
    if pieces != list(range(len(pieces))):
        verdict.fail(f"leaves must be pieces 0..{len(pieces) - 1} in order, got {pieces[:8]}")
    indices = [leaf.index for leaf in proof.leaves]
    if len(set(indices)) != len(indices):
        verdict.fail("two pieces claim the same leaf index")


def _against_commitment(proof: InclusionProof, commitment: Commitment, verdict: Verdict) -> None:
    checks = [
        (proof.root == commitment.root, f"root {proof.root.hex()} is not the commitment's root {commitment.root.hex()}"),
        (proof.snapshot_id == commitment.snapshot_id,
         f"snapshot {proof.snapshot_id!r} is not the commitment's {commitment.snapshot_id!r}"),
        (proof.assets == commitment.assets, "asset list differs from the commitment's"),
        (proof.leaf_count == commitment.leaf_count, "leaf count differs from the commitment's"),
        (proof.root_height == commitment.height, "tree height differs from the commitment's"),
        (proof.root_sums == commitment.totals, "root sums differ from the commitment's totals"),
    ]
    for ok, reason in checks:
        if not ok:
            verdict.fail(reason)


def _safe(values: list[int]) -> list[int]:
    return [min(max(v, 0), MAX_UNITS) for v in values]
