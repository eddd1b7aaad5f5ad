"""Which of por's own files a file is, from its first bytes, so that a file given in the wrong place
(the commitment where the proof goes, a proof to verify-tree) is a usage mistake with the fix, not a
"NOT VERIFIED" that reads as the exchange's fault."""

from __future__ import annotations

import re

from por.errors import InputError

# por writes "format" first in every document; a re-saved file with other key order is simply not
# recognised here and is read (and judged) as what it was given as
_FORMAT = re.compile(rb'\A(?:\xef\xbb\xbf)?\s*\{\s*"format"\s*:\s*"(por-[a-z-]+)"')

WHAT = {
    "por-tree": "a por liabilities tree (tree.bin)",
    "por-commitment": "a por commitment (commitment.json)",
    "por-inclusion-proof": "a por inclusion proof",
    "por-secrets": "the publication's private secrets file (keep it secret)",
    "por-anchor": "a por anchor record (anchor.json)",
    "por-audit-report": "a por audit report",
}

# what to do instead, by (the file's kind, what the argument wants)
FIX = {
    ("por-commitment", "proof"): "give the customer's proof first and this file with --commitment",
    ("por-tree", "proof"): "give the customer's proof (por prove DIR ID) and pin the commitment with --commitment",
    ("por-secrets", "proof"): "cut the customer's proof with por prove DIR ID",
    ("por-commitment", "tree"): "give tree.bin (beside it in the publication) and this file with --commitment",
    ("por-inclusion-proof", "tree"): "check a proof with por verify-inclusion",
    ("por-tree", "commitment"): "give commitment.json (beside tree.bin in the publication) with --commitment",
    ("por-inclusion-proof", "commitment"): "give the published commitment.json with --commitment",
    ("por-anchor", "proof"): "give the customer's proof and commitment.json with --commitment (--anchor reads this)",
    ("por-anchor", "commitment"): "give commitment.json (beside anchor.json in the publication) with --commitment",
    ("por-audit-report", "proof"): "give the customer's proof (por prove DIR ID); por history --audit plots a report",
    ("por-audit-report", "commitment"): "give the commitment the audit checked; por history --audit takes reports",
}


def por_kind(head: bytes) -> str | None:
    """'por-tree', 'por-commitment', … when the bytes start like that por file; None otherwise."""
    found = _FORMAT.match(head[:4096])
    return found.group(1).decode() if found else None


def refuse_wrong_kind(head: bytes, wanted: str, source: str, field: str | None = None) -> None:
    """InputError (exit 2) when `head` is one of por's own files of another kind than `wanted`
    ('proof', 'tree' or 'commitment') and there is a known fix."""
    kind = por_kind(head)
    fix = FIX.get((kind, wanted)) if kind else None
    if kind and fix:
        raise InputError(f"this is {WHAT[kind]}, not {_article(wanted)}: {fix}", file=source, field=field)


def _article(wanted: str) -> str:
    return {"proof": "an inclusion proof", "tree": "a tree", "commitment": "a commitment"}[wanted]
