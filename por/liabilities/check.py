"""Any proof or tree document → a Verdict: the one entry point the CLI, history and the demo use.

The document is what is under test: a defect in it (it does not parse, a field is
wrong) is a failed verification (exit 1), never bad input. Only the reference the
user pinned (a commitment, a root) can be bad input. Every verdict leaves here
concluded (`Verdict.conclude`): VERIFIED only when anchored to what the user pinned.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path

from por.errors import InputError
from por.kinds import refuse_wrong_kind
from por.liabilities.foreign.common import Customer, check_customer
from por.liabilities.foreign.detect import foreign_format
from por.liabilities.inclusion import binding, verify_inclusion
from por.liabilities.pins import Pins, PublishedTotals, check_usage, compare_snapshot, compare_totals
from por.liabilities.porjson import Commitment, InclusionProof, parse_proof, sums_json, value_difference
from por.liabilities.rows import check_account_id
from por.liabilities.tree import sibling_positions
from por.strictjson import decode, loads, read_bounded
from por.text import is_regular_file
from por.verdict import Pinned, Verdict

MAX_PROOF_BYTES = 64 * 1024 * 1024  # a real proof is kilobytes; never load a giant file to find out


def read_candidate(path: Path) -> bytes:
    """Reads the document under test; only an unreadable or non-document file is bad input."""
    return read_bounded(path, MAX_PROOF_BYTES, " for a proof")


def read_document(path: Path) -> bytes:
    """A proof document: the whole of a JSON proof (bounded; a pipe is read once), or only the first
    bytes of a full-tree text file (BitMEX, merkletreejs), which its format streams from the path."""
    if str(path) == "-" or not path.is_file():
        raw = read_candidate(path)
        refuse_wrong_kind(raw, "proof", str(path))
        return raw
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return read_candidate(path)  # names the error
    refuse_wrong_kind(head, "proof", str(path))
    if head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b""):
        return read_candidate(path)
    return head


def read_head(path: Path) -> bytes:
    """The first bytes of a tree file, to tell its format. A tree is read more than once (and
    a por tree by seeking), so it must be a regular file, not a pipe or a device."""
    if path.exists() and not path.is_dir() and not is_regular_file(path):
        raise InputError("not a regular file: a tree is read more than once (save it to a file first)", file=str(path))
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    if not head.strip():
        raise InputError("empty file", file=str(path))
    refuse_wrong_kind(head, "tree", str(path))
    return head


def guarded(check: Callable[[], Verdict]) -> Verdict:
    """A defective document under test is a failed verification (exit 1), not bad input."""
    try:
        return check()
    except InputError as exc:
        return Verdict(ok=False, reasons=[exc.location_text()])


def verify_proof_document(
    kind: str,
    raw: bytes,
    path: Path,
    commitment: Commitment | None,
    root: bytes | None,
    tree: Path | None,
    totals: PublishedTotals | None = None,
    customer: Customer | None = None,
    config: Path | None = None,
) -> Verdict:
    """One inclusion proof of format `kind`, against a pinned commitment or root (or nothing), and
    with a root the totals the exchange published; concluded. A combination of pins that leaves one unchecked
    is bad input (exit 2), raised before the document is verified. `customer` (account, nonce,
    balances) finds the customer's own leaves in a full-tree file; `config` is the audit's asset
    list (zk formats): both refused (exit 2) where the format does not use them."""
    pins = check_usage(commitment, root, totals)
    if kind != "por":
        fmt = foreign_format(kind)
        if hasattr(fmt, "check_customer"):
            fmt.check_customer(kind, customer)
        else:
            check_customer(customer, kind, (), ())
        if tree is not None and kind not in fmt.tree_formats:
            raise InputError(f"a {kind} proof has no full tree to be checked against", field="--tree")
    elif customer is not None and (customer.nonce is not None or customer.balances):
        raise InputError(
            "a por proof names its own leaf: --nonce and --balance are for full-tree files",
            field="--nonce" if customer.nonce is not None else "--balance",
        )
    _check_config(kind, config)
    return _conclude(guarded(lambda: _verify_proof(kind, raw, path, pins, tree, customer, config)), kind, pins)


def _conclude(verdict: Verdict, kind: str, pins: Pins) -> Verdict:
    """The rule (por.verdict), with what this document's root binds: a por version, or the foreign format's word."""
    if kind == "por":
        what = binding(verdict.facts.get("version", 2))
    else:
        what = foreign_format(kind).root_binding(kind)
    verdict.conclude(
        Pinned(commitment=pins.commitment is not None, root=pins.root is not None, totals=pins.totals is not None), what
    )
    verdict.facts["anchored"] = verdict.anchor is not None
    return verdict


def _check_config(kind: str, config: Path | None) -> None:
    """`--config` only where a format reads the audit's asset list: never silently ignored."""
    if config is not None and (kind == "por" or not getattr(foreign_format(kind), "reads_config", False)):
        raise InputError(f"a {kind} document has no audit asset list to check", field="--config")


def _verify_proof(kind, raw, path, pins, tree_path, customer=None, config=None) -> Verdict:
    source = str(path)
    pinned, root_bytes = pins.commitment, pins.root
    if kind == "por":
        value = loads(decode(raw, source), source)  # strict: the layout is not the proof, the value is
        parsed = parse_proof(value, source)
        verdict = verify_inclusion(parsed, commitment=pinned, root=root_bytes)
        if parsed.anchor is not None:  # a claim the root binds nothing of: reported, never an anchor of the verdict
            verdict.facts["anchor_claimed"] = parsed.anchor
        difference = value_difference(value, parsed)
        if difference:
            verdict.fail(f"{source}: {difference}")
        if tree_path is not None:
            check_leaves_in_tree(parsed, tree_path, verdict)
        if pins.totals is not None:
            _against_totals(verdict, pins.totals, sums_json(parsed.assets, parsed.root_sums), parsed.snapshot_id)
        return verdict  # --account: check_account, after
    options = {"customer": customer} if customer is not None and customer.given else {}
    if config is not None:
        options["config"] = config
    return foreign_format(kind).verify_proof(kind, raw, source, pins=pins, tree=tree_path, **options)


def _against_totals(verdict: Verdict, totals: PublishedTotals, shown: dict[str, str], snapshot_id: str | None) -> None:
    """por's root binds amounts by position; published totals bind the labels: by name, exact value."""
    compare_totals(verdict, shown, totals.totals, totals.source)
    compare_snapshot(verdict, totals, snapshot_id)
    verdict.facts["totals_pinned"] = totals.source


def pinned_account(account: str | None) -> str | None:
    """`--account`: the customer's own id, composed (NFC, as a keyboard may not type it) and
    under the id rule every publication obeys; a bad one is bad input (exit 2)."""
    if account is None:
        return None
    try:
        return check_account_id(unicodedata.normalize("NFC", account))
    except InputError as exc:
        raise InputError(exc.reason, field="--account") from None


def check_account(verdict: Verdict, account: str | None, kind: str) -> None:
    """The proof must be for the customer's own id: a valid proof of someone else's balance
    proves nothing to this customer. Ids are compared exactly (case-sensitive)."""
    if account is None:
        return
    if kind != "por":
        raise InputError(f"an {kind} proof carries no account id to compare with", field="--account")
    claimed = verdict.facts.get("account_id")
    if claimed is None:
        verdict.fail("the proof's account id could not be read, so it is not known to be yours (--account)")
    elif claimed != account:
        verdict.fail(f"the proof is for account {claimed!r}, not for yours ({account!r})")
    else:
        verdict.facts["account_checked"] = True


def check_leaves_in_tree(proof: InclusionProof, tree_path: Path, verdict: Verdict) -> None:
    """Every leaf and path node of a por proof must be the tree file's node at that place."""
    from por.liabilities.treefile import TreeFile  # numpy: only when a tree is given (one proof starts fast)

    with TreeFile(tree_path) as tree:
        if tree.header.leaf_count != proof.leaf_count:
            verdict.fail(f"{tree_path}: tree has {tree.header.leaf_count} leaves, the proof says {proof.leaf_count}")
            return
        for leaf in proof.leaves:
            if leaf.index >= proof.leaf_count:
                continue
            stored = tree.node(0, leaf.index)
            if list(stored.sums) != leaf.sums:
                verdict.fail(f"{tree_path}: leaf {leaf.index} holds other balances than the proof")
            for step, (height, sibling, _) in zip(leaf.path, sibling_positions(leaf.index, proof.leaf_count)):
                node = tree.node(height, sibling)
                if node.hash != step.hash or list(node.sums) != step.sums:
                    verdict.fail(f"{tree_path}: height {height} node {sibling} differs from the proof's path")
                    break


def verify_tree_document(
    kind: str,
    path: Path,
    commitment: Commitment | None,
    root: bytes | None,
    *,
    totals: PublishedTotals | None = None,
    progress: Callable[[int], None] | None = None,
    config: Path | None = None,
) -> Verdict:
    """Every node of a full tree of format `kind`, against a pinned commitment or root (or nothing),
    and with a root the totals the exchange published; `config`: the audit's asset list (zk); concluded."""
    from por.liabilities.treefile import verify_tree_file  # numpy: only for trees

    pins = check_usage(commitment, root, totals)
    if kind == "por":
        verdict = guarded(lambda: verify_tree_file(path, commitment, progress=progress))
        if root is not None and verdict.facts.get("root") not in (None, root.hex()):
            verdict.fail(f"root {verdict.facts['root']} is not the pinned root {root.hex()}")
        elif root is not None:
            verdict.checked("the root against the pinned root")
        if totals is not None and "totals" in verdict.facts:
            _against_totals(verdict, totals, verdict.facts["totals"], verdict.facts.get("snapshot_id"))
    else:
        _check_config(kind, config)
        options = {"config": config} if config is not None else {}
        verdict = guarded(lambda: foreign_format(kind).verify_tree(kind, path, pins=pins, progress=progress, **options))
    return _conclude(verdict, kind, pins)
