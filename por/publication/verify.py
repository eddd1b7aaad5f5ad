"""Verifying publications from their folders: a chain of periods, and a pinned commitment's signature."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from por.errors import InputError
from por.publication.attestation import read_commitment
from por.signing import check
from por.verdict import Verdict

if TYPE_CHECKING:  # the chain's types: a customer's verify-inclusion loads no history code
    from por.publication.history import ChainReport, Period


def verify_chain(folders: list[Path], pinned: str | None, *, trees: bool = True) -> ChainReport:
    """Every period's commitment (and tree file), every link, every signature against the pinned key."""
    from por.publication.history import check_chain

    periods: list[Period] = []
    findings: list[str] = []
    notes: list[str] = []
    for folder in folders:
        period, problem = _load_period(folder, trees, notes)
        if problem is not None:
            findings.append(problem)
        elif period is not None:
            periods.append(period)
    report = check_chain(periods, pinned)
    report.findings[:0] = findings
    report.notes.extend(notes)
    return report


def _load_period(folder: Path, trees: bool, notes: list[str]) -> tuple[Period, None] | tuple[None, str]:
    """A period from its folder; a commitment that cannot be read is a finding (it is under test),
    a folder with no commitment at all is bad input."""
    from por.publication.history import Period, parse_link

    if not folder.exists():
        raise InputError("no such folder or file", file=str(folder))
    if folder.is_dir() and not (folder / "commitment.json").exists():  # not a publication at all: bad input
        raise InputError(
            "not a publication folder: it has no commitment.json (give folders `por publish` wrote)", file=str(folder)
        )
    try:
        place, raw, doc, commitment = read_commitment(folder)
        period = Period(place, hashlib.sha256(raw).hexdigest(), doc, commitment, parse_link(doc, place))
    except InputError as exc:
        return None, f"{folder}: commitment cannot be read: {exc.location_text()}"
    if trees:
        _check_tree(folder, period, notes)
    return period, None


def _check_tree(folder: Path, period: Period, notes: list[str]) -> None:
    """The tree file must be the one the commitment pins, and its root the commitment's root and totals."""
    from por.liabilities.treefile import TreeFile  # numpy: only when trees are checked

    commitment = period.commitment
    base = folder if folder.is_dir() else folder.parent
    if not commitment.tree_file or commitment.tree_sha256 is None:  # the parser sets both or neither
        notes.append(f"{period.label}: the commitment names no tree file: tree not checked")
        return
    if Path(commitment.tree_file).name != commitment.tree_file or commitment.tree_file in (".", ".."):
        period.problems.append(f"tree file {commitment.tree_file!r} is not a plain file name beside the commitment")
        return
    path = base / commitment.tree_file
    if not path.exists():
        notes.append(f"{period.label}: {commitment.tree_file} not present: tree not checked")
        return
    try:
        with TreeFile(path) as tree:  # the header first: it bounds how much is hashed
            digest = tree.sha256()
            root, stored, header = tree.root_from_top(), tree.root(), tree.header
    except InputError as exc:
        period.problems.append(f"{commitment.tree_file}: {exc.reason}")
        return
    if digest != commitment.tree_sha256:
        period.problems.append(
            f"{commitment.tree_file} is not the tree the commitment pins "
            f"(sha256 {digest.hex()}, pinned {commitment.tree_sha256.hex()})"
        )
        return
    if stored != root:
        period.problems.append(f"{commitment.tree_file}: its root record does not recompute from its header and top")
    elif root.hash != commitment.root or list(root.sums) != commitment.totals or header != commitment.header():
        period.problems.append(
            f"root, totals, leaf count or snapshot id differ from {commitment.tree_file}'s "
            f"(root there {root.hash.hex()})"
        )


def signature_facts(verdict: Verdict, commitment: Path | None, pinned: str | None, *, doc: dict | None = None) -> None:
    """Checks the pinned commitment's signature and says what was (not) checked. `doc`: the
    commitment's JSON when the caller has read it already (a pipe can be read only once)."""
    if commitment is None:
        verdict.facts["signature"] = "not checked (no commitment given)"
        return
    if doc is None:
        _, _, doc, _ = read_commitment(commitment)
    if pinned is not None:  # the curve library, only when a key is pinned to check the signature against
        from chains.eip191 import recover_text_signer

        result = check(doc, pinned, recover_text_signer)
    else:
        result = check(doc, None)
    verdict.facts["signature"] = result.text
    if result.failed:
        verdict.fail(f"{commitment}: signature: {result.text}")
    elif result.state == "verified":
        verdict.checked("the commitment's signature against the pinned key")
    else:
        verdict.not_checked("the commitment's signature (no key pinned: --signer)")
