"""Customer inclusion proofs: recompute the leaf from what only the customer knows,
walk the path with its sums to the top, bind the labels into the root (format 2),
and land on the published root.
"""

from __future__ import annotations

from por.amounts import format_amount
from por.liabilities.porjson import Commitment, InclusionProof, ProofLeaf
from por.liabilities.tree import (
    MAX_UNITS,
    VERSION,
    Header,
    TreeError,
    add_sums,
    encode_sums,
    inner_hash,
    leaf_hash,
    legacy_leaf_hash,
    padding_hash,
    root_hash,
    sibling_positions,
    tree_height,
    user_hash,
)
from por.verdict import POR_V1, POR_V2, RootBinding, Verdict


def binding(proof_or_version) -> RootBinding:
    """What the root of a por document of this version binds (por.verdict)."""
    version = getattr(proof_or_version, "version", proof_or_version)
    return POR_V2 if version >= VERSION else POR_V1


def verify_inclusion(
    proof: InclusionProof, *, commitment: Commitment | None = None, root: bytes | None = None
) -> Verdict:
    """Every check a customer needs; reasons name the leaf and height that failed.

    Not concluded: `por.liabilities.check` decides whether a pin anchors the result.
    """
    verdict = Verdict.start(
        format="por",
        version=proof.version,
        account_id=proof.account_id,
        snapshot_id=proof.snapshot_id,
        balances={a.symbol: format_amount(v, a.decimals) for a, v in zip(proof.assets, _safe(proof.balances()))},
        root=proof.root.hex(),
        steps=[],
    )
    try:
        expected_height = tree_height(proof.leaf_count)
    except TreeError as exc:
        return verdict.fail(f"leaf_count: {exc}")
    if proof.root_height != expected_height:
        verdict.fail(
            f"root height {proof.root_height} does not match {proof.leaf_count} leaves (expected {expected_height})"
        )
    _check_pieces(proof, verdict)
    user = user_hash(proof.nonce, proof.account_id)
    for number, leaf in enumerate(proof.leaves):
        _check_leaf(proof, user, leaf, f"leaf {number} (index {leaf.index})", expected_height, verdict)
    verdict.checked(
        "each leaf from the account id, nonce, piece number"
        + (", piece count" if proof.version >= VERSION else "")
        + " and balances"
    )
    verdict.checked("every step of each path (hash, height, padding, sums) up to the top of the tree")
    if proof.version >= VERSION:
        verdict.checked(
            "the root from the top and the labels (exchange, snapshot id and time, leaf count, "
            "height, asset symbols and decimals)"
        )
    if commitment is not None:
        against_commitment(proof.header(), proof.root, proof.root_sums, commitment, verdict)
        verdict.checked("root, labels and totals against the pinned commitment")
    elif root is not None:
        if root != proof.root:
            verdict.fail(f"root {proof.root.hex()} is not the pinned root {root.hex()}")
        verdict.checked("the root against the pinned root")
    return verdict


def _check_leaf(
    proof: InclusionProof, user: bytes, leaf: ProofLeaf, where: str, expected_height: int, verdict: Verdict
) -> None:
    """One leaf: its index and path length, then its path walked up to the root, hash and sums."""
    if leaf.index >= proof.leaf_count:
        verdict.fail(f"{where}: index beyond the {proof.leaf_count} leaves")
        return
    if len(leaf.path) != expected_height:
        verdict.fail(f"{where}: path has {len(leaf.path)} steps, the tree has height {expected_height}")
        return
    try:
        node_hash, node_sums = _walk(proof, user, leaf, verdict, where)
        if node_hash is not None and proof.version >= VERSION:
            node_hash = root_hash(proof.header(), node_hash, encode_sums(node_sums))
    except TreeError as exc:
        verdict.fail(f"{where}: {exc}")
        return
    if node_hash is None:
        return
    if node_hash != proof.root:
        verdict.fail(f"{where}: path does not recompute the root (got {node_hash.hex()[:16]}…)")
    elif node_sums != proof.root_sums:
        verdict.fail(f"{where}: path sums do not add up to the root's sums")


def _walk(proof: InclusionProof, user: bytes, leaf, verdict: Verdict, where: str):
    """(hash, sums) of the top node the leaf's path leads to, or (None, None) after a failure."""
    if proof.version >= VERSION:
        node_hash = leaf_hash(user, leaf.piece, len(proof.leaves), encode_sums(leaf.sums))
    else:
        node_hash = legacy_leaf_hash(user, leaf.piece, encode_sums(leaf.sums))
    node_sums = list(leaf.sums)
    index = leaf.index
    for step, (level, sibling_index, is_padding) in zip(leaf.path, sibling_positions(leaf.index, proof.leaf_count)):
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
        verdict.facts["steps"].append(
            {
                "height": level,
                "side": "right" if index % 2 == 0 else "left",
                "hash": step.hash.hex(),
                "padding": step.padding,
            }
        )
        node_sums = add_sums(node_sums, step.sums)
        node_hash = parent
        index //= 2
    return node_hash, node_sums


def _check_pieces(proof: InclusionProof, verdict: Verdict) -> None:
    pieces = [leaf.piece for leaf in proof.leaves]  # in order too: one proof, one spelling
    if pieces != list(range(len(pieces))):
        verdict.fail(f"leaves must be pieces 0..{len(pieces) - 1} in order, got {pieces[:8]}")
    indices = [leaf.index for leaf in proof.leaves]
    if len(set(indices)) != len(indices):
        verdict.fail("two pieces claim the same leaf index")


def against_commitment(
    header: Header, root: bytes, sums: list[int], commitment: Commitment, verdict: Verdict, snapshot: str = "snapshot"
) -> None:
    """A proof's or a tree file's labels, root and root sums against the pinned commitment: one list
    of checks in one wording (the customer's page words a proof's the same: por/web/verifier.html);
    `snapshot` names the snapshot id in its reason (a tree's says "snapshot id")."""
    checks = [
        (
            header.version == commitment.version,
            f"format version {header.version} differs from the commitment's {commitment.version}",
        ),
        (root == commitment.root, f"root {root.hex()} is not the commitment's root {commitment.root.hex()}"),
        (
            header.snapshot_id == commitment.snapshot_id,
            f"{snapshot} {header.snapshot_id!r} is not the commitment's {commitment.snapshot_id!r}",
        ),
        (list(header.assets) == commitment.assets, "asset list differs from the commitment's"),
        (header.leaf_count == commitment.leaf_count, "leaf count differs from the commitment's"),
        (header.height == commitment.height, "tree height differs from the commitment's"),
        (sums == commitment.totals, "root sums differ from the commitment's totals"),
    ]
    if header.version >= VERSION and commitment.version >= VERSION:
        checks += [
            (
                header.exchange == commitment.exchange,
                f"exchange {header.exchange!r} is not the commitment's {commitment.exchange!r}",
            ),
            (
                header.snapshot_time == commitment.snapshot_time,
                f"snapshot time {header.snapshot_time!r} is not the commitment's {commitment.snapshot_time!r}",
            ),
        ]
    for ok, reason in checks:
        if not ok:
            verdict.fail(reason)


def _safe(values: list[int]) -> list[int]:
    return [min(max(v, 0), MAX_UNITS) for v in values]
